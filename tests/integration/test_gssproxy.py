"""GSS-Proxy: httpd's children never see a keytab.

gssproxy (the daemon from the gssproxy package) runs as root and holds
HTTP/localhost's keytab, readable by root only.  httpd runs with
GSS_USE_PROXY=yes and no NegotiateKeytab anywhere in its configuration;
MIT's mechglue loads gssproxy's interposer (proxymech.so, registered in
/etc/gss/mech.d/proxymech.conf by the package) and sends the acceptor work
over the daemon's UNIX socket.  gssproxy recognises the service by the
peer's effective uid (the httpd user) and the program it runs.

The daemon gets its own configuration directory, socket and replay cache
under the test's temporary directory, so that nothing in /etc/gssproxy
(the NFS server stanza, the system socket) is read or touched.  The one
thing gssproxy cannot be told to leave alone is its pid file: it always
writes the compiled-in /var/run/gssproxy.pid, also with -i.  The fixture
puts back what was there before (or removes it).
"""

import base64
import os
import pwd
import signal
import subprocess
import time

import pytest

import harness
from conftest import (SPN_EXPLICIT, challenge_tokens, https_request, location,
                      negotiate)

BODY = "\n" + location("/protected", 'AuthName "n8443 gssproxy"') + \
    SPN_EXPLICIT

PID_FILE = "/var/run/gssproxy.pid"
SHIPPED_STANZA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "..", "..", "conf.d", "80-httpd.conf")


def shipped_stanza(replacements):
    """conf.d/80-httpd.conf with each key replaced by its value; every key
    must occur, so that the example and the test cannot drift apart."""
    with open(SHIPPED_STANZA) as f:
        text = f.read()
    for old, new in replacements.items():
        assert old in text, "%s no longer in %s" % (old, SHIPPED_STANZA)
        text = text.replace(old, new)
    return text


def gssproxy_binary():
    for d in ("/usr/sbin", "/usr/libexec", "/sbin"):
        p = os.path.join(d, "gssproxy")
        if os.access(p, os.X_OK):
            return p
    return None


def require_gssproxy():
    """Skip only for what this machine cannot provide; say exactly what."""
    if os.geteuid() != 0:
        pytest.skip("needs root: gssproxy must hold a keytab that the "
                    "httpd user cannot read, and httpd must switch to "
                    "that user")
    if gssproxy_binary() is None:
        pytest.skip("gssproxy is not installed (apt-get install gssproxy "
                    "/ dnf install gssproxy)")
    if not interposer_registered():
        pytest.skip("gssproxy's interposer (proxymech.so) is not registered "
                    "in /etc/gss/mech.d: GSS_USE_PROXY would have no effect")


def interposer_registered():
    """Is proxymech.so named in one of MIT's mechanism files?"""
    d = "/etc/gss/mech.d"
    if not os.path.isdir(d):
        return False
    for name in os.listdir(d):
        with open(os.path.join(d, name), errors="replace") as f:
            if "proxymech.so" in f.read():
                return True
    return False


class GssProxy:
    """A private gssproxy in the foreground, for the httpd test user."""

    def __init__(self, base, realm, httpd_binary, principal):
        self.dir = os.path.join(base, "gssproxy")
        for sub in ("", "conf.d", "rcache"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        # The socket must be reachable by the httpd user; the keytab must
        # not be.
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "rcache"), 0o700)
        self.socket = os.path.join(self.dir, "gssproxy.sock")
        self.keytab = os.path.join(self.dir, "http.keytab")
        realm.export_keytab(self.keytab, [principal])
        os.chown(self.keytab, 0, 0)
        os.chmod(self.keytab, 0o400)
        self.conf = os.path.join(self.dir, "gssproxy.conf")
        # The stanza the package ships (conf.d/80-httpd.conf), with the
        # test's keytab, user and httpd binary.
        stanza = shipped_stanza({
            "/etc/gssproxy/http.keytab": self.keytab,
            "euid = apache": "euid = " + harness.HTTPD_USER,
            "program = /usr/sbin/httpd":
                "program = " + os.path.realpath(httpd_binary),
        })
        with open(self.conf, "w") as f:
            f.write("[gssproxy]\n  debug_level = 1\n\n" + stanza)
        self.log = os.path.join(self.dir, "gssproxy.log")
        env = dict(realm.env)
        env.pop("KRB5_KDC_PROFILE", None)
        env.pop("GSS_USE_PROXY", None)
        env["KRB5RCACHEDIR"] = os.path.join(self.dir, "rcache")
        self.env = env
        self.proc = None
        self.saved_pid_file = None

    def start(self):
        if os.path.exists(PID_FILE):
            with open(PID_FILE, "rb") as f:
                self.saved_pid_file = f.read()
        logf = open(self.log, "w")
        # -i: foreground; -c: our file only; -C: an empty directory
        # instead of /etc/gssproxy; -s: our socket instead of the system's.
        self.proc = subprocess.Popen(
            [gssproxy_binary(), "-i", "-d", "-c", self.conf,
             "-C", os.path.join(self.dir, "conf.d"), "-s", self.socket],
            env=self.env, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gssproxy exited (%d):\n%s" % (
                    self.proc.returncode, self.output()))
            if os.path.exists(self.socket):
                return
            time.sleep(0.05)
        raise RuntimeError("gssproxy made no socket:\n" + self.output())

    def output(self, since=0):
        with open(self.log, errors="replace") as f:
            f.seek(since)
            return f.read()

    def log_mark(self):
        return os.path.getsize(self.log)

    def accepted_for(self, uid, since):
        """Did the daemon run an accept step for the HTTP service on
        behalf of uid since the mark?  (Its debug log, level 1.)"""
        want = ('(GSSX_ACCEPT_SEC_CONTEXT) for service "HTTP", euid: %d,'
                % uid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if want in self.output(since):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.saved_pid_file is not None:
            with open(PID_FILE, "wb") as f:
                f.write(self.saved_pid_file)
        elif os.path.exists(PID_FILE):
            os.unlink(PID_FILE)


def start_proxied_httpd(base_dir, module_path, realm, certs, name, socket):
    # keytab None: no NegotiateKeytab, the keys are GSS-Proxy's.
    srv = harness.Httpd(base_dir, module_path, realm, certs, None, BODY,
                        name=name,
                        env_extra={"GSS_USE_PROXY": "yes",
                                   "GSSPROXY_SOCKET": socket})
    # Nothing in the environment may point at a keytab either.
    srv.env.pop("KRB5_KTNAME", None)
    srv.ca = certs.ca
    srv.start()
    return srv


@pytest.fixture(scope="module")
def gssproxy(base_dir, realm):
    require_gssproxy()
    proxy = GssProxy(base_dir, realm, harness.httpd_binary(),
                     "HTTP/localhost")
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def proxied(gssproxy, base_dir, module_path, realm, certs):
    srv = start_proxied_httpd(base_dir, module_path, realm, certs,
                              "httpd-gssproxy", gssproxy.socket)
    yield srv
    srv.stop()


def as_httpd_user(cmd):
    pw = pwd.getpwnam(harness.HTTPD_USER)

    def drop():
        os.setgid(pw.pw_gid)
        os.setgroups([])
        os.setuid(pw.pw_uid)
    return subprocess.run(cmd, preexec_fn=drop, capture_output=True,
                          text=True)


def test_keytab_is_out_of_httpds_reach(gssproxy, proxied):
    st = os.stat(gssproxy.keytab)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o400)
    res = as_httpd_user(["cat", gssproxy.keytab])
    assert res.returncode != 0 and "Permission denied" in res.stderr
    with open(proxied.conf) as f:
        assert "NegotiateKeytab" not in f.read()


