"""Headless Chromium (Debian's package) as an enterprise-managed browser.

An enterprise sets Chromium's Kerberos behaviour with managed policies
(AuthServerAllowlist, DisableAuthNegotiateCnameLookup, ...), which Chromium
on Linux reads only from /etc/chromium/policies/managed/.  This helper
never writes under /etc: it starts Chromium in a private mount namespace
(unshare -m) in which a temporary directory is bind-mounted over
/etc/chromium, so the policies are seen by that one Chromium process and by
nothing else on the machine.  Where a private mount namespace is not
permitted (an unprivileged container), it falls back to the command-line
switches that still exist (only --auth-server-allowlist in current
Chromium; the GSSAPI library name, CNAME lookup, port and delegation
switches are gone and are policies only) and callers can ask which mode is
in use.

Each load() is one short-lived headless Chromium with a new, empty
--user-data-dir, the test CA trusted through an NSS database in its own
$HOME (no --ignore-certificate-errors), every host but the test's mapped to
NOTFOUND, bounded by a timeout, and its whole process group killed
afterwards.  It returns the DOM, Chromium's net-log events about HTTP
authentication, and optionally writes a screenshot.
"""

import json
import os
import shutil
import signal
import subprocess

POLICY_ROOT = "/etc/chromium"      # Debian's chromium: policies/managed/*.json

# Chromium on Linux loads the GSSAPI library only once it has seen a
# "WWW-Authenticate: Negotiate" in an earlier run: it records that in Local
# State (net.received_http_auth_negotiate_headers) and answers Negotiate
# from the next start on.  A brand-new profile therefore shows the 401 page
# on its very first visit.  The tests model a user whose browser has been
# to an intranet site before by seeding that one preference.
LOCAL_STATE_SEEN_NEGOTIATE = {"net": {"received_http_auth_negotiate_headers":
                                      True}}

COMMON_FLAGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-default-browser-check",
    "--disable-extensions", "--hide-scrollbars", "--window-size=1000,560",
]


def find_chromium():
    """The Chromium binary itself (not Debian's /usr/bin/chromium wrapper,
    which adds flags from /etc/chromium.d), or None."""
    for p in ("/usr/lib/chromium/chromium",):
        if os.access(p, os.X_OK):
            return p
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


_managed = None


def managed_policies_available():
    """(True, "") when a private mount namespace with a bind mount over
    /etc/chromium can be made here (root with CAP_SYS_ADMIN), else
    (False, why).  N8443_CHROMIUM_POLICY=switches forces the fallback."""
    global _managed
    if os.environ.get("N8443_CHROMIUM_POLICY") == "switches":
        return False, "N8443_CHROMIUM_POLICY=switches"
    if _managed is None:
        if not os.path.isdir(POLICY_ROOT):
            _managed = (False, "%s does not exist (not Debian's chromium)"
                        % POLICY_ROOT)
        elif not shutil.which("unshare"):
            _managed = (False, "unshare(1) is not installed")
        else:
            try:
                res = subprocess.run(
                    ["unshare", "--mount", "--propagation", "private", "sh",
                     "-c", 'mount --bind "$0" "$1"', "/tmp", POLICY_ROOT],
                    capture_output=True, text=True, timeout=10)
                _managed = (res.returncode == 0,
                            "this system does not permit a private mount "
                            "namespace (unshare -m): " + res.stderr.strip())
            except (OSError, subprocess.TimeoutExpired) as e:
                _managed = (False, "unshare -m failed: %s" % e)
    return _managed


class PageLoad:
    """What one Chromium run saw."""

    def __init__(self, dom, events, stderr, returncode, screenshot):
        self.dom = dom
        self.events = events          # [(type name, params dict)]
        self.stderr = stderr
        self.returncode = returncode
        self.screenshot = screenshot

    def auth_events(self, name):
        return [p for t, p in self.events if t == name and p]

    def spns(self):
        """The service names Chromium asked its GSSAPI library for."""
        return [p["spn"] for p in self.auth_events("AUTH_LIBRARY_IMPORT_NAME")]

    def init_sec_context_results(self):
        return self.auth_events("AUTH_LIBRARY_INIT_SEC_CTX")

    def channel_binding_tokens(self):
        return [bytes.fromhex(p["token"]) for p in
                self.auth_events("AUTH_CHANNEL_BINDINGS") if "token" in p]

    def handler_errors(self):
        return [p["net_error"] for p in
                self.auth_events("AUTH_HANDLER_CREATE_RESULT")
                if "net_error" in p]

    def describe(self):
        interesting = [(t, p) for t, p in self.events
                       if t.startswith("AUTH") and p]
        return "rc=%s\nauth net-log: %s\nDOM: %s\nstderr tail: %s" % (
            self.returncode, json.dumps(interesting)[:3000], self.dom[:1500],
            "\n".join(l for l in self.stderr.splitlines()
                      if "dbus" not in l)[-1500:])


def read_netlog(path):
    """Net-log events as (type name, params).  Tolerates a file that
    Chromium could not finish (killed on timeout)."""
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except ValueError:
        cut = text.rfind("},")
        try:
            data = json.loads(text[:cut + 1] + "]}")
        except ValueError:
            return []
    names = {v: k for k, v in
             data.get("constants", {}).get("logEventTypes", {}).items()}
    return [(names.get(e.get("type"), str(e.get("type"))),
             e.get("params") or {}) for e in data.get("events", [])]


