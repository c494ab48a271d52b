"""Authorization from the ticket against Samba's AD DC (issue 18):
Require negotiate-group by SID and by name through NegotiateGroupMap, for
users in plain, nested and primary groups, on both login paths; the
NEGOTIATE_GROUP_SIDS / NEGOTIATE_GROUPS variables; a ticket whose PAC was
tampered with (re-encrypted with the service key, so the ticket itself is
good) logs in as MIT's acceptor lets it, but its groups are not used, on
both paths; a session cookie carries no groups: the rule asks for a
ticket again; an AD ticket carries no MIT authentication indicator."""

import os
import subprocess
import time

import pytest

import harness
from conftest import (KRB5, SPNEGO, ad_service_files, build_dir, https_request,
                      negotiate)
from test_ad import REALM

HEADERS = """
    AuthzSendForbiddenOnFailure On
    Header always set X-Remote-User "expr=%{REMOTE_USER}"
    Header always set X-Group-Sids "expr=%{reqenv:NEGOTIATE_GROUP_SIDS}"
    Header always set X-Groups "expr=%{reqenv:NEGOTIATE_GROUPS}"
"""

# web-users and web-admins on both paths, {h}: headers.  (Also
# test_redteam_ad.py's.)
GROUP_LOCATIONS = """
  <Location /users>
    AuthType Negotiate
    Require negotiate-group web-users
{h}
  </Location>
  <Location /users-gss>
    AuthType Negotiate
    NegotiateFastPath Off
    Require negotiate-group web-users
{h}
  </Location>
  <Location /admins>
    AuthType Negotiate
    Require negotiate-group web-admins
{h}
  </Location>
  <Location /admins-gss>
    AuthType Negotiate
    NegotiateFastPath Off
    Require negotiate-group web-admins
{h}
  </Location>
"""

BODY = GROUP_LOCATIONS + """\
  <Location /by-sid>
    AuthType Negotiate
    Require negotiate-group {users_sid}
{h}
  </Location>
  <Location /domain-users>
    AuthType Negotiate
    Require negotiate-group nosuchgroup {domain_users}
{h}
  </Location>
  <Location /local>
    AuthType Negotiate
    Require negotiate-group {local_sid}
{h}
  </Location>
  <Location /deny>
    AuthType Negotiate
    AuthzSendForbiddenOnFailure On
    <RequireAll>
      Require negotiate-group {domain_users}
      Require not negotiate-group web-admins
    </RequireAll>
  </Location>
  <Location /unknown>
    AuthType Negotiate
    Require negotiate-group nosuchgroup
{h}
  </Location>
  <Location /hardened>
    AuthType Negotiate
    Require negotiate-auth-indicator hardened
{h}
  </Location>
  <Location /conn>
    AuthType Negotiate
    NegotiateConnectionAuth On
    Require negotiate-group web-users
{h}
  </Location>
  <Location /users-401>
    AuthType Negotiate
    Require negotiate-group web-users
  </Location>
  <Location /session>
    AuthType Negotiate
    NegotiateSession On
    Require negotiate-group web-users
{h}
  </Location>
"""


@pytest.fixture(scope="module")
def setup(ad, base_dir, module_path, certs, ad_sids):
    d, kt, gmap = ad_service_files(ad, base_dir, "ad-authz", ad_sids,
                                   "# name SID\n")
    key = os.path.join(d, "session.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    body = BODY.format(h=HEADERS, users_sid=ad_sids["web-users"],
                       local_sid=ad.sid_of("web-local"),
                       domain_users=ad.domain_sid + "-513")
    srv = harness.Httpd(base_dir, module_path, ad, certs, kt, body,
                        name="httpd-ad-authz",
                        extra_global="LimitRequestFieldSize 65536\n"
                        "NegotiateGroupMap %s\n"
                        "NegotiateSessionKeyFile %s" % (gmap, key))
    srv.ca = certs.ca
    srv.start()
    yield srv, kt, gmap
    srv.stop()


def get(srv, path, tok=None, headers=()):
    mark = srv.log_mark()
    hdrs = list(headers) + ([negotiate(tok)] if tok is not None else [])
    st, h, _ = https_request(srv, path, hdrs)
    return st, h, srv.log_since(mark)


