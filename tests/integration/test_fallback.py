"""Clients that cannot do Kerberos (issue 17): NegotiateOnce, the
negotiate8443-no-negotiate variable, NEGOTIATE_ERROR / NEGOTIATE_ERROR_TEXT
for an ErrorDocument 401 (SSI through mod_include, and CGI), and
NegotiateOptional.  Against a real httpd and KDC."""

import base64
import os
import re

import pytest

import harness
from conftest import PASSWORDS, https_request, negotiate, start_httpd

PAGES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..",
                                     "pages"))
NTLM_NEGOTIATE = base64.b64decode(
    "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")

SSI_PAGE = """<html><body>
<p id="word"><!--#echo var="REDIRECT_NEGOTIATE_ERROR" encoding="entity"--></p>
<p id="text"><!--#echo var="REDIRECT_NEGOTIATE_ERROR_TEXT" encoding="entity"--></p>
<p id="plain"><!--#echo var="NEGOTIATE_ERROR" encoding="entity"--></p>
</body></html>
"""

CGI_401 = """#!/bin/sh
printf 'Status: 401 Unauthorized\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
printf 'WORD=%s\\n' "$REDIRECT_NEGOTIATE_ERROR"
printf 'TEXT=%s\\n' "$REDIRECT_NEGOTIATE_ERROR_TEXT"
"""


def body(d):
    return """
  ErrorDocument 401 /errpage/401.shtml
  ErrorDocument 400 /errpage/401.shtml
  Alias /errpage/ {d}/errpage/
  <Location /errpage/>
    Options +Includes
    SetOutputFilter INCLUDES
    ForceType "text/html; charset=utf-8"
  </Location>
  BrowserMatch "KioskBrowser" negotiate8443-no-negotiate
  <Location /plain>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /once>
    AuthType Negotiate
    NegotiateOnce On
    Require valid-user
  </Location>
  <Location /once-basic>
    AuthType Negotiate
    AuthName "once"
    NegotiateOnce On
    NegotiateBasicFallback On
    Require valid-user
  </Location>
  <Location /basic>
    AuthType Negotiate
    AuthName "basic"
    NegotiateBasicFallback On
    Require valid-user
  </Location>
  <Location /kiosk-if>
    AuthType Negotiate
    <If "%{{HTTP:X-Kiosk}} == '1'">
      SetEnvIf Request_URI "." negotiate8443-no-negotiate
    </If>
    Require valid-user
  </Location>
  <Location /cgi-err>
    AuthType Negotiate
    ErrorDocument 401 /errcgi/err401
    Require valid-user
  </Location>
  ScriptAlias /errcgi/ {d}/errcgi/
  <Location /optional>
    AuthType Negotiate
    NegotiateOptional On
    Require all granted
  </Location>
  <Location /cgi-bin/>
    AuthType Negotiate
    NegotiateOptional On
    Require all granted
  </Location>
  <Location /optional-user>
    AuthType Negotiate
    NegotiateOptional On
    Require valid-user
  </Location>
  <Location /authz>
    AuthType Negotiate
    NegotiateOnce On
    Require user bob@TEST.N8443
  </Location>
  # The package's own page (pages/401.shtml) for /authz-page.
  Alias /pkgpage/ {pages}/
  SetEnv N8443_HELP_CONTACT "Desk"
  <Location /pkgpage/>
    Options +IncludesNOEXEC
    SetOutputFilter INCLUDES
    ForceType "text/html; charset=utf-8"
  </Location>
  <Location /authz-page>
    AuthType Negotiate
    ErrorDocument 401 /pkgpage/401.shtml
    Require user bob@TEST.N8443
  </Location>
""".format(d=d, pages=PAGES)


