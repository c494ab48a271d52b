"""n8443ctl against Active Directory (Samba's AD DC, ad_realm.py, with its
LDAP server started for this module): `groups resolve` writes the group
map from the directory, bound with the admin's Kerberos ticket; `check
--online --ldap-uri` finds what AD gets wrong for a service account --
a duplicate SPN, a kvno the keytab lags behind, enctypes that do not
match, an RC4-only or a disabled account -- each by its id, with the
command that fixes it.

Every test makes its own service account (svc-ck-N), so the broken
states stay away from svc-web and the other tests' accounts.
"""

import json
import os
import stat
import subprocess

import pytest

import harness
from conftest import build_dir

REALM = "AD.N8443.TEST"
BASE = "DC=ad,DC=n8443,DC=test"

# Samba's Python (ad_realm.SAMBA_PY) sets one attribute of an account.
SET_ATTR = r"""
import os, sys
import ldb, samba.param
from samba.auth import system_session
from samba.samdb import SamDB
d, account, attr, value = sys.argv[1:5]
lp = samba.param.LoadParm()
lp.load(os.path.join(d, "smb.conf"))
db = SamDB(url=os.path.join(d, "private", "sam.ldb"),
           session_info=system_session(), lp=lp)
dn = db.search(expression="(sAMAccountName=%s)" % account, attrs=[])[0].dn
m = ldb.Message(dn)
m[attr] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, attr)
db.modify(m)
"""

# A second account for an SPN, as replication between two DCs that each
# accepted it leaves it: Samba's samldb (like Windows 2012 R2 and later)
# refuses a duplicate through LDAP and samba-tool, so the value goes into
# the domain partition below the module stack.  The KDC then answers
# "Server not found" for the SPN, as AD does.
ADD_SPN_RAW = r"""
import glob, os, sys
import ldb
d, account, spn = sys.argv[1:4]
for f in glob.glob(os.path.join(d, "private", "sam.ldb.d", "DC=*.ldb")):
    db = ldb.Ldb(url=f, options=["modules:"])
    res = db.search(expression="(sAMAccountName=%s)" % account, attrs=[])
    if len(res) == 1:
        m = ldb.Message(res[0].dn)
        m["servicePrincipalName"] = ldb.MessageElement(
            spn, ldb.FLAG_MOD_ADD, "servicePrincipalName")
        db.modify(m)
        break
else:
    sys.exit("no account " + account)
"""


def tool():
    path = os.path.join(build_dir(), "n8443ctl")
    if not os.access(path, os.X_OK):
        pytest.fail("n8443ctl not built: %s (run make first)" % path)
    return path


def has_ldap():
    res = subprocess.run([tool(), "groups", "resolve", "x"],
                         capture_output=True, text=True,
                         env={"PATH": os.environ.get("PATH", "")})
    return "built without LDAP" not in res.stderr


@pytest.fixture(scope="module")
def ad(ad_realm):
    if not has_ldap():
        pytest.skip("n8443ctl built without LDAP (configure --with-ldap)")
    ad_realm.ldap_uri_for_tests = ad_realm.start_ldap()
    yield ad_realm
    ad_realm.stop_ldap()


@pytest.fixture(scope="module")
def admin_env(ad):
    """The admin's ticket, as `kinit Administrator` leaves it."""
    import ad_realm
    env = dict(ad.env)
    env["KRB5CCNAME"] = "FILE:" + os.path.join(ad.dir, "cc_n8443ctl_admin")
    harness.run(["kinit", "Administrator"], env=env,
                input=ad_realm.ADMIN_PW + "\n")
    return env


def run(env, *args):
    res = subprocess.run([tool()] + list(args), env=env,
                         capture_output=True, text=True, timeout=120)
    return res.returncode, res.stdout, res.stderr


# ---------------------------------------------------------- groups resolve

