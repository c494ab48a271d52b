"""The fast path (core/krb5_accept.c): plain Kerberos logins checked with
krb5_rd_req directly.  What it must show: it is the path real logins take,
the client accepts its answer exactly as it accepts GSS-API's (same
structure, mutual authentication completes), and everything it does not
handle (delegation, bindings that do not match, S4U2Proxy, refusals)
still goes through GSS-API with the same statuses and log lines.
"""

import base64
import hashlib
import json
import os
import subprocess

import gssapi
import pytest

import harness
import tokedit
from test_replay import memcached  # noqa: F401  (a fixture)
from conftest import (KRB5, SHOW_USER, SPNEGO, Client, challenge_tokens,
                      https_request, location, login, negotiate,
                      user_location)

BODY = "\n" + location("/fast", after=(
    SHOW_USER,
    'Header always set X-Channel-Bound '
    '"expr=%{reqenv:NEGOTIATE_CHANNEL_BOUND}"')) + \
    user_location("/gss", "NegotiateFastPath Off") + \
    user_location("/spn",
                  "NegotiateServicePrincipal HTTP/localhost@TEST.N8443") + \
    user_location("/deleg", "NegotiateDelegation On") + \
    user_location("/fast-session", "NegotiateSession On") + \
    user_location("/gss-session", "NegotiateFastPath Off",
                  "NegotiateSession On") + \
    user_location("/anon", "NegotiateAllowAnonymous On") + """\
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""

# Each hostile token is sent to the fast path (On) and to GSS-API alone
# (Off): the two must answer alike.
ON_OFF = [("/fast/", "/gss/"), ("/fast-session/", "/gss-session/")]


@pytest.fixture(scope="module")
def fsrv(base_dir, module_path, realm, certs, keytab):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, "",
                        name="httpd-fast-path")
    ccdir = os.path.join(srv.dir, "ccaches")
    os.makedirs(ccdir)
    harness.chown_to_httpd(ccdir, 0o700)
    key = os.path.join(srv.dir, "session.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    srv.write_conf(module_path, certs, keytab, BODY, "event",
                   "NegotiateDelegationDir %s\nNegotiateSessionKeyFile %s"
                   % (ccdir, key))
    srv.ca = certs.ca
    srv.start()
    yield srv
    srv.stop()


def status(srv):
    st, _, body = https_request(srv, "/negotiate8443-status")
    assert st == 200
    return json.loads(body)


def answer(headers):
    toks = [t for t in challenge_tokens(headers) if t]
    assert len(toks) == 1, headers
    return base64.b64decode(toks[0])


def der(buf, i=0):
    """(tag, content start, content end) of the DER value at i."""
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + n


def shape(tok):
    """The answer's structure without the AP-REP's cipher text: for SPNEGO
    the NegTokenResp fields, then the krb5 GSS header and TOK_ID."""
    out = []
    tag, s, e = der(tok)
    if tag == 0xa1:                         # NegTokenResp
        _, s, e = der(tok, s)               # SEQUENCE
        while s < e:
            ctag, cs, ce = der(tok, s)
            itag, is_, ie = der(tok, cs)
            if ctag == 0xa2:
                out.append(("responseToken", shape(tok[is_:ie])))
            else:
                out.append((hex(ctag), hex(itag), tok[is_:ie].hex()))
            s = ce
        return out
    assert tag == 0x60
    otag, os_, oe = der(tok, s)
    return [("gss", tok[os_:oe].hex(), tok[oe:oe + 2].hex(), hex(tok[oe + 2]))]


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
def test_login_takes_the_fast_path(fsrv, alice, mech):
    before = status(fsrv)
    st, headers, ctx, log = login(fsrv, alice, "/fast/", mech=mech)
    assert st == 404                        # authenticated; no such file
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    assert "N8443001: login of alice@TEST.N8443 accepted (krb5) by the " \
        "fast path" in log
    # Mutual authentication: the initiator checks our AP-REP.
    assert not ctx.complete
    ctx.step(answer(headers))
    assert ctx.complete
    after = status(fsrv)
    assert after["logins"] == before["logins"] + 1
    assert after["logins_fast_path"] == before["logins_fast_path"] + 1


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("mutual", [True, False], ids=["mutual", "no-mutual"])
def test_answer_has_the_shape_of_gssapis(fsrv, alice, mech, mutual):
    st1, h1, ctx1, log1 = login(fsrv, alice, "/fast/", mech=mech,
                                mutual=mutual)
    st2, h2, ctx2, log2 = login(fsrv, alice, "/gss/", mech=mech,
                                mutual=mutual)
    assert (st1, st2) == (404, 404)
    assert "by the fast path" in log1
    assert "N8443001" in log2 and "by the fast path" not in log2
    t1 = [t for t in challenge_tokens(h1) if t]
    t2 = [t for t in challenge_tokens(h2) if t]
    assert len(t1) == len(t2)
    if t1:
        assert shape(base64.b64decode(t1[0])) == \
            shape(base64.b64decode(t2[0]))
    if mutual:
        ctx1.step(base64.b64decode(t1[0]))
        assert ctx1.complete


def test_fast_path_off_goes_through_gssapi(fsrv, alice):
    before = status(fsrv)
    st, headers, ctx, log = login(fsrv, alice, "/gss/")
    assert st == 404
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    ctx.step(answer(headers))
    assert ctx.complete
    after = status(fsrv)
    assert after["logins"] == before["logins"] + 1
    assert after["logins_fast_path"] == before["logins_fast_path"]


def test_service_principal_is_honoured(fsrv, alice):
    st, headers, _, log = login(fsrv, alice, "/spn/")
    assert st == 404 and "by the fast path" in log
    # A ticket for a principal the keytab has no key for: krb5 refuses,
    # GSS-API diagnoses, 401 with the wrong_principal line.
    st, _, _, log = login(fsrv, alice, "/fast/", host="other.test.n8443")
    assert st == 401
    assert "N8443020: login refused (wrong_principal)" in log


def test_replay_is_refused_on_the_fast_path(fsrv, alice):
    ctx = alice.context()
    tok = ctx.step()
    st, _, _ = https_request(fsrv, "/fast/", [negotiate(tok)])
    assert st == 404
    mark = fsrv.log_mark()
    st, _, _ = https_request(fsrv, "/fast/", [negotiate(tok)])
    assert st == 401
    assert "N8443025: login refused (replay)" in fsrv.log_since(mark)


def test_delegation_goes_through_gssapi(fsrv, alice):
    st, headers, _, log = login(fsrv, alice, "/deleg/", delegate=True)
    assert st == 404
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    assert "N8443001: login of alice@TEST.N8443 accepted (krb5)" in log
    assert "by the fast path" not in log
    # Without delegation the same location takes the fast path.
    st, _, _, log = login(fsrv, alice, "/deleg/")
    assert st == 404 and "by the fast path" in log


def test_channel_bindings(fsrv, alice, certs):
    der_cert = subprocess.run(["openssl", "x509", "-in", certs.cert,
                               "-outform", "DER"], capture_output=True,
                              check=True).stdout
    right = b"tls-server-end-point:" + hashlib.sha256(der_cert).digest()
    wrong = b"tls-server-end-point:" + bytes(32)
    cb = gssapi.raw.ChannelBindings(application_data=right)
    st, headers, ctx, log = login(fsrv, alice, "/fast/",
                                  channel_bindings=cb)
    assert st == 404 and "by the fast path" in log
    assert headers["X-Channel-Bound"] == "true"
    st, headers, ctx, log = login(fsrv, alice, "/fast/")
    assert st == 404 and "by the fast path" in log
    assert headers["X-Channel-Bound"] == "false"
    # Different bindings: left to GSS-API, which refuses them.
    cb = gssapi.raw.ChannelBindings(application_data=wrong)
    st, _, _, log = login(fsrv, alice, "/fast/", channel_bindings=cb)
    assert st == 401
    assert "N8443020: login refused (bad_bindings)" in log


@pytest.mark.parametrize("how", ["KRB5_KTNAME", "default_keytab_name"])
def test_default_keytab_is_copied_and_watched(base_dir, module_path, realm,
                                              certs, how):
    """No NegotiateKeytab: the keytab Kerberos finds by itself (from the
    environment, or from krb5.conf) is the one copied for the fast path,
    and a new key in it is picked up without a restart, as for a
    configured keytab."""
    host = "deftab-%s.test.n8443" % how.lower().replace("_", "")
    realm.add_service("HTTP/" + host)
    kt = os.path.join(base_dir, "deftab-%s.keytab" % how)
    realm.export_keytab(kt, ["HTTP/" + host])
    harness.chown_to_httpd(kt)
    if how == "KRB5_KTNAME":
        env = {"KRB5_KTNAME": "FILE:" + kt}
    else:
        conf = os.path.join(base_dir, "krb5-deftab.conf")
        realm.write_krb5_conf(conf, " default_keytab_name = FILE:%s\n" % kt)
        os.chmod(conf, 0o644)
        env = {"KRB5_CONFIG": conf}
    body = BODY[:BODY.index("  <Location /gss>")]      # /fast only
    srv = harness.Httpd(base_dir, module_path, realm, certs, None, body,
                        name="httpd-fast-deftab-" + how.lower(),
                        env_extra=env)
    srv.ca = certs.ca
    srv.start()
    try:
        alice = Client(realm, certs, "alice")
        st, headers, _, log = login(srv, alice, "/fast/", host=host)
        assert st == 404, log
        assert "by the fast path" in log

        realm.kadmin("cpw -randkey HTTP/" + host)
        tmp = kt + ".new"
        realm.export_keytab(tmp, ["HTTP/" + host])
        harness.chown_to_httpd(tmp)
        os.replace(tmp, kt)
        alice = Client(realm, certs, "alice")      # a ticket with the new kvno
        st, headers, _, log = login(srv, alice, "/fast/", host=host)
        assert st == 404, log
        assert "by the fast path" in log
    finally:
        srv.stop()


def cookie_max_age(headers):
    """Max-Age of the session cookie set, or None without one."""
    for v in headers.get_all("Set-Cookie") or []:
        for part in v.split(";"):
            k, _, val = part.strip().partition("=")
            if k.lower() == "max-age":
                return int(val)
    return None


def send(srv, path, tok):
    mark = srv.log_mark()
    st, headers, _ = https_request(srv, path, [negotiate(tok)])
    return st, headers, srv.log_since(mark)


# ------------------------------------------------- issue 15: hostile tokens

@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("on,off", ON_OFF, ids=["plain", "session"])
def test_etype_rewritten_replay_is_refused(fsrv, alice, mech, on, off):
    """An accepted token replayed with its authenticator's etype field
    rewritten 18 -> 511 (MIT still decrypts it with the session key): a
    replay on both paths, no login and no cookie."""
    for path in (on, off):
        tok = alice.context(mech=mech).step()
        st, headers, log = send(fsrv, path, tok)
        assert st == 404, log
        for etype in (511, 17, 23):
            bad = tokedit.with_auth_etype(tok, etype)
            st, headers, log = send(fsrv, path, bad)
            assert st == 401, (path, etype, log)
            assert cookie_max_age(headers) is None
            assert headers.get("X-Remote-User", "") in ("", "(null)")


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
def test_etype_rewritten_fresh_token_same_on_and_off(fsrv, alice, mech):
    """Never used before, but its etype field is not the session key's:
    GSS-API refuses it (MIT's replay-cache tag needs the enctype's
    checksum length), so the fast path must leave it to GSS-API, and the
    refusal is not called a replay."""
    for path in ("/fast/", "/gss/"):
        tok = tokedit.with_auth_etype(alice.context(mech=mech).step(), 511)
        st, _, log = send(fsrv, path, tok)
        assert st == 401, (path, log)
        assert "by the fast path" not in log
        assert "(replay)" not in log, log
        assert "N8443020: login refused (etype)" in log, log


def _spnego_from(tok, **kw):
    """The SPNEGO token's krb5 token re-sent in a NegTokenInit built with
    tokedit.spnego_init(**kw) (krb5 first, as MIT lists it)."""
    inner = tokedit.spnego_mech_token(tok)
    if "inner" in kw:
        inner = kw.pop("inner")(inner)
    return tokedit.spnego_init([tokedit.KRB5_OID, tokedit.KRB5_OLD_OID],
                               inner, **kw)


def _krb5_rebuilt(raw, **kw):
    oid, tok_id, apreq = tokedit.krb5_parts(raw)
    return tokedit.build_krb5(apreq, oid, tok_id, **kw)


# name: (mechanism of the fresh token, its rewrite, may the fast path take
# it).  The fast path takes only MIT's exact forms; everything else is
# GSS-API's to accept or refuse.
FRAMINGS = {
    "reqflags-a10303": (SPNEGO, lambda t: _spnego_from(
        t, req_flags=bytes.fromhex("a10303010" + "0")), False),
    "reqflags-zero-padding": (SPNEGO, lambda t: _spnego_from(
        t, req_flags=bytes.fromhex("a104030200" + "00")), False),
    "reqflags-two-octets": (SPNEGO, lambda t: _spnego_from(
        t, req_flags=bytes.fromhex("a10503030000" + "00")), False),
    "reqflags-long-length": (SPNEGO, lambda t: _spnego_from(
        t, req_flags=bytes.fromhex("a18104030201" + "00")), False),
    "reqflags-mit-form": (SPNEGO, lambda t: _spnego_from(
        t, req_flags=bytes.fromhex("a10403020100")), True),
    "spnego-oid-long": (SPNEGO, lambda t: _spnego_from(t, oid_width=1),
                        False),
    "spnego-mech-oids-long": (SPNEGO, lambda t: _spnego_from(
        t, mech_oid_width=1), False),
    "spnego-lengths-long": (SPNEGO, lambda t: _spnego_from(t, width=3),
                            False),
    "spnego-outer-long": (SPNEGO, lambda t: _spnego_from(
        t, outer_width=3), False),
    "spnego-inner-krb5-oid-long": (SPNEGO, lambda t: _spnego_from(
        t, inner=lambda r: _krb5_rebuilt(r, oid_width=1)), False),
    "spnego-inner-krb5-outer-long": (SPNEGO, lambda t: _spnego_from(
        t, inner=lambda r: _krb5_rebuilt(r, outer_width=3)), False),
    "spnego-canonical-rebuilt": (SPNEGO, lambda t: _spnego_from(t), True),
    "krb5-oid-long": (KRB5, lambda t: _krb5_rebuilt(t, oid_width=1), False),
    "krb5-oid-long-2": (KRB5, lambda t: _krb5_rebuilt(t, oid_width=2),
                        False),
    "krb5-outer-long": (KRB5, lambda t: _krb5_rebuilt(t, outer_width=3),
                        False),
    "krb5-apreq-lengths-long": (KRB5, lambda t: _krb5_rebuilt(
        t, apreq_width=3), False),
    "krb5-canonical-rebuilt": (KRB5, lambda t: _krb5_rebuilt(t), True),
}


@pytest.mark.parametrize("name", sorted(FRAMINGS))
def test_framing_same_on_and_off(fsrv, alice, name):
    """Framings MIT refuses (reqFlags not in its exact form, long-form OID
    lengths in the SPNEGO, inner krb5 or raw krb5 header) and other
    non-minimal DER: the fast path leaves them to GSS-API, so On and Off
    answer alike."""
    mech, rewrite, fast_may = FRAMINGS[name]
    results = []
    for path in ("/fast/", "/gss/"):
        tok = rewrite(alice.context(mech=mech).step())
        st, headers, log = send(fsrv, path, tok)
        results.append((st, headers.get("X-Remote-User", "")))
        if path == "/fast/" and not fast_may:
            assert "by the fast path" not in log, log
        assert "(replay)" not in log, log
    assert results[0] == results[1], results


# ------------------------------------------------- issue 15: lifetime, skew

def short_client(realm, certs, lifetime):
    """alice with a TGT (and so service tickets) of `lifetime` (kinit -l)."""
    c = Client(realm, certs, "alice")
    harness.run(["kinit", "-l", lifetime, "alice"], env=c.env,
                input="alice-pw-1\n")
    return c


def ticket_end(client):
    """The end time of the client's TGT, as a Unix time (klist)."""
    import datetime
    out = harness.run(["klist"], env=client.env).stdout
    for line in out.splitlines():
        if "krbtgt/" in line:
            f = line.split()
            end = datetime.datetime.strptime(f[2] + " " + f[3],
                                             "%m/%d/%y %H:%M:%S")
            return end.timestamp()
    raise AssertionError(out)


