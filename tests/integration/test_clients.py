"""Real clients log in: headless Chromium managed the way an enterprise
does it, curl --negotiate (with each --delegation), Python requests-kerberos
and raw python-gssapi (SPNEGO and raw krb5).

Every login goes to a CGI page that shows the identity the module handed to
the application.  The server also logs each request's Authorization header
(a test-only log), and the test opens the client's token with the service
keytab (a GSS acceptor in this process, without replay cache) to see what
the client really sent: which mechanism, which flags, whether it delegated,
whether it bound the token to the TLS channel.  Those findings are what
docs/client-setup.md tells administrators.
"""

import base64
import hashlib
import html
import itertools
import os
import re
import shutil
import subprocess
import time
import types

import gssapi
import pytest

import browser
import harness
from conftest import SPNEGO, KRB5, https_request, negotiate, start_httpd

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = os.path.join(HERE, "pages")
ARTIFACTS = os.path.abspath(os.path.join(HERE, "..", "artifacts"))

REALM = harness.REALM
ALICE = "alice@" + REALM
# A second service name whose principal the KDC marks ok-as-delegate, so
# that "delegate only where the KDC's policy allows it" can be told apart.
DELEG_HOST = "okdeleg.test.n8443"

# %{Authorization}i is logged by this test server only, to inspect tokens.
BODY = r"""
  ErrorDocument 401 /errors/401.html
  CustomLog "{log}" "%>s\t%u\t%r\t%{{Authorization}}i"
  <Location /cgi-bin/>
    AuthType Negotiate
    AuthName "n8443 clients"
    Require valid-user
  </Location>
  <Location /protected>
    AuthType Negotiate
    AuthName "n8443 clients"
    Require valid-user
  </Location>
"""

_tags = itertools.count(1)


def tag(name):
    """A unique query string, to find a client's requests in the log."""
    return "%s-%d-%d" % (name, os.getpid(), next(_tags))


# --------------------------------------------------------------- fixtures


def ensure_service(realm, principal, *attrs):
    out = realm.kadmin("getprinc %s" % principal)
    if "Principal: %s@" % principal not in out.stdout:
        realm.add_service(principal)
    for attr in attrs:
        realm.kadmin("modprinc %s %s" % (attr, principal))


def ok_as_delegate(realm, principal):
    out = realm.kadmin("getprinc %s" % principal).stdout
    attrs = [l for l in out.splitlines() if l.startswith("Attributes:")]
    assert attrs, out
    return "OK_AS_DELEGATE" in attrs[0]


@pytest.fixture(scope="module")
def site(base_dir, module_path, realm, certs):
    """httpd with the whoami page, a 401 page, a certificate for localhost
    and DELEG_HOST, and a keytab for both service names."""
    ensure_service(realm, "HTTP/" + DELEG_HOST, "+ok_as_delegate")
    keytab = os.path.join(base_dir, "clients.keytab")
    realm.export_keytab(keytab, ["HTTP/localhost", "HTTP/" + DELEG_HOST])
    harness.chown_to_httpd(keytab)
    cert, key = certs.issue("clients-server", ["localhost", DELEG_HOST])
    tls = types.SimpleNamespace(cert=cert, key=key, ca=certs.ca)
    name = "httpd-clients"
    log = os.path.join(base_dir, name, "clients.log")
    port = int(os.environ.get("N8443_CLIENTS_PORT", "0")) or None
    srv = start_httpd(base_dir, module_path, realm, tls, keytab,
                      BODY.format(log=log), name=name, port=port)
    try:
        cgi = os.path.join(srv.dir, "cgi-bin", "whoami")
        shutil.copy(os.path.join(PAGES, "whoami.cgi"), cgi)
        os.chmod(cgi, 0o755)
        os.makedirs(os.path.join(srv.dir, "htdocs", "errors"))
        shutil.copy(os.path.join(PAGES, "401.html"),
                    os.path.join(srv.dir, "htdocs", "errors", "401.html"))
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform",
                              "DER"], capture_output=True, check=True).stdout
        # RFC 5929 tls-server-end-point: the certificate is sha256WithRSA.
        cb = b"tls-server-end-point:" + hashlib.sha256(der).digest()
        yield types.SimpleNamespace(server=srv, keytab=keytab, log=log,
                                    ca=certs.ca, cb=cb, realm=realm,
                                    base=base_dir)
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def no_ticket_env(realm, base_dir):
    env = dict(realm.env)
    env.pop("KRB5_KDC_PROFILE", None)
    env["KRB5CCNAME"] = "FILE:" + os.path.join(base_dir, "clients-no-such-cc")
    return env