class Chromium:
    """A headless Chromium that trusts one CA, for one test module."""

    def __init__(self, workdir, ca_pem, binary=None):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise RuntimeError("chromium not found (apt-get install chromium)")
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.home = os.path.join(workdir, "home")
        nssdb = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(nssdb, exist_ok=True)
        for cmd in (["certutil", "-N", "-d", "sql:" + nssdb,
                     "--empty-password"],
                    ["certutil", "-A", "-d", "sql:" + nssdb, "-n",
                     "n8443 test CA", "-t", "C,,", "-i", ca_pem]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError("%s failed: %s%s" % (
                    " ".join(cmd), res.stdout, res.stderr))
        self.managed, self.why_not_managed = managed_policies_available()
        self.runs = 0

    @property
    def mode(self):
        return "managed-policy" if self.managed else "switches"

    def _policy_dir(self, run_dir, policies):
        root = os.path.join(run_dir, "etc-chromium")
        # Keep what the package ships there (master_preferences, ...).
        shutil.copytree(POLICY_ROOT, root, symlinks=True,
                        ignore=shutil.ignore_patterns("policies"))
        managed = os.path.join(root, "policies", "managed")
        os.makedirs(managed)
        with open(os.path.join(managed, "n8443-test.json"), "w") as f:
            json.dump(policies, f, indent=1)
        return root

    def _switches(self, policies):
        """The fallback: what can still be said on the command line."""
        flags = []
        for key, value in policies.items():
            if key == "AuthServerAllowlist":
                flags.append("--auth-server-allowlist=" + value)
            elif key in ("DisableAuthNegotiateCnameLookup",
                         "GSSAPILibraryName", "AuthSchemes") or \
                    (key == "EnableAuthNegotiatePort" and not value):
                # No switch any more; see resolver_rules() for the CNAME
                # lookup, and the library name is Chromium's default.
                continue
            else:
                raise PolicyNeedsNamespace(key)
        return flags

    def resolver_rules(self, host):
        if self.managed:
            # With DisableAuthNegotiateCnameLookup the SPN is built from
            # the name in the URL, so the name can be mapped like any
            # enterprise host name.
            return "MAP %s 127.0.0.1, MAP * ~NOTFOUND" % host
        # Without that policy Chromium canonicalises the name through the
        # resolver, and a MAP rule's canonical name is the IP address
        # (SPN HTTP@127.0.0.1).  "localhost" resolves to loopback inside
        # Chromium, so leave it unmapped.
        return "MAP * ~NOTFOUND, EXCLUDE %s" % host

    def load(self, url, env, policies, host="localhost", screenshot=None,
             timeout=30, seen_negotiate=True):
        """Load url once in a fresh profile; env must carry KRB5_CONFIG
        and KRB5CCNAME (Chromium's GSSAPI library reads them)."""
        self.runs += 1
        run_dir = os.path.join(self.workdir, "run%d" % self.runs)
        profile = os.path.join(run_dir, "profile")
        os.makedirs(profile)
        if seen_negotiate:
            with open(os.path.join(profile, "Local State"), "w") as f:
                json.dump(LOCAL_STATE_SEEN_NEGOTIATE, f)
        netlog = os.path.join(run_dir, "netlog.json")
        args = [self.binary] + COMMON_FLAGS + [
            "--user-data-dir=" + profile,
            "--host-resolver-rules=" + self.resolver_rules(host),
            "--log-net-log=" + netlog,
            "--net-log-capture-mode=Everything",
        ]
        if self.managed:
            policy_root = self._policy_dir(run_dir, policies)
            cmd = ["unshare", "--mount", "--propagation", "private", "sh",
                   "-c", 'mount --bind "$0" "$1" && shift && exec "$@"',
                   policy_root, POLICY_ROOT]
        else:
            args += self._switches(policies)
            cmd = []
        if screenshot:
            os.makedirs(os.path.dirname(screenshot), exist_ok=True)
            if os.path.exists(screenshot):
                os.unlink(screenshot)
            args.append("--screenshot=" + screenshot)
        args += ["--dump-dom", url]
        run_env = dict(env)
        run_env.update({"HOME": self.home,
                        "XDG_CONFIG_HOME": os.path.join(run_dir, "xdg-config"),
                        "XDG_CACHE_HOME": os.path.join(run_dir, "xdg-cache")})
        run_env.pop("DISPLAY", None)
        run_env.pop("WAYLAND_DISPLAY", None)
        proc = subprocess.Popen(cmd + args, env=run_env, cwd=run_dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
            raise RuntimeError("chromium did not finish within %ds: %s" % (
                timeout, err.decode(errors="replace")[-2000:]))
        finally:
            # Nothing of this run may outlive it (zygote, GPU, network
            # service, crashpad all stay in the session we started).
            _kill_group(proc.pid)
        return PageLoad(out.decode(errors="replace"), read_netlog(netlog),
                        err.decode(errors="replace"), proc.returncode,
                        screenshot)


class PolicyNeedsNamespace(Exception):
    """A policy that has no command-line switch in this Chromium."""


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
