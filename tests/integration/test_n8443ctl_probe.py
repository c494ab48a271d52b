"""`n8443ctl probe` against a real KDC and a real httpd with the module,
all on 127.0.0.1: a healthy site, and one test per failure the probe must
name, each asserting the step id, its status and the exit code.

Servers are started once for the module.  The main one serves every
scenario that fits under one vhost, each at its own path or its own name
(names under .test.n8443 do not resolve: --address 127.0.0.1 connects
them, as for one node behind a load balancer):

  /protected/          Negotiate: the healthy site
  /basic/              Basic only
  /                    public: no challenge
  /proxied/            httpd as reverse proxy to /protected/, stripping
                       Authorization (ProxyVia on)
  nospn.test.n8443     a name the KDC has no HTTP/ principal for
  stale-probe.test.n8443  an SPN whose key changed after the export

A second httpd has NegotiateReplayCache none (server-wide).  The bad
certificates, the hanging server and the closed port are Python sockets:
the probe must stop at TLS there anyway.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

import harness
from conftest import Client, build_dir, start_httpd

STALE = "stale-probe.test.n8443"
NOSPN = "nospn.test.n8443"
# An alias and its canonical name, from a hosts file of the probe's own
# (bind-mounted in a private mount namespace): only the target has an SPN.
TARGET = "cname-target.test.n8443"
ALIAS = "cname-alias.test.n8443"


def tool():
    path = os.path.join(build_dir(), "n8443ctl")
    if not os.access(path, os.X_OK):
        pytest.fail("n8443ctl not built: %s (run make first)" % path)
    return path


class CertSet:
    """What harness.Httpd wants of a certs object."""

    def __init__(self, ca, cert, key):
        self.ca, self.cert, self.key = ca, cert, key


def issue(certs, stem, names, shift=None, days=2):
    """A certificate from the suite's CA; SHIFT ("-10d") issues it with
    the clock moved (faketime)."""
    d = certs.dir
    key, csr = os.path.join(d, stem + ".key"), os.path.join(d, stem + ".csr")
    crt, ext = os.path.join(d, stem + ".pem"), os.path.join(d, stem + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % ",".join("DNS:" + n for n in names))
    harness.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]])
    pre = harness.faketime(shift) if shift else []
    harness.run(pre + ["openssl", "x509", "-req", "-in", csr, "-CA",
                       certs.ca, "-CAkey", certs.ca_key, "-CAcreateserial",
                       "-out", crt, "-days", str(days), "-sha256",
                       "-extfile", ext])
    return crt, key


@pytest.fixture(scope="module")
def probe_keytab(realm, base_dir):
    """HTTP/localhost and a stale key of HTTP/stale-probe: exported at
    kvno 1, then the KDC's key changed (kvno 2)."""
    realm.add_service("HTTP/" + STALE)
    realm.add_service("HTTP/" + TARGET)
    path = os.path.join(base_dir, "probe.keytab")
    realm.export_keytab(path, ["HTTP/localhost", "HTTP/" + STALE,
                               "HTTP/" + TARGET])
    realm.kadmin("cpw -randkey HTTP/" + STALE)
    harness.chown_to_httpd(path)
    return path


@pytest.fixture(scope="module")
def site(base_dir, module_path, realm, certs, probe_keytab):
    crt, key = issue(certs, "probe-site",
                     ["localhost", NOSPN, STALE, TARGET, ALIAS], days=365)
    port = harness.free_port()
    moddir = harness.apxs("LIBEXECDIR")
    body = """
  Header always set Strict-Transport-Security "max-age=31536000"
  <Location /protected>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /basic>
    AuthType Basic
    AuthName "basic only"
    AuthBasicProvider negotiate8443
    Require valid-user
  </Location>
  SSLProxyEngine on
  SSLProxyCACertificateFile %s
  SSLProxyCheckPeerName off
  ProxyVia On
  <Location /proxied/>
    RequestHeader unset Authorization
    ProxyPass https://127.0.0.1:%d/protected/
  </Location>
""" % (certs.ca, port)
    extra = ("LoadModule proxy_module %s/mod_proxy.so\n"
             "LoadModule proxy_http_module %s/mod_proxy_http.so"
             % (moddir, moddir))
    srv = start_httpd(base_dir, module_path, realm,
                      CertSet(certs.ca, crt, key), probe_keytab, body,
                      name="httpd-probe", port=port, extra_global=extra)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def noreplay(base_dir, module_path, realm, certs, keytab):
    body = """
  Header always set Strict-Transport-Security "max-age=31536000"
  <Location /protected>
    AuthType Negotiate
    Require valid-user
  </Location>
"""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, body,
                      name="httpd-probe-noreplay",
                      extra_global="NegotiateReplayCache none")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def user(realm, certs):
    return Client(realm, certs, "alice")