def module_checks_channel_bindings(module_path):
    """Whether this build of the module has channel binding at all
    (NegotiateChannelBinding, default optional)."""
    with open(module_path, "rb") as f:
        return b"NegotiateChannelBinding" in f.read()


# ---------------------------------------------------------------- helpers


def log_entries(site, tag_, want=lambda e: True, timeout=3.0):
    """Log lines of requests whose URL carries tag_, as dicts; waits
    until one satisfies want (httpd logs after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = []
        if os.path.exists(site.log):
            with open(site.log, errors="replace") as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) == 4 and tag_ in parts[2]:
                        entries.append({"status": int(parts[0]),
                                        "user": parts[1],
                                        "request": parts[2],
                                        "authorization": parts[3]})
        if any(want(e) for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def accepted_token(site, tag_):
    """The Negotiate token of the request that the module let through."""
    entries = log_entries(site, tag_, lambda e: e["status"] == 200)
    ok = [e for e in entries if e["status"] == 200]
    assert len(ok) == 1, entries
    scheme, _, value = ok[0]["authorization"].partition(" ")
    assert scheme == "Negotiate", ok[0]
    return base64.b64decode(value)


def oid_str(raw):
    first = raw[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7f)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def outer_mech(tok):
    """The mechanism OID of an initial context token (RFC 2743 3.1)."""
    assert tok[0] == 0x60, tok[:8].hex()
    i = 1
    i += 1 + (tok[i] & 0x7f if tok[i] & 0x80 else 0)
    assert tok[i] == 0x06, tok[:16].hex()
    return oid_str(tok[i + 2:i + 2 + tok[i + 1]])


def _accept(site, tok, cb):
    creds = gssapi.Credentials(usage="accept", store={
        "keytab": site.keytab, "rcache": "none:"})
    ctx = gssapi.SecurityContext(
        creds=creds, usage="accept", channel_bindings=None if cb is None
        else gssapi.raw.ChannelBindings(application_data=cb))
    ctx.step(tok)
    assert ctx.complete
    return ctx


def inspect_token(site, tok):
    """What a client put in its token, read with the service's keys."""
    ctx = _accept(site, tok, None)
    flags = ctx.actual_flags
    RF = gssapi.RequirementFlag
    info = {
        "mech": outer_mech(tok),
        "client": str(ctx.initiator_name),
        "target": str(ctx.target_name),
        "mutual": RF.mutual_authentication in flags,
        "delegated": RF.delegate_to_peer in flags,
        "delegated_creds": ctx.delegated_creds is not None,
    }
    if info["delegated_creds"]:
        info["delegated_name"] = str(ctx.delegated_creds.name)
    # Channel bindings: an initiator that sent none is accepted whatever
    # the acceptor passes; one that sent some is refused on a mismatch
    # and flagged channel_bound on a match.
    try:
        bound = _accept(site, tok, site.cb)
        info["binding"] = ("match" if RF.channel_bound in
                           bound.actual_flags else "none")
    except gssapi.exceptions.GSSError:
        info["binding"] = "mismatch"
    return info


def page_values(body):
    """The values the whoami page shows, by element id."""
    return {k: html.unescape(v) for k, v in
            re.findall(r'id="([a-z0-9-]+)">([^<]*)<', body)}


