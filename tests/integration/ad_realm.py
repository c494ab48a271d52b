"""A throwaway Active Directory domain (Samba's AD DC) for the tests that
need what an MIT KDC does not give: tickets with a PAC (the user's group
SIDs), SPNs on a service account, a token far over 8 KB.

Provisioned once per test run in the run's temporary directory with
`samba-tool domain provision --targetdir` (nothing under /etc/samba or
/var/lib/samba is read or written: every path is in the directory's own
smb.conf), populated in the same process through Samba's Python API, then
served by `samba -i -M single` with only its KDC, on 127.0.0.1 and two
free ports.  Clients reach it through their own krb5.conf that names the
KDC by address (no DNS).  close() stops it; the fixtures call it also when
a test fails.

Run as a script (by /usr/bin/python3, whose dist-packages hold Samba's
modules) it does the provisioning: python3 ad_realm.py provision DIR SETUP.

Needs the Debian packages samba, samba-ad-dc, samba-ad-provision (the
schema and LDIF templates under /usr/share/samba/setup; without it,
N8443_SAMBA_SETUP_DIR may name a copy of source4/setup of the same Samba
version).
"""

import os
import shutil
import subprocess
import sys
import time

AD_REALM = "AD.N8443.TEST"
AD_DOMAIN = "ADN8443"
ADMIN_PW = "Adm1n-Pw-8443!"
SERVICE = "svc-web"
SPNS = ("HTTP/localhost", "HTTP/alias.ad.n8443.test")
# A second account, for a wrong SPN and a key rotation that do not disturb
# svc-web.
OTHER_SERVICE = "svc-rotate"
OTHER_SPN = "HTTP/rotate.ad.n8443.test"
PASSWORDS = {"alice": "Alice-pw-8443!", "bob": "Bob-pw-8443!",
             "carol": "Carol-pw-8443!", "dave": "Dave-pw-8443!",
             "erin": "Erin-pw-8443!"}
# alice: plain member of web-users; bob: member of ops, which is a member
# of web-admins (nested); carol: member of BIG_GROUPS groups (her token
# is over 8 KB: each group RID is 8 bytes of the PAC); dave: only
# his primary group (Domain Users); erin: web-users is her primary group
# (primaryGroupID, not a member link), and she is in Domain Users; alice
# is also in the domain-local group web-local.
BIG_GROUPS = 1000
SAMBA_PY = "/usr/bin/python3"


def setup_dir():
    for d in ("/usr/share/samba/setup",
              os.environ.get("N8443_SAMBA_SETUP_DIR", "")):
        if d and os.path.exists(os.path.join(d, "ad-schema")):
            return d
    return None


def missing():
    """Why this machine cannot run an AD DC, or None."""
    for tool in ("samba", "samba-tool"):
        if shutil.which(tool) is None and not os.path.exists(
                "/usr/sbin/" + tool):
            return "%s not found: apt-get install samba samba-ad-dc " \
                   "samba-ad-provision" % tool
    if subprocess.run([SAMBA_PY, "-c", "import samba.samdb"],
                      capture_output=True).returncode != 0:
        return "Samba's Python modules are missing: apt-get install " \
               "python3-samba"
    if setup_dir() is None:
        return "Samba's provisioning templates (/usr/share/samba/setup) " \
               "are missing: apt-get install samba-ad-provision"
    return None


SMB_CONF = """[global]
 netbios name = DC1
 workgroup = {domain}
 realm = {realm}
 server role = active directory domain controller
 server services = kdc
 interfaces = 127.0.0.1
 bind interfaces only = yes
 krb5 port = {port}
 kpasswd port = {kpasswd_port}
 private dir = {dir}/private
 lock directory = {dir}/lock
 state directory = {dir}/state
 cache directory = {dir}/cache
 pid directory = {dir}/run
 ncalrpc dir = {dir}/run/ncalrpc
 binddns dir = {dir}/bind-dns
 winbindd socket directory = {dir}/run/winbindd
 log file = {dir}/log.%m
 panic action =
 kdc enable fast = yes
"""


