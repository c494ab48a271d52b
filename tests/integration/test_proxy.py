"""Connection logins (NegotiateConnectionAuth) behind proxies that reuse
backend connections, and the scope of a connection login or an earlier
login of the same request.

A real HAProxy (TLS terminated and re-encrypted to httpd, one backend
connection: maxconn 1) with http-reuse safe, aggressive and always, and
httpd's own mod_proxy in front: two users interleaved over many requests,
user B never gets user A's identity or cookie.  A request that shows it
came through a proxy (forwarding headers, or from a NegotiateTrustedProxy
address) never resumes a connection's login; a request with Authorization
never inherits the connection's earlier login; a connection login is only
good in its vhost, with its credential set and where its channel binding
is enough; an internal redirect or sub-request reuses the earlier login
only where the target location would have accepted it."""

import http.client
import os
import shutil
import ssl
import subprocess
import time

import pytest

import harness
from conftest import location, negotiate, script_aliases, start_httpd
from haproxy_front import DEFAULTS, HAProxyFront, need_haproxy

ROUNDS = 10

# Server-side includes where a location has these lines.
SSI = ("Options +Includes", "AddOutputFilter INCLUDES .shtml")

# The backend tells the proxy's client whom it saw.
BACKEND_USER = '  Header always set X-Backend-User "expr=%{REMOTE_USER}"\n'


def body(cgi, keytab2):
    conn = "NegotiateConnectionAuth On"
    fallback = ('AuthName "fallback"', "NegotiateBasicFallback On")
    return """
  NegotiateTrustedProxy 127.0.0.2
  # Which backend connection (its client port) carried whose request.
  CustomLog {cgi}/../conns.log "%{{remote}}p %{{X-Test-Sender}}i"
  Protocols h2 http/1.1
""".format(cgi=cgi) + BACKEND_USER + \
        script_aliases(cgi, "fb", "fbp", "neg", "strict", "negshort",
                       "negspn") + \
        location("/conn", conn) + \
        location("/conn-short", conn, "NegotiateUserName short") + \
        location("/conn-req", conn, "NegotiateChannelBinding require") + \
        location("/conn-spn", conn,
                 "NegotiateServicePrincipal HTTP/localhost@TEST.N8443") + \
        location("/conn-kt", conn, "NegotiateKeytab " + keytab2) + \
        location("/session", "NegotiateSession On") + \
        location("/protected") + \
        location("/fb/", *fallback, "NegotiateUserName short") + \
        location("/ssi/", *fallback, before=SSI) + \
        location("/fbp/", *fallback) + location("/neg/") + \
        location("/strict/", "NegotiateChannelBinding require") + \
        location("/negshort/", "NegotiateUserName short") + \
        location("/negspn/",
                 "NegotiateServicePrincipal HTTP/localhost@TEST.N8443")


# A CGI that redirects internally (a local Location with no Status) to
# the path in its query string.
REDIR_CGI = """#!/bin/sh
printf 'Location: %s\\n\\n' "$QUERY_STRING"
"""


def write_ssi_page(htdocs, sub, text):
    """htdocs/sub/page.shtml (sub is new) with text."""
    os.makedirs(os.path.join(htdocs, sub))
    with open(os.path.join(htdocs, sub, "page.shtml"), "w") as f:
        f.write(text)


def write_key(path):
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="module")
def pserver(base_dir, module_path, realm, certs, keytab):
    name = "httpd-proxy"
    cgi = os.path.join(base_dir, name, "cgi-bin")
    port = harness.free_port()
    key = write_key(os.path.join(base_dir, "proxy-session.key"))
    # A second name-based vhost on the same address and port, with the same
    # certificate: a connection made to one may send requests to the other.
    other = """
LoadModule http2_module {moddir}/mod_http2.so
LoadModule include_module {moddir}/mod_include.so
LoadModule remoteip_module {moddir}/mod_remoteip.so
RemoteIPHeader X-Client-IP
RemoteIPInternalProxy 127.0.0.1
NegotiateSessionKeyFile {key}
<VirtualHost 127.0.0.1:{port}>
  ServerName other.test.n8443
  Protocols h2 http/1.1
  Header always set X-Backend-User "expr=%{{REMOTE_USER}}"
  SSLEngine on
  SSLCertificateFile {cert}
  SSLCertificateKeyFile {ckey}
  <Location /conn>
    AuthType Negotiate
    NegotiateConnectionAuth On
    Require valid-user
  </Location>
</VirtualHost>
""".format(key=key, port=port, cert=certs.cert, ckey=certs.key,
           moddir=harness.apxs("LIBEXECDIR"))
    # The same keys under another name: another credential set.
    keytab2 = os.path.join(base_dir, "proxy-second.keytab")
    shutil.copyfile(keytab, keytab2)
    harness.chown_to_httpd(keytab2)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        body(cgi, keytab2), name=name, port=port,
                        extra_global=other)
    srv.ca = certs.ca
    harness.write_script(os.path.join(cgi, "redir"), REDIR_CGI)
    write_ssi_page(os.path.join(base_dir, name, "htdocs"), "ssi",
                   'strict:<!--#include virtual="/strict/env" -->:\n'
                   'fbp:<!--#include virtual="/fbp/env" -->:\n')
    srv.start()
    yield srv
    srv.stop()