def read_map(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("# NegotiateGroupMap: written by n8443ctl")
    return [tuple(line.split(" ")) for line in lines[1:]]


def test_groups_resolve_named(ad, admin_env, tmp_path):
    out = str(tmp_path / "groups.map")
    with open(out, "w") as f:
        f.write("old contents\n")
    os.chmod(out, 0o600)
    rc, stdout, err = run(admin_env, "groups", "resolve", "web-users",
                          "web-admins", "ops", "-o", out,
                          "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 0, err
    assert stdout == ""
    assert read_map(out) == [(g, ad.sid_of(g)) for g in
                             ("ops", "web-admins", "web-users")]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    # Atomic: the file was replaced, nothing else left in the directory.
    assert sorted(os.listdir(tmp_path)) == ["groups.map"]


def test_groups_resolve_stdout_and_environment(ad, admin_env):
    env = dict(admin_env, N8443CTL_LDAP_URI=ad.ldap_uri_for_tests)
    rc, stdout, err = run(env, "groups", "resolve", "web-users")
    assert rc == 0, err
    assert stdout.splitlines()[1] == "web-users " + ad.sid_of("web-users")


def test_groups_resolve_base_pages_past_1000(ad, admin_env, tmp_path):
    """Every group under CN=Users: carol's 1000 groups and the rest, more
    than AD answers in one page.  Built-in names with a space cannot be
    map names: left out, each named on stderr, never escaped."""
    import ad_realm
    out = str(tmp_path / "all.map")
    rc, _, err = run(admin_env, "groups", "resolve", "--base",
                     "CN=Users," + BASE, "-o", out,
                     "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 0, err
    entries = dict(read_map(out))
    assert len(entries) >= ad_realm.BIG_GROUPS + 3
    assert entries["bulk-999"] == ad.sid_of("bulk-999")
    assert entries["web-users"] == ad.sid_of("web-users")
    assert "Domain Users" not in entries and "Domain" not in entries
    assert ("group 'Domain Users' (%s-513) left out: it contains white "
            "space" % ad.domain_sid) in err
    names = [n for n, _ in read_map(out)]
    assert names == sorted(names)


@pytest.mark.parametrize("name,why", [
    ("Domain Users", "contains white space or a control character"),
    ("#x", "starts with '#'"),
    ("S-1-5-32-544", "reads as a SID")])
def test_groups_resolve_refuses_a_name_the_map_cannot_hold(
        ad, admin_env, tmp_path, name, why):
    out = str(tmp_path / "groups.map")
    rc, _, err = run(admin_env, "groups", "resolve", "web-users", name,
                     "-o", out, "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 1
    assert "'%s' cannot be a name in the map: it %s" % (name, why) in err
    assert "nothing written" in err
    assert not os.path.exists(out)


def test_groups_resolve_unknown_group(ad, admin_env, tmp_path):
    out = str(tmp_path / "groups.map")
    rc, _, err = run(admin_env, "groups", "resolve", "web-users",
                     "no-such-group", "-o", out,
                     "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 1
    assert "no group 'no-such-group' under %s" % BASE in err
    assert not os.path.exists(out)


def test_groups_resolve_without_a_ticket(ad, tmp_path):
    env = dict(ad.env, KRB5CCNAME="FILE:" + str(tmp_path / "none"))
    rc, _, err = run(env, "groups", "resolve", "web-users",
                     "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 4
    assert "no ticket for ldap/localhost" in err


def test_groups_resolve_unreachable(ad, admin_env):
    rc, _, err = run(admin_env, "groups", "resolve", "web-users",
                     "--ldap-uri", "ldap://127.0.0.1:1")
    assert rc == 4
    assert "cannot read the rootDSE" in err


@pytest.mark.parametrize("args,msg", [
    (["groups"], "missing sub-command (resolve)"),
    (["groups", "list"], "unknown sub-command 'list'"),
    (["groups", "resolve", "--ldap-uri", "ldap://x"],
     "name the groups, or give --base DN"),
    (["groups", "resolve", "g", "--online"], "--online does not apply"),
    (["groups", "resolve", "g"], "give --ldap-uri")])
def test_groups_usage(ad, args, msg):
    env = {"PATH": os.environ.get("PATH", "")}
    rc, _, err = run(env, *args)
    assert rc == 2
    assert msg in err


# ------------------------------------------------------ check --online AD

AD_IDS = {"online.ad-ldap", "online.ad-spn", "online.ad-kvno",
          "online.ad-enctypes", "online.ad-rc4", "online.ad-account"}
ONLY_AD = ",".join(sorted(AD_IDS))


class Account:
    """A service account of its own with one SPN and its keytab."""
    n = 0

    def __init__(self, ad, base_dir):
        Account.n += 1
        self.ad = ad
        self.name = "svc-ck-%d" % Account.n
        self.host = "ck%d.ad.n8443.test" % Account.n
        self.spn = "HTTP/" + self.host
        ad.tool(["user", "add", self.name, "Ck-pw-8443!" + os.urandom(6)
                 .hex()])
        self.set("msDS-SupportedEncryptionTypes", "24")
        ad.tool(["spn", "add", self.spn, self.name])
        self.keytab = os.path.join(base_dir, self.name + ".keytab")
        ad.export_keytab(self.keytab, self.spn)

    def set(self, attr, value):
        import ad_realm
        harness.run([ad_realm.SAMBA_PY, "-c", SET_ATTR, self.ad.dir,
                     self.name, attr, value])

    def check(self, env, *extra):
        rc, out, err = run(env, "check", "--keytab", self.keytab, "--host",
                           self.host, "--realm", REALM, "--online",
                           "--only", ONLY_AD, "--format", "json",
                           "--ldap-uri", self.ad.ldap_uri_for_tests,
                           "--ccache", env["KRB5CCNAME"], *extra)
        return rc, json.loads(out), err


def records(doc, cid):
    return [c for c in doc["checks"] if c["id"] == cid]


def one(doc, cid):
    found = records(doc, cid)
    assert len(found) == 1, (cid, doc)
    return found[0]




def test_check_ad_healthy_account(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    rc, doc, err = acc.check(admin_env, "--strict")
    assert rc == 0, (doc, err)
    assert {c["id"] for c in doc["checks"]} == AD_IDS
    assert all(c["severity"] == "ok" for c in doc["checks"]), doc
    assert one(doc, "online.ad-spn")["details"]["account"] == acc.name
    assert one(doc, "online.ad-kvno")["details"]["ad_kvno"] == \
        ad.kvno_of(acc.name)
    assert one(doc, "online.ad-ldap")["details"]["base"] == BASE


def test_check_ad_duplicate_spn(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    other = Account(ad, base_dir)
    import ad_realm
    assert ad.tool(["spn", "add", acc.spn, other.name],
                   check=False).returncode != 0
    harness.run([ad_realm.SAMBA_PY, "-c", ADD_SPN_RAW, ad.dir, other.name,
                 acc.spn])
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-spn")
    assert rec["severity"] == "error"
    assert "duplicate SPN: %s is on 2 accounts" % acc.spn in rec["message"]
    assert set(rec["details"]["accounts"].split(", ")) == {acc.name,
                                                           other.name}
    assert rec["details"]["fix"] == "setspn -D %s OTHER" % acc.spn
    assert "samba-tool spn delete %s OTHER" % acc.spn in rec["message"]


def test_check_ad_kvno_behind_after_password_reset(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    old = ad.kvno_of(acc.name)
    ad.tool(["user", "setpassword", acc.name, "--random-password"])
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-kvno")
    assert rec["severity"] == "error"
    assert rec["details"]["ad_kvno"] == old + 1
    assert rec["details"]["keytab_kvno"] == old
    assert rec["details"]["fix"] == \
        "samba-tool domain exportkeytab FILE --principal=%s" % acc.spn
    # The fix, done: a fresh export agrees again.
    ad.export_keytab(acc.keytab, acc.spn)
    rc, doc, _ = acc.check(admin_env)
    assert rc == 0 and one(doc, "online.ad-kvno")["severity"] == "ok"


def test_check_ad_rc4_only_account(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    acc.set("msDS-SupportedEncryptionTypes", "4")
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-rc4")
    assert rec["severity"] == "error"
    assert "allows rc4 only" in rec["message"]
    assert rec["details"]["fix"] == \
        "Set-ADUser %s -KerberosEncryptionType AES128,AES256" % acc.name


def test_check_ad_keytab_lacks_the_enctype_the_kdc_uses(ad, admin_env,
                                                        base_dir):
    acc = Account(ad, base_dir)
    copy = acc.keytab + ".all"
    os.rename(acc.keytab, copy)
    out = harness.run(["klist", "-k", "-e", copy], env=ad.env).stdout
    entries = [x for x in out.splitlines() if "@" in x]
    slots = [i + 1 for i, line in enumerate(entries)
             if "aes256-cts" in line]
    assert slots, out
    script = "rkt %s\n" % copy
    for s in reversed(slots):
        script += "delent %d\n" % s
    script += "wkt %s\nquit\n" % acc.keytab
    harness.run(["ktutil"], env=ad.env, input=script)
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-enctypes")
    assert rec["severity"] == "error"
    assert rec["details"]["ad_enctypes"] == "aes256,aes128"
    assert "aes256" not in rec["details"]["keytab_enctypes"]
    # The account narrowed to what the keytab has: a warning at most.
    acc.set("msDS-SupportedEncryptionTypes", "8")
    rc, doc, _ = acc.check(admin_env)
    assert one(doc, "online.ad-enctypes")["severity"] in ("ok", "warning")
    assert one(doc, "online.ad-rc4")["severity"] == "ok"


def test_check_ad_disabled_account(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    ad.tool(["user", "disable", acc.name])
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-account")
    assert rec["severity"] == "error"
    assert "account %s is disabled" % acc.name in rec["message"]
    assert rec["details"]["fix"] == "samba-tool user enable %s" % acc.name


def test_check_ad_expired_account(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    # accountExpires in the past (2001-09-09, in 100 ns since 1601).
    acc.set("accountExpires", str((1000000000 + 11644473600) * 10000000))
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-account")
    assert rec["severity"] == "error" and "expired" in rec["message"]
    assert rec["details"]["fix"] == \
        "samba-tool user setexpiry %s --noexpiry" % acc.name


def test_check_ad_spn_not_registered(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    ad.tool(["spn", "delete", acc.spn, acc.name])
    rc, doc, _ = acc.check(admin_env)
    assert rc == 1
    rec = one(doc, "online.ad-spn")
    assert rec["severity"] == "error"
    assert "no account in AD has the SPN %s" % acc.spn in rec["message"]


def test_check_ad_directory_unreachable(ad, admin_env, base_dir):
    acc = Account(ad, base_dir)
    rc, out, _ = run(admin_env, "check", "--keytab", acc.keytab, "--host",
                     acc.host, "--realm", REALM, "--online", "--only",
                     ONLY_AD, "--format", "json",
                     "--ldap-uri", "ldap://127.0.0.1:1",
                     "--ccache", admin_env["KRB5CCNAME"])
    assert rc == 4
    rec = one(json.loads(out), "online.ad-ldap")
    assert rec["severity"] == "error"
    assert "cannot read the rootDSE" in rec["message"]


def test_check_ad_from_the_site_file(ad, admin_env, base_dir):
    """kerberos.ad_ldap_uri says the KDC is AD: check --online runs the
    AD checks without --ldap-uri; --ldap-uri overrides it."""
    acc = Account(ad, base_dir)
    ad.tool(["user", "disable", acc.name])
    site = os.path.join(base_dir, acc.name + ".yaml")
    with open(site, "w") as f:
        f.write("""version: 1
sites:
  - name: %s
    server_name: %s
    tls:
      certificate: /etc/ssl/certs/unused.pem
      key: /etc/ssl/private/unused.key
    kerberos:
      realm: %s
      keytab: %s
      ad_ldap_uri: %s
""" % (acc.name, acc.host, REALM, acc.keytab, ad.ldap_uri_for_tests))
    args = ["check", site, "--online", "--only", ONLY_AD, "--format",
            "json", "--ccache", admin_env["KRB5CCNAME"]]
    rc, out, err = run(admin_env, *args)
    assert rc == 1, err
    doc = json.loads(out)
    assert one(doc, "online.ad-ldap")["severity"] == "ok"
    assert one(doc, "online.ad-account")["severity"] == "error"
    rc, out, _ = run(admin_env, *(args + ["--ldap-uri",
                                          "ldap://127.0.0.1:1"]))
    assert rc == 4
    assert "127.0.0.1:1" in one(json.loads(out), "online.ad-ldap")[
        "message"]
