"""`n8443ctl check` against a real throwaway realm: one test per
misalignment it must catch, each asserting the check id, its severity and
the exit status, and a healthy site that passes with no warning.

The realm, its CA and the httpd user come from conftest.py/harness.py.
Service principals of their own (ck-*.test.n8443) keep the key changes
here away from the other tests; HTTP/localhost is only ever exported with
-norandkey, which leaves its key alone.  Names under .test.n8443 do not
resolve on the test machine; localhost does (/etc/hosts).
"""

import json
import os
import pwd
import shutil
import subprocess

import pytest

import harness
from conftest import build_dir

REALM = harness.REALM
# The user httpd runs as in the suite (created when we are root); else
# whoever runs the tests, who then owns the keytabs.
HTTPD_USER = harness.ensure_user() or pwd.getpwuid(os.geteuid()).pw_name
ROOT = os.geteuid() == 0

OFFLINE_IDS = {"krb5.realm", "krb5.clock-skew", "krb5.replay-cache",
               "krb5.replay-cache-file", "krb5.service-principal", "keytab.file", "keytab.permissions",
               "keytab.httpd-user", "keytab.spn", "keytab.spn-port",
               "keytab.enctypes", "keytab.permitted", "cert.file",
               "cert.key", "cert.san", "cert.expiry", "cert.chain",
               "cert.channel-binding", "dns.resolve", "dns.canonical",
               "http.token-size", "http.field-size"}
ONLINE_IDS = {"online.client", "online.clock", "online.kvno",
              "online.decrypt", "online.spnego", "online.replay"}


def tool():
    path = os.path.join(build_dir(), "n8443ctl")
    if not os.access(path, os.X_OK):
        pytest.fail("n8443ctl not built: %s (run make first)" % path)
    return path


