"""pytest fixtures: one throwaway realm and CA per test session, httpd
instances per test module, and Kerberos clients (python-gssapi, curl)."""

import base64
import http.client
import os
import shutil
import ssl
import subprocess

import pytest

import harness

SPNEGO = "1.3.6.1.5.5.2"
KRB5 = "1.2.840.113554.1.2.2"

PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}

MINIMAL_BODY = """
  <Location /protected>
    AuthType Negotiate
    Require valid-user
  </Location>
"""

# The header the login tests read the logged-in user from.
SHOW_USER = 'Header always set X-Remote-User "expr=%{REMOTE_USER}"'


def location(path, *directives, require="valid-user", after=(),
             before=()):
    """A <Location path> that logs in with Negotiate, as the bodies here
    write it: the lines in before, AuthType Negotiate, the directives,
    Require require, then the lines in after, two spaces in."""
    lines = list(before) + ["AuthType Negotiate"] + list(directives) + \
        ["Require " + require] + list(after)
    return "  <Location %s>\n%s  </Location>\n" % (
        path, "".join("    %s\n" % line for line in lines))


def user_location(path, *directives):
    """location() that also shows the user (SHOW_USER)."""
    return location(path, *directives, after=(SHOW_USER,))


# /fast: the fast path; /gss: GSS-API alone; both show the user.
FAST_AND_GSS = user_location("/fast") + \
    user_location("/gss", "NegotiateFastPath Off")


def script_aliases(cgi, *prefixes):
    """ScriptAlias /prefix/ cgi/ for each prefix, one a line."""
    return "".join("  ScriptAlias /%s/ %s/\n" % (p, cgi) for p in prefixes)


# A location whose service principal is named in full.
SPN_EXPLICIT = location("/spn-explicit",
                        "NegotiateServicePrincipal HTTP/localhost@TEST.N8443")

STANDARD_BODY = """
  <Location /protected>
    AuthType Negotiate
    AuthName "n8443 test"
    Require valid-user
  </Location>
  <Location /cgi-bin/>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /short>
    AuthType Negotiate
    NegotiateUserName short
    Require valid-user
  </Location>
  <Location /local>
    AuthType Negotiate
    NegotiateUserName local
    Require valid-user
  </Location>
""" + SPN_EXPLICIT + """\
  <Location /spn-hostname>
    AuthType Negotiate
    NegotiateServicePrincipal {HOSTNAME}
    Require valid-user
  </Location>
  <Location /notls>
    AuthType Negotiate
    NegotiateRequireTLS Off
    Require valid-user
  </Location>
"""


# S4U2Proxy for the CGI scripts under /s4u/ (%(dir)s: the server's
# directory).
S4U_LOCATION = """  <Location /s4u/>
    AuthType Negotiate
    NegotiateConstrainedDelegation On
    Require valid-user
  </Location>
  ScriptAlias /s4u/ %(dir)s/cgi-bin/
"""

# Delegated credentials for the CGI scripts under /cgi-bin/, S4U2Proxy
# under /s4u/.
DELEGATION_BODY = """
  PassEnv KRB5_CONFIG
  <Location /cgi-bin/>
    AuthType Negotiate
    NegotiateDelegation On
    Require valid-user
  </Location>
""" + S4U_LOCATION


def build_dir():
    return os.environ.get("N8443_BUILDDIR",
                          os.path.abspath(os.path.join(
                              os.path.dirname(__file__), "..", "..")))


@pytest.fixture(scope="session")
def module_path():
    path = os.environ.get("N8443_MODULE") or os.path.join(
        build_dir(), ".libs", "mod_negotiate8443.so")
    if not os.path.exists(path):
        pytest.fail("module not built: %s (run make first)" % path)
    return path


@pytest.fixture(scope="session")
def base_dir():
    base = harness.make_base()
    yield base
    if os.environ.get("N8443_KEEP_TMP"):
        print("kept", base)
    else:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def realm(base_dir):
    r = harness.Realm(base_dir)
    try:
        for user, pw in PASSWORDS.items():
            r.add_user(user, pw)
        r.add_service("HTTP/localhost")
        r.add_service("HTTP/other.test.n8443")
        # Tell python-gssapi in this process where the realm is.
        os.environ["KRB5_CONFIG"] = r.krb5_conf
        yield r
    finally:
        r.close()


@pytest.fixture(scope="session")
def certs(base_dir):
    return harness.Certs(base_dir)


@pytest.fixture(scope="session")
def keytab(realm, base_dir):
    """The service keytab for HTTP/localhost, readable by the httpd user."""
    path = os.path.join(base_dir, "http.keytab")
    harness.httpd_keytab(realm, path, ["HTTP/localhost"])
    return path


