"""A login keeps the scope it was proven under (issue 24, items 1-4):

- .htaccess cannot name a keytab or switch on sessions, connection logins
  or delegation (500, "not allowed here"), so an AllowOverride AuthConfig
  user cannot mint identities with a KDC of their own;
- a session cookie holds only where the same virtual host, keytab and
  acceptor principal apply, satisfies NegotiateChannelBinding require only
  when its login was bound to the same certificate, and ages by the
  stricter of the issuing and the resuming NegotiateSessionMaxAge;
- the cookie never reaches the application, whatever the location, the
  other headers or the spelling; its Path is the issuing <Location>;
- cookies of the old format no longer open.

The attacker's own KDC is a second throwaway realm with the same name."""

import hashlib
import os
import struct
import subprocess
import time
import types

import gssapi
import pytest

import harness
from conftest import Client, https_request, location, negotiate

ATTACKER_PW = "attacker-pw-9"

COOKIE_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'HTTP_COOKIE=%s\\n' "$HTTP_COOKIE"
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
"""

# A session login, and one whose channel binding must be there; in both
# TLS virtual hosts.
SESSION = location("/session", "NegotiateSession On")
SESSION_REQUIRE = location("/require", "NegotiateSession On",
                           "NegotiateChannelBinding require")

BODY = """
  Header always set X-Bound "%{{NEGOTIATE_CHANNEL_BOUND}}e"
  ScriptAlias /auth-cgi/ {cgi}/
  ScriptAlias /session-cgi/ {cgi}/
  ScriptAlias /conn-cgi/ {cgi}/
""" + location("/auth-cgi/") + \
    location("/session-cgi/", "NegotiateSession On") + \
    location("/conn-cgi/", "NegotiateConnectionAuth On") + \
    SESSION + """\
  <LocationMatch "^/rx">
    AuthType Negotiate
    NegotiateSession On
    Require valid-user
  </LocationMatch>
  <Location /short>
    AuthType Negotiate
    NegotiateSession On
    NegotiateSessionMaxAge 2
    Require valid-user
  </Location>
""" + SESSION_REQUIRE + """\
  <Location /partner>
    AuthType Negotiate
    NegotiateKeytab {partner}
    NegotiateSession On
    Require valid-user
  </Location>
  <Location /admin>
    AuthType Negotiate
    NegotiateSession On
    Require user admin@TEST.N8443
  </Location>
  <Location /redir>
    ErrorDocument 404 /cgi-bin/cookies
  </Location>
  <Directory {htdocs}/eve>
    AllowOverride AuthConfig
  </Directory>
"""

# A second TLS virtual host: the same name, keytab and sessions, but
# another certificate.  A third: its own name, keytab and SPN.
EXTRA = """
Listen 127.0.0.1:{p2} https
<VirtualHost 127.0.0.1:{p2}>
  SSLEngine on
  SSLCertificateFile {cert2}
  SSLCertificateKeyFile {key2}
  Header always set X-Bound "%{{NEGOTIATE_CHANNEL_BOUND}}e"
""" + SESSION + SESSION_REQUIRE + """\
</VirtualHost>
Listen 127.0.0.1:{p3} https
<VirtualHost 127.0.0.1:{p3}>
  ServerName other.test.n8443
  SSLEngine on
  SSLCertificateFile {cert}
  SSLCertificateKeyFile {key}
  NegotiateKeytab {other}