@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab):
    d = os.path.join(base_dir, "fallback-pages")
    os.makedirs(os.path.join(d, "errpage"), exist_ok=True)
    os.makedirs(os.path.join(d, "errcgi"), exist_ok=True)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "errpage", "401.shtml"), "w") as f:
        f.write(SSI_PAGE)
    cgi = os.path.join(d, "errcgi", "err401")
    with open(cgi, "w") as f:
        f.write(CGI_401)
    os.chmod(cgi, 0o755)
    moddir = harness.apxs("LIBEXECDIR")
    s = start_httpd(base_dir, module_path, realm, certs, keytab, body(d),
                    name="httpd-fallback",
                    extra_global="LoadModule include_module "
                                 "%s/mod_include.so" % moddir)
    yield s
    s.stop()


def schemes(headers):
    return [v.split(" ")[0] for v in headers.get_all("WWW-Authenticate")
            or []]


def page(bodybytes):
    text = bodybytes.decode()
    out = {}
    for k in ("word", "text", "plain"):
        m = re.search(r'<p id="%s">(.*?)</p>' % k, text, re.S)
        out[k] = m.group(1) if m else None
    return out


def wrong_token(alice):
    # A ticket for a name this server has no key for.
    _, tok = alice.token(host="other.test.n8443")
    return tok


# ------------------------------------------------------------ NegotiateOnce

def test_without_once_a_refused_token_gets_negotiate_again(srv, alice):
    st, h, _ = https_request(srv, "/plain/", [negotiate(wrong_token(alice))])
    assert st == 401
    assert schemes(h) == ["Negotiate"]


def test_once_no_token_still_offers_negotiate(srv):
    st, h, _ = https_request(srv, "/once/")
    assert st == 401
    assert schemes(h) == ["Negotiate"]


def test_once_refused_token_gets_no_negotiate(srv, alice):
    mark = srv.log_mark()
    st, h, b = https_request(srv, "/once/", [negotiate(wrong_token(alice))])
    assert st == 401
    assert schemes(h) == []
    log = srv.log_since(mark)
    assert "N8443341: NegotiateOnce" in log
    assert "(wrong_principal)" in log
    assert page(b)["word"] == "wrong_principal"


def test_once_ntlm_gets_basic_only(srv):
    st, h, b = https_request(srv, "/once-basic/", [negotiate(NTLM_NEGOTIATE)])
    assert st == 401
    assert h.get_all("WWW-Authenticate") == ['Basic realm="once"']
    assert page(b)["word"] == "ntlm"


def test_once_basic_password_then_works(srv):
    cred = base64.b64encode(("alice:" + PASSWORDS["alice"]).encode())
    st, h, _ = https_request(srv, "/once-basic/",
                             [("Authorization", "Basic " + cred.decode())])
    assert st == 404
    assert h["X-Remote-User"] == "alice@TEST.N8443"


def test_once_good_token_logs_in(srv, alice):
    _, tok = alice.token()
    st, h, _ = https_request(srv, "/once/", [negotiate(tok)])
    assert st == 404
    assert h["X-Remote-User"] == "alice@TEST.N8443"


def test_once_authz_refusal_does_not_loop(srv, alice):
    """A good login the Require refuses: not offered Negotiate again (the
    browser would send the same ticket forever)."""
    _, tok = alice.token()
    st, h, b = https_request(srv, "/authz/", [negotiate(tok)])
    assert st == 401
    assert "Negotiate" not in schemes(h)
    assert page(b)["word"] == "not_authorized"


def test_package_page_for_a_user_the_require_refuses(srv, alice):
    """Logged in but not allowed: the package's page does not say "not
    logged in", and names the cause."""
    _, tok = alice.token()
    st, h, b = https_request(srv, "/authz-page/", [negotiate(tok)])
    assert st == 401
    text = b.decode()
    assert "is not open to you" in text
    assert "not logged in" not in text
    assert '<code id="code">not_authorized</code>' in text
    assert "contact\n<strong>Desk</strong>" in text


# ------------------------------------------- negotiate8443-no-negotiate