class AdRealm:
    """Samba's AD DC, provisioned and populated, serving Kerberos."""

    def __init__(self, base):
        import harness
        self.harness = harness
        self.dir = os.path.join(base, "ad")
        os.makedirs(self.dir)
        self.realm = AD_REALM
        self.port = harness.free_port()
        self.kpasswd_port = harness.free_port()
        self.smb_conf = os.path.join(self.dir, "smb.conf")
        self.sam = os.path.join(self.dir, "private", "sam.ldb")
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.proc = None
        started = time.monotonic()
        res = subprocess.run([SAMBA_PY, os.path.abspath(__file__),
                              "provision", self.dir, setup_dir()],
                             capture_output=True, text=True)
        with open(os.path.join(self.dir, "provision.log"), "w") as f:
            f.write(res.stdout + res.stderr)
        if res.returncode != 0:
            raise RuntimeError("AD provisioning failed; see %s/provision."
                               "log:\n%s" % (self.dir, res.stderr[-3000:]))
        self.provision_seconds = time.monotonic() - started
        self.write_smb_conf()
        self.write_krb5_conf(self.krb5_conf)
        self.env = dict(os.environ)
        self.env.update({"KRB5_CONFIG": self.krb5_conf,
                         "KRB5_TRACE": "/dev/null"})
        for k in ("KRB5CCNAME", "KRB5_KTNAME", "KRB5_KDC_PROFILE"):
            self.env.pop(k, None)
        self.domain_sid = self.query("(objectClass=domain)", "objectSid")
        self.start()

    @staticmethod
    def base_dn():
        return ",".join("DC=" + p for p in AD_REALM.lower().split("."))

    def write_smb_conf(self):
        for sub in ("lock", "state", "cache", "run"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(self.smb_conf, "w") as f:
            f.write(SMB_CONF.format(domain=AD_DOMAIN, realm=AD_REALM,
                                    port=self.port,
                                    kpasswd_port=self.kpasswd_port,
                                    dir=self.dir))

    def write_krb5_conf(self, path, extra_libdefaults=""):
        self.harness.write_krb5_conf(path, AD_REALM, self.port,
                                     ".ad.n8443.test", extra_libdefaults)

    def start(self):
        log = open(os.path.join(self.dir, "samba.out"), "w")
        self.proc = subprocess.Popen(
            [self.harness.sbin("samba"), "-s", self.smb_conf, "-i",
             "-M", "single", "-d", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not self.harness.wait_port(self.port, self.proc, timeout=60):
            raise RuntimeError("samba did not start; see %s/samba.out"
                               % self.dir)

    def stop(self):
        self.harness.stop_process(self.proc, 15, group=True)
        self.proc = None

    def close(self):
        self.stop_ldap()
        self.stop()

    def start_ldap(self):
        """LDAP for n8443ctl's tests, on demand: a second samba process
        on the same database with only its LDAP server, on
        127.0.0.1:389 (Samba's LDAP port is not configurable; another
        run's LDAP server holding it is waited for).  The DC's account
        gets the SPN ldap/localhost for the GSSAPI bind (no DNS here).
        Samba's default policy stays: a SASL bind must sign or seal.
        Returns the URI."""
        if getattr(self, "ldap_proc", None) is not None:
            return self.ldap_uri
        import socket
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", 389))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("127.0.0.1:389 stays busy")
                    time.sleep(1)
        d = os.path.join(self.dir, "ldap")
        for sub in ("lock", "state", "cache", "run"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        conf = os.path.join(d, "smb.conf")
        text = SMB_CONF.format(domain=AD_DOMAIN, realm=AD_REALM,
                               port=self.port,
                               kpasswd_port=self.kpasswd_port, dir=d)
        text = text.replace("server services = kdc",
                            "server services = ldap")
        text = text.replace(" private dir = %s/private" % d,
                            " private dir = %s/private" % self.dir)
        text += " tls enabled = no\n"
        with open(conf, "w") as f:
            f.write(text)
        if not getattr(self, "ldap_spn_added", False):
            self.tool(["spn", "add", "ldap/localhost", "DC1$"])
            self.ldap_spn_added = True
        log = open(os.path.join(d, "samba.out"), "w")
        self.ldap_proc = subprocess.Popen(
            [self.harness.sbin("samba"), "-s", conf, "-i", "-M", "single",
             "-d", "1"], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        if not self.harness.wait_port(389, self.ldap_proc, timeout=60):
            self.stop_ldap()
            raise RuntimeError("samba's LDAP server did not start; see "
                               "%s/samba.out" % d)
        self.ldap_uri = "ldap://localhost"
        return self.ldap_uri

    def stop_ldap(self):
        self.harness.stop_process(getattr(self, "ldap_proc", None), 15,
                                  group=True)
        self.ldap_proc = None

    def tool(self, args, check=True):
        return self.harness.run(
            ["samba-tool"] + args + ["-s", self.smb_conf, "-H",
                                     "tdb://" + self.sam], check=check)

    def query(self, expression, attr):
        """One attribute of the one entry that matches (SIDs as
        strings)."""
        return self.harness.run(
            [SAMBA_PY, os.path.abspath(__file__), "query", self.dir,
             expression, attr]).stdout.strip()

    def sid_of(self, account):
        return self.query("(sAMAccountName=%s)" % account, "objectSid")

    def kvno_of(self, account=SERVICE):
        return int(self.query("(sAMAccountName=%s)" % account,
                              "msDS-KeyVersionNumber"))

    def export_keytab(self, path, principal=SPNS[0]):
        """The service account's current keys under the SPN `principal`
        (a fresh file)."""
        if os.path.exists(path):
            os.unlink(path)
        self.harness.run(["samba-tool", "domain", "exportkeytab", path,
                          "--principal=" + principal, "-s", self.smb_conf])

    def rotate_service_key(self, account=OTHER_SERVICE):
        """A new password for the service account: its kvno goes up."""
        self.tool(["user", "setpassword", account, "--random-password"])

    def client_env(self, user, password=None, ccache_name=None):
        env = dict(self.env)
        cc = os.path.join(self.dir, ccache_name or ("cc_%s_%d" % (
            user, int(time.monotonic() * 1e6))))
        env["KRB5CCNAME"] = "FILE:" + cc
        self.harness.run(["kinit", user], env=env,
                         input=(password or PASSWORDS[user]) + "\n")
        return env


def provision(d, setup):
    """In /usr/bin/python3: provision the domain into d and populate it."""
    import samba.param
    samba.param.setup_dir = lambda: setup
    import samba.provision.common
    samba.provision.common.setup_dir = lambda: setup
    from samba.netcmd.main import cmd_sambatool

    def tool(*args):
        rv = cmd_sambatool()._run("samba-tool", *args)
        if rv not in (0, None):
            raise SystemExit("samba-tool %s: %r" % (" ".join(args), rv))

    tool("domain", "provision", "--targetdir=" + d,
         "--realm=" + AD_REALM, "--domain=" + AD_DOMAIN,
         "--server-role=dc", "--dns-backend=NONE",
         "--adminpass=" + ADMIN_PW, "--host-name=dc1",
         "--option=interfaces = 127.0.0.1",
         "--option=bind interfaces only = yes",
         "--option=log file = %s/log.%%m" % d,
         "--option=pid directory = %s/run" % d,
         "--option=panic action = ")

    import ldb
    from samba.auth import system_session
    from samba.dcerpc import security
    from samba.ndr import ndr_unpack
    from samba.samdb import SamDB
    lp = samba.param.LoadParm()
    lp.load(os.path.join(d, "etc", "smb.conf"))
    samdb = SamDB(url=os.path.join(d, "private", "sam.ldb"),
                  session_info=system_session(), lp=lp)
    for user, pw in PASSWORDS.items():
        if user != "erin":
            samdb.newuser(user, pw)
    for account, spns in ((SERVICE, SPNS), (OTHER_SERVICE, (OTHER_SPN,))):
        samdb.newuser(account, "Svc-pw-8443!" + os.urandom(8).hex())
        dn = samdb.search(expression="(sAMAccountName=%s)" % account,
                          attrs=[])[0].dn
        m = ldb.Message(dn)
        m["servicePrincipalName"] = ldb.MessageElement(
            list(spns), ldb.FLAG_MOD_ADD, "servicePrincipalName")
        # AES only (the AD default for an account without the attribute
        # is RC4).
        m["msDS-SupportedEncryptionTypes"] = ldb.MessageElement(
            "24", ldb.FLAG_MOD_REPLACE, "msDS-SupportedEncryptionTypes")
        samdb.modify(m)

    def group(name, members):
        samdb.newgroup(name)
        samdb.add_remove_group_members(name, members,
                                       add_members_operation=True)

    group("web-users", ["alice"])
    group("ops", ["bob"])
    group("web-admins", ["ops"])
    samdb.transaction_start()
    try:
        for i in range(BIG_GROUPS):
            group("bulk-%03d" % i, ["carol"])
    except Exception:
        samdb.transaction_cancel()
        raise
    samdb.transaction_commit()

    # Created last, so that the other accounts' RIDs stay where the unit
    # tests' PAC fixtures have them.
    samdb.newuser("erin", PASSWORDS["erin"])
    samdb.add_remove_group_members("web-users", ["erin"],
                                   add_members_operation=True)
    rid = str(ndr_unpack(security.dom_sid, samdb.search(
        expression="(sAMAccountName=web-users)",
        attrs=["objectSid"])[0]["objectSid"][0])).rsplit("-", 1)[1]
    dn = samdb.search(expression="(sAMAccountName=erin)", attrs=[])[0].dn
    m = ldb.Message(dn)
    m["primaryGroupID"] = ldb.MessageElement(rid, ldb.FLAG_MOD_REPLACE,
                                             "primaryGroupID")
    samdb.modify(m)

    # A domain-local group (alice).  Samba lists it among the group RIDs;
    # Windows may put those of the service's domain in the resource
    # groups.
    from samba.dsdb import GTYPE_SECURITY_DOMAIN_LOCAL_GROUP
    samdb.newgroup("web-local", grouptype=GTYPE_SECURITY_DOMAIN_LOCAL_GROUP)
    samdb.add_remove_group_members("web-local", ["alice"],
                                   add_members_operation=True)


def query(d, expression, attr):
    """In /usr/bin/python3: print attr of the entry that matches."""
    import samba.param
    from samba.auth import system_session
    from samba.dcerpc import security
    from samba.ndr import ndr_unpack
    from samba.samdb import SamDB
    lp = samba.param.LoadParm()
    lp.load(os.path.join(d, "smb.conf"))
    samdb = SamDB(url=os.path.join(d, "private", "sam.ldb"),
                  session_info=system_session(), lp=lp)
    res = samdb.search(samdb.domain_dn(), expression=expression,
                       attrs=[attr])
    if len(res) != 1 or attr not in res[0]:
        sys.exit("%d entries match %s" % (len(res), expression))
    value = res[0][attr][0]
    if attr == "objectSid":
        value = str(ndr_unpack(security.dom_sid, value))
    print(value if isinstance(value, str) else value.decode())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "provision":
        provision(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "query":
        query(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("usage: ad_realm.py provision DIR SETUP_DIR | "
                 "query DIR FILTER ATTRIBUTE")