def probe(url, *args, env=None, prefix=(), timeout=60, stdin=None):
    """n8443ctl probe URL ARGS --format json: (exit, doc, stderr)."""
    res = subprocess.run(list(prefix) + [tool(), "probe", url, "--format",
                                         "json", *args],
                         env=env, capture_output=True, text=True,
                         timeout=timeout, input=stdin)
    doc = None
    if res.stdout.strip():
        doc = json.loads(res.stdout)
        assert doc["summary"]["exit_status"] == res.returncode, doc
    return res.returncode, doc, res.stderr


def records(doc, rid):
    return [c for c in doc["checks"] if c["id"] == rid]


def one(doc, rid):
    found = records(doc, rid)
    assert len(found) == 1, (rid, doc)
    return found[0]


def statuses(doc):
    return {c["id"]: c["severity"] for c in doc["checks"]}


def run_ok(user, certs, url, *args, **kw):
    return probe(url, "--ca", certs.ca, *args, env=user.env, **kw)


# ------------------------------------------------------------ healthy


def test_healthy_site(site, user, certs):
    rc, doc, err = run_ok(user, certs, site.url("/protected/"))
    sev = statuses(doc)
    assert rc == 0, doc
    assert set(sev.values()) == {"ok"}, doc
    for rid in ("name.resolve", "name.spn", "name.reverse", "tls.connect",
                "tls.chain", "tls.name", "tls.expiry", "tls.binding",
                "tls.hsts", "http.status", "http.challenge", "http.proxy",
                "ticket.client", "ticket.spn", "login.bound",
                "login.unbound", "login.mutual", "login.replay"):
        assert sev.get(rid) == "ok", (rid, doc)
    assert one(doc, "ticket.spn")["details"]["principal"] == \
        "HTTP/localhost@TEST.N8443"
    assert one(doc, "tls.binding")["details"]["hash"] == "SHA256"
    assert "refused (401)" in one(doc, "login.replay")["message"]


