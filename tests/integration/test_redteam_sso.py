"""Red-team regressions for the SSO-failure features (NegotiateOptional,
NegotiateOnce, NEGOTIATE_ERROR, the 401 page, large tokens).  Each test
here failed when it was written."""

import base64
import os
import subprocess
import tempfile

import pytest

import harness
import test_n8443ctl_render as tr
from conftest import https_request, negotiate, start_httpd

HERE = os.path.dirname(os.path.abspath(__file__))

# A site whose application is proxied at "/" (the common reverse-proxy
# pattern) and that has the help page (help:).
PROXY_ROOT_HELP = """\
version: 1
sites:
  - name: app
    server_name: app.example.com
    help:
      contact: Desk
      pages: /usr/share/mod_negotiate8443/pages
    tls:
      certificate: /etc/pki/tls/certs/app.crt
      key: /etc/pki/tls/private/app.key
    locations:
      - path: /
        proxy: http://127.0.0.1:8080/
        user_header: X-Remote-User
"""


def start_custom_site(name, yaml_text, base_dir, module_path, realm, certs):
    d = tempfile.mkdtemp(prefix="redteam-golden.", dir=base_dir)
    os.chmod(d, 0o755)
    with open(os.path.join(d, name + ".yaml"), "w") as f:
        f.write(yaml_text)
    saved = tr.GOLDEN
    tr.GOLDEN = d
    s = tr.Site(name, base_dir, module_path, realm, certs)
    try:
        s.prepare()
    finally:
        tr.GOLDEN = saved
    try:
        s.start()
    except BaseException:
        s.stop()
        raise
    return s


@pytest.fixture(scope="module")
def proxy_root_site(base_dir, module_path, realm, certs):
    s = start_custom_site("rt-proxy-root-help", PROXY_ROOT_HELP, base_dir,
                          module_path, realm, certs)
    yield s
    s.stop()


def test_error_page_path_does_not_open_the_proxied_app(proxy_root_site):
    """n8443ctl render puts <Location "/negotiate8443-error/"> (AuthType
    None, Require all granted) after a proxied "/": that section inherits
    the ProxyPass of "/" (mod_proxy's translate hook runs before
    mod_alias's Alias), so every URL of the backend under
    /negotiate8443-error/ is served without any login.  With a
    backend that reads "..;" as ".." (Tomcat, Jetty), the whole
    application is open: /negotiate8443-error/..;/admin."""
    s = proxy_root_site
    v = s.vhost(0)
    backend = s.backends[0]
    for path in ("/negotiate8443-error/anything",
                 "/negotiate8443-error/..;/admin"):
        st, h, body, tid = tr.request(s, v, path, [])
        assert backend.find(tid) == [], (path, st, body[:300])


def test_401_page_of_proxied_root_is_the_packages(proxy_root_site):
    """The ErrorDocument for "/" (a proxied app) is the package's page,
    not the backend's answer for /negotiate8443-error/401.shtml."""
    s = proxy_root_site
    v = s.vhost(0)
    backend = s.backends[0]
    st, h, body, tid = tr.request(s, v, "/", [])
    assert st == 401, (st, body[:400])
    assert b"You are not logged in to" in body, body[:300]
    assert backend.find(tid) == [], body[:300]


# ------------------------------------------------ help: pages directory

PAGES_ROOT = """\
version: 1
sites:
  - name: app
    server_name: app.example.com
    help:
      contact: Desk
      pages: /
    tls:
      certificate: /etc/pki/tls/certs/app.crt
      key: /etc/pki/tls/private/app.key
"""


def test_render_refuses_pages_that_open_the_filesystem(tmp_path):
    """help: pages is rendered as an Alias plus <Directory PAGES> Require
    all granted, under a Location without login: 'pages: /' (or any
    directory that holds more than the page: the DocumentRoot, /etc)
    publishes it to everyone.  n8443ctl render takes any absolute
    path."""
    site = tmp_path / "pages-root.yaml"
    site.write_text(PAGES_ROOT)
    proc = subprocess.run([tr.tool(), "render", str(site)],
                          capture_output=True, text=True)
    assert proc.returncode != 0 or '<Directory "/">' not in proc.stdout, \
        [l for l in proc.stdout.splitlines() if "Directory" in l
         or "Alias" in l]


