"""n8443ctl's golden site files, started in a real httpd and logged in to.

tests/n8443ctl/run-tests already checks every golden output byte for byte
and with `httpd -t`.  Here each golden input tests/n8443ctl/golden/*.yaml
is adapted to the test environment, rendered with `n8443ctl render`,
included in a small httpd.conf and started with the system httpd, and then
used as a client would:

* The adaptation is a line-by-line rewrite of the golden file: the
  certificate, key and chain become the test CA's, keytabs the test keytab,
  session keys, group files, delegation and replay-cache directories files
  under the test directory, ports free loopback ports (a `listen` in
  `defaults` maps the implicit 8443), names localhost (the first site's
  server name) or NAME.test.n8443, EXAMPLE.COM the test realm, proxy
  backends loopback backends started here (an IPv6 backend stays IPv6, a
  DNS name becomes localhost), memcached servers loopback memcacheds
  started here, Redis servers and Sentinels likewise (test_replay_redis's,
  with its password in the auth_file).  Nothing else changes: the rendered file must have the
  golden output's shape line for line (test_render_keeps_golden_shape).
* The rendered file is included unchanged but for one thing: its
  `Listen PORT https` lines become `Listen 127.0.0.1:PORT https`, so that
  nothing listens beyond loopback.  The wrapper loads exactly the modules
  the rendered header says it needs (plus the MPM, unixd and log_config).
* What each location must do is read from the golden .conf (the reviewed
  expected output); who the backend must see comes from REMOTE_USER under
  the location's NegotiateUserName.

Clients connect to 127.0.0.1 with the site's name as SNI and Host (no DNS
needed), with python-gssapi tokens (with the tls-server-end-point channel
binding of the site's certificate unless a test says otherwise) and curl
--negotiate --resolve.  Each golden file's servers start at its first test
and all stop at the end of this module, also when a test fails; a golden
file that cannot be started fails each of its tests with the reason.

Two expected failures (strict xfail) record problems of the golden inputs
that n8443ctl lets through: users named as principals under user_name
short/local (02-full /admin, 06-modern-hsts), and constrained delegation
with the keys in GSS-Proxy (05-gssproxy).
"""

import base64
import glob
import hashlib
import http.client
import itertools
import json
import os
import pwd
import re
import shlex
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import harness
from conftest import PASSWORDS, Client, build_dir, challenge_tokens

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.normpath(os.path.join(HERE, "..", "n8443ctl", "golden"))
REALM = harness.REALM
FORGED = "mallory"
# A user only in the group file (02-full's /admin group).
GROUP_USER = "carol-n8443ctl"
PASSWORDS.setdefault(GROUP_USER, "carol-pw-3")


def tool():
    path = os.environ.get("N8443CTL") or os.path.join(build_dir(),
                                                      "n8443ctl")
    if not os.access(path, os.X_OK):
        pytest.fail("n8443ctl not built: %s (run make first)" % path)
    return path


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def write(path, data, mode=0o644):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


# ------------------------------------------------------------ the output

def parse_conf(text):
    """What a rendered file says, by vhost and location."""
    conf = {"skew": None, "listen": [], "modules": [], "vhosts": []}
    vh = loc = None
    label = None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r'# Site "(.*)"$', line)
        if m:
            label = m.group(1)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"<IfModule !(\w+)>$", line)
        if m:
            conf["modules"].append(m.group(1))
            continue
        m = re.match(r"<VirtualHost \*:(\d+)>$", line)
        if m:
            vh = {"label": label, "port": int(m.group(1)), "names": [],
                  "hsts": False, "protocol": None, "ciphers": None,
                  "replay": ["shm"], "session_key": None, "deleg_dir": None,
                  "early_unset": [], "locations": [], "cert": None,
                  "status": None}
            conf["vhosts"].append(vh)
            continue
        if line == "</VirtualHost>":
            vh = None
            continue
        if line == '<Location "/negotiate8443-error/">':
            # The 401 page of help: (render_help.c): no login there.
            loc = {"path": "/negotiate8443-error/", "handler": None,
                   "require": []}
            vh["error_page"] = loc
            continue
        if line == '<Location "/negotiate8443-status">':
            # The status handler render adds to every vhost: not a site
            # location.
            loc = {"path": "/negotiate8443-status", "handler": None,
                   "require": []}
            vh["status"] = loc
            continue
        m = re.match(r'<Location "(.*)">$', line)
        if m:
            loc = {"path": m.group(1), "authname": None, "sp": "any",
                   "cb": "optional", "user_name": "principal",
                   "basic": False, "session": False, "max_age": 3600,
                   "deleg": False, "constrained": False, "users": [],
                   "groups": [], "valid_user": False, "group_file": None,
                   "proxy": None, "user_header": None, "unset_auth": False}
            vh["locations"].append(loc)
            continue
        if line == "</Location>":
            loc = None
            continue
        words = shlex.split(line)
        d, args = words[0], words[1:]
        if vh is None:
            if d == "NegotiateClockSkew":
                conf["skew"] = int(args[0])
            elif d == "Listen":
                conf["listen"].append(args)
        elif loc is None:
            if d == "ServerName" or d == "ServerAlias":
                vh["names"].append(args[0])
            elif d == "SSLCertificateFile":
                vh["cert"] = args[0]
            elif d == "SSLProtocol":
                vh["protocol"] = args
            elif d == "SSLCipherSuite":
                vh["ciphers"] = args[0]
            elif d == "Header" and args[:3] == ["always", "set",
                                                "Strict-Transport-Security"]:
                vh["hsts"] = args[3]
            elif d == "NegotiateReplayCache":
                vh["replay"] = args
            elif d == "NegotiateSessionKeyFile":
                vh["session_key"] = args[0]
            elif d == "NegotiateDelegationDir":
                vh["deleg_dir"] = args[0]
            elif d == "RequestHeader" and args[0] == "unset" \
                    and args[2:] == ["early"]:
                vh["early_unset"].append(args[1])
        elif "handler" in loc:
            if d == "SetHandler":
                loc["handler"] = args[0]
            elif d == "Require":
                loc["require"].append(args)
        else:
            if d == "AuthName":
                loc["authname"] = args[0]
            elif d == "NegotiateServicePrincipal":
                loc["sp"] = args[0]
            elif d == "NegotiateChannelBinding":
                loc["cb"] = args[0]
            elif d == "NegotiateUserName":
                loc["user_name"] = args[0]
            elif d == "NegotiateBasicFallback":
                loc["basic"] = args[0] == "On"
            elif d == "NegotiateSession":
                loc["session"] = args[0] == "On"
            elif d == "NegotiateSessionMaxAge":
                loc["max_age"] = int(args[0])
            elif d == "NegotiateDelegation":
                loc["deleg"] = args[0] == "On"
            elif d == "NegotiateConstrainedDelegation":
                loc["constrained"] = args[0] == "On"
            elif d == "Require" and args == ["valid-user"]:
                loc["valid_user"] = True
            elif d == "Require" and args[0] == "user":
                loc["users"] += args[1:]
            elif d == "Require" and args[0] == "group":
                loc["groups"] += args[1:]
            elif d == "AuthGroupFile":
                loc["group_file"] = args[0]
            elif d == "ProxyPass":
                loc["proxy"] = args[0]
            elif d == "RequestHeader" and args[0] == "set" \
                    and args[2] == "expr=%{REMOTE_USER}":
                loc["user_header"] = args[1]
            elif d == "RequestHeader" and args == ["unset", "Authorization"]:
                loc["unset_auth"] = True
    return conf


