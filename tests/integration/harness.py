"""Throwaway Kerberos realm, certificates and httpd for the integration suite.

Everything lives in one temporary directory, listens on 127.0.0.1 only, and
is stopped and removed by close(), which the pytest fixtures call also when a
test fails.  Nothing under /etc is read or written: the realm is reached
through KRB5_CONFIG / KRB5_KDC_PROFILE.
"""

import base64
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REALM = "TEST.N8443"
HTTPD_USER = "n8443test"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run(cmd, env=None, check=True, input=None):
    res = subprocess.run(cmd, env=env, input=input, capture_output=True,
                         text=True)
    if check and res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (
            " ".join(cmd), res.returncode, res.stdout, res.stderr))
    return res


def sbin(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    p = shutil.which(name)
    if p is None:
        raise RuntimeError("%s not found: install the MIT KDC "
                           "(krb5-kdc krb5-admin-server)" % name)
    return p


@contextlib.contextmanager
def krb5_config(path):
    """python-gssapi and the Kerberos library in this process read path as
    krb5.conf while the block runs; KRB5_CONFIG is as it was after it."""
    old = os.environ.get("KRB5_CONFIG")
    os.environ["KRB5_CONFIG"] = path
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("KRB5_CONFIG", None)
        else:
            os.environ["KRB5_CONFIG"] = old

def stop_process(proc, timeout=10, group=False):
    """Stop proc (a Popen, or None; one that has exited is left as it is):
    SIGTERM, and SIGKILL after timeout seconds, to proc's process group
    where group is true."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()


def httpd_keytab(realm, path, principals):
    """realm's keys of principals (as its export_keytab takes them) in
    path, readable by httpd's user.  Returns path."""
    realm.export_keytab(path, principals)
    chown_to_httpd(path)
    return path

def write_script(path, text):
    """An executable script (mode 0755) at path, its directory made where
    missing."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)

KRB5_CONF = """[libdefaults]
 default_realm = {realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 ignore_acceptor_hostname = false
 udp_preference_limit = 1
 forwardable = true
{extra}
[realms]
 {realm} = {{
  kdc = 127.0.0.1:{port}
{realm_extra} }}
[domain_realm]
 localhost = {realm}
 {domain} = {realm}
"""

# The MIT realm's mapping of principals to local names.
AUTH_TO_LOCAL = """  auth_to_local_names = {
   alice = alice.local
  }
  auth_to_local = DEFAULT
"""


KDC_CONF = """[kdcdefaults]
 kdc_ports = {port}
 kdc_tcp_ports = {port}
[realms]
 {realm} = {{
  {database}
  key_stash_file = {dir}/stash
  acl_file = {dir}/kadm5.acl
  max_life = 10h
  max_renewable_life = 1d
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }}
{sections}[logging]
 kdc = FILE:{dir}/kdc.log
{logging}"""


def write_kdc_conf(path, port, d, database, sections="", logging=""):
    """kdc.conf for REALM: the KDC on 127.0.0.1:port, its files in d, its
    database (the line that names it), sections (whole sections, each
    line ending in a newline) and logging (lines added to [logging])."""
    with open(path, "w") as f:
        f.write(KDC_CONF.format(port=port, realm=REALM, dir=d,
                                database=database, sections=sections,
                                logging=logging))


def write_krb5_conf(path, realm, port, domain, extra_libdefaults="",
                    realm_extra=""):
    """A krb5.conf for a realm whose KDC is 127.0.0.1:port, the hosts under
    domain (".example") in it, no DNS; extra_libdefaults and realm_extra:
    lines (each ending in a newline) added to [libdefaults] and to the
    realm's entry."""
    with open(path, "w") as f:
        f.write(KRB5_CONF.format(realm=realm, port=port, domain=domain,
                                 extra=extra_libdefaults,
                                 realm_extra=realm_extra))


class Realm:
    """A throwaway MIT realm with its own KDC on a free loopback port."""

    def __init__(self, base):
        self.dir = os.path.join(base, "realm")
        os.makedirs(self.dir)
        self.port = free_port()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.kdc_proc = None
        self.write_krb5_conf(self.krb5_conf)
        write_kdc_conf(self.kdc_conf, self.port, self.dir,
                       "database_name = %s/principal" % self.dir)
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()
        self.env = self.realm_env()
        run([sbin("kdb5_util"), "create", "-s", "-r", REALM, "-P",
             "master-pw"], env=self.env)
        self.start_kdc()

    def realm_env(self):
        """This process's environment for the realm's tools: its
        krb5.conf and kdc.conf, no ticket cache or keytab of the caller's,
        no trace."""
        env = dict(os.environ)
        env.update({"KRB5_CONFIG": self.krb5_conf,
                    "KRB5_KDC_PROFILE": self.kdc_conf,
                    "KRB5_TRACE": "/dev/null"})
        env.pop("KRB5CCNAME", None)
        env.pop("KRB5_KTNAME", None)
        return env

    def write_krb5_conf(self, path, extra_libdefaults=""):
        write_krb5_conf(path, REALM, self.port, ".test.n8443",
                        extra_libdefaults, realm_extra=AUTH_TO_LOCAL)

    def start_kdc(self):
        log = open(os.path.join(self.dir, "krb5kdc.out"), "w")
        self.kdc_proc = subprocess.Popen(
            [sbin("krb5kdc"), "-n", "-P", os.path.join(self.dir, "kdc.pid")],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, self.kdc_proc):
            raise RuntimeError("krb5kdc did not start; see %s" % self.dir)

    def stop_kdc(self):
        stop_process(self.kdc_proc)
        self.kdc_proc = None

    def kadmin(self, query):
        return run([sbin("kadmin.local"), "-r", REALM, "-q", query],
                   env=self.env)

    def add_user(self, name, password):
        self.kadmin("addprinc -pw %s %s" % (password, name))

    def add_service(self, principal):
        self.kadmin("addprinc -randkey %s" % principal)

    def export_keytab(self, path, principals, randkey=False):
        """Write the principals' current keys to path (a fresh file)."""
        if os.path.exists(path):
            os.unlink(path)
        self.kadmin("ktadd -k %s %s%s" % (path, "" if randkey else
                                          "-norandkey ",
                                          " ".join(principals)))

    def kvno_of(self, principal):
        out = self.kadmin("getprinc %s" % principal).stdout
        for line in out.splitlines():
            if "vno" in line and "Key:" in line:
                return int(line.split("vno")[1].split(",")[0])
        raise RuntimeError("no kvno in getprinc output: " + out)

    def client_env(self, user, password, ccache_name=None):
        """kinit user into a fresh ccache; returns an environment to run
        clients in."""
        env = dict(self.env)
        safe = "".join(ch if ch.isalnum() else "_" for ch in user)
        cc = os.path.join(self.dir, ccache_name or ("cc_%s_%d" % (
            safe, int(time.monotonic() * 1e6))))
        env["KRB5CCNAME"] = "FILE:" + cc
        run(["kinit", user], env=env, input=password + "\n")
        return env

    def close(self):
        self.stop_kdc()


@contextlib.contextmanager
def indicator_realm(base, users):
    """A Realm in base whose KDC asserts the authentication indicator
    "hardened" into tickets got with SPAKE pre-authentication
    (spake_preauth_indicator): users (name -> password) in it, "stepup"
    made to pre-authenticate, and HTTP/localhost.  python-gssapi in this
    process uses its krb5.conf while the block runs; closed after it."""
    r = Realm(base)
    try:
        r.stop_kdc()
        spake = " spake_preauth_groups = edwards25519\n"
        r.write_krb5_conf(r.krb5_conf, spake)
        with open(r.kdc_conf) as f:
            conf = f.read()
        conf = conf.replace("  max_life = 10h\n", "  max_life = 10h\n"
                            "  spake_preauth_indicator = hardened\n")
        with open(r.kdc_conf, "w") as f:
            f.write("[libdefaults]\n" + spake + conf)
        r.start_kdc()
        for user, pw in users.items():
            r.add_user(user, pw)
        r.kadmin("modprinc +requires_preauth stepup")
        r.add_service("HTTP/localhost")
        with krb5_config(r.krb5_conf):
            yield r
    finally:
        r.close()

class Certs:
    """A throwaway CA and a server certificate for localhost."""

    def __init__(self, base, names=("localhost",)):
        self.dir = os.path.join(base, "pki")
        os.makedirs(self.dir)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca = os.path.join(self.dir, "ca.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=n8443 test CA"])
        self.cert, self.key = self.issue("server", names)

    def issue(self, stem, names, keyalg=("rsa:2048",), digest="-sha256"):
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        crt = os.path.join(self.dir, stem + ".pem")
        ext = os.path.join(self.dir, stem + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % ",".join(
                "DNS:" + n for n in names))
        run(["openssl", "req", "-new", "-newkey", keyalg[0], "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca,
             "-CAkey", self.ca_key, "-CAcreateserial", "-out", crt,
             "-days", "2", digest, "-extfile", ext])
        return crt, key


def apxs(var):
    return run(["apxs", "-q", var]).stdout.strip()


def httpd_binary():
    return os.path.join(apxs("SBINDIR"), apxs("TARGET"))


def builtin_modules(binary):
    out = run([binary, "-l"]).stdout
    return {l.strip() for l in out.splitlines() if l.strip().endswith(".c")}


def ensure_user():
    """The unprivileged user httpd's children run as (when we are root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(HTTPD_USER)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--shell",
             "/usr/sbin/nologin", HTTPD_USER])
    return HTTPD_USER


def chown_to_httpd(path, mode=0o600):
    user = ensure_user()
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


CGI_ENV = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
printf 'AUTH_TYPE=%s\\n' "$AUTH_TYPE"
printf 'NEGOTIATE_PRINCIPAL=%s\\n' "$NEGOTIATE_PRINCIPAL"
printf 'NEGOTIATE_MECH=%s\\n' "$NEGOTIATE_MECH"
printf 'NEGOTIATE_CHANNEL_BOUND=%s\\n' "$NEGOTIATE_CHANNEL_BOUND"
"""


class Httpd:
    """The system's httpd with mod_ssl and the freshly built module."""

    def __init__(self, base, module, realm, certs, keytab, body,
                 mpm="event", name="httpd", extra_global="",
                 env_extra=None, port=None):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.binary = httpd_binary()
        self.port = port or free_port()
        self.plain_port = free_port()
        self.error_log = os.path.join(self.dir, "error.log")
        self.realm = realm
        self.proc = None
        self.mpm = mpm
        htdocs = os.path.join(self.dir, "htdocs")
        for sub in ("htdocs", "htdocs/protected", "cgi-bin", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(htdocs, "index.html"), "w") as f:
            f.write("public\n")
        with open(os.path.join(htdocs, "protected", "index.html"), "w") as f:
            f.write("secret\n")
        cgi = os.path.join(self.dir, "cgi-bin", "env")
        with open(cgi, "w") as f:
            f.write(CGI_ENV)
        os.chmod(cgi, 0o755)
        user = ensure_user()
        if user is not None:
            pw = pwd.getpwnam(user)
            # run/ (DefaultRuntimeDir) stays root's, as /run/httpd is: the
            # shm replay cache's file is there, and a directory the User
            # may write to stops httpd (N8443480).
            rc = os.path.join(self.dir, "rcache")
            os.makedirs(rc, exist_ok=True)
            os.chown(rc, pw.pw_uid, pw.pw_gid)
        self.conf = os.path.join(self.dir, "httpd.conf")
        self.write_conf(module, certs, keytab, body, mpm, extra_global)
        self.env = dict(realm.env)
        self.env.pop("KRB5_KDC_PROFILE", None)
        self.env["KRB5RCACHEDIR"] = os.path.join(self.dir, "rcache")
        if env_extra:
            self.env.update(env_extra)

    def write_conf(self, module, certs, keytab, body, mpm, extra_global):
        moddir = apxs("LIBEXECDIR")
        builtin = builtin_modules(self.binary)
        wanted = ["mpm_" + mpm, "unixd", "log_config", "authn_core",
                  "authz_core", "authz_user", "authz_host", "auth_basic",
                  "ssl", "socache_shmcb", "mime", "dir", "alias", "env",
                  "headers", "setenvif",
                  "cgi" if mpm == "prefork" else "cgid"]
        lines = ["ServerRoot %s" % self.dir,
                 "ServerName localhost",
                 "PidFile %s/run/httpd.pid" % self.dir,
                 "DefaultRuntimeDir %s/run" % self.dir,
                 "ScriptSock %s/run/cgid.sock" % self.dir
                 if mpm != "prefork" else "",
                 "Listen 127.0.0.1:%d https" % self.port,
                 "Listen 127.0.0.1:%d http" % self.plain_port]
        for m in wanted:
            if "mod_%s.c" % m in builtin or (m == "mpm_" + mpm and
                                             "%s.c" % mpm in builtin):
                continue
            lines.append("LoadModule %s_module %s/mod_%s.so" % (
                m, moddir, m))
        lines.append("LoadModule negotiate8443_module %s" % module)
        user = ensure_user()
        if user is not None:
            lines += ["User %s" % user, "Group %s" % user]
        lines += [
            "ErrorLog %s" % self.error_log,
            "LogLevel info ssl:warn",
            'LogFormat "%h %u \\"%r\\" %>s" brief',
            "CustomLog %s/access.log brief" % self.dir,
            "TypesConfig /dev/null",
            "DocumentRoot %s/htdocs" % self.dir,
            "ScriptAlias /cgi-bin/ %s/cgi-bin/" % self.dir,
            "StartServers 2",
            "SSLSessionCache none",
            "Timeout 20",
            extra_global,
            "<Directory />",
            "  Require all granted",
            "</Directory>",
            "Header always set X-Remote-User \"expr=%{REMOTE_USER}\"",
            # None: no NegotiateKeytab, Kerberos' default keytab.
            "NegotiateKeytab %s" % keytab if keytab else "",
            # Named, so that httpd does not derive the name from a
            # reverse lookup of 127.0.0.1 (which needs /etc/hosts).
            "<VirtualHost 127.0.0.1:%d>" % self.port,
            "  ServerName localhost",
            "  SSLEngine on",
            "  SSLCertificateFile %s" % certs.cert,
            "  SSLCertificateKeyFile %s" % certs.key,
            body,
            "</VirtualHost>",
            "<VirtualHost 127.0.0.1:%d>" % self.plain_port,
            "  ServerName localhost",
            body,
            "</VirtualHost>",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def configtest(self):
        return run([self.binary, "-t", "-f", self.conf], env=self.env,
                   check=False)

    def command(self):
        """httpd's command line.  N8443_HTTPD_WRAPPER (e.g. "valgrind
        --error-exitcode=99 ...") runs it under a tool, in one process
        (-X); N8443_HTTPD_LD_PRELOAD preloads a runtime (AddressSanitizer's
        libasan for a module built with --enable-sanitizers)."""
        cmd = [self.binary, "-f", self.conf, "-DFOREGROUND"]
        wrapper = os.environ.get("N8443_HTTPD_WRAPPER")
        if wrapper:
            cmd = wrapper.split() + cmd + ["-X"]
        return cmd

    def start(self, expect_fail=False):
        self.stdout = open(os.path.join(self.dir, "stdout.log"), "w")
        if os.environ.get("N8443_HTTPD_LD_PRELOAD"):
            self.env["LD_PRELOAD"] = os.environ["N8443_HTTPD_LD_PRELOAD"]
        self.proc = subprocess.Popen(
            self.command(), env=self.env,
            stdout=self.stdout, stderr=subprocess.STDOUT,
            start_new_session=True)
        if expect_fail:
            try:
                rc = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.stop()
                raise RuntimeError("httpd started but was expected to fail")
            self.proc = None
            return rc
        # The port opens before post_config runs, so an open port is not
        # yet a started server: wait for httpd's own word (AH00163).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if "resuming normal operations" in self.output() \
                    and wait_port(self.port, self.proc, timeout=5):
                # A replay cache that starts empty refuses authenticators
                # made before it (its watermark); MIT stamps those made
                # within one second with that second's first time, so the
                # test's tokens come from the next second on.
                time.sleep(1.02 - time.time() % 1.0)
                return 0
            time.sleep(0.05)
        raise RuntimeError("httpd did not start:\n" + self.output())

    def output(self):
        text = ""
        for p in (os.path.join(self.dir, "stdout.log"), self.error_log):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def log_mark(self):
        return os.path.getsize(self.error_log) \
            if os.path.exists(self.error_log) else 0

    def log_since(self, mark):
        # httpd writes the log line after the response went out.
        time.sleep(0.15)
        with open(self.error_log, errors="replace") as f:
            f.seek(mark)
            return f.read()

    def graceful(self):
        os.kill(self.proc.pid, signal.SIGUSR1)
        time.sleep(1.0)

    def stop(self):
        stop_process(self.proc, 15, group=True)
        self.proc = None

    def url(self, path="/", host="localhost"):
        return "https://%s:%d%s" % (host, self.port, path)

    def plain_url(self, path="/", host="localhost"):
        return "http://%s:%d%s" % (host, self.plain_port, path)


def make_base():
    base = tempfile.mkdtemp(prefix="n8443-test-")
    os.chmod(base, 0o755)
    return base


def b64(data):
    return base64.b64encode(data).decode("ascii")


def faketime(offset):
    """A command prefix that runs a program with its clock moved by offset
    ("+10m", "-3m", "+11h"): libfaketime preloaded directly.  Not the
    faketime wrapper: it makes a semaphore and a shared memory object
    named after its process id in /dev/shm, leaves them behind when it is
    killed, and a later run that gets the same id fails ("sem_open: File
    exists", exit 1, no output)."""
    for pattern in ("/usr/lib/*/faketime/libfaketime.so.1",
                    "/usr/lib64/faketime/libfaketime.so.1",
                    "/usr/lib/faketime/libfaketime.so.1"):
        found = sorted(glob.glob(pattern))
        if found:
            return ["env", "LD_PRELOAD=" + found[0], "FAKETIME=" + offset]
    return ["faketime", "-f", offset]