class PagesRootSite(tr.Site):
    """The config n8443ctl renders for 'pages: /' (the test adapter
    always points pages at the source tree; put back what the site file
    says)."""

    def prepare(self):
        super().prepare()
        pages = os.path.normpath(os.path.join(HERE, "..", "..", "pages"))
        text = tr.read(self.included)
        assert pages in text
        text = text.replace('Alias "/negotiate8443-error/" "%s/"' % pages,
                            'Alias "/negotiate8443-error/" "//"')
        text = text.replace('<Directory "%s">' % pages, '<Directory "/">')
        tr.write(self.included, text)


def test_pages_root_leaks_the_keytab_without_login(base_dir, module_path,
                                                   realm, certs):
    d = tempfile.mkdtemp(prefix="redteam-golden.", dir=base_dir)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "rt-pages-root.yaml"), "w") as f:
        f.write(PAGES_ROOT)
    saved = tr.GOLDEN
    tr.GOLDEN = d
    s = PagesRootSite("rt-pages-root", base_dir, module_path, realm, certs)
    try:
        s.prepare()
    finally:
        tr.GOLDEN = saved
    try:
        s.start()
        v = s.vhost(0)
        st, h, body, tid = tr.request(s, v, "/", [])
        assert st == 401
        # The service keytab (readable by httpd's user, as it must be).
        st, h, body, tid = tr.request(s, v, "/negotiate8443-error" +
                                      s.keytab, [])
        assert st in (401, 403, 404), (st, body[:80])
    finally:
        s.stop()


UNDER_ERROR_PATH = """\
version: 1
sites:
  - name: app
    server_name: app.example.com
    help:
      contact: Desk
    tls:
      certificate: /etc/pki/tls/certs/app.crt
      key: /etc/pki/tls/private/app.key
    locations:
      - path: /
      - path: /negotiate8443-error/admin/
        proxy: http://127.0.0.1:8080/admin/
        require:
          users: [bob@EXAMPLE.COM]
"""


