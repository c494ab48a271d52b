"""When single sign-on cannot happen (issue 17), through a config that
`n8443ctl render` wrote from tests/n8443ctl/golden/08-help-large-tokens.yaml
(adapted and started as test_n8443ctl_render.py does):

* the ErrorDocument 401 page (pages/401.shtml, SSI only) tells the user
  what happened, what to do and whom to ask -- in headless Chromium
  without a ticket (screenshot and DOM), for an NTLM token sent by curl,
  and as text in curl;
* large tokens: a ~40 KB token logs in through the rendered
  LimitRequestFieldSize, while the same config without that line gets
  httpd's bare 400 (default 8190) before the module runs.
"""

import base64
import os
import re
import shutil
import subprocess

import pytest

import browser
import harness
import test_n8443ctl_render as tr
from test_differential import driver

GOLDEN = "08-help-large-tokens"
NTLM_NEGOTIATE = base64.b64decode(
    "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
POLICIES = {
    "AuthServerAllowlist": "localhost",
    "DisableAuthNegotiateCnameLookup": True,
    "EnableAuthNegotiatePort": False,
    "GSSAPILibraryName": "libgssapi_krb5.so.2",
    "AuthSchemes": "basic,digest,ntlm,negotiate",
}


class SiteWithoutFieldLimit(tr.Site):
    """The same rendered config with its LimitRequestFieldSize lines
    taken out: httpd's default limit."""

    def prepare(self):
        super().prepare()
        text, n = re.subn(r"(?m)^\s*LimitRequestFieldSize \d+\n", "",
                          tr.read(self.included))
        assert n == len(self.conf["vhosts"]), n
        tr.write(self.included, text)


def start(cls, base_dir, module_path, realm, certs):
    s = cls(GOLDEN, base_dir, module_path, realm, certs)
    try:
        s.prepare()
        s.start()
    except BaseException:
        s.stop()
        raise
    return s


@pytest.fixture(scope="module")
def site(base_dir, module_path, realm, certs):
    s = start(tr.Site, base_dir, module_path, realm, certs)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def default_limit_site(base_dir, module_path, realm, certs):
    s = start(SiteWithoutFieldLimit, base_dir, module_path, realm, certs)
    yield s
    s.stop()


def curl(site, vh, path="/", headers=()):
    """curl as a user at a terminal sees the page: (status, headers,
    body)."""
    v = site.vhost(vh)
    name = v["names"][0]
    cmd = ["curl", "-sS", "--cacert", site.certs.ca, "--resolve",
           "%s:%d:127.0.0.1" % (name, v["port"]), "-D", "-", "-o", "-",
           "-w", "\n%{http_code}"]
    for k, val in headers:
        cmd += ["-H", "%s: %s" % (k, val)]
    res = subprocess.run(cmd + ["https://%s:%d%s" % (name, v["port"], path)],
                         capture_output=True, text=True, timeout=30)
    out, status = res.stdout.rsplit("\n", 1)
    # (text mode: curl's CRLFs are read as newlines)
    head, _, body = out.partition("\n\n")
    return int(status), head, body


def visible_text(html):
    """What a text browser shows: the markup and comments gone, the
    entities the page uses decoded."""
    text = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    text = re.sub(r"<style.*?</style>", "", text, flags=re.S)
    text = re.sub(r"<[^>]+>", "", text)
    for ent, ch in (("&#39;", "'"), ("&lt;", "<"), ("&gt;", ">"),
                    ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(ent, ch)
    return re.sub(r"\s+", " ", text)


def assert_screenshot(path):
    with open(path, "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", path
    # A blank page compresses to a few hundred bytes; text does not.
    assert len(png) > 8000, (path, len(png))


# ------------------------------------------------------------- the page

def test_rendered_config_has_the_page(site):
    text = site.rendered
    assert "ErrorDocument 401 /negotiate8443-error/401.shtml" in text
    assert 'SetEnv N8443_HELP_CONTACT "IT service desk, extension 4357"' \
        in text
    assert "LimitRequestFieldSize 132096" in text


def test_curl_without_ticket_reads_why_and_whom_to_ask(site):
    st, head, body = curl(site, 0)
    assert st == 401
    assert "WWW-Authenticate: Negotiate\n" in head + "\n"
    assert "text/html; charset=utf-8" in head
    assert "<script" not in body.lower()
    text = visible_text(body)
    assert "You are not logged in to localhost" in text
    assert "Your browser did not send a Kerberos login for this site" in text
    assert "Your computer did not present a Kerberos ticket for " \
        "localhost." in text
    assert "contact IT service desk, extension 4357 " \
        "(https://help.test.n8443/sso)" in text
    assert "give them this code: no_token." in text
    assert "kvno" not in body and "keytab" not in body


def test_curl_ntlm_token_gets_the_ntlm_page_and_no_negotiate(site):
    """negotiate_once: the 401 to a refused Negotiate token offers
    nothing more (the browser stops), and the page says NTLM."""
    st, head, body = curl(site, 0, headers=[(
        "Authorization", "Negotiate " +
        base64.b64encode(NTLM_NEGOTIATE).decode())])
    assert st == 401
    assert "WWW-Authenticate" not in head
    text = visible_text(body)
    assert "fell back to NTLM, which this site does not accept" in text
    assert "give them this code: ntlm." in text


def test_help_contact_is_entity_escaped(site):
    """reports' contact has '<' and '>': mod_include writes them as
    entities, the mailto: link too; the page has no markup of the site
    file's."""
    st, head, body = curl(site, 1)
    assert st == 401
    assert "Reporting team &lt;reports-help@test.n8443&gt;" in body
    assert "<reports-help@test.n8443>" not in body
    assert 'href="mailto:reports-help@test.n8443"' in body
    # Basic is offered there: no Negotiate-only wording is wrong, the
    # challenge carries both.
    assert "WWW-Authenticate: Basic" in head


def test_page_itself_needs_no_login(site):
    st, head, body = curl(site, 0, "/negotiate8443-error/401.shtml")
    assert st == 200
    assert "You are not logged in to localhost" in visible_text(body)


@pytest.fixture(scope="module")
def chromium(base_dir, site):
    if browser.find_chromium() is None or shutil.which("certutil") is None:
        pytest.fail("chromium and certutil (libnss3-tools) are needed")
    return browser.Chromium(os.path.join(base_dir, "chromium-sso-page"),
                            site.certs.ca)


def no_ticket_env(site, tmp_path):
    env = dict(site.realm.env)
    env.pop("KRB5_KDC_PROFILE", None)
    env["KRB5CCNAME"] = "FILE:" + str(tmp_path / "no-such-ccache")
    return env


def test_chromium_without_ticket_shows_the_page(chromium, site, tmp_path):
    v = site.vhost(0)
    shot = str(tmp_path / "sso-page-no-ticket.png")
    page = chromium.load("https://localhost:%d/" % v["port"],
                         no_ticket_env(site, tmp_path), POLICIES,
                         screenshot=shot)
    dom = page.dom
    if chromium.managed:
        # It did try Kerberos, for the right name, and found no ticket.
        assert set(page.spns()) == {"HTTP@localhost"}, page.describe()
        assert "No credentials were supplied" in str(
            page.init_sec_context_results()[0]), page.describe()
    assert "You are not logged in to localhost" in dom, page.describe()
    assert "did not present a Kerberos ticket" in dom, page.describe()
    assert '<code id="code">no_token</code>' in dom, page.describe()
    assert "IT service desk, extension 4357" in dom
    assert_screenshot(shot)


def test_chromium_shows_the_ntlm_page(chromium, site, tmp_path):
    """The page curl got for an NTLM token, as a browser draws it."""
    st, head, body = curl(site, 0, headers=[(
        "Authorization", "Negotiate " +
        base64.b64encode(NTLM_NEGOTIATE).decode())])
    assert st == 401
    html = tmp_path / "ntlm.html"
    html.write_text(body)
    os.chmod(tmp_path, 0o755)
    shot = str(tmp_path / "sso-page-ntlm.png")
    page = chromium.load("file://%s" % html, no_ticket_env(site, tmp_path),
                         POLICIES, screenshot=shot)
    assert "fell back to NTLM" in page.dom, page.describe()
    assert '<code id="code">ntlm</code>' in page.dom
    assert_screenshot(shot)


# ---------------------------------------------------------- large tokens

def large_token(site, pad):
    res = subprocess.run([driver(), "--forge", site.keytab,
                          "alice@" + harness.REALM, "36000", "0", str(pad)],
                         capture_output=True, text=True, env=site.realm.env,
                         check=True)
    return base64.b64decode(res.stdout.strip())


def test_40k_token_logs_in_through_rendered_limit(site):
    tok = large_token(site, 40000)
    assert 40000 < len(tok) < 48000, len(tok)
    v = site.vhost(0)
    mark = site.httpd.log_mark()
    st, h, body, tid = tr.request(site, v, "/index.html", [tr.negotiate(tok)])
    log = site.httpd.log_since(mark)
    assert st == 200, log
    assert site.httpd.user_of(tid) == "alice@" + harness.REALM
    assert "N8443001: login of alice@%s accepted" % harness.REALM in log


def test_token_over_max_token_size_is_the_modules_400(site):
    """Past NegotiateMaxTokenSize (48000 for portal) the module itself
    answers, with its log line: the header limit let it through."""
    tok = large_token(site, 50000)
    v = site.vhost(0)
    mark = site.httpd.log_mark()
    st, h, body, tid = tr.request(site, v, "/index.html", [tr.negotiate(tok)])
    assert st == 400
    assert "N8443019" in site.httpd.log_since(mark)


def test_default_field_limit_gives_a_bare_400(default_limit_site):
    s = default_limit_site
    tok = large_token(s, 40000)
    v = s.vhost(0)
    mark = s.httpd.log_mark()
    st, h, body, tid = tr.request(s, v, "/index.html", [tr.negotiate(tok)])
    log = s.httpd.log_since(mark)
    assert st == 400
    assert b"exceeds server limit" in body or b"Bad Request" in body
    assert "N8443" not in log, log
    # A small token still logs in there.
    tok = large_token(s, 100)
    st, h, body, tid = tr.request(s, v, "/index.html", [tr.negotiate(tok)])
    assert st == 200