def test_text_output_and_trace(site, user, certs):
    res = subprocess.run([tool(), "probe", site.url("/protected/"), "--ca",
                          certs.ca, "--trace"], env=user.env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    print(res.stdout)
    assert res.stdout.splitlines()[-1].startswith("19 ok, 0 warnings, 0 "
                                                  "errors")
    trace = res.stderr
    print(trace)
    assert "> Authorization: Negotiate <token, not shown>" in trace
    assert "AP-REQ: ticket for HTTP/localhost@TEST.N8443" in trace
    assert "mechanisms offered: krb5" in trace
    assert "AP-REP (mutual authentication)" in trace
    assert "state accept-completed" in trace
    # No token leaves the trace: no long base64 run after "Negotiate ".
    for line in trace.splitlines():
        if "Negotiate " in line:
            assert "<token, not shown>" in line, line


def test_browser_and_no_login(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/protected/"), "--browser",
                        "firefox", "--no-login")
    assert rc == 0
    assert one(doc, "name.spn")["details"]["Firefox"] == "HTTP/localhost"
    assert one(doc, "login.bound")["severity"] == "skipped"
    assert doc["summary"]["skipped"] == 1


def test_as_principal_password_on_stdin(site, realm, certs):
    env = dict(realm.env)
    env.pop("KRB5CCNAME", None)
    rc, doc, err = probe(site.url("/protected/"), "--ca", certs.ca, "--as",
                         "bob", env=env, stdin="bob-pw-2\n")
    assert rc == 0, doc
    assert "Password for bob@TEST.N8443: " in err
    assert "bob-pw-2" not in err
    assert one(doc, "ticket.client")["details"]["client"] == "bob@TEST.N8443"


# ------------------------------------------------------- Kerberos faults


def test_no_spn_for_the_name(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/protected/", host=NOSPN),
                        "--address", "127.0.0.1")
    assert rc == 1
    rec = one(doc, "ticket.spn")
    assert rec["severity"] == "error"
    assert "no service principal HTTP/%s@TEST.N8443" % NOSPN \
        in rec["message"]
    assert "setspn -S HTTP/%s" % NOSPN in rec["message"]
    assert one(doc, "login.bound")["severity"] == "skipped"
    assert one(doc, "name.resolve")["severity"] == "warning"


def test_stale_kvno_on_the_server(site, user, certs, realm):
    rc, doc, _ = run_ok(user, certs, site.url("/protected/", host=STALE),
                        "--address", "127.0.0.1")
    assert rc == 1
    kvno = realm.kvno_of("HTTP/" + STALE)
    assert kvno >= 2
    assert one(doc, "ticket.spn")["details"]["kvno"] == kvno
    rec = one(doc, "login.bound")
    assert rec["severity"] == "error"
    assert "kvno %d" % kvno in rec["message"]
    assert "n8443ctl check SITE.yaml --online" in rec["message"]
    assert one(doc, "login.unbound")["severity"] == "error"


@pytest.fixture(scope="module")
def alias_hosts(base_dir):
    """A prefix that runs a command with /etc/hosts replaced, for it
    alone: ALIAS is an alias of TARGET there, as a CNAME would make it."""
    path = os.path.join(base_dir, "probe-hosts")
    with open(path, "w") as f:
        f.write("127.0.0.1 localhost\n127.0.0.1 %s %s\n" % (TARGET, ALIAS))
    prefix = ["unshare", "-m", "sh", "-c",
              'mount --bind "$0" /etc/hosts && exec "$@"', path]
    res = subprocess.run(prefix + ["getent", "hosts", ALIAS],
                         capture_output=True, text=True)
    if res.returncode != 0 or TARGET not in res.stdout:
        pytest.skip("cannot replace /etc/hosts in a mount namespace: %s"
                    % res.stderr.strip())
    return prefix


def test_spn_only_for_the_canonical_name(site, user, certs, alias_hosts):
    url = site.url("/protected/", host=ALIAS)
    rc, doc, _ = run_ok(user, certs, url, prefix=alias_hosts)
    assert rc == 1, doc
    spn = one(doc, "name.spn")
    assert spn["severity"] == "warning"
    assert spn["details"]["Chrome/Edge"] == "HTTP/" + TARGET
    assert spn["details"]["Firefox"] == "HTTP/" + ALIAS
    tickets = {r["details"]["principal"]: r
               for r in records(doc, "ticket.spn")}
    good = tickets["HTTP/%s@TEST.N8443" % TARGET]
    bad = tickets["HTTP/%s@TEST.N8443" % ALIAS]
    assert good["severity"] == "ok"
    assert good["details"]["asked_for_by"] == "Chrome/Edge"
    assert bad["severity"] == "error"
    assert bad["details"]["asked_for_by"] == "Firefox, curl"
    assert "no service principal HTTP/%s" % ALIAS in bad["message"]
    # The login goes to Chrome's SPN, which works.
    assert one(doc, "login.bound")["severity"] == "ok"

    rc, doc, _ = run_ok(user, certs, url, "--browser", "chrome",
                        prefix=alias_hosts)
    assert rc == 0, doc
    rc, doc, _ = run_ok(user, certs, url, "--browser", "firefox",
                        prefix=alias_hosts)
    assert rc == 1, doc
    assert one(doc, "ticket.spn")["severity"] == "error"
    assert one(doc, "login.bound")["severity"] == "skipped"


def test_expired_ccache(site, user, certs):
    if shutil.which("faketime") is None:
        pytest.skip("needs faketime")
    rc, doc, _ = run_ok(user, certs, site.url("/protected/"),
                        prefix=harness.faketime("+11h"))
    assert rc == 1
    rec = one(doc, "ticket.client")
    assert rec["severity"] == "error"
    assert "expired at" in rec["message"] and "kinit again" in rec["message"]
    assert one(doc, "login.bound")["severity"] == "skipped"


def test_clock_skew_on_the_client(site, user, certs):
    if shutil.which("faketime") is None:
        pytest.skip("needs faketime")
    rc, doc, _ = run_ok(user, certs, site.url("/protected/"),
                        prefix=harness.faketime("+10m"))
    assert rc == 1
    rec = one(doc, "ticket.spn")
    assert rec["severity"] == "error"
    assert "clock" in rec["message"] and "synchronise" in rec["message"]


def test_missing_ccache(site, realm, certs, base_dir):
    rc, doc, _ = probe(site.url("/protected/"), "--ca", certs.ca,
                       "--ccache", "FILE:" + os.path.join(base_dir, "none"),
                       env=realm.env)
    assert rc == 1
    assert "kinit first" in one(doc, "ticket.client")["message"]


# -------------------------------------------------------- HTTP faults


def test_server_not_offering_negotiate(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/"))
    assert rc == 1
    rec = one(doc, "http.challenge")
    assert rec["severity"] == "error"
    assert "answered 200 without asking for a login" in rec["message"]
    assert "offers Negotiate" not in rec["message"]
    assert one(doc, "login.bound")["severity"] == "skipped"


def test_basic_only(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/basic/"))
    assert rc == 1
    rec = one(doc, "http.challenge")
    assert rec["severity"] == "error"
    assert "offers only Basic" in rec["message"]


def test_proxy_stripping_authorization(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/proxied/"))
    assert rc == 1
    assert one(doc, "http.proxy")["severity"] == "warning"
    assert one(doc, "http.challenge")["severity"] == "ok"
    rec = one(doc, "login.bound")
    assert rec["severity"] == "error"
    assert "strips the Authorization header" in rec["message"]
    assert "the proxy in between" in rec["message"]


def test_no_replay_protection(noreplay, user, certs):
    rc, doc, _ = run_ok(user, certs, noreplay.url("/protected/"))
    assert rc == 1
    rec = one(doc, "login.replay")
    assert rec["severity"] == "error"
    assert "no replay protection" in rec["message"]
    assert one(doc, "login.bound")["severity"] == "ok"
    assert one(doc, "login.mutual")["severity"] == "ok"


# --------------------------------------------------------- TLS faults


class TLSServer:
    """A TLS server on loopback that answers every request with a 401
    Negotiate challenge (or never answers, with hang=True)."""

    ANSWER = (b"HTTP/1.1 401 Unauthorized\r\n"
              b"WWW-Authenticate: Negotiate\r\n"
              b"Content-Length: 0\r\n"
              b"Connection: close\r\n\r\n")

    def __init__(self, cert, key, hang=False, answer=None):
        self.answer = answer or self.ANSWER
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hang = hang
        self.conns = []
        self.ctx = None
        if cert is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.hang:
                continue
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    s.recv(65536)
                    s.sendall(self.answer)
            except (OSError, ssl.SSLError):
                pass

    def url(self, path="/", host="localhost"):
        return "https://%s:%d%s" % (host, self.port, path)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_expired_certificate(user, certs):
    if shutil.which("faketime") is None:
        pytest.skip("needs faketime")
    crt, key = issue(certs, "probe-expired", ["localhost"], shift="-10d",
                     days=2)
    srv = TLSServer(crt, key)
    try:
        rc, doc, _ = run_ok(user, certs, srv.url("/protected/"))
    finally:
        srv.close()
    assert rc == 1
    rec = one(doc, "tls.expiry")
    assert rec["severity"] == "error"
    assert "expired on" in rec["message"]
    assert one(doc, "tls.chain")["severity"] == "error"
    assert "not trusted" in one(doc, "login.bound")["message"]


def test_wrong_certificate_name(site, user, certs):
    rc, doc, _ = run_ok(user, certs, site.url("/protected/",
                                              host="wrong.test.n8443"),
                        "--address", "127.0.0.1")
    assert rc == 1
    rec = one(doc, "tls.name")
    assert rec["severity"] == "error"
    assert "not valid for wrong.test.n8443" in rec["message"]
    assert NOSPN in rec["details"]["names"]
    assert one(doc, "login.bound")["severity"] == "skipped"


def test_untrusted_ca(site, user):
    rc, doc, _ = probe(site.url("/protected/"), env=user.env)
    assert rc == 1
    assert one(doc, "tls.chain")["severity"] == "error"
    assert one(doc, "login.bound")["severity"] == "skipped"


# ----------------------------------------------------------- bad input


@pytest.mark.parametrize("url,message", [
    ("http://localhost:8443/", "is plain http"),
    ("ftp://localhost/", "is not an https:// URL"),
    ("https://user:pw@localhost/", "no user name or password"),
    ("https://localhost:99999/", "port must be a number"),
    ("https:///", "no host name"),
    ("https://local host/", "is not a host name"),
])
def test_bad_urls(url, message):
    res = subprocess.run([tool(), "probe", url], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("args,message", [
    (["--browser", "opera"], "--browser must be chrome, firefox or curl"),
    (["--timeout", "0"], "--timeout '0' is not a number"),
    (["--timeout", "5x"], "--timeout '5x' is not a number"),
    (["--as", "a", "--ccache", "b"], "--as and --ccache"),
    (["--format", "xml"], "--format must be text or json"),
    (["--only", "x"], "--only does not apply to probe"),
])
def test_bad_options(args, message):
    res = subprocess.run([tool(), "probe", "https://localhost/", *args],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr


def test_unresolvable_name(user, certs):
    rc, doc, _ = run_ok(user, certs, "https://nowhere.test.n8443:8443/")
    assert rc == 4
    rec = one(doc, "name.resolve")
    assert rec["severity"] == "error"
    assert "does not resolve" in rec["message"]
    assert one(doc, "tls.connect")["severity"] == "skipped"


def test_closed_port(user, certs):
    port = harness.free_port()
    rc, doc, _ = run_ok(user, certs, "https://localhost:%d/" % port)
    assert rc == 4
    rec = one(doc, "tls.connect")
    assert rec["severity"] == "error"
    assert "nothing listens on localhost port %d" % port in rec["message"]


def test_server_that_hangs(user, certs):
    srv = TLSServer(None, None, hang=True)
    try:
        rc, doc, _ = run_ok(user, certs, srv.url(), "--timeout", "2",
                            timeout=30)
    finally:
        srv.close()
    assert rc == 4
    rec = one(doc, "tls.connect")
    assert rec["severity"] == "error"
    assert "no answer within 2 s" in rec["message"]


def test_example_output(site, user, certs):
    """The example in README and n8443ctl-probe(8): print with -s."""
    for url, extra in ((site.url("/protected/"), []),
                       (site.url("/proxied/"), []),
                       (site.url("/protected/", host=STALE),
                        ["--address", "127.0.0.1"])):
        res = subprocess.run([tool(), "probe", url, "--ca", certs.ca,
                              *extra], env=user.env, capture_output=True,
                             text=True, timeout=60)
        print("$ n8443ctl probe %s%s\n%s(exit %d)" % (
            url, "".join(" " + a for a in extra), res.stdout,
            res.returncode))
        assert res.returncode in (0, 1)


def test_ed25519_certificate_has_no_binding(user, certs):
    d = certs.dir
    crt, key = os.path.join(d, "probe-ed.pem"), os.path.join(d, "probe-ed.key")
    harness.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes",
                 "-keyout", key, "-out", crt, "-days", "2", "-subj",
                 "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
    srv = TLSServer(crt, key)
    try:
        rc, doc, _ = probe(srv.url("/protected/"), "--ca", crt, "--no-login",
                           env=user.env)
    finally:
        srv.close()
    assert rc == 0, doc
    rec = one(doc, "tls.binding")
    assert rec["severity"] == "warning"
    assert "Ed25519" in rec["message"]
    assert "NegotiateChannelBinding require" in rec["message"]
    assert one(doc, "tls.chain")["severity"] == "ok"


def test_hostile_headers_reach_no_terminal(user, certs):
    """Escape sequences from the server are not printed, in the report
    or in the trace; a NEGOTIATE_ERROR line in the page is shown."""
    body = b"<p>NEGOTIATE_ERROR: no key for kvno 7\x1b[2J</p>"
    answer = (b"HTTP/1.1 401 \x1b]0;pwned\x07Unauthorized\r\n"
              b"Via: 1.1 \x1b[31mproxy\x9b\r\n"
              b"WWW-Authenticate: Negotiate\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
              % (len(body), body))
    srv = TLSServer(certs.cert, certs.key, answer=answer)
    try:
        res = subprocess.run([tool(), "probe", srv.url("/"), "--ca",
                              certs.ca, "--no-login", "--trace"],
                             env=user.env, capture_output=True, timeout=60)
        rc, doc, _ = run_ok(user, certs, srv.url("/"), "--no-login")
    finally:
        srv.close()
    assert res.returncode == 0, res.stdout
    for out in (res.stdout, res.stderr):
        assert b"\x1b" not in out and b"\x07" not in out
        assert b"\x9b" not in out
    assert b"Via: 1.1 ?[31mproxy?" in res.stderr
    assert one(doc, "http.proxy")["message"].startswith(
        "a proxy answers in between (Via: 1.1 ?[31mproxy?)")
    assert one(doc, "http.challenge")["details"]["negotiate_error"] == \
        "NEGOTIATE_ERROR: no key for kvno 7?[2J"