def test_browsermatch_no_negotiate_nothing_offered(srv):
    mark = srv.log_mark()
    st, h, b = https_request(srv, "/plain/", [("User-Agent", "KioskBrowser")])
    assert st == 401
    assert schemes(h) == []
    assert page(b)["word"] == "no_token"


def test_browsermatch_no_negotiate_basic_offered(srv):
    st, h, _ = https_request(srv, "/basic/", [("User-Agent", "KioskBrowser")])
    assert st == 401
    assert h.get_all("WWW-Authenticate") == ['Basic realm="basic"']


def test_other_agents_still_get_negotiate(srv):
    st, h, _ = https_request(srv, "/basic/", [("User-Agent", "Firefox")])
    assert st == 401
    assert schemes(h) == ["Negotiate", "Basic"]


def test_if_setenvif_no_negotiate(srv):
    st, h, _ = https_request(srv, "/kiosk-if/", [("X-Kiosk", "1")])
    assert st == 401
    assert schemes(h) == []
    st, h, _ = https_request(srv, "/kiosk-if/", [("X-Kiosk", "0")])
    assert st == 401
    assert schemes(h) == ["Negotiate"]


# ------------------------------------------ NEGOTIATE_ERROR for the page

@pytest.mark.parametrize("kind,word", [
    ("none", "no_token"),
    ("ntlm", "ntlm"),
    ("no_mech_token", "no_ticket"),
    ("wrong", "wrong_principal"),
    ("replay", "replay"),
])
def test_ssi_page_reads_redirect_negotiate_error(srv, alice, kind, word):
    headers = []
    if kind == "ntlm":
        headers = [negotiate(NTLM_NEGOTIATE)]
    elif kind == "no_mech_token":
        from test_hostile import spnego_init, KRB5_OID
        headers = [negotiate(spnego_init([KRB5_OID]))]
    elif kind == "wrong":
        headers = [negotiate(wrong_token(alice))]
    elif kind == "replay":
        _, tok = alice.token()
        st, _, _ = https_request(srv, "/plain/", [negotiate(tok)])
        assert st == 404
        headers = [negotiate(tok)]
    st, h, b = https_request(srv, "/plain/", headers)
    assert st == 401
    assert h["Content-Type"].startswith("text/html")
    p = page(b)
    assert p["word"] == word, b
    # The sentence is the module's for that word, entity-escaped.
    assert p["text"] and len(p["text"]) > 20, b
    assert "kvno" not in p["text"] and "keytab" not in p["text"]
    # httpd renames the 401's variables for the ErrorDocument request.
    assert p["plain"] == "(none)", b


def test_error_text_is_entity_escaped(srv):
    """The SSI page writes the sentence with encoding="entity": an
    apostrophe comes out as &#39; (mod_include's escaping), so nothing in
    the sentence can become markup."""
    st, h, b = https_request(srv, "/plain/")
    text = page(b)["text"]
    assert "'" not in text
    assert "browser did not send a Kerberos login" in text


def test_cgi_error_document_reads_the_cause(srv):
    st, h, b = https_request(srv, "/cgi-err/", [negotiate(NTLM_NEGOTIATE)])
    assert st == 401
    assert schemes(h) == ["Negotiate"]
    out = b.decode()
    assert "WORD=ntlm\n" in out
    assert "TEXT=Your computer could not get a Kerberos ticket" in out


def test_malformed_token_is_400_with_the_word(srv):
    st, h, b = https_request(srv, "/plain/", [("Authorization",
                                               "Negotiate !!!")])
    assert st == 400
    assert page(b)["word"] == "malformed"


# ------------------------------------------------------- NegotiateOptional

def test_optional_anonymous_gets_in_without_user(srv):
    st, h, b = https_request(srv, "/optional/")
    assert st == 404
    assert h.get("X-Remote-User", "") in ("", "(null)")
    assert h.get_all("WWW-Authenticate") is None


