"""A throwaway MIT realm on the LDAP KDB (kldap), for the tests that need
what MIT's DB2 back end does not implement: constrained delegation
(S4U2Proxy), whose ACL is the krbAllowedToDelegateTo attribute of the
proxy service's LDAP entry.

A private slapd (slapd.conf, an mdb database and the Kerberos schema that
krb5-kdc-ldap ships, all in the realm's temporary directory) listens on a
free 127.0.0.1 port; kdb5_ldap_util creates the realm in it and krb5kdc
serves it on another free loopback port.  close() stops the KDC and slapd;
the fixtures call it also when a test fails.

Needs the Debian packages krb5-kdc-ldap, slapd and ldap-utils.
"""

import glob
import gzip
import os
import shutil
import subprocess

import harness
from harness import REALM, free_port, run, sbin, wait_port

SUFFIX = "dc=test,dc=n8443"
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "ldap-admin-pw"
CONTAINER_DN = "cn=krbcontainer," + SUFFIX

# Where krb5-kdc-ldap (or a source tree) may have put the schema.
SCHEMA_CANDIDATES = (
    "/usr/share/doc/krb5-kdc-ldap/kerberos.schema.gz",
    "/usr/share/doc/krb5-kdc-ldap/kerberos.schema",
    "/etc/ldap/schema/kerberos.schema",
    "/usr/share/krb5-kdc-ldap/kerberos.schema",
)
KLDAP_CANDIDATES = (
    "/usr/lib/*/krb5/plugins/kdb/kldap.so",
    "/usr/lib/krb5/plugins/kdb/kldap.so",
    "/usr/lib64/krb5/plugins/kdb/kldap.so",
)


def missing():
    """Why this machine cannot run an LDAP realm, or None."""
    for tool in ("slapd", "slaptest", "krb5kdc", "kdb5_ldap_util",
                 "kadmin.local"):
        try:
            sbin(tool)
        except RuntimeError:
            return "%s not found: apt-get install krb5-kdc-ldap slapd " \
                   "ldap-utils" % tool
    for tool in ("ldapadd", "ldapmodify", "ldapsearch"):
        if shutil.which(tool) is None:
            return "%s not found: apt-get install ldap-utils" % tool
    if schema_file() is None:
        return "the Kerberos LDAP schema (kerberos.schema) is not in any " \
               "of %s: apt-get install krb5-kdc-ldap" % ", ".join(
                   SCHEMA_CANDIDATES)
    if not any(glob.glob(p) for p in KLDAP_CANDIDATES):
        return "MIT's kldap KDB plugin is not installed: apt-get install " \
               "krb5-kdc-ldap"
    if not os.path.exists("/usr/lib/ldap/back_mdb.so") and \
            not glob.glob("/usr/lib/*/ldap/back_mdb.so"):
        return "slapd's back_mdb module is not installed: apt-get " \
               "install slapd"
    return None


def schema_file():
    for p in SCHEMA_CANDIDATES:
        if os.path.exists(p):
            return p
    return None


def slapd_module_dir():
    for d in ["/usr/lib/ldap"] + glob.glob("/usr/lib/*/ldap"):
        if os.path.exists(os.path.join(d, "back_mdb.so")):
            return d
    return "/usr/lib/ldap"