class Checker:
    """A directory of keytabs, certificates and site files for one test
    module, and a way to run the tool on them."""

    def __init__(self, realm, certs, base):
        self.realm = realm
        self.certs = certs
        self.dir = os.path.join(base, "n8443ctl-check")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.n = 0
        self.cert, self.key = self.issue("good", ["localhost"], days=365)

    def path(self, name):
        return os.path.join(self.dir, name)

    def unique(self, stem):
        self.n += 1
        return "%s-%d" % (stem, self.n)

    # ----------------------------------------------------------- keys

    def keytab(self, principals, name=None, mode=0o600, owner_httpd=True):
        """The principals' current keys (-norandkey) in a fresh keytab
        that the httpd user owns."""
        path = self.path(name or self.unique("kt") + ".keytab")
        self.realm.export_keytab(path, principals)
        if owner_httpd:
            harness.chown_to_httpd(path, mode)
        else:
            os.chmod(path, mode)
        return path

    def service(self, host):
        """The service principal HTTP/host, with a new random key if it
        is new (kadmin leaves an existing one alone); returns its name."""
        principal = "HTTP/" + host
        self.realm.add_service(principal)
        return principal

    def ktutil_keytab(self, principal, enctype, kvno=1):
        """A keytab typed in with ktutil from a password (any enctype,
        whatever the KDC has)."""
        path = self.path(self.unique("ktutil") + ".keytab")
        script = ("addent -password -p %s -k %d -e %s\npassword\n"
                  "wkt %s\nquit\n" % (principal, kvno, enctype, path))
        harness.run(["ktutil"], env=self.realm.env, input=script)
        harness.chown_to_httpd(path, 0o600)
        return path

    # ---------------------------------------------------- certificates

    def issue(self, stem, names, days=365, keyalg="rsa:2048", shift=None,
              self_signed=False):
        """A certificate for names from the suite's CA (or self-signed),
        valid for days; shift ("-40d") issues it with the clock moved."""
        stem = self.unique(stem)
        key = self.path(stem + ".key")
        crt = self.path(stem + ".pem")
        ext = self.path(stem + ".ext")
        san = "subjectAltName=" + ",".join("DNS:" + n for n in names)
        with open(ext, "w") as f:
            f.write(san + "\n")
        pre = harness.faketime(shift) if shift else []
        if self_signed:
            harness.run(pre + ["openssl", "req", "-x509", "-newkey", keyalg,
                               "-nodes", "-keyout", key, "-out", crt,
                               "-days", str(days), "-subj",
                               "/CN=" + names[0], "-addext", san])
            return crt, key
        csr = self.path(stem + ".csr")
        harness.run(["openssl", "req", "-new", "-newkey", keyalg, "-nodes",
                     "-keyout", key, "-out", csr, "-subj",
                     "/CN=" + names[0]])
        harness.run(pre + ["openssl", "x509", "-req", "-in", csr, "-CA",
                           self.certs.ca, "-CAkey", self.certs.ca_key,
                           "-CAcreateserial", "-out", crt, "-days",
                           str(days), "-sha256", "-extfile", ext])
        return crt, key

    # ------------------------------------------------------ site files

    def site(self, keytab, server="localhost", aliases=(), cert=None,
             key=None, chain=None, kerberos=None, keytab_key=True):
        """A site file with one site; KERBEROS adds keys to its
        kerberos block (realm TEST.N8443 unless given)."""
        krb = {"realm": REALM}
        if keytab_key:
            krb["keytab"] = keytab
        krb.update(kerberos or {})
        lines = ["version: 1", "sites:", "  - name: ck",
                 "    server_name: %s" % server]
        if aliases:
            lines.append("    aliases: [%s]" % ", ".join(aliases))
        lines += ["    tls:",
                  "      certificate: %s" % (cert or self.cert),
                  "      key: %s" % (key or self.key)]
        if chain:
            lines.append("      chain: %s" % chain)
        lines.append("    kerberos:")
        for k, v in krb.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append("      %s: %s" % (k, v))
        path = self.path(self.unique("site") + ".yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # ----------------------------------------------------------- runs

    def run(self, *args, env=None, prefix=(), keep_selinux=False):
        """n8443ctl check ARGS --format json; returns (exit status, the
        document, stderr)."""
        e = dict(self.realm.env)
        e.update(env or {})
        cmd = list(prefix) + [tool(), "check", "--format", "json",
                              "--httpd-user", HTTPD_USER] + list(args)
        res = subprocess.run(cmd, env=e, capture_output=True, text=True,
                             timeout=60)
        try:
            doc = json.loads(res.stdout)
        except ValueError:
            raise AssertionError("not JSON (exit %d): %r\nstderr: %s" % (
                res.returncode, res.stdout, res.stderr))
        assert doc["summary"]["exit_status"] == res.returncode, doc
        if not keep_selinux:
            # What SELinux says depends on the host, not on the site:
            # test_selinux_family and tests/unit/test_check_selinux.c
            # look at it; the other tests see the rest.
            doc["checks"] = [c for c in doc["checks"]
                             if not c["id"].startswith("selinux.")]
            doc["summary"].pop("skipped", None)
        return res.returncode, doc, res.stderr

    def text(self, *args, env=None):
        e = dict(self.realm.env)
        e.update(env or {})
        return subprocess.run([tool(), "check", "--httpd-user", HTTPD_USER]
                              + list(args), env=e, capture_output=True,
                              text=True, timeout=60)


def records(doc, check_id, **details):
    return [c for c in doc["checks"] if c["id"] == check_id
            and all(c["details"].get(k) == v for k, v in details.items())]


def one(doc, check_id, **details):
    found = records(doc, check_id, **details)
    assert len(found) == 1, "%s %s: %s" % (check_id, details,
                                           json.dumps(doc, indent=1))
    return found[0]


def severities(doc):
    return {c["severity"] for c in doc["checks"]}


def problems(doc):
    return [(c["id"], c["severity"], c["message"]) for c in doc["checks"]
            if c["severity"] != "ok"]


@pytest.fixture(scope="module")
def ck(realm, certs, base_dir):
    return Checker(realm, certs, base_dir)


@pytest.fixture(scope="module")
def good_keytab(ck):
    return ck.keytab(["HTTP/localhost"], name="good.keytab")


@pytest.fixture(scope="module")
def alice_ccache(alice):
    return alice.ccache


# ---------------------------------------------------------------- healthy

def test_selinux_family(ck, good_keytab):
    """Skipped with a note where SELinux is off (this suite's Debian);
    where it is on, each of its records says what it found."""
    rc, doc, _ = ck.run(ck.site(good_keytab), keep_selinux=True)
    enabled = one(doc, "selinux.enabled")
    if os.path.exists("/sys/fs/selinux/enforce"):
        assert enabled["severity"] == "ok"
        assert records(doc, "selinux.keytab") and \
            records(doc, "selinux.port")
    else:
        assert enabled["severity"] == "skipped"
        assert "not enabled on this host" in enabled["message"]
        assert [c["id"] for c in doc["checks"]
                if c["id"].startswith("selinux.")] == ["selinux.enabled"]
        assert doc["summary"]["skipped"] == 1
        assert rc == 0
    rc, doc, _ = ck.run(ck.site(good_keytab), "--only", "selinux",
                        keep_selinux=True)
    assert {c["id"].split(".")[0] for c in doc["checks"]} == {"selinux"}


def test_healthy_site_offline_and_online(ck, good_keytab):
    site = ck.site(good_keytab)
    rc, doc, _ = ck.run(site, "--online", "--strict")
    assert problems(doc) == []
    assert rc == 0
    assert {c["id"] for c in doc["checks"]} == OFFLINE_IDS | ONLINE_IDS
    assert doc["summary"] == {"ok": len(doc["checks"]), "warning": 0,
                              "error": 0, "strict": True, "exit_status": 0}
    assert doc["version"] == 1
    for c in doc["checks"]:
        assert c["details"]["site"] == "ck"
    kvno = one(doc, "online.kvno")["details"]
    assert kvno["kdc_kvno"] == kvno["keytab_kvno"] \
        == ck.realm.kvno_of("HTTP/localhost")
    assert one(doc, "online.client")["details"]["client"] \
        == "HTTP/localhost@" + REALM
    assert abs(one(doc, "online.clock")["details"]["offset"]) <= 2
    replay = one(doc, "online.replay")
    assert replay["details"]["cause"] == "replay"
    assert len(replay["details"]["replay_key"]) == 64
    # The default channel_binding: optional binds with an RSA certificate.
    assert "bound to the TLS certificate" in one(doc, "online.spnego")[
        "message"]


def test_online_login_takes_the_module_path(ck, good_keytab):
    """check --online logs in through core/login.c as the module does:
    the fast path first (what most logins take), the replay refused by
    the module's replay key, not by MIT's replay cache (which is off, as
    in the module, unless replay_cache is krb5:)."""
    rc, doc, _ = ck.run(ck.site(good_keytab), "--online", "--only",
                        "online")
    spnego = one(doc, "online.spnego")
    assert spnego["severity"] == "ok"
    assert spnego["details"]["path"] == "fast"
    assert "accepted by the fast path" in spnego["message"]
    replay = one(doc, "online.replay")
    assert replay["severity"] == "ok"
    assert replay["details"]["cause"] == "replay"
    assert "the module's replay cache key found it" in replay["message"]
    assert rc == 0
    # MIT's replay cache as the replay cache: GSS-API alone, and MIT
    # refuses the replay.
    rc, doc, _ = ck.run(ck.site(good_keytab, kerberos={
        "replay_cache": "krb5:file2:%s" % ck.path(ck.unique("rc"))}),
        "--online", "--only", "online")
    spnego = one(doc, "online.spnego")
    assert spnego["details"]["path"] == "gss-api"
    assert "accepted by GSS-API" in spnego["message"]
    replay = one(doc, "online.replay")
    assert replay["severity"] == "ok"
    assert replay["details"]["cause"] == "replay"
    assert "replay cache key" not in replay["message"]
    assert rc == 0


def test_healthy_site_with_a_user_ticket(ck, good_keytab, alice_ccache):
    site = ck.site(good_keytab)
    rc, doc, _ = ck.run(site, "--online", "--ccache", alice_ccache)
    assert problems(doc) == []
    assert rc == 0
    assert one(doc, "online.client")["details"]["client"] \
        == "alice@" + REALM
    assert "as alice@%s" % REALM in one(doc, "online.spnego")["message"]


def test_unusable_ticket_cache_falls_back_to_the_service_key(ck,
                                                             good_keytab):
    missing = "FILE:" + ck.path("no-such-ccache")
    rc, doc, _ = ck.run(ck.site(good_keytab), "--online", "--only",
                        "online", env={"KRB5CCNAME": missing})
    rec = one(doc, "online.client")
    assert rec["severity"] == "warning"
    assert rec["details"]["client"] == "HTTP/localhost@" + REALM
    assert rec["details"]["ccache_note"].startswith(missing + ": ")
    assert one(doc, "online.spnego")["severity"] == "ok"
    assert rc == 0


def test_text_report_is_built_from_the_same_records(ck, good_keytab):
    site = ck.site(good_keytab, aliases=["ck-text.test.n8443"])
    # Not cert.expiry: its "N days" may tick between the two runs.
    only = ["--only", "krb5,keytab,cert.file,cert.key,cert.san,cert.chain,"
            "cert.channel-binding,dns"]
    _, doc, _ = ck.run(site, *only)
    res = ck.text(site, *only)
    lines = res.stdout.splitlines()
    assert res.returncode == 1
    assert len(lines) == len(doc["checks"]) + sum(
        len(c["details"]) - 1 for c in doc["checks"]
        if c["severity"] != "ok") + 1
    heads = [l for l in lines if not l.startswith(" ")][:-1]
    for c, line in zip(doc["checks"], heads):
        assert line == "%-8s%-23s [ck] %s" % (c["severity"], c["id"],
                                              c["message"])
    summary = doc["summary"]
    assert lines[-1] == "%d ok, %d warning%s, %d error%s" % (
        summary["ok"], summary["warning"],
        "" if summary["warning"] == 1 else "s", summary["error"],
        "" if summary["error"] == 1 else "s")


def test_without_a_site_file(ck, good_keytab):
    rc, doc, _ = ck.run("--keytab", good_keytab, "--host", "localhost",
                        "--cert", ck.cert, "--key", ck.key, "--online")
    assert problems(doc) == []
    assert rc == 0
    ids = {c["id"] for c in doc["checks"]}
    # The module's directives are unknown without a site file.
    assert "krb5.replay-cache" not in ids
    assert "krb5.service-principal" not in ids
    assert "cert.channel-binding" in ids and "online.spnego" in ids
    assert one(doc, "krb5.realm")["details"]["realm"] == REALM
    assert one(doc, "keytab.file")["details"]["keytab"] == good_keytab


def test_every_site_of_the_file_is_checked(ck, good_keytab):
    path = ck.path("two-sites.yaml")
    with open(path, "w") as f:
        f.write("version: 1\n"
                "defaults:\n"
                "  tls: {certificate: %s, key: %s}\n"
                "  kerberos: {realm: %s, keytab: %s}\n"
                "sites:\n"
                "  - name: one\n"
                "    server_name: localhost\n"
                "  - name: two\n"
                "    server_name: ck-two.test.n8443\n"
                "    listen: 9443\n" % (ck.cert, ck.key, REALM,
                                         good_keytab))
    rc, doc, _ = ck.run(path, "--only", "keytab.spn")
    assert one(doc, "keytab.spn", site="one")["severity"] == "ok"
    rec = one(doc, "keytab.spn", site="two")
    assert rec["severity"] == "error"
    assert rec["details"]["name"] == "ck-two.test.n8443"
    assert rc == 1


# ------------------------------------------------------ keys and names

def test_missing_spn(ck):
    kt = ck.keytab(["HTTP/other.test.n8443"])
    rc, doc, _ = ck.run(ck.site(kt))
    rec = one(doc, "keytab.spn", name="localhost")
    assert rec["severity"] == "error"
    assert rec["details"]["principal"] == "HTTP/localhost@" + REALM
    assert "no key for HTTP/localhost@TEST.N8443" in rec["message"]
    assert rc == 1


def test_alias_without_spn(ck, good_keytab):
    alias = "ck-alias.test.n8443"
    rc, doc, _ = ck.run(ck.site(good_keytab, aliases=[alias]))
    assert one(doc, "keytab.spn", name="localhost")["severity"] == "ok"
    rec = one(doc, "keytab.spn", name=alias)
    assert rec["severity"] == "error"
    assert "HTTP/%s@%s" % (alias, REALM) in rec["message"]
    assert rc == 1


def test_spn_with_a_port(ck):
    principal = ck.service("localhost:8443")
    kt = ck.keytab([principal])
    rc, doc, _ = ck.run(ck.site(kt))
    rec = one(doc, "keytab.spn-port")
    assert rec["severity"] == "error"
    assert rec["details"]["principal"] == "HTTP/localhost:8443@" + REALM
    assert "browsers ask for HTTP/localhost@TEST.N8443" in rec["message"]
    assert one(doc, "keytab.spn", name="localhost")["severity"] == "error"
    assert rc == 1


def test_spn_with_a_port_beside_the_right_one_is_a_warning(ck):
    ck.service("localhost:8443")
    kt = ck.keytab(["HTTP/localhost", "HTTP/localhost:8443"])
    site = ck.site(kt)
    rc, doc, _ = ck.run(site)
    assert problems(doc) == [("keytab.spn-port", "warning",
                              one(doc, "keytab.spn-port")["message"])]
    assert rc == 0
    rc, doc, _ = ck.run(site, "--strict")
    assert one(doc, "keytab.spn-port")["severity"] == "warning"
    assert rc == 1


def test_lower_case_realm(ck, good_keytab):
    site = ck.site(good_keytab, kerberos={"realm": REALM.lower()})
    rc, doc, _ = ck.run(site)
    rec = one(doc, "krb5.realm")
    assert rec["severity"] == "error"
    assert rec["details"]["realm"] == "test.n8443"
    assert "Write the realm as TEST.N8443" in rec["message"]
    assert rec["details"]["where"] == site + ":9:14"
    assert rc == 1


def test_stale_kvno_after_a_key_change_on_the_kdc(ck, alice_ccache):
    host = "ck-stale.test.n8443"
    principal = ck.service(host)
    kt = ck.keytab([principal])
    old = ck.realm.kvno_of(principal)
    ck.realm.kadmin("cpw -randkey " + principal)
    site = ck.site(kt, server=host)

    rc, doc, _ = ck.run(site, "--online", "--ccache", alice_ccache)
    rec = one(doc, "online.kvno")
    assert rec["severity"] == "error"
    assert rec["details"]["kdc_kvno"] == old + 1
    assert rec["details"]["keytab_kvno"] == old
    assert rec["message"].startswith("stale keytab: ")
    dec = one(doc, "online.decrypt")
    assert dec["severity"] == "error" and "stale keytab" in dec["message"]
    assert one(doc, "online.spnego")["details"]["cause"] == \
        "wrong_principal"
    assert rc == 1

    # With no user ticket the service key itself is refused by the KDC.
    rc, doc, _ = ck.run(site, "--online", "--only", "online")
    rec = one(doc, "online.client")
    assert rec["severity"] == "error"
    assert "the keytab is stale" in rec["message"]
    assert rec["details"]["keytab_kvno"] == old
    assert rc == 1


def test_keytab_from_another_key_same_kvno(ck, alice_ccache):
    host = "ck-wrongkey.test.n8443"
    principal = ck.service(host)
    kt = ck.keytab([principal])
    kvno = ck.realm.kvno_of(principal)
    # Deleted and created again: a new key with the same kvno.
    ck.realm.kadmin("delprinc -force " + principal)
    ck.service(host)
    assert ck.realm.kvno_of(principal) == kvno
    rc, doc, _ = ck.run(ck.site(kt, server=host), "--online", "--ccache",
                        alice_ccache)
    assert one(doc, "online.kvno")["severity"] == "ok"
    rec = one(doc, "online.decrypt")
    assert rec["severity"] == "error"
    assert rec["message"].startswith("wrong key: ")
    assert rec["details"]["kvno"] == kvno
    assert rc == 1


def test_rc4_only_keytab(ck):
    kt = ck.ktutil_keytab("HTTP/localhost@" + REALM, "rc4-hmac")
    rc, doc, _ = ck.run(ck.site(kt))
    rec = one(doc, "keytab.enctypes")
    assert rec["severity"] == "error"
    assert rec["details"]["enctypes"] == "arcfour-hmac"
    assert "has only arcfour-hmac keys" in rec["message"]
    assert rc == 1


def test_world_readable_keytab(ck):
    kt = ck.keytab(["HTTP/localhost"], mode=0o644)
    rc, doc, _ = ck.run(ck.site(kt))
    rec = one(doc, "keytab.permissions")
    assert rec["severity"] == "error"
    assert rec["details"]["mode"] == "0644"
    assert "readable by every user" in rec["message"]
    assert rc == 1


@pytest.mark.skipif(not ROOT, reason="needs root to give the keytab to "
                    "another owner and to try it as the httpd user")
def test_keytab_unreadable_by_the_httpd_user(ck):
    kt = ck.keytab(["HTTP/localhost"], owner_httpd=False)   # root, 0600
    rc, doc, _ = ck.run(ck.site(kt))
    rec = one(doc, "keytab.httpd-user")
    assert rec["severity"] == "error"
    assert rec["details"]["user"] == HTTPD_USER
    assert rec["details"]["method"] == "tried as that user"
    assert "cannot read %s" % kt in rec["message"]
    assert one(doc, "keytab.permissions")["severity"] == "ok"
    assert rc == 1


def test_missing_keytab_cannot_be_read(ck):
    missing = ck.path("no-such.keytab")
    rc, doc, _ = ck.run(ck.site(missing))
    rec = one(doc, "keytab.file")
    assert rec["severity"] == "error"
    assert "No such file or directory" in rec["message"]
    assert "keytab.spn" not in {c["id"] for c in doc["checks"]}
    assert rc == 4


def test_service_principal_that_leaves_out_an_alias(ck):
    alias = "ck-sp.test.n8443"
    kt = ck.keytab(["HTTP/localhost"])
    rc, doc, _ = ck.run(ck.site(kt, aliases=[alias], kerberos={
        "service_principal": "HTTP/localhost@" + REALM}), "--only",
        "krb5")
    rec = one(doc, "krb5.service-principal")
    assert rec["severity"] == "error"
    assert rec["details"]["refused"] == alias
    assert rc == 1


# --------------------------------------------------------- certificates

def test_certificate_not_matching_the_key(ck, good_keytab):
    _, other_key = ck.issue("otherkey", ["localhost"])
    rc, doc, _ = ck.run(ck.site(good_keytab, key=other_key))
    rec = one(doc, "cert.key")
    assert rec["severity"] == "error"
    assert "does not belong to the certificate" in rec["message"]
    assert rc == 1


def test_key_of_the_second_certificate_in_the_file(ck, good_keytab):
    both = ck.path("ca-first.pem")
    with open(both, "w") as f:
        f.write(open(ck.certs.ca).read() + open(ck.cert).read())
    rc, doc, _ = ck.run(ck.site(good_keytab, cert=both))
    assert "certificate #2" in one(doc, "cert.key")["message"]
    chain = one(doc, "cert.chain")
    assert chain["severity"] == "error" and chain["details"]["position"] == 2
    assert rc == 1


def test_chain_in_order(ck, good_keytab):
    rc, doc, _ = ck.run(ck.site(good_keytab, chain=ck.certs.ca))
    assert one(doc, "cert.chain")["message"] == \
        "the chain of 2 certificates is in order"
    assert rc == 0


def test_name_missing_from_the_san(ck, good_keytab):
    crt, key = ck.issue("othername", ["ck-other.test.n8443"])
    rc, doc, _ = ck.run(ck.site(good_keytab, cert=crt, key=key))
    rec = one(doc, "cert.san", name="localhost")
    assert rec["severity"] == "error"
    assert rec["details"]["san"] == "ck-other.test.n8443"
    assert rc == 1


def test_expired_certificate(ck, good_keytab):
    crt, key = ck.issue("expired", ["localhost"], days=2, shift="-40d")
    rc, doc, _ = ck.run(ck.site(good_keytab, cert=crt, key=key))
    rec = one(doc, "cert.expiry")
    assert rec["severity"] == "error"
    assert "expired on" in rec["message"]
    assert rc == 1


def test_soon_expiring_certificate(ck, good_keytab):
    crt, key = ck.issue("soon", ["localhost"], days=10)
    site = ck.site(good_keytab, cert=crt, key=key)
    rc, doc, _ = ck.run(site)
    rec = one(doc, "cert.expiry")
    assert rec["severity"] == "warning"
    assert rec["details"]["days_left"] in (9, 10)
    assert problems(doc) == [("cert.expiry", "warning", rec["message"])]
    assert rc == 0
    rc, doc, _ = ck.run(site, "--strict")
    assert doc["summary"]["strict"] is True
    assert rc == 1


def test_ed25519_certificate_with_channel_binding_require(ck, good_keytab):
    crt, key = ck.issue("ed25519", ["localhost"], keyalg="ed25519",
                        self_signed=True)
    site = ck.site(good_keytab, cert=crt, key=key,
                   kerberos={"channel_binding": "require"})
    rc, doc, _ = ck.run(site, "--online")
    rec = one(doc, "cert.channel-binding")
    assert rec["severity"] == "error"
    assert "Ed25519" in rec["message"]
    # The round trip shows the consequence: the login is not bound.
    spnego = one(doc, "online.spnego")
    assert spnego["severity"] == "error"
    assert "not bound" in spnego["message"]
    assert rc == 1

    # optional: logins work but never bind - a warning.
    rc, doc, _ = ck.run(ck.site(good_keytab, cert=crt, key=key))
    assert one(doc, "cert.channel-binding")["severity"] == "warning"
    assert rc == 0


def test_channel_binding_require_with_rsa_binds(ck, good_keytab):
    site = ck.site(good_keytab, kerberos={"channel_binding": "require"})
    rc, doc, _ = ck.run(site, "--online", "--only", "cert,online.spnego")
    assert problems(doc) == []
    assert "bound to the TLS certificate" in one(doc, "online.spnego")[
        "message"]
    assert rc == 0


# ------------------------------------------------------- clock, replay

@pytest.mark.skipif(shutil.which("faketime") is None,
                    reason="needs faketime")
def test_server_clock_ten_minutes_off_the_kdc(ck, good_keytab):
    site = ck.site(good_keytab)
    rc, doc, _ = ck.run(site, "--online", prefix=harness.faketime("+10m"))
    rec = one(doc, "online.clock")
    assert rec["severity"] == "error"
    assert 598 <= rec["details"]["offset"] <= 602
    assert rec["details"]["clock_skew"] == 300
    # A client with the KDC's time is refused, as real browsers would be.
    assert one(doc, "online.spnego")["details"]["cause"] == "skew"
    assert rc == 1

    # Past half the skew: a warning.
    rc, doc, _ = ck.run(site, "--online", "--only", "online.clock",
                        prefix=harness.faketime("+3m"))
    assert one(doc, "online.clock")["severity"] == "warning"
    assert rc == 0


def test_replay_cache_none(ck, good_keytab):
    site = ck.site(good_keytab, kerberos={"replay_cache": "none"})
    rc, doc, _ = ck.run(site, "--online")
    rec = one(doc, "krb5.replay-cache")
    assert rec["severity"] == "warning"
    assert "replay_cache none" in rec["message"]
    # With the module's settings the replayed token gets in.
    replay = one(doc, "online.replay")
    assert replay["severity"] == "warning"
    assert "was accepted" in replay["message"]
    assert rc == 0
    rc, doc, _ = ck.run(site, "--strict")
    assert rc == 1


def _table_check(ck, keytab, table, *args, **kerberos):
    """n8443ctl check of a site whose replay_cache_file is table: (exit,
    the krb5.replay-cache-file record)."""
    kerberos["replay_cache_file"] = table
    site = ck.site(keytab, kerberos=kerberos)
    rc, doc, _ = ck.run(site, "--only", *(args or ("krb5.replay-cache-file",)))
    return rc, one(doc, "krb5.replay-cache-file")


def _table_dir(ck, mode, owner=None):
    """A directory for the shm table's file under the module's root-only
    test directory; OWNER (a user name) gets it, as RHEL's /var/lib/httpd
    is apache's."""
    d = ck.path(ck.unique("rcdir"))
    os.mkdir(d)
    os.chmod(d, mode)
    if owner is not None:
        pw = pwd.getpwnam(owner)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return d


@pytest.mark.skipif(not ROOT, reason="httpd's parent applies the rule only "
                    "when it starts as root; the directories must be root's")
def test_replay_cache_file_in_a_directory_httpd_user_may_write(ck,
                                                               good_keytab):
    """krb5.replay-cache-file: the shm table's file in a directory the
    httpd user may write in (N8443480: httpd refuses to start, as a child
    could swap the table for an older copy) is an error, by the module's
    own rule; in a root-only directory it is ok, with the path."""
    world = _table_dir(ck, 0o777)
    rc, rec = _table_check(ck, good_keytab, world + "/table", "krb5")
    assert rec["severity"] == "error", rec
    assert rec["details"]["directory"] == world
    assert rec["details"]["reason"] == "writable by everybody (mode 0777)"
    assert rec["details"]["file"] == world + "/table"
    assert rec["details"]["user"] == HTTPD_USER
    assert "N8443480" in rec["message"]
    assert rec["details"]["where"].endswith(":11:26")
    assert rc == 1

    # Above the file's own directory, and owned by the httpd user (RHEL's
    # /var/lib/httpd): an error naming that directory.
    users = _table_dir(ck, 0o700, owner=HTTPD_USER)
    inner = os.path.join(users, "inner")
    os.mkdir(inner, 0o755)
    rc, rec = _table_check(ck, good_keytab, inner + "/table")
    assert rec["severity"] == "error", rec
    assert rec["details"]["directory"] == users
    assert rec["details"]["reason"] == "owned by httpd's User (uid %d)" % (
        pwd.getpwnam(HTTPD_USER).pw_uid)
    assert rc == 1

    safe = _table_dir(ck, 0o755)
    rc, rec = _table_check(ck, good_keytab, safe + "/table",
                           "krb5.replay-cache-file", "--strict")
    assert rec["severity"] == "ok", rec
    assert rec["message"].startswith(safe + "/table: ")
    assert rec["details"]["file"] == safe + "/table"
    assert rc == 0


def _sticky_dirs(ck):
    top = _table_dir(ck, 0o1777)
    os.mkdir(os.path.join(top, "own"), 0o755)
    return top


def _link_via_user_dir(ck):
    """A link that leads to a root-only directory, in a directory of the
    httpd user (who may point it elsewhere)."""
    udir = _table_dir(ck, 0o755, owner=HTTPD_USER)
    os.symlink(_table_dir(ck, 0o755), os.path.join(udir, "link"))
    return os.path.join(udir, "link")


TABLE_DIRS = {
    "root-only": lambda ck: _table_dir(ck, 0o755),
    "world-writable": lambda ck: _table_dir(ck, 0o777),
    "group-writable": lambda ck: _group_dir(ck),
    "sticky-above": lambda ck: os.path.join(_sticky_dirs(ck), "own"),
    "sticky-own": lambda ck: _table_dir(ck, 0o1777),
    "link-in-user-dir": _link_via_user_dir,
    # Not the shm store: the module maps the table all the same.
    "world-writable-store-none": lambda ck: _table_dir(ck, 0o777),
}


def _group_dir(ck):
    d = _table_dir(ck, 0o775)
    os.chown(d, 0, pwd.getpwnam(HTTPD_USER).pw_gid)
    return d


@pytest.mark.skipif(not ROOT, reason="httpd's parent applies the rule only "
                    "when it starts as root; the directories must be root's")
@pytest.mark.parametrize("how", sorted(TABLE_DIRS))
def test_replay_cache_file_verdict_is_httpd_s(ck, good_keytab, how,
                                              base_dir, module_path, realm,
                                              certs, keytab):
    """check says error exactly where httpd refuses to start (N8443480),
    naming the same directory, and ok where it starts."""
    table = os.path.join(TABLE_DIRS[how](ck), "table")
    none = how.endswith("-store-none")
    krb = {"replay_cache_file": table}
    if none:
        krb["replay_cache"] = "none"
    rc, doc, _ = ck.run(ck.site(good_keytab, kerberos=krb),
                        "--only", "krb5.replay-cache-file")
    rec = one(doc, "krb5.replay-cache-file")
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        "  <Location /protected>\n    AuthType Negotiate\n"
                        "    Require valid-user\n  </Location>\n",
                        name="httpd-ck-" + ck.unique(how),
                        extra_global="NegotiateReplayCacheFile %s\n%s"
                        % (table, "NegotiateReplayCache none" if none
                           else ""))
    if rec["severity"] == "ok":
        try:
            srv.start()
        finally:
            srv.stop()
        assert rc == 0
        assert how in ("root-only", "sticky-above")
        return
    assert rec["severity"] == "error", rec
    assert srv.start(expect_fail=True) != 0
    out = srv.output()
    assert "N8443480: the replay cache file %s (NegotiateReplayCacheFile) " \
        "is in %s, and %s is %s:" % (
            table, os.path.dirname(table), rec["details"]["directory"],
            rec["details"]["reason"]) in out, out[-2000:]
    assert rc == 1