# Goldens with rules decided by the ticket (Require negotiate-group,
# negotiate-auth-indicator) need an AD DC's PACs: test_ad_authz.py renders
# and starts them against Samba's AD DC.
GOLDEN_NAMES = sorted(
    os.path.basename(p)[:-5]
    for p in glob.glob(os.path.join(GOLDEN, "*.yaml"))
    if "Require negotiate-" not in read(p[:-5] + ".conf"))
GOLDEN_CONF = {g: parse_conf(read(os.path.join(GOLDEN, g + ".conf")))
               for g in GOLDEN_NAMES}


def vhost_cases(pred=lambda vh: True):
    return [pytest.param(g, i, id="%s:%s" % (g, vh["label"]))
            for g in GOLDEN_NAMES
            for i, vh in enumerate(GOLDEN_CONF[g]["vhosts"]) if pred(vh)]


def location_cases(pred=lambda vh, loc: True, marks=None):
    out = []
    for g in GOLDEN_NAMES:
        for i, vh in enumerate(GOLDEN_CONF[g]["vhosts"]):
            for loc in vh["locations"]:
                if pred(vh, loc):
                    key = "%s:%s%s" % (g, vh["label"], loc["path"])
                    out.append(pytest.param(
                        g, i, loc["path"], id=key,
                        marks=(marks or {}).get(key, ())))
    return out


# ---------------------------------------------------------- adaptation

KEYLINE = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_]+):(\s*)(.*?)\s*$")
SYSTEM_PATH = re.compile(r"/(etc|run|var|usr|srv|opt|home|tmp)/")
SOURCE_TREE = os.path.normpath(os.path.join(HERE, "..", ".."))


def free_port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def loopback_for(host):
    """The loopback stand-in for a host of a URL or host:port list."""
    if host.startswith("["):
        return "[::1]", socket.AF_INET6
    if re.fullmatch(r"[0-9.]+", host):
        return "127.0.0.1", socket.AF_INET
    return "localhost", socket.AF_INET


class Adapter:
    """Rewrites a golden site file for this test environment (see the
    module docstring); remembers what it needs started."""

    def __init__(self, site):
        self.site = site
        self.names = {}
        self.ports = {}
        self.deleg_dirs = {}
        self.backends = []          # (family, port, url as rendered)
        self.memcacheds = []        # (family, port)
        self.redises = []           # Redis primaries (test_replay_redis)

    def host(self, name, server_name=False):
        if name not in self.names:
            if server_name and "localhost" not in self.names.values():
                self.names[name] = "localhost"
            elif name.lower().endswith(".example.com"):
                self.names[name] = name[:-len(".example.com")] + \
                    ".test.n8443"
            else:
                raise AssertionError("no rule to adapt name %r" % name)
        return self.names[name]

    def port(self, number):
        if number not in self.ports:
            self.ports[number] = harness.free_port()
        return self.ports[number]

    def value(self, key, val):
        s = self.site
        unq = val[1:-1] if val[:1] == '"' and val[-1:] == '"' else val
        if key == "certificate":
            return s.cert
        if key == "key":
            return s.key
        if key == "chain":
            return s.chain
        if key == "keytab":
            return s.keytab
        if key == "session_key_file":
            return s.session_key
        if key == "group_file":
            return s.group_file
        if key == "delegation_dir":
            if unq not in self.deleg_dirs:
                self.deleg_dirs[unq] = s.make_private_dir(
                    "ccache%d" % len(self.deleg_dirs))
            return self.deleg_dirs[unq]
        if key == "realm":
            return REALM
        if key == "server_name":
            return self.host(unq, server_name=True)
        if key == "aliases":
            assert val.startswith("[") and val.endswith("]"), val
            return "[%s]" % ", ".join(self.host(a.strip())
                                      for a in val[1:-1].split(","))
        if key == "listen":
            return str(self.port(int(unq)))
        if key == "service_principal" and "/" in unq:
            svc, rest = unq.split("/", 1)
            host, at, _ = rest.partition("@")
            return "%s/%s%s" % (svc, self.host(host),
                                "@" + REALM if at else "")
        if key == "replay_cache" and unq.startswith("memcache://"):
            out = []
            for entry in unq[len("memcache://"):].split(","):
                host = entry.rsplit(":", 1)[0]
                lo, family = loopback_for(host)
                port = harness.free_port() if family == socket.AF_INET \
                    else free_port6()
                self.memcacheds.append((family, port))
                out.append("%s:%d" % (lo, port))
            return "memcache://" + ",".join(out)
        if key == "replay_cache" and unq.startswith(("redis://",
                                                     "redis-sentinel://")):
            return self.redis(unq)
        if key == "auth_file":
            # The Redis servers' password (test_replay_redis.PASSWORD).
            from test_replay_redis import PASSWORD
            return write(os.path.join(s.dir, "redis.pw"), PASSWORD + "\n",
                         0o600)
        if key == "replay_cache_file":
            # In the site's root-owned directory, as the module wants.
            return os.path.join(s.dir, os.path.basename(unq))
        if key == "replay_cache" and unq.startswith("krb5:"):
            kind, _, path = unq[len("krb5:"):].partition(":")
            assert path.startswith("/"), unq
            return "krb5:%s:%s" % (kind, os.path.join(
                s.httpd_dir, "rcache", os.path.basename(path)))
        if key == "proxy":
            m = re.fullmatch(r"http://(\[[^\]]+\]|[^:/\[]+)(?::\d+)?(/.*)?",
                             unq)
            assert m, "no rule to adapt proxy %r" % unq
            lo, family = loopback_for(m.group(1))
            port = harness.free_port() if family == socket.AF_INET \
                else free_port6()
            url = "http://%s:%d%s" % (lo, port, m.group(2) or "")
            self.backends.append((family, port, url))
            return url
        if key == "users":
            return val.replace("@EXAMPLE.COM", "@" + REALM)
        if key == "pages":
            # The package's 401 page, from the source tree.
            return os.path.normpath(os.path.join(HERE, "..", "..", "pages"))
        if key in ("contact", "url"):
            return re.sub(r"example\.com", "test.n8443", val, flags=re.I)
        return val

    def redis(self, unq):
        """Redis servers (with the password) for a redis:// list, or a
        primary and one Sentinel per entry for redis-sentinel://: started
        here, stopped with the site."""
        from test_replay_redis import MASTER, Redis, Sentinel, redis_built
        if not redis_built(self.site.module_path):
            pytest.skip("module built without Redis support")
        from test_replay_redis import PASSWORD
        base = os.path.join(self.site.dir, "redis")
        if unq.startswith("redis://"):
            out = []
            for entry in unq[len("redis://"):].split(","):
                lo, family = loopback_for(entry.rsplit(":", 1)[0])
                r = Redis(base, "redis%d" % len(self.site.redis_procs),
                          password=PASSWORD,
                          extra=["bind 127.0.0.1 ::1"]
                          if family == socket.AF_INET6 else [])
                self.site.redis_procs.append(r)
                self.redises.append(r)
                out.append("%s:%d" % (lo, r.port))
            return "redis://" + ",".join(out)
        servers = unq[len("redis-sentinel://"):].rsplit("/", 1)[0]
        primary = Redis(base, "primary%d" % len(self.site.redis_procs),
                        password=PASSWORD)
        self.site.redis_procs.append(primary)
        self.redises.append(primary)
        out = []
        for i, _ in enumerate(servers.split(",")):
            sen = Sentinel(base, "sentinel%d-%d" % (primary.port, i),
                           primary.port)
            self.site.redis_procs.append(sen)
            out.append("127.0.0.1:%d" % sen.port)
        return "redis-sentinel://%s/%s" % (",".join(out), MASTER)

    def adapt(self, text):
        lines = text.splitlines()
        top = None
        default_listen = False
        for line in lines:
            m = re.match(r"([a-z_]+):", line)
            if m:
                top = m.group(1)
            elif top == "defaults" and re.match(r"  listen:", line):
                default_listen = True
        out = []
        for line in lines:
            m = KEYLINE.match(line)
            if line.lstrip().startswith("#") or not m or not m.group(4):
                if not default_listen and line == "sites:" and \
                        not any(l == "defaults:" for l in out):
                    out += ["defaults:", "  listen: %d" % self.port(8443)]
                out.append(line)
                if not default_listen and line == "defaults:":
                    out.append("  listen: %d" % self.port(8443))
                continue
            pre, key, sp, val = m.groups()
            new = self.value(key, val)
            # Paths in the test's own directories or the source tree (a
            # clean clone may well live under /tmp) are adapted ones.
            left = new.replace(self.site.dir, "").replace(
                self.site.certs.dir, "").replace(SOURCE_TREE, "")
            if SYSTEM_PATH.search(left) or re.search(r"example\.com", left,
                                                     re.I):
                raise AssertionError("no rule to adapt %r" % line)
            out.append(pre + key + ":" + sp + new)
        return "\n".join(out) + "\n"