# user -> the group locations they pass (404: authorized, no such file)
# and fail (403): alice plain member of web-users; bob in ops, a member of
# web-admins (nested); dave only in Domain Users (primary group); erin has
# web-users as her primary group.
CASES = [
    ("alice", ["/users/", "/users-gss/", "/by-sid/", "/domain-users/"],
     ["/admins/", "/admins-gss/"]),
    ("bob", ["/admins/", "/admins-gss/", "/domain-users/"],
     ["/users/", "/users-gss/", "/by-sid/"]),
    ("dave", ["/domain-users/"],
     ["/users/", "/users-gss/", "/admins/", "/admins-gss/", "/by-sid/"]),
    ("erin", ["/users/", "/users-gss/", "/by-sid/"],
     ["/admins/", "/admins-gss/"]),
]


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("user,allowed,denied", CASES,
                         ids=[c[0] for c in CASES])
def test_groups_from_the_pac(setup, ad_clients, user, allowed, denied, mech):
    srv = setup[0]
    for path in allowed + denied:
        st, h, log = get(srv, path, ad_clients(user).token(mech=mech)[1])
        want = 404 if path in allowed else 403
        assert st == want, (path, log)
        assert "N8443001: login of %s@%s accepted" % (user, REALM) in log
        assert ("by the fast path" in log) == ("gss" not in path), log
        if want == 403:
            assert "N8443389: Require negotiate-group" in log, log
            assert "%s@%s is in none of these groups" % (user, REALM) \
                in log


def test_nested_group_in_the_variables(setup, ad_clients, ad_sids, ad):
    srv = setup[0]
    st, h, _ = get(srv, "/admins/", ad_clients("bob").token()[1])
    assert st == 404
    got = h["X-Group-Sids"].split(" ")
    # An extra SID (Samba's "authentication authority asserted
    # identity").
    assert "S-1-18-1" in got
    # AD expands the nesting into the PAC: ops and web-admins both.
    assert ad_sids["ops"] in got and ad_sids["web-admins"] in got
    assert ad.domain_sid + "-513" in got
    assert ad_sids["web-users"] not in got
    assert sorted(h["X-Groups"].split(" ")) == ["ops", "web-admins"]


def test_domain_local_group(setup, ad_clients, ad):
    """web-local is a domain-local group (Samba lists it among the group
    RIDs, Windows may among the resource groups: the decoder's paths for
    extra SIDs and resource groups are test_pac.c's)."""
    st, h, log = get(setup[0], "/local/", ad_clients("alice").token()[1])
    assert st == 404, log
    assert ad.sid_of("web-local") in h["X-Group-Sids"].split(" ")
    st, _, _ = get(setup[0], "/local/", ad_clients("bob").token()[1])
    assert st == 403


def test_deny_list_with_a_positive_rule(setup, ad_clients, tmp_path):
    """Everyone of the domain but web-admins; a login whose groups are
    unknown (its PAC did not verify) is refused by the positive rule."""
    srv, kt, _ = setup
    assert get(srv, "/deny/", ad_clients("alice").token()[1])[0] == 404
    assert get(srv, "/deny/", ad_clients("bob").token()[1])[0] == 403
    st, _, log = get(srv, "/deny/", tampered(kt, ad_clients("alice"),
                                             "signature", tmp_path))
    assert st == 403, log


def test_primary_group_counts(setup, ad_clients, ad_sids):
    st, h, _ = get(setup[0], "/users/", ad_clients("erin").token()[1])
    assert st == 404
    assert ad_sids["web-users"] in h["X-Group-Sids"].split(" ")
    assert h["X-Groups"] == "web-users"


def test_without_forbidden_on_failure_httpd_says_401(setup, ad_clients):
    """httpd's default (AuthzSendForbiddenOnFailure Off): a failed rule
    after a good login is a 401 with a new challenge."""
    st, h, log = get(setup[0], "/users-401/", ad_clients("bob").token()[1])
    assert st == 401, log
    assert "N8443389: Require negotiate-group web-users: bob@" in log
    assert h.get_all("WWW-Authenticate") == ["Negotiate"]


def test_unknown_name_matches_no_one(setup, ad_clients):
    st, _, log = get(setup[0], "/unknown/", ad_clients("alice").token()[1])
    assert st == 403
    assert "N8443387: Require negotiate-group: 'nosuchgroup' is not in " \
        in log


def test_ad_ticket_has_no_auth_indicator(setup, ad_clients):
    st, _, log = get(setup[0], "/hardened/", ad_clients("alice").token()[1])
    assert st == 403
    assert "N8443390: Require negotiate-auth-indicator hardened: the " \
        "ticket of alice@%s carries no authentication indicator" % REALM \
        in log