def assert_page_shows_alice(body, channel_bound="false"):
    values = page_values(body)
    assert values.get("user") == ALICE, body[:2000]
    assert values["auth-type"] == "Negotiate"
    assert values["principal"] == ALICE
    assert values["mech"] == "krb5"
    assert values["channel-bound"] == channel_bound, values
    # Delegation is off on this site: delegated tickets go nowhere.
    assert values["krb5ccname"] == ""
    return values


def expected_bound(binding, module_path):
    """NEGOTIATE_CHANNEL_BOUND per the spec for what the client sent."""
    assert binding in ("none", "match"), binding
    if binding == "match" and not module_checks_channel_bindings(
            module_path):
        pytest.xfail("the client bound its token to the TLS channel; this "
                     "build has no NegotiateChannelBinding yet, so "
                     "NEGOTIATE_CHANNEL_BOUND cannot say true")
    return "true" if binding == "match" else "false"


def needs_client(what, apt_package, present):
    """Skip only where the client cannot be installed on this system."""
    if present:
        return
    if shutil.which("apt-cache"):
        res = subprocess.run(["apt-cache", "policy", apt_package],
                             capture_output=True, text=True)
        if "Candidate:" in res.stdout and "Candidate: (none)" not in \
                res.stdout:
            pytest.fail("%s is missing but installable: apt-get install %s "
                        "(tools/install-deps)" % (what, apt_package))
    pytest.skip("%s is not installed and this system has no package %s "
                "for it" % (what, apt_package))


# --------------------------------------------------------------- Chromium

CHROMIUM_POLICIES = {
    # What an enterprise pushes (GPO / /etc/chromium/policies/managed):
    "AuthServerAllowlist": "localhost",
    "DisableAuthNegotiateCnameLookup": True,
    "EnableAuthNegotiatePort": False,
    "GSSAPILibraryName": "libgssapi_krb5.so.2",
    "AuthSchemes": "basic,digest,ntlm,negotiate",
}


@pytest.fixture(scope="module")
def chromium(base_dir, site):
    needs_client("chromium", "chromium", browser.find_chromium())
    needs_client("certutil", "libnss3-tools", shutil.which("certutil"))
    return browser.Chromium(os.path.join(base_dir, "chromium"), site.ca)


def needs_managed_policies(chromium, policy):
    if not chromium.managed:
        pytest.skip("%s has no command-line switch in this Chromium, only "
                    "a managed policy, and policies cannot be given to it "
                    "here: %s" % (policy, chromium.why_not_managed))


def alice_env(alice):
    env = dict(alice.env)
    env.pop("KRB5_KDC_PROFILE", None)
    return env


