"""Active Directory as the KDC (Samba's AD DC, ad_realm.py): MIT clients
(python-gssapi, curl --negotiate), Heimdal's and OpenJDK's log in with AD
tickets, which carry a PAC, over SPNEGO and raw krb5, with the fast path
On and Off; the refusals the suite checks with MIT (wrong SPN, stale
kvno, clock skew, replay) give the same log causes; a user in 1000 groups
logs in once httpd takes a field that long.  The module is unchanged: it
does not read the PAC yet."""

import base64
import os
import subprocess

import pytest

import harness
from conftest import (FAST_AND_GSS, KRB5, SPNEGO, AdClient, https_request,
                      login, negotiate, user_location)

REALM = "AD.N8443.TEST"

SPN = "NegotiateServicePrincipal HTTP/localhost@AD.N8443.TEST"

BODY = "\n" + FAST_AND_GSS + user_location("/spn", SPN) + \
    user_location("/gss-spn", "NegotiateFastPath Off", SPN)


@pytest.fixture(scope="module")
def ad_keytab(ad, base_dir):
    path = os.path.join(base_dir, "ad-http.keytab")
    harness.httpd_keytab(ad, path, "HTTP/localhost")
    return path


@pytest.fixture(scope="module")
def adsrv(ad, base_dir, module_path, certs, ad_keytab):
    srv = harness.Httpd(base_dir, module_path, ad, certs, ad_keytab, BODY,
                        name="httpd-ad",
                        extra_global="LimitRequestFieldSize 65536")
    srv.ca = certs.ca
    srv.start()
    yield srv
    srv.stop()


def test_ad_realm_is_up(ad):
    # Provisioning and start once per run; the budget is ~2 minutes.
    print("AD DC provisioned and populated in %.1f s; domain SID %s"
          % (ad.provision_seconds, ad.domain_sid))
    assert ad.provision_seconds < 120
    assert ad.domain_sid.startswith("S-1-5-21-")


@pytest.mark.parametrize("path,fast", [("/fast/", True), ("/gss/", False)],
                         ids=["fast-path-on", "fast-path-off"])
@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("user", ["alice", "bob", "dave", "erin"])
def test_ad_ticket_logs_in(adsrv, ad_clients, user, mech, path, fast):
    st, headers, ctx, log = login(adsrv, ad_clients(user), path, mech=mech)
    assert st == 404                        # authenticated; no such file
    assert headers["X-Remote-User"] == "%s@%s" % (user, REALM)
    assert "N8443001: login of %s@%s accepted (krb5)" % (user, REALM) in log
    assert ("by the fast path" in log) == fast
    # Mutual authentication completes with the server's answer.
    toks = [v.split(" ", 1)[1] for v in
            headers.get_all("WWW-Authenticate") or [] if " " in v]
    ctx.step(base64.b64decode(toks[0]))
    assert ctx.complete


def test_curl_negotiate_with_an_ad_ticket(adsrv, ad_clients):
    st, out = ad_clients("alice").curl(adsrv.url("/fast/"))
    assert st == 404
    assert "X-Remote-User: alice@%s" % REALM in out


def test_spn_named_explicitly(adsrv, ad_clients):
    st, headers, _, log = login(adsrv, ad_clients("alice"), "/spn/")
    assert st == 404 and "by the fast path" in log


def test_wrong_spn_is_refused(adsrv, ad_clients):
    # A ticket for another account's SPN: the keytab has no key for it.
    st, _, _, log = login(adsrv, ad_clients("alice"), "/fast/",
                          host="rotate.ad.n8443.test")
    assert st == 401
    assert "N8443020: login refused (wrong_principal): client asked for " \
        "HTTP/rotate.ad.n8443.test@%s" % REALM in log


@pytest.mark.parametrize("path,fast", [
    ("/fast/", True), ("/gss/", False), ("/spn/", True),
    ("/gss-spn/", False)])
def test_alias_spn_of_the_same_account(adsrv, ad_clients, path, fast):
    """HTTP/alias is an SPN of svc-web, so its ticket is encrypted in the
    key the keytab holds under HTTP/localhost.  Kerberos accepts it, also
    where NegotiateServicePrincipal names HTTP/localhost: MIT's
    krb5_rd_req takes a ticket for any name as long as it decrypts with
    the named principal's key ("This permits the KDC to have a set of
    aliases", rd_req_dec.c), and the fast path does as GSS-API does."""
    st, _, _, log = login(adsrv, ad_clients("alice"), path,
                          host="alias.ad.n8443.test")
    assert st == 404, log
    assert ("by the fast path" in log) == fast