def tampered(kt, client, what, tmp_path):
    """alice's real token with its ticket's PAC changed and the ticket
    encrypted again with the service key (tests/diff/n8443_diff)."""
    from test_differential import driver
    raw = tmp_path / ("real-%s.tok" % what)
    raw.write_bytes(client.token(mech=KRB5)[1])
    res = subprocess.run([driver(), "--tamper-pac", kt, str(raw), what],
                         capture_output=True, env=client.env)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("path", ["/users/", "/users-gss/"])
@pytest.mark.parametrize("what", ["logon-info", "signature"])
def test_tampered_pac_is_not_used(setup, ad_clients, path, what, tmp_path):
    """MIT's acceptor takes the ticket (its PAC may come from an older or
    foreign KDC) but hides a PAC whose server signature does not verify;
    the fast path does the same: the login stands, the group rule fails,
    and the log says why."""
    srv, kt, _ = setup
    st, h, log = get(srv, path, tampered(kt, ad_clients("alice"), what,
                                         tmp_path))
    assert st == 403, log
    assert "N8443001: login of alice@%s accepted" % REALM in log
    assert ("by the fast path" in log) == (path == "/users/")
    assert "N8443383: the ticket of alice@%s carries a PAC that did not " \
        "verify" % REALM in log
    assert "N8443386: Require negotiate-group: the ticket of alice@%s " \
        "has a PAC that did not verify" % REALM in log
    assert "X-Group-Sids" not in h or h["X-Group-Sids"] in ("", "(null)")


@pytest.mark.parametrize("path", ["/users/", "/users-gss/"])
def test_untampered_reencrypted_pac_is_used(setup, ad_clients, path, tmp_path):
    """The control: the same forge with the PAC left as it was."""
    srv, kt, _ = setup
    st, _, log = get(srv, path, tampered(kt, ad_clients("alice"), "unchanged",
                                         tmp_path))
    assert st == 404, log


def session_cookie(h):
    for v in h.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v.split(";")[0]
    return None


def test_session_cookie_asks_for_the_ticket_again(setup, ad_clients):
    """The sealed cookie keeps the name, not the groups: a group rule on
    a cookie login answers 401 with a challenge, and the ticket the
    browser then sends decides."""
    srv = setup[0]
    st, h, _ = get(srv, "/session/", ad_clients("alice").token()[1])
    assert st == 404
    cookie = session_cookie(h)
    assert cookie is not None
    st, h, log = get(srv, "/session/", headers=[("Cookie", cookie)])
    assert st == 401, log
    assert "Negotiate" in (h.get_all("WWW-Authenticate") or [""])[0]
    assert "N8443384: Require negotiate-group: the login of alice@%s came " \
        "from a session cookie" % REALM in log
    st, _, _ = get(srv, "/session/", ad_clients("alice").token()[1],
                   headers=[("Cookie", cookie)])
    assert st == 404


def test_connection_login_asks_for_the_ticket_again(setup, ad_clients):
    """NegotiateConnectionAuth keeps the name on the connection, not the
    groups: the next request without a token is asked for one (401)."""
    import http.client
    import ssl
    srv = setup[0]
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx,
                                       timeout=20)
    try:
        for hdrs in ([negotiate(ad_clients("alice").token()[1])], []):
            mark = srv.log_mark()
            conn.putrequest("GET", "/conn/", skip_host=True)
            conn.putheader("Host", "localhost:%d" % srv.port)
            for k, v in hdrs:
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            resp.read()
            log = srv.log_since(mark)
            assert resp.status == (404 if hdrs else 401), log
        assert "N8443384: Require negotiate-group: the login of alice@%s " \
            "came from a connection's earlier login" % REALM in log
    finally:
        conn.close()


def test_group_map_is_read_again_when_it_changes(setup, ad_clients, ad_sids):
    srv, _, gmap = setup
    st, _, _ = get(srv, "/unknown/", ad_clients("alice").token()[1])
    assert st == 403
    with open(gmap) as f:
        old = f.read()
    try:
        with open(gmap + ".new", "w") as f:
            f.write(old + "nosuchgroup %s\n" % ad_sids["web-users"])
        os.rename(gmap + ".new", gmap)
        time.sleep(1.1)
        st, _, log = get(srv, "/unknown/", ad_clients("alice").token()[1])
        assert st == 404, log
        # A bad line: logged, and the map in use stays (each child's
        # own: /users/ is decided the same by either).
        with open(gmap + ".new", "w") as f:
            f.write(old + "broken-line\n")
        os.rename(gmap + ".new", gmap)
        time.sleep(1.1)
        st, _, log = get(srv, "/users/", ad_clients("alice").token()[1])
        assert st == 404, log
        assert "N8443380: NegotiateGroupMap %s:5: expected \"name SID\"" \
            % gmap in log
    finally:
        with open(gmap + ".new", "w") as f:
            f.write(old)
        os.rename(gmap + ".new", gmap)


