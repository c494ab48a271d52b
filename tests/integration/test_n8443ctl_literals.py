"""Values n8443ctl renders as literals stay literals in a real httpd
(issue 23 item 4c).

httpd reads `Require user/group` and `AuthName` as string expressions and
expands `${NAME}` in every directive: `users: ['%{HTTP:X-Who}']` let the
client choose the required user, `auth_name: '%{file:...}'` sent a file to
every client.  The site loader refuses those sequences with the file,
line and column (tests/unit/test_site_load.c and
tests/n8443ctl/bad/62-expression-user.yaml have every value); here:

* each hostile form is refused by `n8443ctl render` (exit 3), so it never
  reaches httpd, and the Require line render wrote for one of them before
  is shown to be live: bob gets in by sending `X-Who: bob`;
* issue 23 item 2 against this rendered configuration: a principal with
  a CR, created in the test KDC, is refused at the proxied location, and
  the backend, which gets the user in `X-Remote-User` (`RequestHeader set
  X-Remote-User "expr=%{REMOTE_USER}"`), never sees a request;
* a site whose values come as close as the loader allows ('%', '$', '{'
  and '}' that httpd does not interpret) is rendered, started with the
  system httpd through the rendering test's own adapter
  (test_n8443ctl_render.Site), and httpd shows the text unchanged
  (the Basic realm) and requires exactly the user named, whatever the
  client sends.
"""

import os
import subprocess

import pytest

import test_n8443ctl_render as rendering
from test_n8443ctl_render import basic, negotiate, request, token, tool

from conftest import PASSWORDS

AUTH_NAME = "Intranet 100% {ops} $HOME $ 5%"

SITE_YAML = """\
version: 1
sites:
  - name: literals
    server_name: literals.example.com
    auth_name: '%s'
    tls:
      certificate: /etc/pki/tls/certs/literals.crt
      key: /etc/pki/tls/private/literals.key
    kerberos:
      keytab: /etc/httpd/conf/http.keytab
      user_name: short
      basic_fallback: true
    locations:
      - path: /alice-only
        require:
          users: [alice]
      - path: /app/
        proxy: http://127.0.0.1:3000/
        user_header: X-Remote-User
""" % AUTH_NAME

HOSTILE = [
    # (what, the changed line, the message's start)
    ("users-expr", ("users: [alice]", "users: ['%{HTTP:X-Who}']"),
     "16:19: 'users[0]' must not contain '%{'"),
    ("users-backref", ("users: [alice]", "users: [alice, 'bob$1']"),
     "16:26: 'users[1]' must not contain '$1'"),
    ("auth-name-file", ("'%s'" % AUTH_NAME, "'%{file:/etc/shadow}'"),
     "5:16: 'auth_name' must not contain '%{'"),
    ("auth-name-env", ("'%s'" % AUTH_NAME, "'Portal ${HOME}'"),
     "5:16: 'auth_name' must not contain '${'"),
    ("keytab-define", ("/etc/httpd/conf/http.keytab",
                       "/etc/httpd/${KT}.keytab"),
     "10:15: 'keytab' must not contain '${'"),
]


