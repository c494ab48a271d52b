"""TLS channel binding (RFC 5929 tls-server-end-point): the module derives
the binding from the certificate it presents, for RSA, RSA-PSS and ECDSA
certificates, and enforces NegotiateChannelBinding off/optional/require."""

import hashlib
import os
import subprocess

import gssapi
import pytest

import harness
from conftest import https_request, negotiate, start_httpd

BODY = """
  Header always set X-Channel-Bound "expr=%{reqenv:NEGOTIATE_CHANNEL_BOUND}"
  <Location /off>
    AuthType Negotiate
    NegotiateChannelBinding off
    Require valid-user
  </Location>
  <Location /optional>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /require>
    AuthType Negotiate
    NegotiateChannelBinding require
    Require valid-user
  </Location>
  <Location /require-nofast>
    AuthType Negotiate
    NegotiateChannelBinding require
    NegotiateFastPath Off
    Require valid-user
  </Location>
"""

# (name, openssl req key options, x509 signing options, hash of binding)
CERT_KINDS = {
    "rsa-sha256": (["-newkey", "rsa:2048"], ["-sha256"], "sha256"),
    "rsa-pss-sha384": (["-newkey", "rsa-pss", "-pkeyopt",
                        "rsa_keygen_bits:2048"],
                       ["-sha384", "-sigopt", "rsa_padding_mode:pss",
                        "-sigopt", "rsa_pss_saltlen:-1"], "sha384"),
    "ecdsa-p256": (["-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256"], ["-sha256"], "sha256"),
    "ed25519": (["-newkey", "ed25519"], [], None),
}


def make_cert(certs, kind):
    """A server certificate for localhost of the given kind, signed by the
    test CA (for Ed25519 the certificate is self-signed with its own key so
    that the signature itself is Ed25519)."""
    keyopts, signopts, _ = CERT_KINDS[kind]
    d = certs.dir
    key, csr, crt = (os.path.join(d, "%s.%s" % (kind, ext))
                     for ext in ("key", "csr", "pem"))
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    if kind == "ed25519":
        harness.run(["openssl", "req", "-x509", *keyopts, "-nodes",
                     "-keyout", key, "-out", crt, "-days", "2", "-subj",
                     "/CN=localhost", "-addext",
                     "subjectAltName=DNS:localhost"])
        return crt, key
    harness.run(["openssl", "req", "-new", *keyopts, "-nodes", "-keyout",
                 key, "-out", csr, "-subj", "/CN=localhost"])
    harness.run(["openssl", "x509", "-req", "-in", csr, "-CA", certs.ca,
                 "-CAkey", certs.ca_key, "-CAcreateserial", "-out", crt,
                 "-days", "2", *signopts, "-extfile", ext])
    return crt, key


def independent_binding(cert, hashname):
    """tls-server-end-point computed with the openssl command line, not
    with the module's code."""
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-" + hashname, "-binary"],
                            input=der, capture_output=True,
                            check=True).stdout
    assert digest == hashlib.new(hashname, der).digest()
    return b"tls-server-end-point:" + digest


class CertServer:
    def __init__(self, base_dir, module_path, realm, certs, keytab, kind,
                 name=None):
        crt, key = make_cert(certs, kind)

        class C:
            pass
        c = C()
        c.cert, c.key, c.ca = crt, key, certs.ca
        self.cert = crt
        self.srv = start_httpd(base_dir, module_path, realm, c, keytab,
                               BODY, name=name or "httpd-cb-" + kind)


@pytest.fixture(scope="module", params=["rsa-sha256", "rsa-pss-sha384",
                                        "ecdsa-p256"])
def cb_server(request, base_dir, module_path, realm, certs, keytab):
    kind = request.param
    s = CertServer(base_dir, module_path, realm, certs, keytab, kind)
    s.kind = kind
    yield s
    s.srv.stop()


def token_with(alice, binding):
    cb = None if binding is None else gssapi.raw.ChannelBindings(
        application_data=binding)
    return alice.token(channel_bindings=cb)[1]