def test_session_ends_with_a_short_ticket(fsrv, realm, certs):
    """A 4-minute ticket: the cookie lives at most 240 s on both paths
    (GSS-API reports end - now + skew; the skew is a grace period for the
    ticket, not for the session)."""
    c = short_client(realm, certs, "4m")
    ages = []
    for path in ("/fast-session/", "/gss-session/"):
        tok = c.context().step()
        st, headers, log = send(fsrv, path, tok)
        assert st == 404, log
        assert ("by the fast path" in log) == (path == "/fast-session/")
        ages.append(cookie_max_age(headers))
    assert all(a is not None and 225 <= a <= 240 for a in ages), ages
    assert abs(ages[0] - ages[1]) <= 2, ages


def test_expired_ticket_gets_no_cookie(fsrv, realm, certs):
    """A ticket past its end (but within the clock skew, so Kerberos still
    takes it): the login goes through on both paths, with no cookie."""
    c = short_client(realm, certs, "8s")
    toks = [c.context().step() for _ in range(2)]
    end = ticket_end(c)
    import time
    time.sleep(max(0, end - time.time()) + 3)
    for path, tok in zip(("/fast-session/", "/gss-session/"), toks):
        st, headers, log = send(fsrv, path, tok)
        assert st == 404, log
        assert headers["X-Remote-User"] == "alice@TEST.N8443"
        assert cookie_max_age(headers) is None, (path, headers)