def test_replay_cache_file_directory_missing_whatever_the_store(
        ck, good_keytab):
    """A directory that does not exist stops httpd too (N8443301: the file
    cannot be created), whatever the replay cache: the module maps the
    table (its counters, its quota) for every store."""
    missing = ck.path(ck.unique("no-such-dir"))
    rc, rec = _table_check(ck, good_keytab, missing + "/table")
    assert rec["severity"] == "error"
    assert "N8443301" in rec["message"] and missing in rec["message"]
    assert rc == 1
    for store in ("none", "memcache://127.0.0.1:11211"):
        rc, rec = _table_check(ck, good_keytab, missing + "/table",
                               replay_cache=store)
        assert rec["severity"] == "error", (store, rec)
        assert "N8443301" in rec["message"]
        assert rc == 1


def test_header_limit_of_the_installed_file(ck, good_keytab):
    """http.field-size: an installed file without a LimitRequestFieldSize
    that fits NegotiateMaxTokenSize leaves httpd's 8190, which turns large
    tokens into a bare 400; what render writes fits."""
    site = ck.site(good_keytab)
    target = ck.path(ck.unique("installed") + ".conf")
    # Not installed yet: says what render writes.
    rc, doc, _ = ck.run(site, "--only", "http", "--target", target)
    rec = one(doc, "http.field-size")
    assert rec["severity"] == "ok" and "not installed yet" in rec["message"]
    assert rec["details"]["needed"] == 88064
    # Rendered by an n8443ctl before issue 17: no limit at all.
    with open(target, "w") as f:
        f.write("<VirtualHost *:8443>\n    ServerName localhost\n"
                "</VirtualHost>\n")
    rc, doc, _ = ck.run(site, "--only", "http", "--target", target,
                        "--strict")
    rec = one(doc, "http.field-size")
    assert rec["severity"] == "warning", rec
    assert rec["details"]["limit"] == 8190
    assert "bare 400" in rec["message"] and "n8443ctl install" in \
        rec["message"]
    assert rc == 1
    # A hand-set limit that is too small.
    with open(target, "w") as f:
        f.write("    # LimitRequestFieldSize 999999\n"
                "    LimitRequestFieldSize 16384\n")
    rc, doc, _ = ck.run(site, "--only", "http", "--target", target)
    rec = one(doc, "http.field-size")
    assert rec["severity"] == "warning"
    assert rec["details"]["limit"] == 16384
    # What render writes passes.
    subprocess.run([tool(), "render", site, "-o", target], check=True)
    rc, doc, _ = ck.run(site, "--only", "http", "--target", target,
                        "--strict")
    rec = one(doc, "http.field-size")
    assert rec["severity"] == "ok", rec
    assert rec["details"]["limit"] == 88064
    assert rc == 0