def test_replay_is_refused(adsrv, ad_clients):
    for path in ("/fast/", "/gss/"):
        _, tok = ad_clients("alice").token()
        assert https_request(adsrv, path, [negotiate(tok)])[0] == 404
        mark = adsrv.log_mark()
        assert https_request(adsrv, path, [negotiate(tok)])[0] == 401
        assert "N8443025: login refused (replay): the authenticator of " \
            "alice@%s was presented before" % REALM in adsrv.log_since(mark)


def test_stale_kvno_is_refused(ad, base_dir, module_path, certs):
    """The account's key changes in AD; the server still has the old
    keytab: the log names both kvnos, as with MIT."""
    import ad_realm
    host = ad_realm.OTHER_SPN.split("/", 1)[1]
    kt = os.path.join(base_dir, "ad-rotate.keytab")
    harness.httpd_keytab(ad, kt, ad_realm.OTHER_SPN)
    srv = harness.Httpd(base_dir, module_path, ad, certs, kt,
                        BODY.split("  <Location /spn>")[0],
                        name="httpd-ad-rotate")
    srv.ca = certs.ca
    srv.start()
    try:
        old = ad.kvno_of(ad_realm.OTHER_SERVICE)
        st, _, _, log = login(srv, AdClient(ad, certs, "alice"), "/fast/",
                              host=host)
        assert st == 404, log
        ad.rotate_service_key(ad_realm.OTHER_SERVICE)
        new = ad.kvno_of(ad_realm.OTHER_SERVICE)
        assert new == old + 1
        st, _, _, log = login(srv, AdClient(ad, certs, "alice"), "/fast/",
                              host=host)
        assert st == 401
        assert ("login refused (wrong_principal): client asked for "
                "HTTP/%s@%s kvno %d" % (host, REALM, new)) in log
        assert "holds: HTTP/%s@%s kvno %d" % (host, REALM, old) in log
    finally:
        srv.stop()


@pytest.mark.parametrize("offset,expected", [("-10m", 401), ("+2m", 404)])
def test_clock_skew(adsrv, ad, certs, offset, expected):
    client = AdClient(ad, certs, "alice")
    subprocess.run(["kvno", "HTTP/localhost"], env=client.env, check=True,
                   capture_output=True)
    env = dict(client.env)
    conf = os.path.join(ad.dir, "krb5-skewed-client.conf")
    ad.write_krb5_conf(conf, " clockskew = 3600\n kdc_timesync = 0\n")
    env["KRB5_CONFIG"] = conf
    res = subprocess.run(harness.faketime(offset) + ["/usr/bin/python3",
                          os.path.join(os.path.dirname(__file__),
                                       "mktoken.py"), "localhost"],
                         env=env, capture_output=True, text=True, check=True)
    tok = base64.b64decode(res.stdout.strip())
    mark = adsrv.log_mark()
    assert https_request(adsrv, "/fast/", [negotiate(tok)])[0] == expected
    if expected == 401:
        log = adsrv.log_since(mark)
        assert "N8443020: login refused (skew)" in log
        assert "clock skew" in log


def test_user_in_1000_groups(adsrv, ad, base_dir, module_path, certs,
                            ad_keytab, ad_clients):
    """carol's PAC lists 1000 group RIDs: the token is far over 8 KB.  With
    httpd's default LimitRequestFieldSize (8190) httpd refuses the field
    (400) before the module sees it; raised, she logs in."""
    ctx = ad_clients("carol").context()
    tok = ctx.step()
    field = "Negotiate " + base64.b64encode(tok).decode()
    print("token of a user in 1000 AD groups: %d bytes, Authorization "
          "field %d bytes" % (len(tok), len(field)))
    assert len(tok) > 8192
    assert len(field) > 8190
    mark = adsrv.log_mark()
    st, headers, _ = https_request(adsrv, "/fast/", [negotiate(tok)])
    assert st == 404, adsrv.log_since(mark)
    assert headers["X-Remote-User"] == "carol@" + REALM
    srv = harness.Httpd(base_dir, module_path, ad, certs, ad_keytab, BODY,
                        name="httpd-ad-default-limit")
    srv.ca = certs.ca
    srv.start()
    try:
        _, tok = ad_clients("carol").token()
        assert https_request(srv, "/fast/", [negotiate(tok)])[0] == 400
    finally:
        srv.stop()