@pytest.mark.parametrize("path,client,status,bound", [
    ("/off", "right", 200, "false"),
    ("/off", "wrong", 200, "false"),
    ("/off", "none", 200, "false"),
    ("/optional", "right", 200, "true"),
    ("/optional", "wrong", 401, None),
    ("/optional", "none", 200, "false"),
    ("/require", "right", 200, "true"),
    ("/require", "wrong", 401, None),
    ("/require", "none", 401, None),
])
def test_binding_modes(cb_server, alice, certs, path, client, status,
                       bound):
    srv = cb_server.srv
    hashname = CERT_KINDS[cb_server.kind][2]
    right = independent_binding(cb_server.cert, hashname)
    # "wrong": the binding of another certificate (the CA's).
    wrong = independent_binding(certs.ca, "sha256")
    binding = {"right": right, "wrong": wrong, "none": None}[client]
    mark = srv.log_mark()
    st, headers, _ = https_request(srv, path + "/", [
        negotiate(token_with(alice, binding))])
    # 404: the directory does not exist, so authentication passed.
    assert st == (404 if status == 200 else 401)
    if status == 200:
        assert headers["X-Channel-Bound"] == bound
        assert headers["X-Remote-User"] == "alice@TEST.N8443"
    else:
        log = srv.log_since(mark)
        if client == "wrong":
            assert "N8443020: login refused (bad_bindings)" in log
        else:
            assert "N8443026: login refused (bad_bindings): " \
                "alice@TEST.N8443 sent no channel binding" in log


def test_ed25519_certificate_with_require_fails_at_startup(
        base_dir, module_path, realm, certs, keytab):
    crt, key = make_cert(certs, "ed25519")

    class C:
        pass
    c = C()
    c.cert, c.key, c.ca = crt, key, certs.ca
    srv = harness.Httpd(base_dir, module_path, realm, c, keytab, BODY,
                        name="httpd-cb-ed25519")
    assert srv.start(expect_fail=True) != 0
    out = srv.output()
    assert "N8443091: NegotiateChannelBinding require in <VirtualHost " \
        "127.0.0.1:%d>" % srv.port in out
    assert "signed with an algorithm without a hash (e.g. Ed25519)" in out


def test_ed25519_certificate_with_optional_logs_in_unbound(
        base_dir, module_path, realm, certs, keytab, alice):
    crt, key = make_cert(certs, "ed25519")

    class C:
        pass
    c = C()
    c.cert, c.key, c.ca = crt, key, crt      # self-signed: trust itself
    body = BODY.replace("NegotiateChannelBinding require",
                        "NegotiateChannelBinding optional")
    srv = start_httpd(base_dir, module_path, realm, c, keytab, body,
                      name="httpd-cb-ed25519-opt")
    try:
        st, headers, _ = https_request(srv, "/optional/", [
            negotiate(alice.token()[1])])
        assert st == 404
        assert headers["X-Channel-Bound"] == "false"
    finally:
        srv.stop()


# ------------------------------------------- clients that hash NULLADDR
# (issue 17): JGSS's public ChannelBinding and some Heimdal callers hash
# the bindings with GSS_C_AF_NULLADDR (255), MIT and Windows with
# GSS_C_AF_UNSPEC (0).  Both are the same binding; both log in bound.

@pytest.fixture(scope="module")
def rsa_server(base_dir, module_path, realm, certs, keytab):
    s = CertServer(base_dir, module_path, realm, certs, keytab,
                   "rsa-sha256", name="httpd-cb-clients")
    s.kind = "rsa-sha256"
    yield s
    s.srv.stop()


@pytest.mark.parametrize("fast_path", ["", "nofast"])
@pytest.mark.parametrize("client", ["java", "heimdal-0", "heimdal-255"])
def test_every_client_binds(rsa_server, alice, certs, tmp_path, client,
                            fast_path):
    import clients
    srv = rsa_server.srv
    right = independent_binding(rsa_server.cert, "sha256")
    if client == "java":
        tok = clients.java_token(alice, right)
    else:
        tok = clients.heimdal_token(alice, str(tmp_path), right,
                                    int(client.split("-")[1]))
    path = "/require-nofast/" if fast_path else "/require/"
    mark = srv.log_mark()
    st, headers, _ = https_request(srv, path, [negotiate(tok)])
    assert st == 404, srv.log_since(mark)
    assert headers["X-Channel-Bound"] == "true"
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    log = srv.log_since(mark)
    assert ("by the fast path" in log) == (not fast_path)
    assert "bound (%s)" % ("GSS_C_AF_UNSPEC" if client == "heimdal-0"
                           else "GSS_C_AF_NULLADDR") in log