def assert_real_screenshot(path):
    with open(path, "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", path
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert (width, height) == (1000, 560), (width, height)
    # A blank page compresses to a few hundred bytes; text does not.
    assert len(png) > 8000, (path, len(png))


def test_chromium_logs_in_and_shows_user(chromium, site, alice, module_path):
    t = tag("chromium")
    url = site.server.url("/cgi-bin/whoami?" + t)
    mark = site.server.log_mark()
    shot = os.path.join(ARTIFACTS, "chromium-login.png")
    page = chromium.load(url, alice_env(alice), CHROMIUM_POLICIES,
                         screenshot=shot)
    assert -339 not in page.handler_errors(), (
        "Chromium refused Negotiate (ERR_UNSUPPORTED_AUTH_SCHEME): has it "
        "stopped honouring the seeded net.received_http_auth_negotiate_"
        "headers (see browser.py)?\n" + page.describe())
    values = page_values(page.dom)
    assert values.get("user") == ALICE, page.describe()
    assert_real_screenshot(shot)

    # Chromium asked its GSSAPI library for HTTP@localhost: no port, and
    # no canonicalisation to the address the host resolver mapped it to.
    assert page.spns() == ["HTTP@localhost"], page.describe()
    ctx = page.init_sec_context_results()[0]["context"]
    assert ctx["target"]["name"] == "HTTP/localhost@" + REALM
    assert ctx["source"]["name"] == ALICE
    assert ctx["flags"]["delegated"] is False

    # What Chromium put on the wire: SPNEGO, no delegation, and no channel
    # binding although it computes one (on Linux it is not passed to GSSAPI).
    tok = accepted_token(site, t)
    info = inspect_token(site, tok)
    assert info["mech"] == SPNEGO
    assert info["client"] == ALICE
    assert info["target"] == "HTTP/localhost@" + REALM
    assert not info["delegated"] and not info["delegated_creds"]
    assert info["binding"] in ("none", "match"), info
    if page.channel_binding_tokens():
        assert page.channel_binding_tokens()[0] == site.cb
    assert_page_shows_alice(page.dom, expected_bound(info["binding"],
                                                     module_path))
    entries = log_entries(site, t)
    assert [e["status"] for e in entries] == [401, 200], entries
    assert entries[0]["authorization"] == "-"
    assert entries[1]["user"] == ALICE
    log = site.server.log_since(mark)
    assert "N8443001: login of %s accepted (krb5)" % ALICE in log


def test_chromium_without_ticket_gets_401_page(chromium, site,
                                              no_ticket_env):
    t = tag("chromium-noticket")
    shot = os.path.join(ARTIFACTS, "chromium-no-ticket.png")
    page = chromium.load(site.server.url("/cgi-bin/whoami?" + t),
                         no_ticket_env, CHROMIUM_POLICIES, screenshot=shot)
    assert 'id="n8443-401"' in page.dom, page.describe()
    assert "Logged in as" not in page.dom
    assert_real_screenshot(shot)
    # Chromium tried (the site is allow-listed) but had no credentials,
    # so it sent no token at all.
    assert page.spns() == ["HTTP@localhost"], page.describe()
    status = page.init_sec_context_results()[0]["status"]
    assert status["major_status"]["status"] != 0, status
    entries = log_entries(site, t)
    assert entries and all(e["status"] == 401 and e["authorization"] == "-"
                           for e in entries), entries


def test_chromium_with_port_in_spn_cannot_log_in(chromium, site, alice):
    """EnableAuthNegotiatePort puts the port into the SPN; no KDC has
    HTTP/localhost:PORT, so the browser never gets a ticket."""
    needs_managed_policies(chromium, "EnableAuthNegotiatePort")
    t = tag("chromium-port")
    policies = dict(CHROMIUM_POLICIES, EnableAuthNegotiatePort=True)
    page = chromium.load(site.server.url("/cgi-bin/whoami?" + t),
                         alice_env(alice), policies)
    port = site.server.port
    assert page.spns() == ["HTTP@localhost:%d" % port], page.describe()
    status = page.init_sec_context_results()[0]["status"]
    assert "not found in Kerberos database" in str(status), status
    assert 'id="n8443-401"' in page.dom
    entries = log_entries(site, t)
    assert entries and all(e["status"] == 401 and e["authorization"] == "-"
                           for e in entries), entries


def test_chromium_delegates_only_when_allow_listed(chromium, site, alice):
    needs_managed_policies(chromium, "AuthNegotiateDelegateAllowlist")
    t = tag("chromium-deleg")
    policies = dict(CHROMIUM_POLICIES,
                    AuthNegotiateDelegateAllowlist="localhost")
    page = chromium.load(site.server.url("/cgi-bin/whoami?" + t),
                         alice_env(alice), policies)
    assert page_values(page.dom).get("user") == ALICE, page.describe()
    assert page.init_sec_context_results()[0]["context"]["flags"][
        "delegated"] is True
    info = inspect_token(site, accepted_token(site, t))
    assert info["delegated"] and info["delegated_creds"], info
    assert info["delegated_name"] == ALICE
    # NegotiateDelegation is off here: the ticket is not handed on.
    assert page_values(page.dom)["krb5ccname"] == ""


# ------------------------------------------------------------------- curl


def curl(site, env, path, *args, host="localhost"):
    """curl --negotiate -u :; returns (exit code, status, headers, body)."""
    needs_client("curl", "curl", shutil.which("curl"))
    port = site.server.port
    url = "https://%s:%d%s" % (host, port, path)
    extra = []
    if host != "localhost":
        extra = ["--resolve", "%s:%d:127.0.0.1" % (host, port)]
    res = subprocess.run(
        ["curl", "-sS", "--negotiate", "-u", ":", "--cacert", site.ca,
         "-D", "-", "-w", "\n%{http_code}", *extra, *args, url],
        env=env, capture_output=True, timeout=30)
    # Bytes, not text mode: universal newlines would eat the CRs.
    out, _, code = res.stdout.decode(errors="replace").rpartition("\n")
    head, _, body = out.partition("\r\n\r\n")
    # With a 401 first, -D shows both responses; the last one counts.
    while body.startswith("HTTP/"):
        head, _, body = body.partition("\r\n\r\n")
    return res.returncode, int(code or 0), head, body


def test_curl_negotiate_shows_user(site, alice, module_path):
    t = tag("curl")
    rc, status, head, body = curl(site, alice_env(alice),
                                  "/cgi-bin/whoami?" + t)
    assert (rc, status) == (0, 200), (head, body)
    info = inspect_token(site, accepted_token(site, t))
    assert info["mech"] == SPNEGO
    assert info["mutual"], info
    assert not info["delegated"] and not info["delegated_creds"]
    assert_page_shows_alice(body, expected_bound(info["binding"],
                                                 module_path))
    # Mutual authentication: the 200 carries the server's answer.
    assert re.search(r"(?im)^www-authenticate: negotiate \S+", head), head


@pytest.mark.parametrize("delegation,host,delegates", [
    ("none", "localhost", False),
    ("policy", "localhost", False),        # HTTP/localhost: not ok-as-delegate
    ("policy", DELEG_HOST, True),          # the KDC says ok-as-delegate
    ("always", "localhost", True),
])
def test_curl_delegation(site, alice, delegation, host, delegates):
    if delegation == "policy":
        # GSS_C_DELEG_POLICY_FLAG: delegate iff the KDC flagged the
        # service ticket ok-as-delegate.
        assert ok_as_delegate(site.realm, "HTTP/" + host) is delegates, \
            "precondition: the shared realm's HTTP/%s changed" % host
    t = tag("curl-deleg-" + delegation)
    rc, status, head, body = curl(site, alice_env(alice),
                                  "/cgi-bin/whoami?" + t,
                                  "--delegation", delegation, host=host)
    assert (rc, status) == (0, 200), (head, body)
    assert_page_shows_alice(body)
    info = inspect_token(site, accepted_token(site, t))
    assert info["target"] == "HTTP/%s@%s" % (host, REALM)
    assert info["delegated"] is delegates, info
    assert info["delegated_creds"] is delegates, info
    if delegates:
        assert info["delegated_name"] == ALICE


def test_curl_without_ticket_gets_401_page(site, no_ticket_env):
    t = tag("curl-noticket")
    rc, status, head, body = curl(site, no_ticket_env,
                                  "/cgi-bin/whoami?" + t)
    assert (rc, status) == (0, 401), (head, body)
    assert 'id="n8443-401"' in body
    # The custom error page keeps the challenge.
    assert re.search(r"(?im)^www-authenticate: negotiate\s*$", head), head
    entries = log_entries(site, t)
    assert entries and all(e["status"] == 401 and e["authorization"] == "-"
                           for e in entries), entries


# ------------------------------------------------------ requests-kerberos


@pytest.fixture(scope="module")
def requests_kerberos():
    try:
        import requests_kerberos as rk
    except ImportError:
        rk = None
    needs_client("requests-kerberos", "python3-requests-kerberos", rk)
    return rk


@pytest.fixture
def alice_ccache(alice, monkeypatch):
    """requests-kerberos (pykerberos) takes the default ccache."""
    monkeypatch.setenv("KRB5CCNAME", alice.ccache)
    return alice


def rk_sends_channel_binding():
    """requests-kerberos sends a tls-server-end-point binding only where
    its pykerberos has channelBindings (pykerberos >= 1.2)."""
    import kerberos
    return hasattr(kerberos, "channelBindings")


@pytest.mark.parametrize("mutual", ["REQUIRED", "OPTIONAL", "DISABLED"])
def test_requests_kerberos_logs_in(site, requests_kerberos, alice_ccache,
                                   module_path, mutual):
    import requests
    t = tag("requests-" + mutual)
    auth = requests_kerberos.HTTPKerberosAuth(
        mutual_authentication=getattr(requests_kerberos, mutual))
    r = requests.get(site.server.url("/cgi-bin/whoami?" + t), auth=auth,
                     verify=site.ca, timeout=30)
    assert r.status_code == 200, r.text
    info = inspect_token(site, accepted_token(site, t))
    # pykerberos asks GSSAPI for its default mechanism: raw krb5.
    assert info["mech"] in (KRB5, SPNEGO), info
    assert info["mutual"]            # it always asks for mutual auth...
    # ...and verifies the server's AP-REP unless told not to.
    assert auth.auth_done is (mutual != "DISABLED")
    sends_cb = rk_sends_channel_binding()
    assert info["binding"] == ("match" if sends_cb else "none"), info
    assert_page_shows_alice(r.text, expected_bound(info["binding"],
                                                   module_path))


def test_requests_kerberos_mutual_auth_on_error_status(site,
                                                       requests_kerberos,
                                                       alice_ccache):
    """The module answers with its AP-REP whatever the status, so a client
    that requires mutual authentication gets a 404 unredacted."""
    import requests
    auth = requests_kerberos.HTTPKerberosAuth(
        mutual_authentication=requests_kerberos.REQUIRED)
    r = requests.get(site.server.url("/protected/no-such-page"), auth=auth,
                     verify=site.ca, timeout=30)
    assert r.status_code == 404
    assert auth.auth_done
    assert r.headers.get("X-Remote-User") == ALICE   # not sanitized


def test_requests_kerberos_delegate(site, requests_kerberos, alice_ccache):
    import requests
    t = tag("requests-deleg")
    auth = requests_kerberos.HTTPKerberosAuth(delegate=True)
    r = requests.get(site.server.url("/cgi-bin/whoami?" + t), auth=auth,
                     verify=site.ca, timeout=30)
    assert r.status_code == 200
    assert_page_shows_alice(r.text)
    info = inspect_token(site, accepted_token(site, t))
    assert info["delegated"] and info["delegated_creds"], info


def test_requests_kerberos_without_ticket_gets_401(site, requests_kerberos,
                                                   no_ticket_env,
                                                   monkeypatch):
    import requests
    monkeypatch.setenv("KRB5CCNAME", no_ticket_env["KRB5CCNAME"])
    r = requests.get(site.server.url("/cgi-bin/whoami"),
                     auth=requests_kerberos.HTTPKerberosAuth(),
                     verify=site.ca, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Negotiate"
    assert 'id="n8443-401"' in r.text


# ---------------------------------------------------------- python-gssapi


@pytest.mark.parametrize("bind", [False, True], ids=["no-cb", "cb"])
@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
def test_python_gssapi_logs_in(site, alice, module_path, mech, bind):
    t = tag("gssapi")
    cb = gssapi.raw.ChannelBindings(application_data=site.cb) if bind \
        else None
    ctx, tok = alice.token(mech=mech, channel_bindings=cb)
    assert outer_mech(tok) == mech
    status, headers, body = https_request(site.server, "/cgi-bin/whoami?" + t,
                                          [negotiate(tok)])
    assert status == 200, body
    info = inspect_token(site, tok)
    assert info["binding"] == ("match" if bind else "none")
    # Mutual authentication: the server's token completes the context.
    answers = [v.split(" ", 1)[1] for v in
               headers.get_all("WWW-Authenticate") or []
               if v.startswith("Negotiate ")]
    assert len(answers) == 1, headers
    ctx.step(base64.b64decode(answers[0]))
    assert ctx.complete
    assert_page_shows_alice(body.decode(), expected_bound(info["binding"],
                                                          module_path))