class Conn:
    """One keep-alive TLS connection (to httpd or to a proxy)."""

    def __init__(self, port, ca, sender=None):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        self.c = http.client.HTTPSConnection("127.0.0.1", port,
                                             context=ctx, timeout=20)
        self.host_port = port
        self.sender = sender

    def get(self, path, headers=(), host="localhost"):
        self.c.putrequest("GET", path, skip_host=True)
        self.c.putheader("Host", "%s:%d" % (host, self.host_port))
        if self.sender:
            self.c.putheader("X-Test-Sender", self.sender)
        for k, v in headers:
            self.c.putheader(k, v)
        self.c.endheaders()
        r = self.c.getresponse()
        text = r.read()
        return r.status, r.headers, text

    def close(self):
        self.c.close()


def user_of(headers):
    # Not X-Remote-User: a proxying httpd sets that one itself.
    return headers.get("X-Backend-User") or None


# ------------------------------------------------------------- HAProxy

HAPROXY_MODES = ("safe", "aggressive", "always")


class HAProxy(HAProxyFront):
    """HAProxy on 127.0.0.1, TLS terminated and re-encrypted to httpd,
    one backend connection per backend (maxconn 1).  Per reuse mode a
    frontend with `option forwardfor`; and one `http-reuse always`
    frontend that adds no header, its backend connections made from
    127.0.0.2 (the test's NegotiateTrustedProxy)."""

    def __init__(self, base, certs, backend_port):
        super().__init__(os.path.join(base, "haproxy"), certs.cert,
                         certs.key, exist_ok=True)
        lines = list(DEFAULTS)
        fronts = [(m, m, "  option forwardfor", "") for m in HAPROXY_MODES]
        fronts.append(("bare", "always", "", " source 127.0.0.2"))
        for name, mode, fwd, src in fronts:
            lines += self.frontend(name)
            lines += ["  default_backend be_%s" % name,
                      "backend be_%s" % name,
                      "  http-reuse %s" % mode]
            if fwd:
                lines.append(fwd)
            lines.append("  server s1 127.0.0.1:%d ssl verify none "
                         "maxconn 1%s" % (backend_port, src))
        self.start(lines)


@pytest.fixture(scope="module")
def haproxy(base_dir, certs, pserver):
    need_haproxy()
    hp = HAProxy(base_dir, certs, pserver.port)
    yield hp
    hp.stop()


def interleave(port, ca, alice, bob, path, rounds=ROUNDS):
    """Alice and Bob, each on a connection of their own to the proxy, in
    turn: Alice logs in once and goes on without a token, Bob sends no
    token, then his own, then none again.  Returns every (sender, status,
    user) seen."""
    a, b = Conn(port, ca, "alice"), Conn(port, ca, "bob")
    seen = []
    try:
        # Alice logs in on connections she closes at once: their backend
        # connections go back to the proxy's idle pool, where even
        # http-reuse safe may hand them to a later request of Bob's (not
        # his first: a public page that asks for no login).
        b.get("/")
        for _ in range(4):
            c = Conn(port, ca, "alice")
            st, h, _ = c.get(path, [negotiate(alice.token()[1])])
            seen.append(("alice", st, user_of(h)))
            c.close()
            time.sleep(0.05)
            st, h, _ = b.get(path)
            seen.append(("bob", st, user_of(h)))
            b.close()
            b = Conn(port, ca, "bob")
            b.get("/")
        st, h, _ = a.get(path, [negotiate(alice.token()[1])])
        seen.append(("alice", st, user_of(h)))
        for i in range(rounds):
            st, h, _ = b.get(path)
            seen.append(("bob", st, user_of(h)))
            st, h, _ = a.get(path)
            seen.append(("alice", st, user_of(h)))
            if i % 2 == 1:
                st, h, _ = b.get(path, [negotiate(bob.token()[1])])
                seen.append(("bob", st, user_of(h)))
    finally:
        a.close()
        b.close()
    return seen