@pytest.mark.parametrize("client", ["java", "heimdal-255"])
def test_nulladdr_binding_to_another_certificate_is_refused(
        rsa_server, alice, certs, tmp_path, client):
    """The other form is no way around the binding: a NULLADDR binding of
    another certificate is refused, and the log says what was expected
    and what was seen (not "Success")."""
    import clients
    srv = rsa_server.srv
    wrong = independent_binding(certs.ca, "sha256")
    right = independent_binding(rsa_server.cert, "sha256")
    tok = clients.java_token(alice, wrong) if client == "java" else \
        clients.heimdal_token(alice, str(tmp_path), wrong, 255)
    mark = srv.log_mark()
    st, _, _ = https_request(srv, "/optional/", [negotiate(tok)])
    assert st == 401
    log = srv.log_since(mark)
    assert "N8443020: login refused (bad_bindings)" in log
    assert "Success" not in log
    line = [l for l in log.splitlines() if "N8443361" in l][0]
    assert "expected tls-server-end-point hash %s of this server's own " \
        "TLS certificate" % right[len(b"tls-server-end-point:"):].hex() \
        in line
    assert "is neither ours as GSS_C_AF_UNSPEC" in line
    assert "it bound to another TLS channel or certificate" in line


def test_java_httpurlconnection_binds(rsa_server, alice, certs, tmp_path):
    """HttpURLConnection with -Djdk.https.negotiate.cbt=always derives the
    binding itself (JGSS, GSS_C_AF_NULLADDR)."""
    import clients
    srv = rsa_server.srv
    st, bound, user = clients.java_get(alice, srv.url("/require/"),
                                       certs.ca, str(tmp_path))
    assert (st, bound, user) == (404, "true", "alice@TEST.N8443")
    st, bound, user = clients.java_get(alice, srv.url("/require/"),
                                       certs.ca, str(tmp_path),
                                       cbt="never")
    assert st == 401


# ----------------------------- NegotiateChannelBindingCertificate (17)

def _configtest(base_dir, module_path, realm, certs, keytab, name, line,
                body=BODY):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        line + "\n" + body, name=name)
    res = srv.configtest()
    return res.returncode, res.stdout + res.stderr


def test_binding_certificate_checked_at_start(base_dir, module_path, realm,
                                              certs, keytab, tmp_path):
    notcert = tmp_path / "not-a-cert.pem"
    notcert.write_text("hello\n")
    rc, out = _configtest(base_dir, module_path, realm, certs, keytab,
                          "httpd-cbc-missing",
                          "NegotiateChannelBindingCertificate /nonexistent"
                          "/lb.pem")
    assert rc != 0 and "NegotiateChannelBindingCertificate: cannot read " \
        "'/nonexistent/lb.pem'" in out
    rc, out = _configtest(base_dir, module_path, realm, certs, keytab,
                          "httpd-cbc-notcert",
                          "NegotiateChannelBindingCertificate %s" % notcert)
    assert rc != 0 and "is not a PEM certificate" in out
    rc, out = _configtest(base_dir, module_path, realm, certs, keytab,
                          "httpd-cbc-ok",
                          "NegotiateChannelBindingCertificate %s" % certs.ca)
    assert rc == 0, out
    rc, out = _configtest(base_dir, module_path, realm, certs, keytab,
                          "httpd-cbc-tls", "NegotiateRequireTLS Sometimes")
    assert rc != 0 and "NegotiateRequireTLS: 'Sometimes' is not On, Off " \
        "or TrustedProxy" in out


def test_ed25519_binding_certificate_with_require_fails_at_startup(
        base_dir, module_path, realm, certs, keytab):
    crt, _ = make_cert(certs, "ed25519")
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        "NegotiateChannelBindingCertificate %s\n" % crt
                        + BODY, name="httpd-cbc-ed25519")
    assert srv.start(expect_fail=True) != 0
    out = srv.output()
    assert "N8443091: NegotiateChannelBinding require in <VirtualHost " \
        "127.0.0.1:%d>" % srv.port in out
    assert "certificate %s is signed with an algorithm without a hash" \
        % crt in out
    # optional only: it starts, and logs in unbound.
    body = BODY.replace("NegotiateChannelBinding require",
                        "NegotiateChannelBinding optional")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      "NegotiateChannelBindingCertificate %s\n" % crt + body,
                      name="httpd-cbc-ed25519-opt")
    try:
        # Once per vhost that has it (the TLS and the plain one).
        assert srv.output().count(
            "N8443362: NegotiateChannelBindingCertificate %s: its "
            "signature has no hash" % crt) == 2
    finally:
        srv.stop()