@pytest.mark.parametrize("what,change,message", HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_value_is_not_rendered(tmp_path, what, change, message):
    assert change[0] in SITE_YAML
    path = tmp_path / "site.yaml"
    path.write_text(SITE_YAML.replace(change[0], change[1]))
    proc = subprocess.run([tool(), "render", str(path)],
                          capture_output=True)
    assert proc.returncode == 3, proc.stdout.decode()
    assert proc.stdout == b""
    assert proc.stderr.decode().startswith(str(path) + ":" + message), \
        proc.stderr.decode()


class LiteralSite(rendering.Site):
    """test_n8443ctl_render's Site with SITE_YAML instead of a golden
    file: the same adapter, render, wrapper and httpd."""

    def __init__(self, src_dir, *args):
        self.src_dir = src_dir
        super().__init__("literals", *args)

    def prepare(self):
        saved = rendering.GOLDEN
        rendering.GOLDEN = self.src_dir
        try:
            super().prepare()
        finally:
            rendering.GOLDEN = saved


@pytest.fixture(scope="module")
def lsite(base_dir, module_path, realm, certs):
    src = os.path.join(base_dir, "literals-src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "literals.yaml"), "w") as f:
        f.write(SITE_YAML)
    site = LiteralSite(src, base_dir, module_path, realm, certs)
    try:
        site.prepare()
        site.start()
        yield site
    finally:
        site.stop()


def test_rendered_literals_stay_literal(lsite):
    assert 'AuthName "%s"' % AUTH_NAME in lsite.rendered
    assert "Require user alice" in lsite.rendered
    assert lsite.configtest.returncode == 0, lsite.configtest.stderr
    vh = lsite.vhost(0)
    st, h, _, _ = request(lsite, vh, "/alice-only/index.html")
    assert st == 401
    assert 'Basic realm="%s"' % AUTH_NAME in h.get_all("WWW-Authenticate")


def test_required_user_is_the_one_written(lsite, alice, bob):
    vh = lsite.vhost(0)
    name = vh["names"][0]
    st, _, body, _ = request(lsite, vh, "/alice-only/index.html",
                             [negotiate(token(lsite, alice, name)[1])])
    assert st == 200, body
    for headers in ([negotiate(token(lsite, bob, name)[1]),
                     ("X-Who", "bob")],
                    [basic("bob", PASSWORDS["bob"]), ("X-Who", "bob")]):
        st, _, _, _ = request(lsite, vh, "/alice-only/index.html", headers)
        assert st == 401


def test_refused_forms_are_live_in_httpd(base_dir, module_path, realm, certs,
                                         bob):
    """Why the loader refuses them: the file n8443ctl rendered before the
    fix for `users: ['%{HTTP:X-Who}']` (the same text with the Require
    line as it was written then) lets anyone in who names himself in a
    header."""
    src = os.path.join(base_dir, "literals-live-src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "literals.yaml"), "w") as f:
        f.write(SITE_YAML)
    site = LiteralSite(src, base_dir, module_path, realm, certs)
    try:
        site.prepare()
        with open(site.included) as f:
            text = f.read()
        assert "Require user alice\n" in text
        with open(site.included, "w") as f:
            f.write(text.replace("Require user alice\n",
                                 "Require user %{HTTP:X-Who}\n"))
        site.start()
        vh = site.vhost(0)
        name = vh["names"][0]
        st, _, _, _ = request(site, vh, "/alice-only/index.html",
                              [negotiate(token(site, bob, name)[1]),
                               ("X-Who", "bob")])
        assert st == 200
    finally:
        site.stop()


EVIL = "evil-render\rX-Remote-User: admin"


def test_control_bytes_never_reach_the_backend(lsite, realm, alice):
    realm.kadmin('addprinc -pw evil-pw-1 "%s"' % EVIL)
    evil_env = realm.client_env(EVIL, "evil-pw-1",
                                ccache_name="cc_literals_evil")

    class EvilClient:
        def token(self, **kw):
            import gssapi
            creds = gssapi.Credentials(
                usage="initiate", store={"ccache": evil_env["KRB5CCNAME"]})
            ctx = gssapi.SecurityContext(
                name=gssapi.Name("HTTP@" + kw["host"],
                                 gssapi.NameType.hostbased_service),
                creds=creds, usage="initiate",
                channel_bindings=kw.get("channel_bindings"))
            return ctx, ctx.step()

    vh = lsite.vhost(0)
    name = vh["names"][0]
    backend = lsite.backends[0]
    assert "RequestHeader set X-Remote-User \"expr=%{REMOTE_USER}\"" \
        in lsite.rendered
    before = len(backend.records)
    mark = lsite.httpd.log_mark()
    st, _, _, _ = request(lsite, vh, "/app/x",
                          [negotiate(token(lsite, EvilClient(), name)[1])])
    log = lsite.httpd.log_since(mark)
    assert st == 401
    assert len(backend.records) == before
    assert "N8443230" in log and "evil-render\\rX-Remote-User" in log, log
    # The control case: alice reaches the backend, named once.
    st, _, _, _ = request(lsite, vh, "/app/x",
                          [negotiate(token(lsite, alice, name)[1]),
                           ("X-Remote-User", "admin")])
    assert st == 200
    rec = backend.records[-1]
    assert [v for k, v in rec["headers"]
            if k.lower() == "x-remote-user"] == ["alice"]