def test_login_through_gssproxy(gssproxy, proxied, alice):
    mark = proxied.log_mark()
    proxy_mark = gssproxy.log_mark()
    ctx, tok = alice.token()
    status, headers, body = https_request(proxied, "/protected/",
                                          [negotiate(tok)])
    assert status == 200, proxied.log_since(mark)
    assert body == b"secret\n"
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    assert "N8443001: login of alice@TEST.N8443 accepted (krb5)" in \
        proxied.log_since(mark)
    # Mutual authentication works through the proxy as well.
    answers = [t for t in challenge_tokens(headers) if t]
    assert len(answers) == 1
    ctx.step(base64.b64decode(answers[0]))
    assert ctx.complete
    # gssproxy did the accept step, for the httpd user's children.
    uid = pwd.getpwnam(harness.HTTPD_USER).pw_uid
    assert gssproxy.accepted_for(uid, proxy_mark), \
        gssproxy.output(proxy_mark)


def test_curl_and_explicit_principal_through_gssproxy(gssproxy, proxied,
                                                      alice):
    status, out = alice.curl(proxied.url("/spn-explicit/"))
    # No such directory under the DocumentRoot: 404 after a good login.
    assert status == 404, out
    assert "X-Remote-User: alice@TEST.N8443" in out


def replayed_token(proxied, alice):
    """Log in once, present the same token again; returns (status,
    headers, log lines of the second request)."""
    _, tok = alice.token()
    status, _, _ = https_request(proxied, "/protected/", [negotiate(tok)])
    assert status == 200
    mark = proxied.log_mark()
    status, headers, _ = https_request(proxied, "/protected/",
                                       [negotiate(tok)])
    return status, headers, proxied.log_since(mark)


def test_replay_refused_through_gssproxy(gssproxy, proxied, alice):
    status, headers, log = replayed_token(proxied, alice)
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ["Negotiate"]
    assert "N8443020: login refused (" in log
    assert "accepted" not in log


def test_replay_cause_logged_through_gssproxy(gssproxy, proxied, alice):
    """httpd cannot read the keytab to diagnose the refusal: the cause
    comes from the words gssproxy reported ("Request is a replay")."""
    status, _, log = replayed_token(proxied, alice)
    assert status == 401
    assert "login refused (replay)" in log


def test_without_the_proxy_no_login(gssproxy, base_dir, module_path, realm,
                                    certs, alice):
    """The control: the same httpd pointed at a socket nobody serves cannot
    log anyone in (its user cannot read any keytab), so the logins above
    did go through gssproxy."""
    missing = os.path.join(gssproxy.dir, "nobody-listens.sock")
    srv = start_proxied_httpd(base_dir, module_path, realm, certs,
                              "httpd-gssproxy-down", missing)
    try:
        mark = srv.log_mark()
        _, tok = alice.token()
        status, _, _ = https_request(srv, "/protected/", [negotiate(tok)])
        log = srv.log_since(mark)
        # No credentials at all is the server's fault, not the client's.
        assert status == 503, log
        assert "N8443033: cannot get acceptor credentials" in log
        assert "accepted" not in log
    finally:
        srv.stop()