class Client:
    """A user with a ticket cache, and ways to log in with it."""

    def __init__(self, realm, certs, user, passwords=None):
        """passwords: user -> password in realm (PASSWORDS by default)."""
        self.user = user
        self.realm = realm
        self.certs = certs
        self.env = realm.client_env(user, (passwords or PASSWORDS)[user])
        self.ccache = self.env["KRB5CCNAME"]

    def context(self, host="localhost", mech=SPNEGO, mutual=True,
                delegate=False, channel_bindings=None):
        import gssapi
        creds = gssapi.Credentials(usage="initiate",
                                   store={"ccache": self.ccache})
        flags = [gssapi.RequirementFlag.out_of_sequence_detection]
        if mutual:
            flags.append(gssapi.RequirementFlag.mutual_authentication)
        if delegate:
            flags.append(gssapi.RequirementFlag.delegate_to_peer)
        name = gssapi.Name("HTTP@" + host,
                           gssapi.NameType.hostbased_service)
        return gssapi.SecurityContext(
            name=name, creds=creds, usage="initiate",
            mech=gssapi.OID.from_int_seq(mech), flags=flags,
            channel_bindings=channel_bindings)

    def token(self, **kw):
        ctx = self.context(**kw)
        return ctx, ctx.step()

    def curl(self, url, *args):
        """curl --negotiate; returns (status, headers text, body)."""
        res = subprocess.run(
            ["curl", "-sS", "--negotiate", "-u", ":", "--cacert",
             self.certs.ca, "-D", "-", "-o", "-", "-w",
             "\n%{http_code}", *args, url],
            env=self.env, capture_output=True, text=True, timeout=30)
        out = res.stdout
        status = int(out.rsplit("\n", 1)[1])
        return status, out.rsplit("\n", 1)[0]


def https_request(server, path, headers=(), method="GET", plain=False,
                  host="localhost"):
    """One request with exactly the given header lines (a list of
    (name, value) so that a field may repeat).  Returns
    (status, HTTPMessage, body)."""
    if plain:
        conn = http.client.HTTPConnection("127.0.0.1", server.plain_port,
                                          timeout=20)
    else:
        ctx = ssl.create_default_context(cafile=server_ca(server))
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", server.port,
                                           context=ctx, timeout=20)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", "%s:%d" % (host, server.plain_port if plain
                                      else server.port))
    for k, v in headers:
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.headers, body


def login(srv, client, path, **kw):
    """One login of client at path (kw: for client.context); returns
    (status, headers, initiator context, srv's log lines of it)."""
    ctx = client.context(**kw)
    tok = ctx.step()
    mark = srv.log_mark()
    st, headers, _ = https_request(srv, path, [negotiate(tok)])
    return st, headers, ctx, srv.log_since(mark)

def server_ca(server):
    return server.ca


def negotiate(token):
    return ("Authorization", "Negotiate " + base64.b64encode(token).decode())


def challenge_tokens(headers):
    """The Negotiate parameters of all WWW-Authenticate fields."""
    out = []
    for v in headers.get_all("WWW-Authenticate") or []:
        if v.startswith("Negotiate"):
            out.append(v[len("Negotiate"):].strip())
    return out


class AdClient(Client):
    """Client, with a password from the AD realm (ad_realm.PASSWORDS)."""

    def __init__(self, realm, certs, user):
        import ad_realm
        super().__init__(realm, certs, user, ad_realm.PASSWORDS)


@pytest.fixture(scope="session")
def alice(realm, certs):
    return Client(realm, certs, "alice")


@pytest.fixture(scope="session")
def bob(realm, certs):
    return Client(realm, certs, "bob")


def start_httpd(base_dir, module_path, realm, certs, keytab, body,
                **kw):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                        **kw)
    srv.ca = certs.ca
    srv.start()
    return srv


@pytest.fixture(scope="module")
def server(request, base_dir, module_path, realm, certs, keytab):
    name = "httpd-" + request.module.__name__.split(".")[-1]
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      STANDARD_BODY, name=name,
                      extra_global="NegotiateMaxTokenSize 4096")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def ad_realm(base_dir):
    """Samba's AD DC (tests/integration/ad_realm.py), provisioned and
    started once per run; skipped where Samba's AD packages are missing."""
    import ad_realm as ad
    why = ad.missing()
    if why is not None:
        if shutil.which("apt-get") and os.geteuid() == 0:
            # tools/install-deps installs Samba's AD DC on Debian: the
            # suite would prove less than it says without it.
            pytest.fail(why + " (run tools/install-deps)")
        pytest.skip(why)
    r = ad.AdRealm(base_dir)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def ad(ad_realm):
    """ad_realm, and python-gssapi in this process reads the AD realm's
    krb5.conf while the module runs."""
    with harness.krb5_config(ad_realm.krb5_conf):
        yield ad_realm


@pytest.fixture(scope="module")
def ad_clients(ad, certs):
    """ad_clients(user): the module's AdClient for user, made once."""
    cache = {}

    def get(user):
        if user not in cache:
            cache[user] = AdClient(ad, certs, user)
        return cache[user]
    return get


@pytest.fixture(scope="module")
def ad_sids(ad):
    """The SIDs of the AD realm's groups web-users, web-admins and ops."""
    return {g: ad.sid_of(g) for g in ("web-users", "web-admins", "ops")}


def ad_service_files(ad, base_dir, name, sids, map_header=""):
    """A new directory base_dir/name with the AD realm's HTTP/localhost
    keytab (http.keytab, readable by httpd) and groups.map: map_header,
    then a line "group SID" per group in sids.  Returns (dir, keytab,
    map)."""
    d = os.path.join(base_dir, name)
    os.makedirs(d)
    kt = os.path.join(d, "http.keytab")
    harness.httpd_keytab(ad, kt, "HTTP/localhost")
    gmap = os.path.join(d, "groups.map")
    with open(gmap, "w") as f:
        f.write(map_header)
        for g, s in sorted(sids.items()):
            f.write("%s %s\n" % (g, s))
    return d, kt, gmap