def conns_mark(srv):
    path = os.path.join(srv.dir, "conns.log")
    return os.path.getsize(path) if os.path.exists(path) else 0


def shared_backend_connections(srv, mark):
    """How many backend connections carried both Alice's and Bob's
    requests (from the backend's access log)."""
    time.sleep(0.2)
    senders = {}
    with open(os.path.join(srv.dir, "conns.log")) as f:
        f.seek(mark)
        for line in f:
            port, _, sender = line.strip().partition(" ")
            senders.setdefault(port, set()).add(sender)
    return sum(1 for v in senders.values() if {"alice", "bob"} <= v)


def assert_nobody_else(seen):
    for sender, st, user in seen:
        assert user in (None, sender + "@TEST.N8443"), seen


@pytest.mark.parametrize("mode", HAPROXY_MODES)
def test_haproxy_reuse_never_mixes_users(pserver, haproxy, alice, bob,
                                         mode):
    mark, cmark = pserver.log_mark(), conns_mark(pserver)
    seen = interleave(haproxy.ports[mode], pserver.ca, alice, bob, "/conn/")
    shared = shared_backend_connections(pserver, cmark)
    print("http-reuse %s: %d backend connection(s) carried both users"
          % (mode, shared))
    # The test means something only if the proxy did mix them.
    assert shared >= 1
    assert_nobody_else(seen)
    # The first request of each sender with a token logs in; every request
    # without one asks for a token: through a proxy no connection login.
    assert seen[0] == ("alice", 404, "alice@TEST.N8443")
    for sender, st, user in seen[1:]:
        assert st == 401 or user == sender + "@TEST.N8443", seen
    assert sum(1 for s in seen if s[2] is None) >= ROUNDS * 2
    log = pserver.log_since(mark)
    assert "N8443220" in log
    # Logged once per backend connection, not once per request.
    assert log.count("N8443220") < sum(1 for s in seen if s[1] == 401)


def test_haproxy_without_headers_from_a_trusted_proxy(pserver, haproxy,
                                                      alice, bob):
    """No forwarding header at all (HAProxy's default): the address in
    NegotiateTrustedProxy tells that the connection is a proxy's."""
    mark, cmark = pserver.log_mark(), conns_mark(pserver)
    seen = interleave(haproxy.ports["bare"], pserver.ca, alice, bob,
                      "/conn/")
    assert shared_backend_connections(pserver, cmark) >= 1
    assert_nobody_else(seen)
    assert seen[0] == ("alice", 404, "alice@TEST.N8443")
    assert [s for s in seen[1:] if s[2] is None and s[1] != 401] == []
    assert "N8443220" in pserver.log_since(mark)


def sessions_stay_with_their_user(port, ca, alice, bob, rounds, token,
                                  bound=False):
    """Alice and Bob interleaved on connections of their own to port, at
    /session/, for rounds rounds: each sends its cookie once it has one,
    else every other round a token (token(client)), else nothing.  A
    cookie is only ever set in answer to its own user's token, and each
    user's cookie gives that user; bound: each login is channel bound.
    Also test_balancer's."""
    a, b = Conn(port, ca, "alice"), Conn(port, ca, "bob")
    cookies = {}
    try:
        for i in range(rounds):
            for who, conn, client in (("alice", a, alice), ("bob", b, bob)):
                hdrs = []
                if who in cookies:
                    hdrs.append(("Cookie", "n8443_session=" + cookies[who]))
                elif i % 2 == 0:
                    hdrs.append(negotiate(token(client)))
                st, h, _ = conn.get("/session/", hdrs)
                user = user_of(h)
                assert user in (None, who + "@TEST.N8443")
                set_cookies = [v for v in h.get_all("Set-Cookie") or []
                               if v.startswith("n8443_session=")]
                if not hdrs:
                    assert st == 401 and not set_cookies
                else:
                    assert st == 404 and user == who + "@TEST.N8443"
                    if bound:
                        assert h["X-Channel-Bound"] == "true"
                if set_cookies:
                    assert any(k == "Authorization" for k, _ in hdrs)
                    cookies[who] = set_cookies[0].split(";")[0] \
                        .split("=", 1)[1]
        assert cookies["alice"] != cookies["bob"]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("mode", ("always", "bare"))