def test_render_keeps_logins_under_the_error_path(tmp_path):
    """The 401 page's <Location "/negotiate8443-error/"> (AuthType None,
    Require all granted) is rendered after every location of the site
    file, so it also replaces the login and Require lines of a location
    under that path: /negotiate8443-error/admin/ (only bob) is open to
    everyone.  Such a path must be refused, or keep its login."""
    site = tmp_path / "under-error-path.yaml"
    site.write_text(UNDER_ERROR_PATH)
    proc = subprocess.run([tr.tool(), "render", str(site)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return
    text = proc.stdout
    admin = text.index('<Location "/negotiate8443-error/admin/">')
    page = text.index('<Location "/negotiate8443-error/">')
    assert page < admin, "the page's Location overrides the admin one"


def test_location_under_error_path_is_open_without_login(base_dir,
                                                         module_path, realm,
                                                         certs):
    s = start_custom_site("rt-under-error-path", UNDER_ERROR_PATH, base_dir,
                          module_path, realm, certs)
    try:
        v = s.vhost(0)
        backend = s.backends[0]
        st, h, body, tid = tr.request(s, v, "/negotiate8443-error/admin/x",
                                      [])
        assert backend.find(tid) == [], (st, body[:200])
        assert st == 401
    finally:
        s.stop()


# ------------------------------------ ErrorDocument in an optional location

OPTIONAL_PORTAL = """
  <Location />
    AuthType Negotiate
    NegotiateOptional On
    Require all granted
  </Location>
  <Location /members>
    NegotiateOnce On
    ErrorDocument 401 /help/401.html
    Require valid-user
  </Location>
  <Location /pw>
    AuthName "pw"
    NegotiateBasicFallback On
  </Location>
  <Location /pw/members>
    ErrorDocument 401 /pw/help/401.html
    Require valid-user
  </Location>
"""


@pytest.fixture(scope="module")
def portal(base_dir, module_path, realm, certs, keytab):
    s = start_httpd(base_dir, module_path, realm, certs, keytab,
                    OPTIONAL_PORTAL, name="httpd-rt-portal")
    os.makedirs(os.path.join(s.dir, "htdocs", "help"), exist_ok=True)
    os.makedirs(os.path.join(s.dir, "htdocs", "pw", "help"), exist_ok=True)
    for sub in ("help", "pw/help"):
        with open(os.path.join(s.dir, "htdocs", sub, "401.html"), "w") as f:
            f.write("portal help page\n")
    yield s
    s.stop()


def test_error_document_in_optional_location_keeps_negotiate_once(portal,
                                                                  alice):
    """A portal whose "/" is NegotiateOptional, its 401 page somewhere
    under it.  A refused token at /members (NegotiateOnce) is sent again
    with the ErrorDocument's internal redirect: the optional location
    takes the Authorization header as credentials, runs the refused
    token a second time, answers 401 again -- so the client gets
    "Negotiate" (twice) despite NegotiateOnce, and httpd's bare 401
    instead of the page."""
    _, tok = alice.token(host="other.test.n8443")
    mark = portal.log_mark()
    st, h, b = https_request(portal, "/members/", [negotiate(tok)])
    log = portal.log_since(mark)
    assert st == 401
    problems = []
    if h.get_all("WWW-Authenticate") is not None:
        problems.append("challenge %r" % h.get_all("WWW-Authenticate"))
    if b"portal help page" not in b:
        problems.append("body %r" % b[:60])
    if log.count("N8443020") != 1:
        problems.append("%d refusals logged" % log.count("N8443020"))
    assert problems == [], log


def test_error_document_in_optional_location_tries_a_password_once(portal):
    """The same with the Basic fallback: one wrong password is sent to
    the KDC twice (the request, then its ErrorDocument under the
    optional location), so an AD lockout threshold counts each typo
    double, and each refusal costs two 200 ms holds."""
    cred = base64.b64encode(b"alice:wrong-password").decode()
    mark = portal.log_mark()
    st, h, b = https_request(portal, "/pw/members/",
                             [("Authorization", "Basic " + cred)])
    log = portal.log_since(mark)
    assert st == 401
    assert log.count("N8443081") == 1, log
    assert b"portal help page" in b, b[:200]


# ------------------------------- anonymous logins kept beyond their request

ANON_PORTAL = """
  <Location /portal>
    AuthType Negotiate
    NegotiateOptional On
    NegotiateAllowAnonymous On
    NegotiateSession On
    Require all granted
  </Location>
  <Location /portal/members>
    NegotiateAllowAnonymous Off
    Require valid-user
  </Location>
"""


def test_anonymous_session_does_not_open_a_location_that_refuses_anonymous(
        base_dir, module_path, realm, certs, keytab):
    """README: under NegotiateAllowAnonymous Off an anonymous ticket is
    refused "whatever Require says".  A portal that lets anonymous
    (PKINIT) tickets personalise its optional pages issues them the
    session cookie; n8443_login_misfit() (sessions, connection logins,
    internal redirects) never looks at NegotiateAllowAnonymous, so the
    cookie opens /portal/members as WELLKNOWN/ANONYMOUS."""
    from test_fast_path import forged
    key = os.path.join(base_dir, "rt-anon-session.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    s = start_httpd(base_dir, module_path, realm, certs, keytab, ANON_PORTAL,
                    name="httpd-rt-anon-session",
                    extra_global="NegotiateSessionKeyFile %s" % key)
    try:
        anon = "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS"
        # The token itself is refused at /portal/members.
        st, h, _ = https_request(s, "/portal/members/",
                                 [negotiate(forged(realm, keytab, anon))])
        assert st == 401
        # At the portal it is let in, and gets the cookie.
        st, h, _ = https_request(s, "/portal/",
                                 [negotiate(forged(realm, keytab, anon))])
        assert st == 404 and h["X-Remote-User"] == anon
        cookie = [v.split(";")[0] for v in h.get_all("Set-Cookie") or []
                  if v.startswith("n8443_session=")]
        assert len(cookie) == 1, h
        st, h, _ = https_request(s, "/portal/members/",
                                 [("Cookie", cookie[0])])
        assert (st, h.get("X-Remote-User")) != (404, anon)
        assert st == 401
    finally:
        s.stop()