def test_the_accepted_context_carries_a_pac(ad, ad_keytab, ad_clients):
    """What the module will read: MIT's acceptor exposes the verified PAC
    as the name attribute urn:mspac: (with the logon info buffer as
    urn:mspac:logon-info).  N8443_SAVE_PACS=DIR saves each user's PAC
    (the fixtures of tests/unit/test_pac.c were made so)."""
    import gssapi
    import gssapi.raw as graw
    creds = gssapi.Credentials(usage="accept",
                               store={"keytab": ad_keytab})
    save = os.environ.get("N8443_SAVE_PACS")
    for user in ("alice", "bob", "carol", "dave", "erin"):
        _, tok = ad_clients(user).token(mech=KRB5)
        acc = gssapi.SecurityContext(creds=creds, usage="accept")
        acc.step(tok)
        name = acc.initiator_name
        attrs = graw.inquire_name(name).attrs
        assert b"urn:mspac:" in attrs
        attr = graw.get_name_attribute(name, b"urn:mspac:")
        # Verified by MIT (the KDC's and the server's signatures).
        assert attr.authenticated
        pac = attr.values[0]
        info = graw.get_name_attribute(
            name, b"urn:mspac:logon-info").values[0]
        assert info in pac
        if save:
            with open(os.path.join(save, "pac_%s.bin" % user), "wb") as f:
                f.write(pac)
            with open(os.path.join(save, "sids_%s.txt" % user), "w") as f:
                f.write(ad.sid_of(user) + "\n")


@pytest.fixture(scope="module")
def heimdal_token(tmp_path_factory):
    """tests/diff/heimdal_token.c, Heimdal's GSS-API initiator."""
    flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "heimdal-gssapi"], capture_output=True,
                           text=True)
    if flags.returncode != 0:
        pytest.skip("no Heimdal GSS-API (libgssapi3-heimdal)")
    exe = str(tmp_path_factory.mktemp("heimdal") / "heimdal_token")
    src = os.path.join(os.path.dirname(__file__), "..", "diff",
                       "heimdal_token.c")
    subprocess.run(["cc", "-o", exe, src] + flags.stdout.split(),
                   check=True)
    return exe


@pytest.mark.parametrize("mech", ["spnego", "krb5"])
def test_heimdal_client_with_an_ad_ticket(adsrv, ad_clients, heimdal_token,
                                          mech):
    """Heimdal's initiator, from the same ccache (it puts authorization
    data in the authenticator): both paths take the AD ticket."""
    for path in ("/fast/", "/gss/"):
        tok = subprocess.run([heimdal_token, "localhost", mech, "0x3e"],
                             env=ad_clients("bob").env, capture_output=True,
                             check=True).stdout
        mark = adsrv.log_mark()
        st, headers, _ = https_request(adsrv, path, [negotiate(tok)])
        log = adsrv.log_since(mark)
        assert st == 404, log
        assert headers["X-Remote-User"] == "bob@" + REALM
        assert ("by the fast path" in log) == (path == "/fast/"), log


def test_openjdk_client_with_an_ad_ticket(adsrv, ad, ad_clients, tmp_path):
    """OpenJDK's JGSS (tests/diff/JgssToken.java) gets its service ticket
    from the AD DC with dave's TGT: both paths take it."""
    import shutil
    java = shutil.which("java")
    if java is None:
        pytest.skip("no JDK (openjdk-17-jdk-headless)")
    env = dict(ad_clients("dave").env)
    env["KRB5CCNAME"] = env["KRB5CCNAME"].replace("FILE:", "")
    res = subprocess.run(
        [java, "-Djava.security.krb5.conf=" + ad.krb5_conf,
         "-Djavax.security.auth.useSubjectCredsOnly=false",
         os.path.join(os.path.dirname(__file__), "..", "diff",
                      "JgssToken.java"), str(tmp_path), "localhost", "00"],
        env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for name, path in (("spnego-mutual", "/fast/"), ("krb5-mutual", "/gss/"),
                       ("krb5-nomutual", "/fast/"),
                       ("spnego-nomutual", "/gss/")):
        tok = (tmp_path / ("real-java-%s-nocb-nodeleg.tok" % name)
               ).read_bytes()
        mark = adsrv.log_mark()
        st, headers, _ = https_request(adsrv, path, [negotiate(tok)])
        log = adsrv.log_since(mark)
        assert st == 404, (name, log)
        assert headers["X-Remote-User"] == "dave@" + REALM
        assert ("by the fast path" in log) == (path == "/fast/"), (name, log)