""" + SESSION + """\
</VirtualHost>
NegotiateSessionKeyFile {keyfile}
"""


class Attacker(Client):
    """admin@TEST.N8443 of the attacker's own KDC, with a service ticket
    for HTTP/localhost already in its cache (so python-gssapi, configured
    for the real realm, never asks a KDC)."""

    def __init__(self, realm2, certs):
        super().__init__(realm2, certs, "admin", {"admin": ATTACKER_PW})
        harness.run(["kvno", "HTTP/localhost@TEST.N8443"], env=self.env)


@pytest.fixture(scope="module")
def realm2(base_dir):
    r = harness.Realm(os.path.join(base_dir, "attacker"))
    try:
        r.add_user("admin", ATTACKER_PW)
        r.add_service("HTTP/localhost")
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def attacker(realm2, certs):
    return Attacker(realm2, certs)


@pytest.fixture(scope="module")
def keys(base_dir, realm, realm2):
    partner = os.path.join(base_dir, "partner.keytab")
    realm2.export_keytab(partner, ["HTTP/localhost"])
    harness.chown_to_httpd(partner)
    other = os.path.join(base_dir, "other-vhost.keytab")
    realm.export_keytab(other, ["HTTP/other.test.n8443"])
    harness.chown_to_httpd(other)
    keyfile = os.path.join(base_dir, "scope-session.key")
    with open(keyfile, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(keyfile, 0o600)
    return types.SimpleNamespace(partner=partner, other=other,
                                 keyfile=keyfile)


@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab, keys):
    name = "httpd-scope"
    cert2, key2 = certs.issue("scope-other", ["localhost"])
    p2, p3 = harness.free_port(), harness.free_port()
    d = os.path.join(base_dir, name)
    body = BODY.format(cgi=os.path.join(d, "cgi-bin"),
                       htdocs=os.path.join(d, "htdocs"),
                       partner=keys.partner)
    extra = EXTRA.format(p2=p2, p3=p3, cert2=cert2, key2=key2,
                         cert=certs.cert, key=certs.key, other=keys.other,
                         keyfile=keys.keyfile)
    s = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                      name=name, extra_global=extra)
    s.ca = certs.ca
    cgi = os.path.join(d, "cgi-bin", "cookies")
    with open(cgi, "w") as f:
        f.write(COOKIE_CGI)
    os.chmod(cgi, 0o755)
    s.start()
    s.other_cert = types.SimpleNamespace(port=p2, plain_port=p2, ca=certs.ca)
    s.other_vhost = types.SimpleNamespace(port=p3, plain_port=p3,
                                          ca=certs.ca)
    yield s
    s.stop()


def set_cookie(headers):
    for v in headers.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v
    return None


def cookie_value(headers):
    c = set_cookie(headers)
    assert c is not None, headers
    return c.split(";")[0].split("=", 1)[1]


def with_cookie(value):
    return ("Cookie", "n8443_session=" + value)


def login(server, client, path, host="localhost", cb=None):
    st, h, body = https_request(server, path, [negotiate(
        client.token(host=host, channel_bindings=cb)[1])])
    assert st in (200, 404), (st, body)
    return h, body


def binding_of(cert):
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return gssapi.raw.ChannelBindings(
        application_data=b"tls-server-end-point:"
        + hashlib.sha256(der).digest())


# ------------------------------------------------------------ 24.1 .htaccess

HTACCESS_DIRECTIVES = [
    "NegotiateKeytab {partner}",
    "NegotiateServicePrincipal HTTP/localhost@TEST.N8443",
    "NegotiateSession On",
    "NegotiateSessionMaxAge 60",
    "NegotiateConnectionAuth On",
    "NegotiateDelegation On",
    "NegotiateConstrainedDelegation On",
]


def write_htaccess(srv, sub, lines):
    d = os.path.join(srv.dir, "htdocs", "eve", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".htaccess"), "w") as f:
        f.write("\n".join(["AuthType Negotiate"] + lines
                          + ["Require valid-user", ""]))


@pytest.mark.parametrize("line", HTACCESS_DIRECTIVES)
def test_htaccess_cannot_set(srv, keys, alice, line):
    """AllowOverride AuthConfig does not reach the settings that decide
    whose keys prove a login or carry it beyond the request: httpd answers
    500 for that directory and logs why."""
    line = line.format(partner=keys.partner)
    name = line.split()[0]
    write_htaccess(srv, name, [line])
    mark = srv.log_mark()
    st, h, _ = https_request(srv, "/eve/%s/" % name, [negotiate(
        alice.token()[1])])
    assert st == 500
    assert set_cookie(h) is None
    assert "%s not allowed here" % name in srv.log_since(mark)


def test_htaccess_authconfig_still_works(srv, alice):
    """What only shapes the user's own directory stays allowed."""
    write_htaccess(srv, "plain", ["NegotiateUserName short"])
    st, _, _ = https_request(srv, "/eve/plain/")
    assert st == 401
    st, h, _ = https_request(srv, "/eve/plain/", [negotiate(
        alice.token()[1])])
    assert st == 404 and h["X-Remote-User"] == "alice"