def test_haproxy_sessions_stay_with_their_user(pserver, haproxy, alice,
                                               bob, mode):
    """NegotiateSession through the same HAProxy, interleaved: a cookie is
    only ever set in answer to its own user's token, and each user's cookie
    gives that user."""
    sessions_stay_with_their_user(haproxy.ports[mode], pserver.ca, alice,
                                  bob, ROUNDS, lambda c: c.token()[1])


# ------------------------------------------------- httpd's mod_proxy

@pytest.fixture(scope="module")
def front(base_dir, module_path, realm, certs, keytab, pserver):
    """httpd as a TLS reverse proxy in front of pserver: one child, one
    pooled backend connection (max=1), X-Forwarded-* as mod_proxy adds
    them by default."""
    moddir = harness.apxs("LIBEXECDIR")
    extra = "\n".join([
        "LoadModule proxy_module %s/mod_proxy.so" % moddir,
        "LoadModule proxy_http_module %s/mod_proxy_http.so" % moddir,
        "StartServers 1", "ServerLimit 1", "MinSpareThreads 1",
        "MaxSpareThreads 25", "ThreadsPerChild 25",
        "MaxRequestWorkers 25"])
    fbody = """
  SSLProxyEngine On
  SSLProxyVerify none
  SSLProxyCheckPeerName Off
  SSLProxyCheckPeerCN Off
  ProxyPreserveHost On
  ProxyPass / https://127.0.0.1:{port}/ max=1 ttl=60
""".format(port=pserver.port)
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, fbody,
                      name="httpd-front", extra_global=extra)
    yield srv
    srv.stop()


def test_mod_proxy_reuse_never_mixes_users(pserver, front, alice, bob):
    mark, cmark = pserver.log_mark(), conns_mark(pserver)
    seen = interleave(front.port, pserver.ca, alice, bob, "/conn/")
    assert shared_backend_connections(pserver, cmark) >= 1
    assert_nobody_else(seen)
    assert seen[0] == ("alice", 404, "alice@TEST.N8443")
    for sender, st, user in seen[1:]:
        assert st == 401 or user == sender + "@TEST.N8443", seen
    assert "N8443220" in pserver.log_since(mark)


# ------------------------------------------- one connection, directly

def test_forwarding_headers_stop_a_connection_login(pserver, alice):
    """Each proxy header on its own: no resume, logged once per
    connection, and the login is forgotten for the rest of the
    connection."""
    for name, value in (("X-Forwarded-For", "192.0.2.7"),
                        ("Forwarded", "for=192.0.2.7"),
                        ("Via", "1.1 lb"),
                        ("X-Forwarded-Host", "portal"),
                        ("X-Forwarded-Proto", "https")):
        c = Conn(pserver.port, pserver.ca)
        try:
            st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])])
            assert st == 404 and user_of(h) == "alice@TEST.N8443"
            mark = pserver.log_mark()
            for _ in range(3):
                st, h, _ = c.get("/conn/", [(name, value)])
                assert st == 401 and user_of(h) is None, name
                assert any(v.startswith("Negotiate")
                           for v in h.get_all("WWW-Authenticate"))
            st, h, _ = c.get("/conn/")
            assert st == 401, name
            log = pserver.log_since(mark)
            assert log.count("N8443220") == 1, (name, log)
        finally:
            c.close()


def test_an_address_from_mod_remoteip_stops_a_connection_login(pserver,
                                                               alice):
    """mod_remoteip consumes (and removes) its header: the client address
    it set tells that the request was forwarded."""
    c = Conn(pserver.port, pserver.ca)
    try:
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])])
        assert st == 404 and user_of(h) == "alice@TEST.N8443"
        mark = pserver.log_mark()
        st, h, _ = c.get("/conn/", [("X-Client-IP", "192.0.2.9")])
        assert st == 401 and user_of(h) is None
        assert "mod_remoteip" in pserver.log_since(mark)
    finally:
        c.close()


