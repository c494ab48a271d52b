"""Behind a TLS-terminating load balancer (issue 17): a real HAProxy on
127.0.0.1 with a certificate of its own terminates the clients' TLS and

  - re-encrypts to httpd's TLS port (frontend "tls"), or
  - speaks plain HTTP to httpd's plain port with X-Forwarded-Proto: https
    (frontend "plain"),

both from 127.0.0.2, the vhost's NegotiateTrustedProxy, with http-reuse
always and one backend connection, so that users share it; and a third
frontend ("untrusted") that does the same as "plain" from 127.0.0.1, an
address nobody listed.

The vhost binds logins to HAProxy's certificate
(NegotiateChannelBindingCertificate): clients that bind (python-gssapi,
Java's HttpURLConnection with cbt=always) log in bound under `require`; a
token bound to httpd's own certificate is refused; clients that bind
nothing pass `optional`.  NegotiateRequireTLS TrustedProxy believes
X-Forwarded-Proto only from the trusted proxy.  Two users interleaved
never ride on each other's login (connection logins, sessions)."""

import os

import gssapi
import pytest

from conftest import https_request, negotiate, start_httpd
from haproxy_front import DEFAULTS, HAProxyFront, need_haproxy
from test_binding import independent_binding
from test_proxy import (Conn, assert_nobody_else, conns_mark, interleave,
                        sessions_stay_with_their_user,
                        shared_backend_connections, user_of, write_key)

BODY = """
  NegotiateTrustedProxy 127.0.0.2
  NegotiateChannelBindingCertificate {balancer_cert}
  CustomLog {dir}/conns.log "%{{remote}}p %{{X-Test-Sender}}i"
  Header always set X-Backend-User "expr=%{{REMOTE_USER}}"
  Header always set X-Channel-Bound "expr=%{{reqenv:NEGOTIATE_CHANNEL_BOUND}}"
  <Location /require>
    AuthType Negotiate
    NegotiateRequireTLS TrustedProxy
    NegotiateChannelBinding require
    Require valid-user
  </Location>
  <Location /optional>
    AuthType Negotiate
    NegotiateRequireTLS TrustedProxy
    Require valid-user
  </Location>
  <Location /tls-only>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /conn>
    AuthType Negotiate
    NegotiateRequireTLS TrustedProxy
    NegotiateConnectionAuth On
    Require valid-user
  </Location>
  <Location /session>
    AuthType Negotiate
    NegotiateRequireTLS TrustedProxy
    NegotiateSession On
    Require valid-user
  </Location>
"""


class Balancer(HAProxyFront):
    """HAProxy: frontends "tls", "plain" and "untrusted" (see above)."""

    def __init__(self, base, cert, key, srv):
        super().__init__(os.path.join(base, "balancer"), cert, key)
        lines = list(DEFAULTS)
        backends = {
            "tls": ("%d ssl verify none" % srv.port, "127.0.0.2"),
            "plain": ("%d" % srv.plain_port, "127.0.0.2"),
            "untrusted": ("%d" % srv.plain_port, "127.0.0.1"),
        }
        for name, (target, src) in backends.items():
            lines += self.frontend(name)
            lines += ["  http-request set-header X-Forwarded-Proto https",
                      "  default_backend be_%s" % name,
                      "backend be_%s" % name,
                      "  http-reuse always",
                      "  server s1 127.0.0.1:%s maxconn 1 source %s"
                      % (target, src)]
        self.start(lines)


@pytest.fixture(scope="module")
def setup(base_dir, module_path, realm, certs, keytab):
    need_haproxy(fail_if_installable=True)
    # The balancer's own certificate, from the same CA as httpd's.
    bcert, bkey = certs.issue("balancer", ["localhost"])
    name = "httpd-balancer"
    key = write_key(os.path.join(base_dir, "balancer-session.key"))
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      BODY.format(balancer_cert=bcert,
                                  dir=os.path.join(base_dir, name)),
                      name=name,
                      extra_global="NegotiateSessionKeyFile %s" % key)
    lb = Balancer(base_dir, bcert, bkey, srv)

    class S:
        pass
    s = S()
    s.srv, s.lb, s.bcert, s.ca = srv, lb, bcert, certs.ca
    s.ports = lb.ports
    yield s
    lb.stop()
    srv.stop()


def token(client, binding):
    cb = None if binding is None else gssapi.raw.ChannelBindings(
        application_data=binding)
    return client.token(channel_bindings=cb)[1]


def via(setup, frontend, path, headers=(), sender=None):
    c = Conn(setup.ports[frontend], setup.ca, sender)
    try:
        return c.get(path, headers)
    finally:
        c.close()


@pytest.mark.parametrize("frontend", ["tls", "plain"])
def test_binding_to_the_balancer_certificate(setup, alice, frontend):
    bound = independent_binding(setup.bcert, "sha256")
    st, h, _ = via(setup, frontend, "/require/",
                   [negotiate(token(alice, bound))])
    assert (st, h["X-Channel-Bound"], user_of(h)) == \
        (404, "true", "alice@TEST.N8443")