# ------------------------------------------- a site rendered by n8443ctl

SITE = """version: 1
sites:
  - name: adsite
    server_name: localhost
    tls:
      certificate: {cert}
      key: {key}
    kerberos:
      keytab: {keytab}
      group_map: {gmap}
    locations:
      - path: /r-users
        require:
          groups: [web-users]
      - path: /r-admin
        require:
          groups: [web-admins]
          auth_indicators: [hardened]
      - path: /r-app/
        proxy: http://127.0.0.1:{port}/
        user_header: X-Remote-User
        forward_groups: X-Remote-Groups
        require:
          groups: [web-admins, {domain_users}]
"""


class Backend:
    """An HTTP backend that records the headers of each request."""

    def __init__(self):
        import http.server
        import threading
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(list(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                   Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


@pytest.fixture(scope="module")
def rendered(setup, ad, base_dir, module_path, certs):
    """The site above rendered by n8443ctl; its vhost-level lines and
    <Location> blocks put into a test httpd as they are."""
    import re
    _, kt, gmap = setup
    backend = Backend()
    d = os.path.join(base_dir, "ad-render")
    os.makedirs(d)
    site = os.path.join(d, "site.yaml")
    with open(site, "w") as f:
        f.write(SITE.format(cert=certs.cert, key=certs.key, keytab=kt,
                            gmap=gmap,
                            port=backend.port,
                            domain_users=ad.domain_sid + "-513"))
    out = subprocess.run([os.path.join(build_dir(), "n8443ctl"), "render",
                          site], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    glob_lines = [ln.strip() for ln in text.splitlines()
                  if re.match(r"\s*(RequestHeader unset \S+ early|"
                              r"NegotiateGroupMap )", ln)]
    blocks = re.findall(r'(?ms)^\s*<Location "/r-.*?</Location>', text)
    assert len(blocks) == 3 and len(glob_lines) == 9, text
    moddir = harness.apxs("LIBEXECDIR")
    srv = harness.Httpd(
        base_dir, module_path, ad, certs, kt, "\n".join(blocks),
        name="httpd-ad-render",
        extra_global="LimitRequestFieldSize 65536\n"
        "LoadModule proxy_module %s/mod_proxy.so\n"
        "LoadModule proxy_http_module %s/mod_proxy_http.so\n%s"
        % (moddir, moddir, "\n".join(glob_lines)))
    srv.ca = certs.ca
    srv.start()
    yield srv, backend, text
    srv.stop()
    backend.close()


def test_rendered_rules(rendered, ad_clients):
    srv, _, text = rendered
    assert "Require negotiate-group web-users" in text
    assert "AuthzSendForbiddenOnFailure On" in text
    st, _, _ = get(srv, "/r-users/", ad_clients("alice").token()[1])
    assert st == 404
    st, _, log = get(srv, "/r-users/", ad_clients("bob").token()[1])
    assert st == 403, log
    # bob is in web-admins (nested), but an AD ticket has no indicator.
    st, _, log = get(srv, "/r-admin/", ad_clients("bob").token()[1])
    assert st == 403, log
    assert "N8443390: Require negotiate-auth-indicator hardened" in log


def test_rendered_group_header_cannot_be_forged(rendered, ad_clients, ad_sids,
                                                ad):
    """The backend sees the groups of bob's verified PAC, whatever the
    client sent in any spelling of the header."""
    srv, backend, _ = rendered
    forged = [("X-Remote-Groups", "S-1-5-32-544"),
              ("X_Remote_Groups", "S-1-5-32-544"),
              ("X-Remote_Groups", "S-1-5-32-544"),
              ("X-Remote-User", "mallory")]
    for user in ("bob", "dave"):
        del backend.seen[:]
        st, _, log = get(srv, "/r-app/x", ad_clients(user).token()[1],
                         headers=forged)
        assert st == 200, log
        (hdrs,) = backend.seen
        got = [(k.lower().replace("_", "-"), v) for k, v in hdrs]
        groups = [v for k, v in got if k == "x-remote-groups"]
        assert len(groups) == 1, hdrs
        sids_seen = groups[0].split(" ")
        assert "S-1-5-32-544" not in sids_seen
        assert ad.domain_sid + "-513" in sids_seen
        assert (ad_sids["web-admins"] in sids_seen) == (user == "bob")
        assert [v for k, v in got if k == "x-remote-user"] == \
            ["%s@%s" % (user, REALM)]
        assert not any(k == "authorization" for k, _ in got)