def test_htaccess_keytab_of_own_kdc_mints_nothing(srv, keys, attacker):
    """The attack of item 1: an .htaccess names the keytab of the
    attacker's own KDC (same realm name) and switches sessions on; the
    forged admin login there must not yield a cookie that /admin takes."""
    write_htaccess(srv, "mint", ["NegotiateKeytab %s" % keys.partner,
                                 "NegotiateSession On"])
    st, h, _ = https_request(srv, "/eve/mint/", [negotiate(
        attacker.token()[1])])
    assert st == 500
    assert set_cookie(h) is None
    # The forged ticket sent directly is refused too (wrong keys).
    st, _, _ = https_request(srv, "/admin/", [negotiate(
        attacker.token()[1])])
    assert st == 401


# --------------------------------------------------- 24.1/24.3 cookie scope

def test_cookie_only_where_its_keytab_applies(srv, attacker):
    """A login proven with another keytab (here a partner's KDC, the same
    realm name) holds where that keytab applies, and its cookie nowhere
    else: not at /admin, which uses the server's keytab."""
    h, _ = login(srv, attacker, "/partner/")
    assert h["X-Remote-User"] == "admin@TEST.N8443"
    value = cookie_value(h)
    st, h, _ = https_request(srv, "/partner/", [with_cookie(value)])
    assert st == 404 and h["X-Remote-User"] == "admin@TEST.N8443"
    mark = srv.log_mark()
    st, h, _ = https_request(srv, "/admin/", [with_cookie(value)])
    assert st == 401
    assert "N8443240: session cookie of admin@TEST.N8443 does not hold " \
        "here (it was issued for another virtual host, keytab or service " \
        "principal)" in srv.log_since(mark)


def test_cookie_from_another_vhost_is_refused(srv, alice):
    """vhost other.test.n8443 (its own keytab and SPN) issues a cookie;
    the localhost vhost does not take it."""
    h, _ = login(srv.other_vhost, alice, "/session/", host="other.test.n8443")
    value = cookie_value(h)
    st, _, _ = https_request(srv.other_vhost, "/session/",
                             [with_cookie(value)])
    assert st == 404
    mark = srv.log_mark()
    st, _, _ = https_request(srv, "/session/", [with_cookie(value)])
    assert st == 401
    assert "N8443240: " in srv.log_since(mark)


# ----------------------------------------------------- 24.2 channel binding

def test_unbound_cookie_does_not_satisfy_require(srv, alice):
    h, _ = login(srv, alice, "/session/")
    assert h["X-Bound"] == "false"
    value = cookie_value(h)
    mark = srv.log_mark()
    st, h, _ = https_request(srv, "/require/", [with_cookie(value)])
    assert st == 401
    log = srv.log_since(mark)
    assert "N8443240: session cookie of alice@TEST.N8443 does not hold " \
        "here (it was not bound to the TLS channel" in log
    assert "another TLS certificate" not in log


def test_bound_cookie_holds_only_on_its_certificate(srv, alice, certs):
    h, _ = login(srv, alice, "/session/", cb=binding_of(certs.cert))
    assert h["X-Bound"] == "true"
    value = cookie_value(h)
    # Another connection to the same certificate: bound, require holds.
    st, h, _ = https_request(srv, "/require/", [with_cookie(value)])
    assert st == 404 and h["X-Bound"] == "true"
    # The same vhost name and keytab behind another certificate: the
    # cookie is not bound there, so require does not hold ...
    mark = srv.log_mark()
    st, h, _ = https_request(srv.other_cert, "/require/",
                             [with_cookie(value)])
    assert st == 401
    assert "(its login was bound to another TLS certificate)" \
        in srv.log_since(mark)
    # ... and where binding is optional it logs in, reported unbound.
    st, h, _ = https_request(srv.other_cert, "/session/",
                             [with_cookie(value)])
    assert st == 404 and h["X-Bound"] == "false"


# ------------------------------------------------------------ 24.3 max age

def test_strictest_max_age_applies(srv, alice):
    """A cookie of /session (3600 s) is 3 s old: /short (2 s) refuses it,
    /session still takes it."""
    h, _ = login(srv, alice, "/session/")
    value = cookie_value(h)
    time.sleep(3)
    mark = srv.log_mark()
    st, _, _ = https_request(srv, "/short/", [with_cookie(value)])
    assert st == 401
    assert "s old, at or over this location's NegotiateSessionMaxAge 2" \
        in srv.log_since(mark)
    st, h, _ = https_request(srv, "/session/", [with_cookie(value)])
    assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"


# -------------------------------------------------- 24.4 never to the app

def seen_cookies(body):
    for line in body.decode().splitlines():
        if line.startswith("HTTP_COOKIE="):
            return line[len("HTTP_COOKIE="):]
    raise AssertionError(body)