def test_start_up_warns_about_connection_auth_behind_a_proxy(pserver):
    out = pserver.output()
    assert "N8443225" in out and "NegotiateTrustedProxy" in out


@pytest.mark.parametrize("value,ok", [
    ("10.0.0.0/8 2001:db8::/64 192.0.2.1", True),
    ("proxy.example.com", False),
    ("10.0.0.1/99", False),
])
def test_trusted_proxy_values(base_dir, module_path, realm, certs, keytab,
                              value, ok):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        "NegotiateTrustedProxy %s" % value,
                        name="httpd-tp-%d" % harness.free_port())
    res = srv.configtest()
    assert (res.returncode == 0) == ok, res.stderr
    if not ok:
        assert "NegotiateTrustedProxy" in res.stderr


def test_a_proxied_login_is_not_kept(pserver, alice):
    """A login whose request came through a proxy is not remembered on
    the connection."""
    c = Conn(pserver.port, pserver.ca)
    try:
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1]),
                                    ("X-Forwarded-For", "192.0.2.7")])
        assert st == 404 and user_of(h) == "alice@TEST.N8443"
        st, h, _ = c.get("/conn/")
        assert st == 401 and user_of(h) is None
    finally:
        c.close()


def test_authorization_never_inherits_the_connection_login(pserver, alice,
                                                           bob):
    c = Conn(pserver.port, pserver.ca)
    try:
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])])
        assert user_of(h) == "alice@TEST.N8443"
        # Bob's token on the same connection: Bob.
        st, h, _ = c.get("/conn/", [negotiate(bob.token()[1])])
        assert st == 404 and user_of(h) == "bob@TEST.N8443"
        st, h, _ = c.get("/conn/")
        assert st == 404 and user_of(h) == "bob@TEST.N8443"
        # A token that is refused (a replay of Bob's): the refusal, and
        # the connection forgets its login.
        tok = bob.token()[1]
        st, h, _ = c.get("/protected/", [negotiate(tok)])
        assert st == 200
        for _ in range(2):
            st, h, _ = c.get("/conn/", [negotiate(tok)])
            assert st == 401 and user_of(h) is None
        st, h, _ = c.get("/conn/")
        assert st == 401 and user_of(h) is None
        # Any other Authorization (Basic where it is not offered, a
        # malformed one) also ends the connection login.
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])])
        assert user_of(h) == "alice@TEST.N8443"
        st, h, _ = c.get("/conn/", [("Authorization", "Basic Ym9iOng=")])
        assert st == 401 and user_of(h) is None
        st, h, _ = c.get("/conn/")
        assert st == 401 and user_of(h) is None
    finally:
        c.close()


def test_connection_login_keeps_its_scope(pserver, alice):
    """Made at a channel-binding-optional location without a binding, a
    connection login does not satisfy `require`; it stays in its vhost and
    with its credential set; the target's NegotiateUserName maps it."""
    c = Conn(pserver.port, pserver.ca)
    try:
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])])
        assert user_of(h) == "alice@TEST.N8443"
        st, h, _ = c.get("/conn-short/")
        assert st == 404 and user_of(h) == "alice"
        st, h, _ = c.get("/conn-req/")
        assert st == 401 and user_of(h) is None
        st, h, _ = c.get("/conn-spn/")
        assert st == 401 and user_of(h) is None
        st, h, _ = c.get("/conn-kt/")
        assert st == 401 and user_of(h) is None
        st, h, _ = c.get("/conn/", host="other.test.n8443")
        assert st == 401 and user_of(h) is None
        # Still good where it was made.
        st, h, _ = c.get("/conn/")
        assert st == 404 and user_of(h) == "alice@TEST.N8443"
    finally:
        c.close()


def test_connection_login_in_the_other_vhost_stays_there(pserver, alice):
    c = Conn(pserver.port, pserver.ca)
    try:
        st, h, _ = c.get("/conn/", [negotiate(alice.token()[1])],
                         host="other.test.n8443")
        assert st == 404 and user_of(h) == "alice@TEST.N8443"
        st, h, _ = c.get("/conn/", host="other.test.n8443")
        assert st == 404 and user_of(h) == "alice@TEST.N8443"
        st, h, _ = c.get("/conn/")
        assert st == 401 and user_of(h) is None
    finally:
        c.close()


