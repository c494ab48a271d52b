"""n8443ctl render for a site behind a TLS-terminating load balancer
(issue 17): `behind: {proxy_addresses: [...], certificate: FILE}` becomes
NegotiateTrustedProxy and NegotiateChannelBindingCertificate in the
site's vhost; the rendered lines, put in a real httpd behind a real
HAProxy, bind logins to the balancer's certificate; bad `behind` blocks
are refused with the line and column."""

import os
import re
import subprocess

import gssapi

import harness
from conftest import negotiate, start_httpd
from test_balancer import Balancer
from test_binding import independent_binding
from test_n8443ctl_render import tool
from test_proxy import Conn, user_of

SITE = """version: 1
sites:
  - name: portal
    server_name: localhost
    tls:
      certificate: {cert}
      key: {key}
    kerberos:
      channel_binding: require
    behind:
      proxy_addresses: [127.0.0.2, "10.1.0.0/16", "2001:db8::/32"]
      certificate: {lb}
"""


def render(tmp_path, text):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return subprocess.run([tool(), "render", str(path)],
                          capture_output=True, text=True)


def test_behind_renders_the_directives(tmp_path, certs, base_dir,
                                       module_path, realm, keytab, alice):
    lb_cert, lb_key = certs.issue("render-balancer", ["localhost"])
    res = render(tmp_path, SITE.format(cert=certs.cert, key=certs.key,
                                       lb=lb_cert))
    assert res.returncode == 0, res.stderr
    vhost = res.stdout[res.stdout.index("<VirtualHost"):]
    lines = [l.strip() for l in vhost.splitlines()]
    assert "NegotiateTrustedProxy 127.0.0.2 10.1.0.0/16 2001:db8::/32" \
        in lines
    assert 'NegotiateChannelBindingCertificate "%s"' % lb_cert in lines
    # Server-level: before the first <Location>.
    assert vhost.index("NegotiateChannelBindingCertificate") < \
        vhost.index("<Location")

    # The rendered lines, as they are, in a real httpd behind HAProxy.
    behind = "\n".join(l for l in lines
                       if l.startswith(("NegotiateTrustedProxy",
                                        "NegotiateChannelBinding"
                                        "Certificate")))
    body = behind + """
  Header always set X-Backend-User "expr=%{REMOTE_USER}"
  Header always set X-Channel-Bound "expr=%{reqenv:NEGOTIATE_CHANNEL_BOUND}"
  <Location /require>
    AuthType Negotiate
    NegotiateChannelBinding require
    Require valid-user
  </Location>
"""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, body,
                      name="httpd-rendered-behind")
    lb = None
    try:
        lb = Balancer(os.path.join(base_dir, "rendered"), lb_cert, lb_key,
                      srv)
        bound = independent_binding(lb_cert, "sha256")
        for binding, want in ((bound, (404, "alice@TEST.N8443")),
                              (independent_binding(certs.cert, "sha256"),
                               (401, None))):
            tok = alice.token(channel_bindings=gssapi.raw.ChannelBindings(
                application_data=binding))[1]
            c = Conn(lb.ports["tls"], certs.ca)
            try:
                st, h, _ = c.get("/require/", [negotiate(tok)])
            finally:
                c.close()
            assert (st, user_of(h)) == want
    finally:
        if lb is not None:
            lb.stop()
        srv.stop()


def test_bad_behind_blocks(tmp_path, certs):
    base = SITE.format(cert=certs.cert, key=certs.key, lb=certs.ca)
    cases = {
        "host name": (base.replace("127.0.0.2", "lb.example.com"),
                      r"site.yaml:11:25: 'proxy_addresses\[0\]' must be an IP "
                      r"address or ADDRESS/BITS network \(no host names"),
        "bits": (base.replace("10.1.0.0/16", "10.1.0.0/33"),
                 r"'proxy_addresses\[1\]' must be an IP address"),
        "missing": (base.replace(
            '      proxy_addresses: [127.0.0.2, "10.1.0.0/16", '
            '"2001:db8::/32"]\n', ""),
            r"missing required key 'proxy_addresses' in 'behind'"),
        "unknown key": (base.replace("      certificate: %s\n" % certs.ca,
                                     "      certificate: %s\n      port: 1\n"
                                     % certs.ca), r"port"),
        "defaults": ("version: 1\ndefaults:\n  behind:\n    "
                     "proxy_addresses: [127.0.0.2]\n" + base[len(
                         "version: 1\n"):],
                     r"'behind' cannot be set in 'defaults'"),
        "relative certificate": (base.replace("certificate: %s" % certs.ca,
                                              "certificate: lb.pem"),
                                 r"certificate"),
    }
    for name, (text, pattern) in cases.items():
        res = render(tmp_path, text)
        assert res.returncode != 0, name
        assert re.search(pattern, res.stderr), (name, res.stderr)
