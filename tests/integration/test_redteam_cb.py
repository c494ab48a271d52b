"""Red-team regressions (channel binding / balancer / connection logins).

Each test here failed when it was written; see the docstrings."""

import http.client
import os
import ssl

import pytest

from conftest import negotiate, start_httpd

# The README's balancer example: NegotiateTrustedProxy inside the vhost the
# balancer serves ("localhost" here).  A second name-based vhost on the
# same TLS listener ("intranet.test") is for clients that connect directly
# and has NegotiateConnectionAuth On.
P_BODY = """
  Header always set X-Backend-User "expr=%{{REMOTE_USER}}"
  {trusted}
  <Location /conn>
    AuthType Negotiate
    NegotiateConnectionAuth On
    Require valid-user
  </Location>
"""


def other_vhost(port, certs):
    return "\n".join([
        "<VirtualHost 127.0.0.1:%d>" % port,
        "  ServerName intranet.test",
        "  SSLEngine on",
        "  SSLCertificateFile %s" % certs.cert,
        "  SSLCertificateKeyFile %s" % certs.key,
        '  Header always set X-Backend-User "expr=%{REMOTE_USER}"',
        "  <Location /conn>",
        "    AuthType Negotiate",
        "    NegotiateConnectionAuth On",
        "    Require valid-user",
        "  </Location>",
        "</VirtualHost>",
    ])


@pytest.fixture(scope="module")
def vhosts(base_dir, module_path, realm, certs, keytab):
    import harness
    port = harness.free_port()
    # The harness's TLS port is chosen inside Httpd: bind the second vhost
    # to it by writing the config after the port is known.
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        P_BODY.format(trusted="NegotiateTrustedProxy "
                                      "127.0.0.2"),
                        name="httpd-redteam-vhosts")
    srv.ca = certs.ca
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf + other_vhost(srv.port, certs) + "\n")
    srv.start()
    yield srv
    srv.stop()


class ProxyConn:
    """One backend connection as a pooling proxy at 127.0.0.2 (a
    NegotiateTrustedProxy address) makes it: TLS, no SNI-dependent
    behaviour, the client's Host passed through, no forwarding header
    (HAProxy's default), several users' requests in turn."""

    def __init__(self, srv):
        ctx = ssl.create_default_context(cafile=srv.ca)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.c = http.client.HTTPSConnection(
            "127.0.0.1", srv.port, context=ctx, timeout=20,
            source_address=("127.0.0.2", 0))

    def get(self, host, path, headers=()):
        self.c.putrequest("GET", path, skip_host=True)
        self.c.putheader("Host", host)
        for k, v in headers:
            self.c.putheader(k, v)
        self.c.endheaders()
        r = self.c.getresponse()
        r.read()
        return r.status, r.headers.get("X-Backend-User") or None

    def close(self):
        self.c.close()


def test_trusted_proxy_connection_is_not_kept_in_its_own_vhost(vhosts,
                                                               alice):
    """Control (holds today): in the vhost that lists the proxy, a login
    on the proxy's connection is not kept."""
    c = ProxyConn(vhosts)
    try:
        assert c.get("localhost", "/conn/",
                     [negotiate(alice.token()[1])]) == \
            (404, "alice@TEST.N8443")
        assert c.get("localhost", "/conn/")[1] is None
    finally:
        c.close()


def test_trusted_proxy_connection_keeps_no_login_in_another_vhost(vhosts,
                                                                  alice):
    """FAILS TODAY.  A backend connection from a NegotiateTrustedProxy
    address is shared by the proxy's users whatever Host they send, but
    the list is only consulted for the vhost of each request: a login to
    another name-based vhost on the same listener (which does not repeat
    the list) is kept on the proxy's connection, and the next user the
    proxy sends over it, without any credentials, is let in as Alice.
    README: 'Connections from them never keep or resume a connection
    login, whatever headers they send.'"""
    c = ProxyConn(vhosts)
    try:
        assert c.get("intranet.test", "/conn/",
                     [negotiate(alice.token()[1])]) == \
            (404, "alice@TEST.N8443")
        # The next request the proxy multiplexes onto this connection
        # (Bob's, no Authorization at all):
        st, user = c.get("intranet.test", "/conn/")
        assert (st, user) == (401, None), \
            "Bob rode on Alice's login over the proxy's connection"
    finally:
        c.close()


@pytest.fixture(scope="module")
def bare_haproxy(base_dir, certs, vhosts):
    from haproxy_front import need_haproxy
    from test_proxy import HAProxy
    need_haproxy()
    hp = HAProxy(os.path.join(base_dir, "redteam-vhosts"), certs,
                 vhosts.port)
    yield hp
    hp.stop()


def test_haproxy_reuse_shares_a_login_in_another_vhost(vhosts, bare_haproxy,
                                                       alice):
    """FAILS TODAY.  The same through a real HAProxy (http-reuse always,
    one backend connection from 127.0.0.2, no forwarding header: the
    README's case for NegotiateTrustedProxy), the Host of the clients
    passed through: Alice logs in at intranet.test on her own client
    connection and closes it; Bob, on another client connection, sends no
    credentials and is let in as Alice."""
    from test_proxy import Conn, user_of
    port = bare_haproxy.ports["bare"]
    a = Conn(port, vhosts.ca, "alice")
    st, h, _ = a.get("/conn/", [negotiate(alice.token()[1])],
                     host="intranet.test")
    a.close()
    assert (st, user_of(h)) == (404, "alice@TEST.N8443")
    b = Conn(port, vhosts.ca, "bob")
    try:
        st, h, _ = b.get("/conn/", host="intranet.test")
    finally:
        b.close()
    assert (st, user_of(h)) == (401, None), \
        "Bob got in as %s through the balancer" % user_of(h)