def test_ticket_ending_past_2_31_seconds_same_cookie(fsrv, realm, keytab):
    """From an outside review: a ticket ending more than 2^31 s from now
    (forged with the service key, as a KDC without a lifetime cap would
    issue it).  MIT hands end - now + skew out as an OM_uint32 that wraps
    to the long lifetime; the fast path once clamped the negative int32
    to 0, so GSS-API set a cookie and the fast path none."""
    from test_differential import driver
    ages = {}
    for path in ("/fast-session/", "/gss-session/"):
        res = subprocess.run([driver(), "--forge", keytab,
                              "alice@TEST.N8443", str(0x80001000)],
                             capture_output=True, text=True, env=realm.env,
                             check=True)
        tok = base64.b64decode(res.stdout.strip())
        st, headers, log = send(fsrv, path, tok)
        assert st == 404, log
        assert headers["X-Remote-User"] == "alice@TEST.N8443"
        assert ("by the fast path" in log) == (path == "/fast-session/")
        ages[path] = cookie_max_age(headers)
    assert ages["/fast-session/"] is not None, ages
    assert ages["/fast-session/"] == ages["/gss-session/"], ages


@pytest.mark.parametrize("at_start,edited,offset,expected", [
    (300, 60, "+150s", 404),
    (20, 300, "+100s", 401),
], ids=["300-to-60", "20-to-300"])
def test_krb5_conf_edit_at_run_time_changes_neither_path(
        base_dir, module_path, realm, certs, keytab, at_start, edited,
        offset, expected):
    """The clock skew is fixed when httpd starts, for both paths, and
    logged once; editing krb5.conf while httpd runs changes neither, and
    the replay cache's retention stays 2 x the skew in force (+ 2 s)."""
    from test_replay import skewed_token
    conf = os.path.join(base_dir, "krb5-edit-%d.conf" % at_start)
    realm.write_krb5_conf(conf, " clockskew = %d\n" % at_start)
    os.chmod(conf, 0o644)
    body = BODY[:BODY.index("  <Location /spn>")] + """
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                        name="httpd-fast-skew-edit-%d" % at_start,
                        env_extra={"KRB5_CONFIG": conf})
    srv.ca = certs.ca
    srv.start()
    try:
        log = srv.output()
        # once per start (httpd's two configuration passes included)
        assert log.count("N8443071") == 1, log
        assert "clock skew %d s (krb5.conf)" % at_start in log
        realm.write_krb5_conf(conf, " clockskew = %d\n" % edited)
        os.chmod(conf, 0o644)
        client = Client(realm, certs, "alice")
        for path in ("/fast/", "/gss/"):
            tok = skewed_token(client, offset)
            st, _, log = send(srv, path, tok)
            assert st == expected, (path, log)
            if expected == 401:
                assert "N8443020: login refused (skew)" in log
        doc = status(srv)
        assert doc["clock_skew"] == at_start
        assert doc["replay_cache"]["retention_seconds"] == 2 * at_start + 2
    finally:
        srv.stop()


# ------------------------------------------------- issue 15: anonymous

def forged(realm, keytab, client):
    """A raw krb5 token for a ticket made with the service key for client
    (tests/diff/n8443_diff --forge)."""
    from test_differential import driver
    res = subprocess.run([driver(), "--forge", keytab, client],
                         capture_output=True, text=True, env=realm.env,
                         check=True)
    return base64.b64decode(res.stdout.strip())


@pytest.mark.parametrize("client", [
    "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS",
    "WELLKNOWN/ANONYMOUS@TEST.N8443",
], ids=["anonymous", "realm-anonymous"])
def test_anonymous_is_refused_unless_allowed(fsrv, realm, keytab, client):
    # The forge makes real logins: alice's is taken.
    st, headers, log = send(fsrv, "/fast/",
                            forged(realm, keytab, "alice@TEST.N8443"))
    assert st == 404 and headers["X-Remote-User"] == "alice@TEST.N8443"
    before = status(fsrv)["failures"]["anonymous"]
    for path in ("/fast/", "/gss/"):
        st, headers, log = send(fsrv, path, forged(realm, keytab, client))
        assert st == 401, log
        assert "N8443200: login refused (anonymous): %s" % client in log
    assert status(fsrv)["failures"]["anonymous"] == before + 2
    st, headers, log = send(fsrv, "/anon/", forged(realm, keytab, client))
    assert st == 404, log
    assert headers["X-Remote-User"] == client


def test_etype_rewritten_replay_memcache_and_bindings_required(
        base_dir, module_path, realm, certs, keytab, alice, memcached):
    """The same replay under NegotiateReplayCache memcache and
    NegotiateChannelBinding require (the token carries the right
    bindings): refused On and Off."""
    port, _, _ = memcached
    body = """
  <Location /fast>
    AuthType Negotiate
    NegotiateChannelBinding require
    Require valid-user
  </Location>
  <Location /gss>
    AuthType Negotiate
    NegotiateChannelBinding require
    NegotiateFastPath Off
    Require valid-user
  </Location>