@pytest.mark.parametrize("frontend", ["tls", "plain"])
def test_binding_to_httpd_own_certificate_is_refused(setup, alice, certs,
                                                    frontend):
    own = independent_binding(certs.cert, "sha256")
    mark = setup.srv.log_mark()
    for path in ("/require/", "/optional/"):
        st, h, _ = via(setup, frontend, path,
                       [negotiate(token(alice, own))])
        assert st == 401 and user_of(h) is None
    log = setup.srv.log_since(mark)
    assert log.count("N8443020: login refused (bad_bindings)") == 2
    bal = independent_binding(setup.bcert, "sha256")
    assert "expected tls-server-end-point hash %s of " \
        "NegotiateChannelBindingCertificate %s" % (
            bal[len(b"tls-server-end-point:"):].hex(), setup.bcert) in log


@pytest.mark.parametrize("frontend", ["tls", "plain"])
def test_clients_that_do_not_bind(setup, alice, frontend):
    st, h, _ = via(setup, frontend, "/optional/",
                   [negotiate(token(alice, None))])
    assert (st, h["X-Channel-Bound"], user_of(h)) == \
        (404, "false", "alice@TEST.N8443")
    mark = setup.srv.log_mark()
    st, h, _ = via(setup, frontend, "/require/",
                   [negotiate(token(alice, None))])
    assert st == 401
    assert "N8443026" in setup.srv.log_since(mark)


def test_java_httpurlconnection_through_the_balancer(setup, alice,
                                                     tmp_path):
    import clients
    url = "https://localhost:%d/require/" % setup.ports["tls"]
    assert clients.java_get(alice, url, setup.ca, str(tmp_path)) == \
        (404, "true", "alice@TEST.N8443")


def test_forwarded_proto_only_from_the_trusted_proxy(setup, alice):
    """The same header from an address not in NegotiateTrustedProxy (the
    "untrusted" frontend, or a client on httpd's plain port) is not
    believed: 403; nor under NegotiateRequireTLS On."""
    tok = negotiate(token(alice, None))
    mark = setup.srv.log_mark()
    st, _, _ = via(setup, "untrusted", "/optional/", [tok])
    assert st == 403
    log = setup.srv.log_since(mark)
    assert "N8443360" in log and "comes from 127.0.0.1, which is not " \
        "one" in log
    st, _, _ = https_request(setup.srv, "/optional/",
                             [("X-Forwarded-Proto", "https"), tok],
                             plain=True)
    assert st == 403
    st, _, _ = via(setup, "plain", "/tls-only/", [tok])
    assert st == 403
    # Over TLS from the balancer, On is satisfied by the connection.
    st, _, _ = via(setup, "tls", "/tls-only/",
                   [negotiate(token(alice, None))])
    assert st == 404


@pytest.mark.parametrize("frontend", ["tls", "plain"])
def test_connection_logins_never_shared(setup, alice, bob, frontend):
    mark, cmark = setup.srv.log_mark(), conns_mark(setup.srv)
    seen = interleave(setup.ports[frontend], setup.ca, alice, bob,
                      "/conn/")
    assert shared_backend_connections(setup.srv, cmark) >= 1
    assert_nobody_else(seen)
    assert seen[0] == ("alice", 404, "alice@TEST.N8443")
    assert [s for s in seen[1:] if s[2] is None and s[1] != 401] == []
    # Over TLS the connection is found to be the proxy's (and said so);
    # over plain HTTP no connection login is ever kept.
    assert ("N8443220" in setup.srv.log_since(mark)) == (frontend == "tls")


@pytest.mark.parametrize("frontend", ["tls", "plain"])
def test_sessions_stay_with_their_user(setup, alice, bob, frontend):
    """A cookie is only set in answer to its own user's token (also over
    the plain hop, where the trusted proxy says the client's side is
    HTTPS), and each cookie gives its own user, bound to the balancer's
    certificate."""
    bal = independent_binding(setup.bcert, "sha256")
    sessions_stay_with_their_user(setup.ports[frontend], setup.ca, alice,
                                  bob, 6, lambda c: token(c, bal),
                                  bound=True)


def test_forwarded_proto_from_the_trusted_address_exactly(setup, alice):
    """From 127.0.0.2 itself (the trusted address) on httpd's plain port:
    exactly one X-Forwarded-Proto: https counts; none, "http", a list or a
    repeated field do not."""
    import http.client

    def plain_from_proxy(protos):
        c = http.client.HTTPConnection("127.0.0.1", setup.srv.plain_port,
                                       timeout=20,
                                       source_address=("127.0.0.2", 0))
        try:
            c.putrequest("GET", "/optional/", skip_host=True)
            c.putheader("Host", "localhost")
            for p in protos:
                c.putheader("X-Forwarded-Proto", p)
            c.putheader(*negotiate(token(alice, None)))
            c.endheaders()
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    assert plain_from_proxy(["https"]) == 404
    assert plain_from_proxy(["HTTPS"]) == 404
    for protos in ([], ["http"], ["https, http"], ["http, https"],
                   ["https", "https"], ["https", "http"], ["httpsx"]):
        assert plain_from_proxy(protos) == 403, protos