def key_paths(text):
    """The keys of a site file in order, with their indentation."""
    return [m.group(1).replace("-", " ") + m.group(2)
            for m in map(KEYLINE.match, text.splitlines())
            if m and not m.group(0).lstrip().startswith("#")]


# ------------------------------------------------------------- backends

def read_chunked(rfile):
    raw = b""
    while True:
        line = rfile.readline(65537)
        raw += line
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:
                trailer = rfile.readline(65537)
                raw += trailer
                if trailer in (b"\r\n", b"\n", b""):
                    return raw
        raw += rfile.read(size + 2)


class Backend:
    """A proxied application: records every request it gets."""

    def __init__(self, family, port, url):
        self.url = url
        self.records = []
        self.errors = []            # tracebacks of failed requests
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def log_error(self, fmt, *args):
                # Timeouts and malformed requests: said, not answered
                # with a traceback, so handle_error never sees them.
                backend.errors.append("%s: %s" % (self.client_address,
                                                  fmt % args))

            def handle_one_request(self):
                super().handle_one_request()
                if not getattr(self, "raw_requestline", b""):
                    backend.errors.append(
                        "%s: connection closed before a request line"
                        % (self.client_address,))

            def handle_any(self):
                if "chunked" in self.headers.get("Transfer-Encoding",
                                                 "").lower():
                    body = read_chunked(self.rfile)
                else:
                    body = self.rfile.read(int(self.headers.get(
                        "Content-Length", "0")))
                rec = {"method": self.command, "path": self.path,
                       "headers": list(self.headers.items()),
                       "body": body.decode("latin-1")}
                backend.records.append(rec)
                data = json.dumps(rec).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_any

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            request_queue_size = 64

            def handle_error(self, request, client_address):
                # A 502 then names its cause in the test's message.
                backend.errors.append(traceback.format_exc())

        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.server = Server((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def find(self, test_id):
        return [r for r in self.records
                if any(k.lower() == "x-test-id" and v == test_id
                       for k, v in r["headers"])]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------- httpd

class RenderedHttpd(harness.Httpd):
    """The system httpd with the rendered file Included: the wrapper loads
    the modules the file names, runs the children as the test user, logs
    REMOTE_USER per request (X-Test-Id) and serves htdocs."""

    def __init__(self, site, env_extra):
        self.site = site
        super().__init__(site.dir, site.module_path, site.realm, None, None,
                         "", name="httpd", env_extra=env_extra,
                         port=site.listen_ports[0])

    def write_conf(self, module, certs, keytab, body, mpm, extra_global):
        moddir = harness.apxs("LIBEXECDIR")
        builtin = harness.builtin_modules(self.binary)
        lines = ["ServerRoot %s" % self.dir,
                 "ServerName localhost",
                 "PidFile %s/run/httpd.pid" % self.dir,
                 "DefaultRuntimeDir %s/run" % self.dir]
        wanted = ["mpm_event_module", "unixd_module", "log_config_module"] \
            + self.site.modules
        for ident in wanted:
            if ident == "negotiate8443_module":
                lines.append("LoadModule %s %s" % (ident, module))
                continue
            short = ident[:-len("_module")]
            if "mod_%s.c" % short in builtin or (
                    short == "mpm_event" and "event.c" in builtin):
                continue
            lines.append("LoadModule %s %s/mod_%s.so" % (ident, moddir,
                                                         short))
        user = harness.ensure_user()
        if user is not None:
            lines += ["User %s" % user, "Group %s" % user]
        lines += [
            "ErrorLog %s" % self.error_log,
            "LogLevel info ssl:warn",
            'LogFormat "%{X-Test-Id}i %u %>s" n8443',
            "CustomLog %s/access.log n8443" % self.dir,
            "DocumentRoot %s/htdocs" % self.dir,
            "<Directory />",
            "  Require all granted",
            "</Directory>",
            "Timeout 20",
            "Include %s" % self.site.included,
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def user_of(self, test_id, timeout=3.0):
        """REMOTE_USER of the request with this X-Test-Id ('-': none)."""
        path = os.path.join(self.dir, "access.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                for line in read(path).splitlines():
                    parts = line.split()
                    if parts and parts[0] == test_id:
                        return parts[1]
            time.sleep(0.03)
        raise AssertionError("request %s not in the access log" % test_id)


class Site:
    """One golden file: adapted, rendered, started."""

    def __init__(self, golden, base_dir, module_path, realm, certs):
        self.golden = golden
        self.realm = realm
        self.certs = certs
        self.module_path = module_path
        parent = os.path.join(base_dir, "n8443ctl-render")
        os.makedirs(parent, exist_ok=True)
        os.chmod(parent, 0o755)
        self.dir = tempfile.mkdtemp(prefix=golden + ".", dir=parent)
        os.chmod(self.dir, 0o755)
        self.httpd_dir = os.path.join(self.dir, "httpd")
        self.httpd = None
        self.backends = []
        self.procs = []
        self.redis_procs = []       # Redis, Sentinel (Adapter.redis)
        self.gssproxy = None
        stem = "render-" + golden
        self.cert = os.path.join(certs.dir, stem + ".pem")
        self.key = os.path.join(certs.dir, stem + ".key")
        self.chain = certs.ca
        self.keytab = os.path.join(self.dir, "http.keytab")
        self.session_key = write(os.path.join(self.dir, "session.key"),
                                 os.urandom(32), 0o600)
        self.group_file = os.path.join(self.dir, "groups")

    def make_private_dir(self, name):
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        harness.chown_to_httpd(path, 0o700)
        return path

    def prepare(self):
        src = read(os.path.join(GOLDEN, self.golden + ".yaml"))
        self.golden_yaml = src
        adapter = Adapter(self)
        self.yaml = adapter.adapt(src)
        self.adapter = adapter
        self.yaml_path = write(os.path.join(self.dir, self.golden + ".yaml"),
                               self.yaml)
        names = sorted(set(adapter.names.values()),
                       key=lambda n: (n != "localhost", n))
        self.certs.issue("render-" + self.golden, names)
        der = subprocess.run(["openssl", "x509", "-in", self.cert,
                              "-outform", "DER"], capture_output=True,
                             check=True).stdout
        self.binding = b"tls-server-end-point:" + \
            hashlib.sha256(der).digest()
        for n in names:
            if n != "localhost":
                self.realm.add_service("HTTP/" + n)
        self.realm.export_keytab(self.keytab, ["HTTP/" + n for n in names])
        harness.chown_to_httpd(self.keytab)
        # The short name: 02-full's user_name is short.
        write(self.group_file, "portal-admins: %s\n" % GROUP_USER)
        proc = subprocess.run([tool(), "render", self.yaml_path],
                              capture_output=True)
        self.render_proc = proc
        assert proc.returncode == 0 and proc.stderr == b"", \
            "n8443ctl render %s failed (%d):\n%s" % (
                self.yaml_path, proc.returncode, proc.stderr.decode())
        self.rendered = proc.stdout.decode()
        write(os.path.join(self.dir, "rendered.conf"), self.rendered)
        self.conf = parse_conf(self.rendered)
        self.modules = self.conf["modules"]
        # Loopback only: the one change to the rendered text.
        included, n = re.subn(r"(?m)^Listen (\d+) https$",
                              r"Listen 127.0.0.1:\1 https", self.rendered)
        assert n == len(self.conf["listen"]) >= 1, self.rendered
        self.included = write(os.path.join(self.dir, "included.conf"),
                              included)
        self.listen_ports = sorted({vh["port"]
                                    for vh in self.conf["vhosts"]})

    def start(self):
        for family, port, url in self.adapter.backends:
            self.backends.append(Backend(family, port, url))
        for family, port in self.adapter.memcacheds:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            p = subprocess.Popen(["memcached", "-l", host, "-p", str(port),
                                  "-U", "0", "-u", "nobody", "-m", "16",
                                  "-M"],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            self.procs.append(p)
            assert harness.wait_port(port, p), "memcached did not start"
        env = {}
        if re.search(r"(?m)^\s*gssproxy:\s*true\s*$", self.yaml):
            from test_gssproxy import GssProxy, require_gssproxy
            require_gssproxy()
            self.gssproxy = GssProxy(self.dir, self.realm,
                                     harness.httpd_binary(),
                                     "HTTP/localhost")
            self.gssproxy.start()
            env = {"GSS_USE_PROXY": "yes",
                   "GSSPROXY_SOCKET": self.gssproxy.socket}
        self.httpd = RenderedHttpd(self, env)
        if self.gssproxy is not None:
            self.httpd.env.pop("KRB5_KTNAME", None)
        else:
            # For a site without a keytab: the Kerberos default.
            self.httpd.env["KRB5_KTNAME"] = "FILE:" + self.keytab
        for vh in self.conf["vhosts"]:
            for loc in vh["locations"]:
                if loc["proxy"] is None:
                    d = os.path.join(self.httpd_dir, "htdocs",
                                     loc["path"].strip("/"))
                    os.makedirs(d, exist_ok=True)
                    write(os.path.join(d, "index.html"),
                          "page %s\n" % loc["path"])
        self.configtest = self.httpd.configtest()
        self.httpd.start()
        for port in self.listen_ports[1:]:
            assert harness.wait_port(port, self.httpd.proc)
        if self.adapter.redises:
            # MIT stamps authenticators in whole seconds: a token of the
            # second httpd first saw Redis in may look older than its
            # watermark (test_replay_redis.settle).
            time.sleep(1.5)

    def stop(self):
        if self.httpd is not None:
            self.httpd.stop()
        for b in self.backends:
            b.stop()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        if self.gssproxy is not None:
            self.gssproxy.stop()
        for r in reversed(self.redis_procs):
            r.kill()

    # -- what the tests ask

    def vhost(self, index):
        return self.conf["vhosts"][index]

    def location(self, index, path):
        return [loc for loc in self.vhost(index)["locations"]
                if loc["path"] == path][0]

    def backend_errors(self):
        return [e for b in self.backends for e in b.errors]

    def backend_for(self, loc):
        return [b for b in self.backends if b.url == loc["proxy"]][0]


class Sites:
    """The golden files' servers, each started on first use and all
    stopped at the end of the module (also when a test fails).  A golden
    file that cannot be started fails each of its tests with the same
    message, at once."""

    def __init__(self, base_dir, module_path, realm, certs):
        self.args = (base_dir, module_path, realm, certs)
        self.started = {}
        self.failed = {}
        self.skipped = {}

    def get(self, golden):
        if golden in self.skipped:
            pytest.skip(self.skipped[golden])
        if golden in self.failed:
            pytest.fail(self.failed[golden], pytrace=False)
        if golden not in self.started:
            s = Site(golden, *self.args)
            try:
                s.prepare()
                s.start()
            except pytest.skip.Exception as e:
                s.stop()
                self.skipped[golden] = "%s: %s" % (golden, e.msg)
                raise
            except BaseException as e:
                s.stop()
                self.failed[golden] = "%s: %s" % (
                    golden, "".join(str(a) for a in e.args) or repr(e))
                raise
            self.started[golden] = s
        return self.started[golden]

    def stop_all(self):
        for s in self.started.values():
            s.stop()


@pytest.fixture(scope="module")
def sites(base_dir, module_path, realm, certs):
    mgr = Sites(base_dir, module_path, realm, certs)
    try:
        yield mgr
    finally:
        mgr.stop_all()


@pytest.fixture
def site(request, sites):
    return sites.get(request.node.callspec.params["golden"])


@pytest.fixture(scope="module")
def carol(realm, certs):
    realm.add_user(GROUP_USER, PASSWORDS[GROUP_USER])
    return Client(realm, certs, GROUP_USER)


@pytest.fixture
def users(alice, bob, carol):
    return [alice, bob, carol]


def member(site, loc, users):
    """The first test user the location's Require lets in."""
    for client in users:
        if admitted(site, loc, client.user):
            return client
    pytest.fail("no test user gets into %s" % loc["path"])


# --------------------------------------------------------------- clients

class SNIConnection(http.client.HTTPSConnection):
    """TLS to 127.0.0.1, with the site's name as SNI and for the
    certificate check."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port),
                                        self.timeout)
        self.sock = self._context.wrap_socket(sock,
                                              server_hostname=self.host)


def tls_context(site, **kw):
    ctx = ssl.create_default_context(cafile=site.certs.ca)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def request(site, vh, path, headers=(), name=None, method="GET", body=None,
            plain=False, ctx=None):
    """One request with exactly these header lines plus Host and
    X-Test-Id; returns (status, headers, body, test id)."""
    name = name or vh["names"][0]
    test_id = uuid.uuid4().hex
    if plain:
        conn = http.client.HTTPConnection("127.0.0.1", vh["port"],
                                          timeout=20)
    else:
        conn = SNIConnection(name, vh["port"], timeout=20,
                             context=ctx or tls_context(site))
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", "%s:%d" % (name, vh["port"]))
    conn.putheader("X-Test-Id", test_id)
    for k, v in headers:
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.headers, data, test_id


def token(site, client, name, binding="right", delegate=False):
    import gssapi
    cb = {"right": site.binding, "wrong": b"tls-server-end-point:" +
          b"\x00" * 32, "none": None}[binding]
    return client.token(host=name, delegate=delegate, channel_bindings=(
        None if cb is None else gssapi.raw.ChannelBindings(
            application_data=cb)))


def negotiate(tok):
    return ("Authorization", "Negotiate " + base64.b64encode(tok).decode())


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode())


def probe_path(loc):
    """A path under the location that exists: index.html for pages, any
    path for a proxy."""
    base = loc["path"] if loc["path"].endswith("/") else loc["path"] + "/"
    return base + ("probe" if loc["proxy"] else "index.html")


def remote_user(loc, user):
    """REMOTE_USER for a user of the test realm under NegotiateUserName."""
    if loc["user_name"] == "short":
        return user
    if loc["user_name"] == "local":
        # The test realm's auth_to_local_names: alice = alice.local.
        return {"alice": "alice.local"}.get(user, user)
    return "%s@%s" % (user, REALM)


def admitted(site, loc, user):
    """Does the location's Require let this user in (httpd's literal
    semantics: names compared with REMOTE_USER)?"""
    if loc["valid_user"]:
        return True
    name = remote_user(loc, user)
    if name in loc["users"]:
        return True
    if loc["groups"]:
        for line in read(site.group_file).splitlines():
            group, _, members = line.partition(":")
            if group.strip() in loc["groups"] and name in members.split():
                return True
    return False


def spn_accepts(vh, loc, name):
    """Does NegotiateServicePrincipal accept a ticket for HTTP/name?"""
    sp = loc["sp"]
    if sp == "any":
        return True
    if sp == "{HOSTNAME}":
        return name == vh["names"][0]
    return sp.split("/", 1)[1].split("@")[0] == name


def only_header(record, header):
    """The values of every spelling of `header` the backend received:
    httpd ignores case, CGI-style backends also '-' versus '_'."""
    norm = header.lower().replace("_", "-")
    return [v for k, v in record["headers"]
            if k.lower().replace("_", "-") == norm]


def spellings(header):
    """Every '-'/'_' spelling of a header, each as written, lower and
    upper case, and in alternating case."""
    seps = [i for i, c in enumerate(header) if c in "-_"]
    out = []
    for combo in itertools.product("-_", repeat=len(seps)):
        h = list(header)
        for i, c in zip(seps, combo):
            h[i] = c
        h = "".join(h)
        alt = "".join(c.upper() if i % 2 else c.lower()
                      for i, c in enumerate(h))
        for v in (h, h.lower(), h.upper(), alt):
            if v not in out:
                out.append(v)
    return out


def assert_clean(record, site, vh, loc, user):
    """The backend saw the authenticated user in the user header, once,
    nothing forged anywhere, and no credentials."""
    text = json.dumps(record)
    assert FORGED not in text, record
    assert not [k for k, _ in record["headers"]
                if k.lower() in ("authorization", "proxy-authorization")], \
        record
    for h in vh["early_unset"]:
        if loc["user_header"] is None or \
                h.lower().replace("_", "-") != \
                loc["user_header"].lower().replace("_", "-"):
            assert only_header(record, h) == [], record
    if loc["user_header"]:
        assert only_header(record, loc["user_header"]) == \
            [remote_user(loc, user)], record


# ------------------------------------------------------------- the cases

XFAIL_PRINCIPAL_FORM = pytest.mark.xfail(strict=True, reason=(
    "golden input: require.users names principals (alice@EXAMPLE.COM) "
    "while user_name is short/local, so REMOTE_USER (alice / the "
    "auth_to_local name) never equals them; the tool accepts the "
    "combination without a word"))


def users_in_principal_form(vh, loc):
    return loc["user_name"] != "principal" and any(
        "@" in u for u in loc["users"])


@pytest.mark.parametrize("golden", GOLDEN_NAMES)
def test_render_keeps_golden_shape(golden, site):
    """The adapted file renders to the golden output's shape: line for
    line the same directives, sections and comments' places; only values
    (paths, names, ports, the digest) differ."""
    want = read(os.path.join(GOLDEN, site.golden + ".conf")).splitlines()
    got = site.rendered.splitlines()
    assert len(got) == len(want), "\n".join(got)

    def shape(line):
        s = line.strip()
        return s.split()[0] if s else ""
    diffs = [(w, g) for w, g in zip(want, got) if shape(w) != shape(g)]
    assert diffs == []
    digest = hashlib.sha256(site.yaml.encode()).hexdigest()
    assert "#   %s" % digest in got
    # The site file kept its keys; only `listen` may have been added (in
    # defaults, for sites that take the implicit 8443).
    added = [k for k in key_paths(site.yaml)]
    for k in key_paths(site.golden_yaml):
        assert k in added, k
        added.remove(k)
    assert all(k.strip() in ("listen", "defaults") for k in added), added
    # What the golden input asks for is what the output does.
    y = site.golden_yaml
    locs = [loc for vh in site.conf["vhosts"] for loc in vh["locations"]]
    assert len(re.findall(r"(?m)^\s*(?:- )?proxy:", y)) == \
        len([l for l in locs if l["proxy"]])
    assert len(re.findall(r"(?m)^\s*(?:- )?user_header:", y)) == \
        len([l for l in locs if l["user_header"]])
    assert all(l["unset_auth"] for l in locs if l["proxy"])


@pytest.mark.parametrize("golden", GOLDEN_NAMES)
def test_configtest_and_start(golden, site):
    """httpd -t on the exact configuration that was started, and a clean
    start: no error in the log, every port on loopback only."""
    assert site.configtest.returncode == 0 and \
        "Syntax OK" in site.configtest.stderr, site.configtest.stderr
    log = site.httpd.output()
    assert not re.search(r":(error|crit|alert|emerg)\]", log), log
    for port in site.listen_ports:
        assert harness.wait_port(port)
        ss = subprocess.run(["ss", "-Htln", "sport = :%d" % port],
                            capture_output=True, text=True).stdout
        assert ss.strip() and all("127.0.0.1:%d" % port in l
                                  for l in ss.strip().splitlines()), ss


@pytest.mark.parametrize("golden", GOLDEN_NAMES)
def test_clock_skew_reaches_kerberos(golden, site):
    """NegotiateClockSkew is handed to Kerberos through the runtime
    directory's krb5.conf fragment."""
    frag = os.path.join(site.httpd.dir, "run", "negotiate8443-krb5.conf")
    text = read(frag)
    assert re.search(r"clockskew\s*=\s*%d\b" % site.conf["skew"], text), \
        text


SKEWED_CLIENT = """
import base64, sys, gssapi
cb = gssapi.raw.ChannelBindings(application_data=bytes.fromhex(sys.argv[2]))
ctx = gssapi.SecurityContext(name=gssapi.Name(
    "HTTP@" + sys.argv[1], gssapi.NameType.hostbased_service),
    usage="initiate", channel_bindings=cb,
    mech=gssapi.OID.from_int_seq("1.3.6.1.5.5.2"))
print(base64.b64encode(ctx.step()).decode())
"""


def skewed_token(site, client, name, minutes):
    """A token (with the right channel binding) from a client whose clock
    is `minutes` ahead (faketime), with the service ticket fetched
    beforehand at the true time."""
    subprocess.run(["kvno", "HTTP/" + name], env=client.env, check=True,
                   capture_output=True)
    conf = os.path.join(site.dir, "krb5-skewed-client.conf")
    if not os.path.exists(conf):
        site.realm.write_krb5_conf(conf, " clockskew = 86400\n"
                                         " kdc_timesync = 0\n")
    env = dict(client.env, KRB5_CONFIG=conf)
    res = subprocess.run(harness.faketime("%+dm" % minutes) + [
                          "/usr/bin/python3", "-c", SKEWED_CLIENT, name,
                          site.binding.hex()],
                         env=env, capture_output=True, text=True,
                         check=True)
    return base64.b64decode(res.stdout.strip())


@pytest.mark.parametrize("golden", GOLDEN_NAMES)
def test_clock_skew_behaves(golden, site, alice):
    """clock_skew as Kerberos applies it: a client a minute inside the
    skew logs in, one a minute beyond it is refused (skew)."""
    v = site.vhost(0)
    loc = v["locations"][0]
    skew = site.conf["skew"] // 60
    for minutes, ok in ((skew - 1, True), (skew + 1, False)):
        tok = skewed_token(site, alice, v["names"][0], minutes)
        mark = site.httpd.log_mark()
        st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
        log = site.httpd.log_since(mark)
        if ok:
            assert "N8443001: login of alice@%s accepted" % REALM in log, \
                (minutes, log)
        else:
            assert st == 401 and "login refused (skew)" in log, \
                (minutes, log)


@pytest.mark.parametrize(
    "golden,vh,path",
    location_cases(marks={
        "%s:%s%s" % (g, vh["label"], loc["path"]): XFAIL_PRINCIPAL_FORM
        for g in GOLDEN_NAMES for vh in GOLDEN_CONF[g]["vhosts"]
        for loc in vh["locations"] if users_in_principal_form(vh, loc)}))
def test_alice_logs_in(golden, site, vh, path, alice):
    """A real login at every location: 200, REMOTE_USER as the location's
    NegotiateUserName says, and mutual authentication completes.  (Where
    the site lists users, alice is one of them: she must get in.)"""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    name = v["names"][0]
    for attempt in (1, 2):
        ctx, tok = token(site, alice, name)
        mark = site.httpd.log_mark()
        st, h, body, tid = request(site, v, probe_path(loc),
                                   [negotiate(tok)])
        log = site.httpd.log_since(mark)
        assert "N8443001: login of alice@%s accepted" % REALM in log, log
        why = ([l for l in log.splitlines() if "proxy" in l or "AH0" in l],
               st, site.backend_errors(), log)
        # In two full CI runs the first request through 02-full's proxy
        # (login accepted, REMOTE_USER logged) got mod_proxy's 502 without
        # the test's backend seeing a request; it never happened in a
        # run of the file alone.  Until its cause is known: once more,
        # with a new token, and the evidence said as a warning.
        if (attempt == 1 and st == 502 and loc["proxy"] is not None
                and not site.backend_for(loc).find(tid)):
            warnings.warn("test_alice_logs_in %s%s: 502 through the proxy, "
                          "tried again: %r" % (name, path, why))
            continue
        break
    assert st == 200, why
    assert site.httpd.user_of(tid) == remote_user(loc, "alice")
    answers = [t for t in challenge_tokens(h) if t]
    assert len(answers) == 1
    ctx.step(base64.b64decode(answers[0]))
    assert ctx.complete
    if loc["proxy"] is None:
        assert body == ("page %s\n" % loc["path"]).encode()


@pytest.mark.parametrize("golden,vh,path", location_cases())
def test_who_gets_in(golden, site, vh, path, alice, bob, carol):
    """Require as written: each of alice, bob and a group member logs in
    (Kerberos accepts all three) and gets 200 exactly when the location's
    Require lines name them (by REMOTE_USER), else 401."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    for client, user in ((alice, "alice"), (bob, "bob"),
                         (carol, GROUP_USER)):
        _, tok = token(site, client, v["names"][0])
        mark = site.httpd.log_mark()
        st, _, _, tid = request(site, v, probe_path(loc), [negotiate(tok)])
        log = site.httpd.log_since(mark)
        assert "N8443001: login of %s@%s accepted" % (user, REALM) in log
        assert st == (200 if admitted(site, loc, user) else 401), (user,
                                                                    log)


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_every_name_of_the_site(golden, site, vh, alice):
    """A login through the server name and every alias (SNI and Host):
    accepted where NegotiateServicePrincipal allows that name's key,
    refused as wrong_principal where it pins another."""
    v = site.vhost(vh)
    loc = v["locations"][0]
    for name in v["names"]:
        _, tok = token(site, alice, name)
        mark = site.httpd.log_mark()
        st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)],
                              name=name)
        log = site.httpd.log_since(mark)
        if spn_accepts(v, loc, name):
            assert "N8443001: login of alice@%s accepted" % REALM in log, \
                (name, log)
        else:
            assert st == 401 and "wrong_principal" in log, (name, log)


@pytest.mark.parametrize("golden,vh,path", location_cases())
def test_no_token_is_401(golden, site, vh, path):
    """Without credentials: 401 with the Negotiate challenge (and Basic
    with the site's AuthName where fallback is on); HSTS where asked; a
    backend never hears of it."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    st, h, _, tid = request(site, v, probe_path(loc))
    assert st == 401
    challenges = h.get_all("WWW-Authenticate")
    assert "Negotiate" in challenges
    if loc["basic"]:
        assert 'Basic realm="%s"' % loc["authname"] in challenges
    else:
        assert not [c for c in challenges if c.startswith("Basic")]
    assert h.get("Strict-Transport-Security") == (v["hsts"] or None)
    if loc["proxy"]:
        assert site.backend_for(loc).find(tid) == []


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_plain_http_is_refused(golden, site, vh, alice):
    """Plain HTTP to the site's port: 400 from mod_ssl, the token in it is
    never looked at (it still logs in over TLS afterwards), and no backend
    sees the request."""
    v = site.vhost(vh)
    loc = ([l for l in v["locations"] if l["proxy"]] or
           v["locations"])[0]
    _, tok = token(site, alice, v["names"][0])
    forged = [(h, FORGED) for h in v["early_unset"]]
    st, _, body, tid = request(site, v, probe_path(loc),
                               [negotiate(tok)] + forged, plain=True)
    assert st == 400 and b"plain HTTP" in body, body
    for b in site.backends:
        assert b.find(tid) == []
    mark = site.httpd.log_mark()
    st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
    assert "N8443001: login of alice@%s accepted" % REALM in \
        site.httpd.log_since(mark)


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_curl_negotiate(golden, site, vh, alice):
    """curl --negotiate, resolving the site's name to 127.0.0.1.  curl
    sends no channel binding, so under `require` it must be refused."""
    v = site.vhost(vh)
    loc = v["locations"][0]
    name = v["names"][0]
    mark = site.httpd.log_mark()
    status, out = alice.curl(
        "https://%s:%d%s" % (name, v["port"], probe_path(loc)),
        "--resolve", "%s:%d:127.0.0.1" % (name, v["port"]))
    log = site.httpd.log_since(mark)
    if loc["cb"] == "require":
        assert status == 401 and "bad_bindings" in log, (out, log)
    else:
        assert "N8443001: login of alice@%s accepted" % REALM in log, log
        assert status == (200 if admitted(site, loc, "alice") else 401), \
            out


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_replay_cache(golden, site, vh, alice):
    """The same token twice: refused as a replay by shm, memcache, Redis and
    krb5
    (which keep their state where the site said); accepted twice by none,
    which warns at start."""
    v = site.vhost(vh)
    loc = v["locations"][0]
    _, tok = token(site, alice, v["names"][0])
    mark = site.httpd.log_mark()
    request(site, v, probe_path(loc), [negotiate(tok)])
    request(site, v, probe_path(loc), [negotiate(tok)])
    log = site.httpd.log_since(mark)
    accepted = log.count("N8443001: login of alice@%s accepted" % REALM)
    kind = v["replay"][0]
    if kind == "none":
        assert "N8443055: NegotiateReplayCache none for %s" % \
            v["names"][0] in site.httpd.output()
        if site.gssproxy is None:
            assert accepted == 2, log
        else:
            # The module keeps no cache, but the acceptor is gssproxy's
            # MIT Kerberos with its own replay cache: still refused.
            assert accepted == 1 and "Request is a replay" in log, log
        return
    assert accepted == 1 and "login refused (replay)" in log, log
    if kind == "krb5":
        path = v["replay"][1].split(":", 1)[1]
        assert os.path.getsize(path) > 0
    if kind in ("redis", "redis-sentinel"):
        # The entry is in a primary of the golden file's (not only the
        # watermark's n8443rc:since: key).
        entries = [k for r in site.adapter.redises
                   for k in r.cli("--scan", "--pattern", "n8443rc:*").split()
                   if not k.startswith("n8443rc:since:")]
        assert entries
    if kind == "memcache":
        total = 0
        for family, port in site.adapter.memcacheds:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            with socket.create_connection((host, port), 5) as s:
                s.sendall(b"stats\r\n")
                data = b""
                while not data.endswith(b"END\r\n"):
                    data += s.recv(4096)
            total += int(re.search(rb"STAT total_items (\d+)",
                                   data).group(1))
        assert total >= 1


CB_EXPECT = {"off": {"right": True, "wrong": True, "none": True},
             "optional": {"right": True, "wrong": False, "none": True},
             "require": {"right": True, "wrong": False, "none": False}}


@pytest.mark.parametrize("golden,vh,path", location_cases())
def test_channel_binding(golden, site, vh, path, alice):
    """NegotiateChannelBinding as rendered: a right, a wrong and no
    binding, accepted or refused (bad_bindings) as off/optional/require
    say; NEGOTIATE_CHANNEL_BOUND is not visible, so the module's log is
    the witness."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    for binding, ok in CB_EXPECT[loc["cb"]].items():
        _, tok = token(site, alice, v["names"][0], binding=binding)
        mark = site.httpd.log_mark()
        st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
        log = site.httpd.log_since(mark)
        if ok:
            assert "N8443001: login of alice@%s accepted" % REALM in log, \
                (binding, log)
        else:
            assert st == 401 and "bad_bindings" in log, (binding, log)


def session_cookie(headers):
    for v in headers.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v
    return None


@pytest.mark.parametrize("golden,vh,path",
                         location_cases(lambda vh, loc: loc["session"]))
def test_session_cookie(golden, site, vh, path, users):
    """session: true: a login sets n8443_session (Secure, HttpOnly,
    SameSite=Lax, Path=<the Location>, Max-Age up to session_max_age); the cookie alone
    then logs in, without a new cookie; an application never sees it."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    client = member(site, loc, users)
    _, tok = token(site, client, v["names"][0])
    st, h, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
    assert st == 200
    cookie = session_cookie(h)
    assert cookie is not None, h
    attrs = [a.strip() for a in cookie.split(";")]
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= set(attrs)
    # Path: the <Location> that issued it, so the browser sends it there.
    cpath = [a[5:] for a in attrs if a.startswith("Path=")]
    assert len(cpath) == 1 and probe_path(loc).startswith(cpath[0]), attrs
    age = int([a for a in attrs if a.startswith("Max-Age=")][0][8:])
    assert loc["max_age"] - 120 < age <= loc["max_age"], cookie
    value = attrs[0].split("=", 1)[1]
    forged = [(hd, FORGED) for hd in v["early_unset"]]
    st, h, _, tid = request(site, v, probe_path(loc),
                            [("Cookie", "n8443_session=" + value)] + forged)
    assert st == 200 and session_cookie(h) is None
    assert site.httpd.user_of(tid) == remote_user(loc, client.user)
    if loc["proxy"]:
        rec = site.backend_for(loc).find(tid)
        assert len(rec) == 1
        assert "n8443_session" not in json.dumps(rec[0]), rec
        assert_clean(rec[0], site, v, loc, client.user)
    # A cookie that does not open falls back to Negotiate.
    st, _, _, _ = request(site, v, probe_path(loc),
                          [("Cookie", "n8443_session=" + value[:-8])])
    assert st == 401


@pytest.mark.parametrize("golden,vh,path",
                         location_cases(lambda vh, loc: not loc["session"]))
def test_no_session_cookie_without_session(golden, site, vh, path, alice):
    v = site.vhost(vh)
    loc = site.location(vh, path)
    _, tok = token(site, alice, v["names"][0])
    _, h, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
    assert session_cookie(h) is None


@pytest.mark.parametrize("golden,vh,path",
                         location_cases(lambda vh, loc: loc["basic"]))
def test_basic_fallback(golden, site, vh, path, users):
    """basic_fallback: a user's password logs them in (REMOTE_USER as
    user_name says); a wrong one is 401; a proxied backend never gets the
    password."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    user = member(site, loc, users).user
    forged = [(hd, FORGED) for hd in v["early_unset"]]
    # Also under NegotiateChannelBinding require (02-full): a password
    # login has no binding to check.
    st, _, _, tid = request(site, v, probe_path(loc),
                            [basic(user, PASSWORDS[user])] + forged)
    assert st == 200
    assert site.httpd.user_of(tid) == remote_user(loc, user)
    if loc["proxy"]:
        rec = site.backend_for(loc).find(tid)
        assert len(rec) == 1
        assert PASSWORDS[user] not in json.dumps(rec[0])
        assert_clean(rec[0], site, v, loc, user)
    st, _, _, _ = request(site, v, probe_path(loc),
                          [basic(user, "wrong-password")])
    assert st == 401


@pytest.mark.parametrize("golden,vh,path",
                         location_cases(lambda vh, loc: not loc["basic"]))
def test_no_basic_without_fallback(golden, site, vh, path):
    v = site.vhost(vh)
    loc = site.location(vh, path)
    st, _, _, _ = request(site, v, probe_path(loc),
                          [basic("alice", PASSWORDS["alice"])])
    assert st == 401


def caches(vh):
    """The caches under delegation_dir, as paths relative to it (each
    vhost has its own directory in it)."""
    d = vh["deleg_dir"]
    if not d or not os.path.isdir(d):
        return []
    return sorted(os.path.relpath(os.path.join(top, n), d)
                  for top, _, names in os.walk(d) for n in names)


@pytest.mark.parametrize("golden,vh,path",
                         location_cases(lambda vh, loc: loc["deleg"]))
def test_forwarded_delegation(golden, site, vh, path, users):
    """delegation: forwarded: a delegated TGT lands in delegation_dir, in
    a private cache owned by the httpd user, holding the user's krbtgt."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    client = member(site, loc, users)
    _, tok = token(site, client, v["names"][0], delegate=True)
    st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
    assert st == 200
    new = [n for n in caches(v)
           if os.path.basename(n).startswith("n8443cc_")]
    assert new, os.listdir(v["deleg_dir"])
    found = False
    for n in new:
        path = os.path.join(v["deleg_dir"], n)
        st_ = os.stat(path)
        assert st_.st_mode & 0o777 == 0o600
        assert st_.st_uid == pwd.getpwnam(harness.HTTPD_USER).pw_uid
        out = subprocess.run(["klist", "-c", "FILE:" + path],
                             env=site.realm.env, capture_output=True,
                             text=True).stdout
        if "Default principal: %s@%s" % (client.user, REALM) in out:
            assert "krbtgt/%s@%s" % (REALM, REALM) in out
            found = True
    assert found


XFAIL_GSSPROXY_S4U = pytest.mark.xfail(strict=True, reason=(
    "gssproxy: true with delegation: constrained: with the keys in "
    "GSS-Proxy (the shipped stanza, cred_usage = accept) the accept "
    "returns no proxy credential, so no S4U2Proxy evidence is stored and "
    "nothing is logged; neither n8443ctl nor the module says so"))


@pytest.mark.parametrize("golden,vh,path", location_cases(
    lambda vh, loc: loc["constrained"],
    marks={"05-gssproxy:files/": XFAIL_GSSPROXY_S4U}))
def test_constrained_delegation(golden, site, vh, path, users):
    """delegation: constrained: a login without delegation leaves S4U2Proxy
    evidence (the user's service ticket) in delegation_dir."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    client = member(site, loc, users)
    _, tok = token(site, client, v["names"][0])
    mark = site.httpd.log_mark()
    st, _, _, _ = request(site, v, probe_path(loc), [negotiate(tok)])
    log = site.httpd.log_since(mark)
    assert st == 200, log
    found = False
    for n in caches(v):
        out = subprocess.run(["klist", "-c", "FILE:" + os.path.join(
            v["deleg_dir"], n)], env=site.realm.env, capture_output=True,
            text=True).stdout
        if "%s@%s" % (client.user, REALM) in out:
            found = True
    assert found, (caches(v), log)


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_status_handler_local_only(golden, site, vh):
    """Every vhost gets the module's status handler, for local clients
    only (the handler has no access control of its own), and a local
    client reads it without a login even under a "/" location."""
    v = site.vhost(vh)
    assert v["status"] == {"path": "/negotiate8443-status",
                           "handler": "negotiate8443-status",
                           "require": [["local"]]}
    st, _, body, _ = request(site, v, "/negotiate8443-status")
    assert st == 200, body
    doc = json.loads(body)
    assert "logins" in doc and "replay_cache" in doc


@pytest.mark.parametrize("golden,vh", vhost_cases())
def test_tls_profile(golden, site, vh):
    """The profile's protocols: modern is TLS 1.3 only; intermediate
    allows TLS 1.2 with forward-secret AEAD suites only; system takes the
    system's defaults (TLS 1.2 and 1.3 here)."""
    v = site.vhost(vh)

    def handshake(**kw):
        ctx = tls_context(site)
        for k, val in kw.items():
            if k == "ciphers":
                ctx.set_ciphers(val)
            else:
                setattr(ctx, k, val)
        try:
            with socket.create_connection(("127.0.0.1", v["port"]), 5) as s:
                with ctx.wrap_socket(s, server_hostname=v["names"][0]) as t:
                    return t.version()
        except (ssl.SSLError, ConnectionResetError):
            return None

    tls12 = dict(maximum_version=ssl.TLSVersion.TLSv1_2)
    assert handshake(minimum_version=ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    if v["protocol"] == ["-all", "+TLSv1.3"]:
        assert handshake(**tls12) is None
    elif v["protocol"] == ["-all", "+TLSv1.2", "+TLSv1.3"]:
        assert handshake(ciphers="ECDHE-RSA-AES128-GCM-SHA256",
                         **tls12) == "TLSv1.2"
        assert handshake(ciphers="AES128-GCM-SHA256:AES128-SHA",
                         **tls12) is None
        assert handshake(ciphers="ECDHE-RSA-AES128-SHA", **tls12) is None
    else:
        assert v["protocol"] is None and v["ciphers"] is None
        assert handshake(**tls12) == "TLSv1.2"


# ------------------------------------------------------------ the proxy

PROXIED = location_cases(lambda vh, loc: loc["proxy"] is not None)


def backend_path(loc, request_path):
    """Where ProxyPass sends a request path."""
    rest = request_path[len(loc["path"]):]
    target = re.sub(r"^http://[^/]+", "", loc["proxy"])
    return (target + rest) or "/"


@pytest.mark.parametrize("golden,vh,path", PROXIED)
def test_backend_sees_the_user(golden, site, vh, path, users):
    """A real login through the proxy: the backend gets the request at the
    mapped path, the user header (if the site names one) holding the
    authenticated user, and no Authorization."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    client = member(site, loc, users)
    _, tok = token(site, client, v["names"][0])
    st, _, body, tid = request(site, v, probe_path(loc), [negotiate(tok)])
    assert st == 200, body
    rec = site.backend_for(loc).find(tid)
    assert len(rec) == 1
    assert rec[0]["path"] == backend_path(loc, probe_path(loc))
    assert_clean(rec[0], site, v, loc, client.user)


@pytest.mark.parametrize("golden,vh,path", PROXIED)
def test_forged_user_header_never_reaches_the_backend(golden, site, vh,
                                                      path, users):
    """Every spelling of every user header the site trusts, sent by the
    client with a real login, one at a time and all at once: the backend
    sees only the authenticated user."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    backend = site.backend_for(loc)
    client = member(site, loc, users)
    variants = [s for h in v["early_unset"] for s in spellings(h)]
    assert variants or loc["user_header"] is None
    sets = [[x] for x in variants] + [variants]
    failures = []
    for forged in sets:
        _, tok = token(site, client, v["names"][0])
        headers = [(h, FORGED) for h in forged] + [negotiate(tok)]
        st, _, _, tid = request(site, v, probe_path(loc), headers)
        rec = backend.find(tid)
        try:
            assert st == 200 and len(rec) == 1
            assert_clean(rec[0], site, v, loc, client.user)
        except AssertionError:
            failures.append((forged, st, rec))
    assert failures == []


@pytest.mark.parametrize("golden,vh,path", PROXIED)
def test_forged_user_header_without_login(golden, site, vh, path):
    """A forged user header with no or a bad token: 401, the backend is
    never contacted."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    backend = site.backend_for(loc)
    forged = [(h, FORGED) for h in v["early_unset"]] or \
        [("X-Remote-User", FORGED)]
    for extra in ([], [("Authorization", "Negotiate " +
                        base64.b64encode(b"\x60\x00").decode())],
                  [basic(FORGED, "x")]):
        st, _, _, tid = request(site, v, probe_path(loc), forged + extra)
        assert st in (400, 401)
        assert backend.find(tid) == []


@pytest.mark.parametrize("golden,vh,path", PROXIED)
def test_forged_user_header_in_a_trailer(golden, site, vh, path, users):
    """A chunked request whose trailer carries the user header: the
    backend never sees it, in the headers or the body stream."""
    v = site.vhost(vh)
    loc = site.location(vh, path)
    client = member(site, loc, users)
    _, tok = token(site, client, v["names"][0])
    test_id = uuid.uuid4().hex
    name = v["names"][0]
    header = (v["early_unset"] or ["X-Remote-User"])[0]
    raw = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nX-Test-Id: %s\r\n"
           "Authorization: Negotiate %s\r\nTransfer-Encoding: chunked\r\n"
           "Trailer: %s\r\nConnection: close\r\n\r\n"
           "5\r\nhello\r\n0\r\n%s: %s\r\n\r\n" % (
               probe_path(loc), name, v["port"], test_id,
               base64.b64encode(tok).decode(), header, header, FORGED))
    with socket.create_connection(("127.0.0.1", v["port"]), 10) as s:
        with tls_context(site).wrap_socket(s, server_hostname=name) as t:
            t.sendall(raw.encode())
            resp = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                resp += chunk
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    rec = site.backend_for(loc).find(test_id)
    assert len(rec) == 1
    assert "hello" in rec[0]["body"]
    assert_clean(rec[0], site, v, loc, client.user)


@pytest.mark.parametrize("golden", [g for g in GOLDEN_NAMES if any(
    loc["proxy"] for vh in GOLDEN_CONF[g]["vhosts"]
    for loc in vh["locations"])])
def test_every_backend_was_used(golden, site):
    """Each proxied location reached its own backend (no location fell
    through to another or to htdocs)."""
    for b in site.backends:
        assert b.records, b.url