@pytest.fixture(scope="module")
def live(srv, alice):
    """A live session cookie of alice."""
    h, _ = login(srv, alice, "/session-cgi/cookies")
    return cookie_value(h)


@pytest.mark.parametrize("header,kept", [
    ("a=1; n8443_session={v}; b=2", "a=1; b=2"),
    ("n8443_session={v}", ""),
    ("n8443_session={v}; keep=1", "keep=1"),
    ("keep=1; n8443_session={v}", "keep=1"),
    ("N8443_SESSION={v}; n8443.session={v}; n8443%5Fsession={v}; "
     "n8443[session={v}; n8443 session ={v}; keep=1", "keep=1"),
    ("x=1, n8443_session={v}", "x=1"),
])
def test_public_location_never_sees_the_cookie(srv, live, header, kept):
    """No authentication at all here (the module still sees the request):
    our cookie, in any spelling a parser might read as its name, is gone;
    the others stay as they were."""
    st, _, body = https_request(srv, "/cgi-bin/cookies", [
        ("Cookie", header.format(v=live))])
    assert st == 200
    assert seen_cookies(body) == kept


def test_internal_redirect_never_sees_the_cookie(srv, live):
    """An ErrorDocument's internal redirect to a CGI: the redirected
    request's headers are the stripped ones."""
    st, _, body = https_request(srv, "/redir/missing", [
        ("Cookie", "a=1; n8443_session=" + live)])
    assert st == 404
    assert seen_cookies(body) == "a=1"


def test_two_cookie_fields(srv, live):
    st, _, body = https_request(srv, "/cgi-bin/cookies", [
        ("Cookie", "a=1"), ("Cookie", "n8443_session=" + live)])
    assert st == 200 and "n8443" not in seen_cookies(body).lower()


@pytest.mark.parametrize("path", ["/auth-cgi/cookies",
                                  "/session-cgi/cookies"])
def test_cookie_stripped_with_authorization(srv, alice, live, path):
    """A request with a token and the cookie: the application sees
    neither the cookie nor its value."""
    st, _, body = https_request(srv, path, [
        negotiate(alice.token()[1]),
        ("Cookie", "a=1; n8443_session=" + live)])
    assert st == 200
    assert seen_cookies(body) == "a=1"


def test_cookie_stripped_on_resume(srv, live):
    st, _, body = https_request(srv, "/session-cgi/cookies", [
        ("Cookie", "n8443_session=" + live + "; z=9")])
    assert st == 200
    assert seen_cookies(body) == "z=9"
    assert "REMOTE_USER=alice@TEST.N8443" in body.decode()


def test_cookie_stripped_under_connection_auth(srv, alice, live):
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx,
                                    timeout=20)
    try:
        for hdrs in ([negotiate(alice.token()[1])], []):
            c.putrequest("GET", "/conn-cgi/cookies", skip_host=True)
            c.putheader("Host", "localhost:%d" % srv.port)
            c.putheader("Cookie", "n8443_session=%s; k=v" % live)
            for k, v in hdrs:
                c.putheader(k, v)
            c.endheaders()
            r = c.getresponse()
            body = r.read()
            assert r.status == 200
            assert seen_cookies(body) == "k=v"
    finally:
        c.close()


@pytest.mark.parametrize("path,want", [
    ("/session/", "Path=/session"),
    ("/session-cgi/cookies", "Path=/session-cgi/"),
    ("/rx/", "Path=/"),
])
def test_cookie_path_is_the_location(srv, alice, path, want):
    h, _ = login(srv, alice, path)
    attrs = [a.strip() for a in set_cookie(h).split(";")]
    assert want in attrs, attrs
    assert len([a for a in attrs if a.startswith("Path=")]) == 1


# --------------------------------------------------------- format version

def test_old_format_cookie_is_refused(srv, keys):
    """A version-1 cookie (no scope in it), sealed with the right key,
    no longer opens."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    import base64
    with open(keys.keyfile, "rb") as f:
        key = f.read()
    now = int(time.time())
    plain = struct.pack(">qqB", now + 3600, now, 0) + b"alice@TEST.N8443"
    nonce = os.urandom(12)
    raw = b"\x01" + nonce + AESGCM(key).encrypt(nonce, plain, b"\x01")
    value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    mark = srv.log_mark()
    st, _, _ = https_request(srv, "/session/", [with_cookie(value)])
    assert st == 401
    assert "N8443100: session cookie does not open" in srv.log_since(mark)
