"""NegotiateTrustedProxy across virtual hosts (README: NegotiateTrustedProxy).

A connection from any listed proxy (any vhost's list, or the main
server's) keeps no connection login in any vhost; what a listed proxy's
X-Forwarded-Proto is believed for stays with the list of the request's
own vhost; a vhost's list replaces the main server's."""

import http.client
import ssl

import pytest

import harness
from conftest import negotiate

# localhost (TLS and plain) lists 127.0.0.2; intranet.test (TLS and
# plain) lists nothing of its own.
BODY = """
  Header always set X-Backend-User "expr=%{REMOTE_USER}"
  NegotiateTrustedProxy 127.0.0.2
  <Location /conn>
    AuthType Negotiate
    NegotiateConnectionAuth On
    Require valid-user
  </Location>
  <Location /tls>
    AuthType Negotiate
    NegotiateRequireTLS TrustedProxy
    Require valid-user
  </Location>
"""


def intranet(port, certs, tls):
    lines = ["<VirtualHost 127.0.0.1:%d>" % port,
             "  ServerName intranet.test"]
    if tls:
        lines += ["  SSLEngine on",
                  "  SSLCertificateFile %s" % certs.cert,
                  "  SSLCertificateKeyFile %s" % certs.key]
    lines += ['  Header always set X-Backend-User "expr=%{REMOTE_USER}"',
              "  <Location /conn>",
              "    AuthType Negotiate",
              "    NegotiateConnectionAuth On",
              "    Require valid-user",
              "  </Location>",
              "  <Location /tls>",
              "    AuthType Negotiate",
              "    NegotiateRequireTLS TrustedProxy",
              "    Require valid-user",
              "  </Location>",
              "</VirtualHost>"]
    return "\n".join(lines)


def make(base_dir, module_path, realm, certs, keytab, name, extra_global):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name=name, extra_global=extra_global)
    srv.ca = certs.ca
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf + intranet(srv.port, certs, True) + "\n"
                + intranet(srv.plain_port, certs, False) + "\n")
    srv.start()
    return srv


@pytest.fixture(scope="module")
def nomain(base_dir, module_path, realm, certs, keytab):
    """No main-server list."""
    srv = make(base_dir, module_path, realm, certs, keytab,
               "httpd-union-nomain", "")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def withmain(base_dir, module_path, realm, certs, keytab):
    """The main server lists 127.0.0.3; localhost replaces it with
    127.0.0.2, intranet.test inherits it."""
    srv = make(base_dir, module_path, realm, certs, keytab,
               "httpd-union-main", "NegotiateTrustedProxy 127.0.0.3")
    yield srv
    srv.stop()


def conn(srv, source, tls=True):
    if tls:
        ctx = ssl.create_default_context(cafile=srv.ca)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(
            "127.0.0.1", srv.port, context=ctx, timeout=20,
            source_address=(source, 0))
    return http.client.HTTPConnection("127.0.0.1", srv.plain_port,
                                      timeout=20, source_address=(source, 0))


def get(c, host, path, headers=()):
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host)
    for k, v in headers:
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    r.read()
    return r.status, r.headers.get("X-Backend-User") or None


def test_startup_warns_where_another_vhosts_list_applies(nomain):
    out = nomain.output()
    assert "N8443440" in out and "intranet.test" in out, out
    # localhost has its own list: the older warning, not this one.
    assert "N8443225" in out


def test_direct_client_keeps_its_login_in_the_unlisted_vhost(nomain, alice):
    """Control: from an address no list names, the connection login
    holds (so the failures below are the proxy rule, not a broken
    NegotiateConnectionAuth)."""
    c = conn(nomain, "127.0.0.1")
    try:
        assert get(c, "intranet.test", "/conn/",
                   [negotiate(alice.token()[1])]) == \
            (404, "alice@TEST.N8443")
        assert get(c, "intranet.test", "/conn/") == \
            (404, "alice@TEST.N8443")
    finally:
        c.close()


def test_main_servers_list_counts_where_a_vhost_replaced_it(withmain,
                                                             alice):
    """127.0.0.3 is only in the main server's list, which localhost's own
    list replaces: a connection from it still keeps no login there."""
    c = conn(withmain, "127.0.0.3")
    try:
        assert get(c, "localhost", "/conn/",
                   [negotiate(alice.token()[1])]) == \
            (404, "alice@TEST.N8443")
        assert get(c, "localhost", "/conn/") == (401, None)
    finally:
        c.close()


def test_x_forwarded_proto_is_believed_per_vhost(nomain):
    """127.0.0.2 is listed in localhost only: its X-Forwarded-Proto is
    believed there (401 challenge) and not at intranet.test (403), though
    its connections keep no login in either."""
    xfp = [("X-Forwarded-Proto", "https")]
    c = conn(nomain, "127.0.0.2", tls=False)
    try:
        assert get(c, "localhost", "/tls/", xfp)[0] == 401
    finally:
        c.close()
    c = conn(nomain, "127.0.0.2", tls=False)
    try:
        assert get(c, "intranet.test", "/tls/", xfp)[0] == 403
        # And without the header, localhost refuses as well.
        assert get(c, "localhost", "/tls/")[0] == 403
    finally:
        c.close()


def test_vhost_list_replaces_main_list_for_x_forwarded_proto(withmain):
    """localhost's list replaces the main server's: 127.0.0.3 (main only)
    is not believed there, but is at intranet.test, which inherits it."""
    xfp = [("X-Forwarded-Proto", "https")]
    c = conn(withmain, "127.0.0.3", tls=False)
    try:
        assert get(c, "localhost", "/tls/", xfp)[0] == 403
        assert get(c, "intranet.test", "/tls/", xfp)[0] == 401
    finally:
        c.close()