def test_small_max_token_size(ck, good_keytab):
    site = ck.site(good_keytab, kerberos={"max_token_size": 16000})
    rc, doc, _ = ck.run(site, "--only", "http")
    rec = one(doc, "http.token-size")
    assert rec["severity"] == "warning"
    assert "below the 48000 bytes Microsoft documents" in rec["message"]
    assert one(doc, "http.field-size")["details"]["needed"] == 22528
    rc, doc, _ = ck.run(site, "--only", "http", "--strict")
    assert rc == 1


def test_target_needs_a_site_file(ck, good_keytab):
    res = subprocess.run([tool(), "check", "--keytab", good_keytab,
                          "--host", "localhost", "--target", "/x.conf"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "--target names the installed file" in res.stderr


def test_clock_skew_not_an_integer_in_the_site_file(ck, good_keytab):
    site = ck.site(good_keytab, kerberos={"clock_skew": "5m"})
    rc, doc, err = ck.run(site)
    rec = one(doc, "site.invalid")
    assert rec["severity"] == "error"
    assert "'clock_skew' must be a number of seconds" in rec["message"]
    assert rec["details"]["line"] == 11
    assert err.startswith(site + ":11:")
    assert rc == 3
    text = ck.text(site)
    assert text.returncode == 3 and text.stdout == ""


def test_clock_skew_not_an_integer_in_krb5_conf(ck, good_keytab):
    conf = ck.path("krb5-skew.conf")
    ck.realm.write_krb5_conf(conf, extra_libdefaults=" clockskew = 5m")
    rc, doc, _ = ck.run(ck.site(good_keytab),
                        env={"KRB5_CONFIG": conf})
    rec = one(doc, "krb5.clock-skew")
    assert rec["severity"] == "error"
    assert rec["details"]["clockskew"] == "5m"
    assert rec["details"]["effective"] == 300
    assert rc == 1


# ------------------------------------------------- DNS, KDC, GSS-Proxy

def test_name_that_does_not_resolve(ck, good_keytab):
    alias = "ck-nodns.test.n8443"
    rc, doc, _ = ck.run(ck.site(good_keytab, aliases=[alias]), "--only",
                        "dns")
    assert one(doc, "dns.resolve", name="localhost")["severity"] == "ok"
    assert one(doc, "dns.canonical", name="localhost")["severity"] == "ok"
    assert one(doc, "dns.resolve", name=alias)["severity"] == "error"
    assert {c["id"] for c in doc["checks"]} == {"dns.resolve",
                                                "dns.canonical"}
    assert rc == 1


def private_hosts(ck, lines):
    """A command prefix that runs the tool with its own /etc/hosts (a
    bind mount in a private mount namespace), or skips the test."""
    hosts = ck.path(ck.unique("hosts"))
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n" + "".join(l + "\n" for l in lines))
    prefix = ["unshare", "-m", "sh", "-c",
              'mount --bind "$0" /etc/hosts && exec "$@"', hosts]
    probe = subprocess.run(prefix + ["true"], capture_output=True)
    if not ROOT or probe.returncode != 0:
        pytest.skip("needs root and unshare -m to give the tool its own "
                    "/etc/hosts")
    return prefix


def test_alias_whose_canonical_name_has_no_key(ck):
    canon, alias = "ck-canon.test.n8443", "ck-cname.test.n8443"
    prefix = private_hosts(ck, ["127.0.0.1 %s %s" % (canon, alias)])
    ck.service(alias)
    ck.service(canon)
    site = ck.site(ck.keytab(["HTTP/" + alias]), server=alias)
    rc, doc, _ = ck.run(site, "--only", "dns", prefix=prefix)
    assert one(doc, "dns.resolve", name=alias)["severity"] == "ok"
    rec = one(doc, "dns.canonical", name=alias)
    assert rec["severity"] == "error"
    assert rec["details"]["canonical"] == canon
    assert "ask for HTTP/%s@%s" % (canon, REALM) in rec["message"]
    assert rc == 1

    # With a key for the canonical name too, browsers get in.
    site = ck.site(ck.keytab(["HTTP/" + alias, "HTTP/" + canon]),
                   server=alias)
    rc, doc, _ = ck.run(site, "--only", "dns", prefix=prefix)
    assert one(doc, "dns.canonical", name=alias)["severity"] == "ok"
    assert rc == 0


def test_kdc_that_does_not_answer(ck, good_keytab):
    conf = ck.path("krb5-deadkdc.conf")
    with open(ck.realm.krb5_conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("127.0.0.1:%d" % ck.realm.port,
                             "127.0.0.1:%d" % harness.free_port()))
    rc, doc, _ = ck.run(ck.site(good_keytab), "--online", "--only",
                        "online", env={"KRB5_CONFIG": conf})
    rec = one(doc, "online.client")
    assert rec["severity"] == "error"
    assert rec["message"].startswith("no KDC of TEST.N8443 answered")
    assert rc == 4


def gssproxy_dirs(ck, stanza):
    conf_dir = ck.path(ck.unique("gssproxy"))
    mech_dir = ck.path(ck.unique("mech.d"))
    os.makedirs(conf_dir)
    os.makedirs(mech_dir)
    with open(os.path.join(mech_dir, "proxymech.conf"), "w") as f:
        f.write("gssproxy_v1 2.16.840.1.113730.3.8.15.1 "
                "/usr/lib/x86_64-linux-gnu/gssproxy/proxymech.so "
                "<interposer>\n")
    if stanza:
        with open(os.path.join(conf_dir, "80-httpd.conf"), "w") as f:
            f.write(stanza)
    return {"N8443CTL_GSSPROXY_DIR": conf_dir,
            "N8443CTL_GSS_MECH_DIR": mech_dir}


def test_gssproxy_without_a_stanza_for_httpd(ck):
    env = gssproxy_dirs(ck, None)
    site = ck.site(None, keytab_key=False, kerberos={"gssproxy": True})
    rc, doc, _ = ck.run(site, "--only", "krb5.gssproxy", env=env)
    rec = one(doc, "krb5.gssproxy")
    assert rec["severity"] == "error"
    assert "serves the httpd user %s" % HTTPD_USER in rec["message"]
    assert rc == 1


def test_gssproxy_stanza_names_the_keytab(ck):
    kt = ck.keytab(["HTTP/localhost"], owner_httpd=False, mode=0o400)
    env = gssproxy_dirs(ck, "[service/HTTP]\n  mechs = krb5\n"
                        "  cred_store = keytab:%s\n  cred_usage = accept\n"
                        "  euid = %s\n" % (kt, HTTPD_USER))
    site = ck.site(None, keytab_key=False, kerberos={"gssproxy": True})
    rc, doc, _ = ck.run(site, "--only", "krb5.gssproxy,keytab", env=env)
    assert one(doc, "krb5.gssproxy")["severity"] == "ok"
    assert one(doc, "keytab.file")["details"]["keytab"] == kt
    assert one(doc, "keytab.spn", name="localhost")["severity"] == "ok"
    # Only gssproxy (root) may read the keys.
    user = one(doc, "keytab.httpd-user")
    assert user["severity"] == ("ok" if ROOT else "warning")
    assert rc == 0


# ------------------------------------------------------- command line

def test_only_reports_just_those_checks(ck, good_keytab):
    rc, doc, _ = ck.run(ck.site(good_keytab), "--only",
                        "keytab.spn,cert.*")
    ids = {c["id"] for c in doc["checks"]}
    assert ids == {"keytab.spn", "cert.file", "cert.key", "cert.san",
                   "cert.expiry", "cert.chain", "cert.channel-binding"}
    assert rc == 0


@pytest.mark.parametrize("args,message", [
    (["--only", "keytab.spm"], "n8443ctl: check: --only: unknown check "
     "'keytab.spm' (did you mean 'keytab.spn'?)\n"),
    (["--only", "online.kvno"], "n8443ctl: check: --only online.kvno "
     "selects online checks: add --online\n"),
    (["--format", "xml"], "n8443ctl: check: --format must be text or "
     "json, got 'xml'\n"),
    (["--keytab", "/k"], "n8443ctl: check: --keytab, --host, --alias, "
     "--cert, --key, --chain and --realm describe a site without a site "
     "file: give them or SITE.yaml, not both\n"),
    (["--online", "--online"], "n8443ctl: check: --online is given "
     "twice\n"),
    (["--httpd-user", "no-such-user-n8443"], "n8443ctl: check: "
     "--httpd-user: no user 'no-such-user-n8443'\n"),
])
def test_usage_errors(ck, good_keytab, args, message):
    site = ck.site(good_keytab)
    res = subprocess.run([tool(), "check", site] + args,
                         env=ck.realm.env, capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.startswith(message)


@pytest.mark.parametrize("args,message", [
    ([], "n8443ctl: check: missing SITE.yaml (or --keytab FILE --host "
     "NAME)\n"),
    (["--keytab", "/k", "--host", "a:8443"], "n8443ctl: check: --host "
     "'a:8443' must be a host name (no port, no service, no realm)\n"),
    (["--keytab", "/k", "--host", "a", "--cert", "/c"], "n8443ctl: check: "
     "--cert and --key go together\n"),
])
def test_usage_errors_without_a_site_file(ck, args, message):
    res = subprocess.run([tool(), "check"] + args, env=ck.realm.env,
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.startswith(message)