"""
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                        name="httpd-fast-etype-memcache",
                        extra_global="NegotiateReplayCache memcache "
                        "127.0.0.1:%d" % port)
    srv.ca = certs.ca
    srv.start()
    try:
        der_cert = subprocess.run(["openssl", "x509", "-in", certs.cert,
                                   "-outform", "DER"], capture_output=True,
                                  check=True).stdout
        cb = gssapi.raw.ChannelBindings(
            application_data=b"tls-server-end-point:"
            + hashlib.sha256(der_cert).digest())
        for path in ("/fast/", "/gss/"):
            tok = alice.context(channel_bindings=cb).step()
            st, _, log = send(srv, path, tok)
            assert st == 404, log
            assert ("by the fast path" in log) == (path == "/fast/")
            st, _, log = send(srv, path, tokedit.with_auth_etype(tok, 511))
            assert st == 401, (path, log)
    finally:
        srv.stop()


@pytest.mark.parametrize("mech", ["spnego", "krb5"])
def test_heimdal_client_with_authenticator_authdata(fsrv, alice, tmp_path,
                                                    mech):
    """Heimdal's client puts authorization data (etype negotiation) in
    the authenticator: the fast path takes it now (krb5_rd_req handles it,
    MIT's check_cbt is made alike), with the same answer as GSS-API."""
    from test_differential import DIFF_SRC
    flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "heimdal-gssapi"], capture_output=True,
                           text=True)
    if flags.returncode != 0:
        pytest.skip("no Heimdal GSS-API (libgssapi3-heimdal)")
    exe = str(tmp_path / "heimdal_token")
    subprocess.run(["cc", "-o", exe, os.path.join(DIFF_SRC,
                                                  "heimdal_token.c")]
                   + flags.stdout.split(), check=True)
    for path in ("/fast/", "/gss/"):
        tok = subprocess.run([exe, "localhost", mech, "0x3e"],
                             env=alice.env, capture_output=True,
                             check=True).stdout
        st, headers, log = send(fsrv, path, tok)
        assert st == 404, log
        assert headers["X-Remote-User"] == "alice@TEST.N8443"
        assert ("by the fast path" in log) == (path == "/fast/"), log
        assert answer(headers)