def test_http2_has_no_connection_login(pserver, alice):
    """Over HTTP/2 every request is a stream of its own: connection auth
    does nothing there (documented); the later requests ask for a token
    and the log says why where the login is not kept."""
    mark = pserver.log_mark()
    tok = negotiate(alice.token()[1])
    url = pserver.url("/conn/")
    res = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", pserver.ca, "-o", "/dev/null",
         "-w", "%{http_version} %{http_code} %{num_connects}\n",
         "-H", "%s: %s" % tok, url, "--next", "--http2", "--cacert",
         pserver.ca, "-o", "/dev/null", "-w",
         "%{http_version} %{http_code} %{num_connects}\n", url,
         "--next", "--http2", "--cacert", pserver.ca, "-o", "/dev/null",
         "-w", "%{http_version} %{http_code} %{num_connects}\n", url],
        capture_output=True, text=True, timeout=30)
    lines = res.stdout.split()
    assert lines[0:2] == ["2", "404"], res
    assert lines[4] == "401" and lines[7] == "401", res
    # one connection for all three
    assert lines[5] == "0" and lines[8] == "0", res
    log = pserver.log_since(mark)
    assert log.count("N8443221") == 1, log


# ---------------------------------- internal redirects, sub-requests

def basic(user, pw):
    import base64
    return ("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user, pw)).encode()).decode())


def cgi_env(text):
    env = {}
    for line in text.decode(errors="replace").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def test_redirect_from_basic_to_negotiate_only_asks_anew(pserver, alice):
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/fb/redir?/strict/env", [basic("alice", "alice-pw-1")])
    assert st == 401, text
    assert "alice" not in text.decode(errors="replace")


def test_redirect_from_basic_to_basic_maps_with_the_target(pserver, alice):
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/fb/redir?/fbp/env", [basic("alice", "alice-pw-1")])
    assert st == 200, text
    env = cgi_env(text)
    assert env["REMOTE_USER"] == "alice@TEST.N8443"
    assert env["NEGOTIATE_MECH"] == "basic"


def test_redirect_keeps_a_negotiate_login_and_maps_it(pserver, alice):
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/neg/redir?/negshort/env", [negotiate(alice.token()[1])])
    assert st == 200, text
    env = cgi_env(text)
    assert env["REMOTE_USER"] == "alice"
    assert env["NEGOTIATE_PRINCIPAL"] == "alice@TEST.N8443"


def test_redirect_to_another_credential_set_asks_anew(pserver, alice):
    mark = pserver.log_mark()
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/neg/redir?/negspn/env", [negotiate(alice.token()[1])])
    assert st == 401, text
    assert "N8443224" in pserver.log_since(mark)


def test_redirect_unbound_login_to_binding_require_asks_anew(pserver,
                                                             alice):
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/neg/redir?/strict/env", [negotiate(alice.token()[1])])
    assert st == 401, text


def test_ssi_include_reuses_a_login_only_where_it_fits(pserver, alice):
    """A Basic login at /ssi/: the include of a Negotiate-only location
    with `require` fails, the include of a Basic-fallback location shows
    the user mapped with that location's NegotiateUserName."""
    st, h, text = Conn(pserver.port, pserver.ca).get(
        "/ssi/page.shtml", [basic("alice", "alice-pw-1")])
    assert st == 200, text
    text = text.decode(errors="replace")
    strict, fbp = text.split("fbp:", 1)
    assert "alice" not in strict and "error occurred" in strict, text
    assert "REMOTE_USER=alice@TEST.N8443" in fbp, text
    assert "NEGOTIATE_MECH=basic" in fbp, text


# ------------------------------------------------------- n8443ctl render

def test_render_never_writes_connection_auth():
    """A rendered site may sit behind a balancer (and its proxy: locations
    sit behind httpd's own proxy): `n8443ctl render` never writes
    NegotiateConnectionAuth; sessions are its way to keep a login."""
    from conftest import build_dir
    tool = os.path.join(build_dir(), "n8443ctl")
    golden = os.path.join(os.path.dirname(__file__), "..", "n8443ctl",
                          "golden")
    sites = sorted(f for f in os.listdir(golden) if f.endswith(".yaml"))
    assert sites
    for name in sites:
        res = subprocess.run([tool, "render", os.path.join(golden, name)],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, (name, res.stderr)
        assert "<VirtualHost" in res.stdout
        assert "NegotiateConnectionAuth" not in res.stdout, name