class LdapRealm(harness.Realm):
    """harness.Realm's interface (add_user, add_service, export_keytab,
    client_env, env, krb5_conf, port, close) on an LDAP KDB."""

    def __init__(self, base, name="ldap-realm"):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.ldap_port = free_port()
        self.ldap_uri = "ldap://127.0.0.1:%d" % self.ldap_port
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.kdc_log = os.path.join(self.dir, "kdc.log")
        self.kdc_proc = None
        self.slapd_proc = None
        try:
            self.start_slapd()
            self.write_krb5_conf(self.krb5_conf)
            self.write_kdc_conf()
            self.env = self.realm_env()
            self.create_realm()
            self.start_kdc()
        except BaseException:
            self.close()
            raise

    # -- slapd -------------------------------------------------------------

    def start_slapd(self):
        ldir = os.path.join(self.dir, "slapd")
        db = os.path.join(ldir, "db")
        os.makedirs(db)
        schema = os.path.join(ldir, "kerberos.schema")
        src = schema_file()
        opener = gzip.open if src.endswith(".gz") else open
        with opener(src, "rb") as fin, open(schema, "wb") as fout:
            fout.write(fin.read())
        conf = os.path.join(ldir, "slapd.conf")
        with open(conf, "w") as f:
            f.write("""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include {schema}
pidfile {ldir}/slapd.pid
argsfile {ldir}/slapd.args
modulepath {moddir}
moduleload back_mdb
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{admin}"
rootpw {pw}
directory {db}
index objectClass eq
index krbPrincipalName eq,pres,sub
""".format(schema=schema, ldir=ldir, moddir=slapd_module_dir(),
           suffix=SUFFIX, admin=ADMIN_DN, pw=ADMIN_PW, db=db))
        # Fail early, with slapd's own words, on a bad configuration.
        run([sbin("slaptest"), "-u", "-f", conf])
        log = open(os.path.join(ldir, "slapd.out"), "w")
        # -d keeps slapd in the foreground (and ours to stop); level 0
        # logs nothing but start-up errors.
        self.slapd_proc = subprocess.Popen(
            [sbin("slapd"), "-f", conf, "-h", self.ldap_uri, "-d", "0"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_port(self.ldap_port, self.slapd_proc):
            with open(os.path.join(ldir, "slapd.out")) as f:
                raise RuntimeError("slapd did not start: " + f.read())
        self.ldap_add("""dn: {suffix}
objectClass: dcObject
objectClass: organization
dc: test
o: n8443 test
""".format(suffix=SUFFIX))

    def ldap(self, tool, ldif=None, args=()):
        return run([tool, "-x", "-H", self.ldap_uri, "-D", ADMIN_DN, "-w",
                    ADMIN_PW] + list(args), input=ldif)

    def ldap_add(self, ldif):
        return self.ldap("ldapadd", ldif)

    def ldap_modify(self, ldif):
        return self.ldap("ldapmodify", ldif)

    def principal_dn(self, principal):
        """The DN of a principal's entry, as kadmin.local created it."""
        if "@" not in principal:
            principal += "@" + REALM
        out = self.ldap("ldapsearch", args=[
            "-LLL", "-o", "ldif-wrap=no", "-b", SUFFIX,
            "(krbPrincipalName=%s)" % principal, "dn"]).stdout
        dns = [l[4:] for l in out.splitlines() if l.startswith("dn: ")]
        if len(dns) != 1:
            raise RuntimeError("no single entry for %s: %r" % (principal,
                                                               out))
        return dns[0]

    def allow_delegation(self, proxy, targets):
        """krbAllowedToDelegateTo on proxy's entry: MIT's LDAP KDB lets
        proxy use S4U2Proxy towards exactly these principals."""
        lines = ["dn: " + self.principal_dn(proxy), "changetype: modify",
                 "replace: krbAllowedToDelegateTo"]
        lines += ["krbAllowedToDelegateTo: " + t for t in targets]
        self.ldap_modify("\n".join(lines) + "\n")

    def delegation_targets(self, proxy):
        out = self.ldap("ldapsearch", args=[
            "-LLL", "-o", "ldif-wrap=no", "-b", self.principal_dn(proxy),
            "-s", "base", "krbAllowedToDelegateTo"]).stdout
        return [l.split(": ", 1)[1] for l in out.splitlines()
                if l.startswith("krbAllowedToDelegateTo: ")]

    def stop_slapd(self):
        harness.stop_process(self.slapd_proc)
        self.slapd_proc = None

    # -- the realm ---------------------------------------------------------

    def write_kdc_conf(self):
        dbmodules = """[dbmodules]
 ldapdb = {{
  db_library = kldap
  ldap_servers = {uri}
  ldap_kerberos_container_dn = {container}
  ldap_kdc_dn = {admin}
  ldap_kadmind_dn = {admin}
  ldap_service_password_file = {dir}/ldap-service.stash
  ldap_conns_per_server = 2
 }}
""".format(dir=self.dir, uri=self.ldap_uri, container=CONTAINER_DN,
           admin=ADMIN_DN)
        harness.write_kdc_conf(self.kdc_conf, self.port, self.dir,
                               "database_module = ldapdb", dbmodules,
                               " admin_server = FILE:%s/kadmin.log\n"
                               % self.dir)
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()

    def create_realm(self):
        util = sbin("kdb5_ldap_util")
        auth = ["-D", ADMIN_DN, "-w", ADMIN_PW, "-H", self.ldap_uri]
        run([util] + auth + ["create", "-subtrees", SUFFIX, "-sscope",
                             "sub", "-r", REALM, "-s", "-P", "master-pw"],
            env=self.env)
        # The password the KDC and kadmin.local bind with (prompted twice).
        run([util] + auth + ["stashsrvpw", "-f",
                             os.path.join(self.dir, "ldap-service.stash"),
                             ADMIN_DN],
            env=self.env, input="%s\n%s\n" % (ADMIN_PW, ADMIN_PW))

    def kdc_log_since(self, mark):
        with open(self.kdc_log, errors="replace") as f:
            f.seek(mark)
            return f.read()

    def kdc_log_mark(self):
        return os.path.getsize(self.kdc_log) \
            if os.path.exists(self.kdc_log) else 0

    def close(self):
        self.stop_kdc()
        self.stop_slapd()