def test_optional_cgi_remote_user_unset_then_set(srv, alice):
    st, h, b = https_request(srv, "/cgi-bin/env")
    assert st == 200
    assert "REMOTE_USER=\n" in b.decode()
    assert "AUTH_TYPE=\n" in b.decode()
    _, tok = alice.token()
    st, h, b = https_request(srv, "/cgi-bin/env", [negotiate(tok)])
    assert st == 200
    assert "REMOTE_USER=alice@TEST.N8443\n" in b.decode()


def test_optional_token_logs_in(srv, alice):
    _, tok = alice.token()
    st, h, _ = https_request(srv, "/optional/", [negotiate(tok)])
    assert st == 404
    assert h["X-Remote-User"] == "alice@TEST.N8443"


def test_optional_bad_token_is_refused(srv, alice):
    st, h, b = https_request(srv, "/optional/",
                             [negotiate(wrong_token(alice))])
    assert st == 401
    assert page(b)["word"] == "wrong_principal"


def test_optional_other_scheme_stays_anonymous(srv):
    """An application's own scheme (Bearer) is not ours to refuse: the
    optional location serves it anonymously."""
    st, h, _ = https_request(srv, "/optional/",
                             [("Authorization", "Bearer abc.def")])
    assert st == 404
    assert h.get("X-Remote-User", "") in ("", "(null)")


def test_optional_with_valid_user_still_needs_login(srv):
    st, h, _ = https_request(srv, "/optional-user/")
    assert st == 401
    assert schemes(h) == ["Negotiate"]


# ----------------------------------------------- large tokens at start-up

@pytest.mark.parametrize("limit,warned", [(None, True), (88064, False)])
def test_startup_warns_when_the_header_limit_is_too_small(
        base_dir, module_path, realm, certs, keytab, limit, warned):
    """NegotiateMaxTokenSize 65536 needs LimitRequestFieldSize 88064:
    below it httpd answers such tokens with a bare 400, which only the
    start-up warning N8443343 can tell the administrator about."""
    extra = "NegotiateMaxTokenSize 65536"
    if limit:
        extra += "\nLimitRequestFieldSize %d" % limit
    s = start_httpd(base_dir, module_path, realm, certs, keytab,
                    "  <Location /p>\n    AuthType Negotiate\n"
                    "    Require valid-user\n  </Location>\n",
                    name="httpd-fieldsize-%s" % limit, extra_global=extra)
    try:
        out = s.output()
    finally:
        s.stop()
    assert ("N8443343: NegotiateMaxTokenSize 65536 needs "
            "LimitRequestFieldSize 88064" in out) == warned, out


# ------------------------------------- NegotiateOptional with a session

def test_optional_recognises_the_session_cookie(base_dir, module_path, realm,
                                                certs, keytab, alice):
    """The portal pattern: a login at /s (NegotiateSession) sets the
    cookie; /s/home (NegotiateOptional, Require all granted) greets the
    user who has one and serves anonymous visitors without one."""
    key = os.path.join(base_dir, "fallback-session.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    s = start_httpd(base_dir, module_path, realm, certs, keytab, """
  <Location /s>
    AuthType Negotiate
    NegotiateSession On
    Require valid-user
  </Location>
  <Location /s/home>
    NegotiateOptional On
    Require all granted
  </Location>
""", name="httpd-optional-session",
        extra_global="NegotiateSessionKeyFile %s" % key)
    try:
        _, tok = alice.token()
        st, h, _ = https_request(s, "/s/login", [negotiate(tok)])
        assert st == 404
        cookie = [v.split(";")[0] for v in h.get_all("Set-Cookie") or []
                  if v.startswith("n8443_session=")]
        assert len(cookie) == 1, h
        st, h, _ = https_request(s, "/s/home/", [("Cookie", cookie[0])])
        assert st == 404
        assert h["X-Remote-User"] == "alice@TEST.N8443"
        st, h, _ = https_request(s, "/s/home/")
        assert st == 404
        assert h.get("X-Remote-User", "") in ("", "(null)")
        assert h.get_all("WWW-Authenticate") is None
    finally:
        s.stop()
