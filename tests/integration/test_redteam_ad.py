"""Red-team probes of Require negotiate-group / the PAC against Samba's AD
DC: PACs in the wrong container, two PACs, a silver ticket (a PAC made
again with the service key), both login paths.  The tickets are forged
with the service key by tests/diff/n8443_diff --redteam (diff_pac.c).

Each test states what MIT's acceptor does; the module must do the same on
both paths (fast path and GSS-API)."""

import os
import subprocess
import time

import pytest

import harness
from conftest import (KRB5, AdClient, ad_service_files, https_request,
                      location, negotiate)
from test_ad import REALM
from test_ad_authz import GROUP_LOCATIONS
from test_auth_indicator import FORBID, HARDENED, HARDENED_GSS, SHOW_IND
from test_auth_indicator import USERS as IND_USERS

HEADERS = """
    AuthzSendForbiddenOnFailure On
    Header always set X-Group-Sids "expr=%{reqenv:NEGOTIATE_GROUP_SIDS}"
"""

BODY = GROUP_LOCATIONS


@pytest.fixture(scope="module")
def rt(ad, base_dir, module_path, certs, ad_sids):
    d, kt, gmap = ad_service_files(ad, base_dir, "redteam-ad", ad_sids)
    srv = harness.Httpd(base_dir, module_path, ad, certs, kt,
                        BODY.format(h=HEADERS), name="httpd-redteam-ad",
                        extra_global="LimitRequestFieldSize 65536\n"
                        "NegotiateGroupMap %s" % gmap)
    srv.ca = certs.ca
    srv.start()
    srv.gmap = gmap
    yield srv, kt
    srv.stop()


@pytest.fixture(scope="module")
def alice(ad, certs):
    return AdClient(ad, certs, "alice")


def get(srv, path, tok):
    mark = srv.log_mark()
    st, h, _ = https_request(srv, path, [negotiate(tok)])
    return st, h, srv.log_since(mark)


def forged(kt, client, what, tmp_path):
    from test_differential import driver
    raw = tmp_path / "real.tok"
    raw.write_bytes(client.token(mech=KRB5)[1])
    res = subprocess.run([driver(), "--redteam", kt, str(raw), what],
                         capture_output=True, env=client.env)
    assert res.returncode == 0, res.stderr
    return res.stdout


def both_paths(rt, client, what, tmp_path, path):
    srv, kt = rt
    out = {}
    for p in (path + "/", path + "-gss/"):
        st, h, log = get(srv, p, forged(kt, client, what, tmp_path))
        out[p] = (st, h.get("X-Group-Sids"), log)
    return out


# --------------------------------------------------------------- held
# These pass today: they record what was tried and held.

def test_pac_in_the_authenticator_is_not_used(rt, alice, tmp_path):
    """A PAC in the authenticator (which the client writes) is never read:
    MIT's mspac plugin reads the ticket's authorization data only."""
    r = both_paths(rt, alice, "authenticator-pac", tmp_path, "/users")
    for p, (st, sids, log) in r.items():
        assert st == 403, (p, log)
        assert "N8443001: login of alice@%s accepted" % REALM in log
        assert "N8443386" in log


@pytest.mark.parametrize("what", ["top-level-pac", "two-pacs-bad-first",
                                  "two-pacs-good-first"])
def test_pac_container_paths_agree(rt, alice, what, tmp_path):
    """A PAC outside AD-IF-RELEVANT, two PACs: the fast path and GSS-API
    take the same one (the first) and say the same."""
    r = both_paths(rt, alice, what, tmp_path, "/users")
    (st_f, sids_f, log_f), (st_g, sids_g, log_g) = r.values()
    assert (st_f, sids_f) == (st_g, sids_g), (log_f, log_g)
    if what == "two-pacs-bad-first":
        assert st_f == 403
    else:
        assert st_f == 404


def test_silver_ticket_is_trusted_as_mit_does(rt, alice, ad_sids, tmp_path):
    """A PAC signed again with the service key only (its KDC signature is
    made with the service key too): MIT's acceptor cannot check the KDC
    signature and vouches for the PAC; so does the module, on both paths.
    Whoever holds the keytab can mint any group (a silver ticket): the
    keytab is as sensitive as the groups it guards."""
    rid = ad_sids["web-admins"].rsplit("-", 1)[1]
    r = both_paths(rt, alice, "silver-primary:" + rid, tmp_path, "/admins")
    for p, (st, got, log) in r.items():
        assert st == 404, (p, log)
        assert ad_sids["web-admins"] in got.split()


# ------------------------------------------------------------ findings

def test_group_map_torn_write_is_not_taken(rt, alice, ad, ad_sids):
    """FINDING: a NegotiateGroupMap read again while it is being written
    in place (truncate, then write: `cat > map`, Python's open("w"), an
    editor without rename) is taken as it is, with a last line cut short
    and no newline.  A cut SID is still a SID, of another group: here
    web-admins is being mapped to <domain>-5131 (a group of a large
    domain) and the reader sees "<domain>-513", Domain Users, so every
    user of the domain is web-admins until the next read (a second or
    more later: the map is checked at most once a second, per child).
    Expected: a changed map whose last line does not end in a newline is
    not complete: logged, the map read before stays (as for a bad line),
    and it is read again when it changes."""
    srv, _ = rt
    gmap = srv.gmap
    with open(gmap) as f:
        old = f.read()
    # The map in use is good: alice is not in web-admins.
    st, _, log = get(srv, "/admins/", alice.token()[1])
    assert st == 403, log
    # The new map: web-admins becomes another group, RID 5131.
    final = old.replace("web-admins %s\n" % ad_sids["web-admins"], "") \
        + "web-admins %s-5131\n" % ad.domain_sid
    cut = final.rindex("-5131") + len("-513")
    try:
        time.sleep(1.1)
        # The first half of a write in place: the last line is cut.
        with open(gmap, "w") as f:
            f.write(final[:cut])
        time.sleep(1.1)
        st, _, log = get(srv, "/admins/", alice.token()[1])
        assert st == 403, ("a map cut in the middle of a SID was used: "
                           "alice (Domain Users) passed web-admins\n" + log)
    finally:
        with open(gmap + ".new", "w") as f:
            f.write(old)
        os.rename(gmap + ".new", gmap)
        time.sleep(1.1)


def _restore_map(gmap, text):
    with open(gmap + ".new", "w") as f:
        f.write(text)
    os.rename(gmap + ".new", gmap)
    time.sleep(2.1)


def test_group_map_deleted_fails_closed(rt, alice):
    """(404: authorized, no such page.)  A NegotiateGroupMap that is
    removed empties the map (fail closed): names no longer resolve, one warning (N8443445) per change; it is
    read again when it is back."""
    srv, _ = rt
    gmap = srv.gmap
    with open(gmap) as f:
        old = f.read()
    st, _, log = get(srv, "/users/", alice.token()[1])
    assert st == 404, log
    try:
        time.sleep(1.1)
        os.unlink(gmap)
        time.sleep(1.1)
        mark = srv.log_mark()
        st, _, _ = get(srv, "/users/", alice.token()[1])
        time.sleep(1.1)
        st2, _, _ = get(srv, "/users/", alice.token()[1])
        log = srv.log_since(mark)
        assert st == 403 and st2 == 403, log
        assert "N8443445" in log, log
        # Once per change (and per child): not on every look.
        assert log.count("N8443445") <= 4, log
    finally:
        _restore_map(gmap, old)
    st, _, log = get(srv, "/users/", alice.token()[1])
    assert st == 404, log


def test_group_map_fifo_does_not_hang(rt, alice):
    """A FIFO put in the map's place is refused on the opened descriptor
    (opened non-blocking): the request answers, the old map stays."""
    srv, _ = rt
    gmap = srv.gmap
    with open(gmap) as f:
        old = f.read()
    try:
        time.sleep(1.1)
        os.unlink(gmap)
        os.mkfifo(gmap)
        os.utime(gmap, (time.time() - 5, time.time() - 5))
        time.sleep(1.1)
        mark = srv.log_mark()
        st, _, _ = get(srv, "/users/", alice.token()[1])
        log = srv.log_since(mark)
        # 404 or 403: a child that last saw the map gone (the test
        # before) keeps its empty map; what counts is the answer.
        assert st in (403, 404), log
        assert "not a regular file" in log, log
    finally:
        os.unlink(gmap)
        _restore_map(gmap, old)


def test_group_map_same_size_same_mtime_edit_is_seen(rt, alice, ad_sids):
    """An edit in place of the same size whose mtime is put back (or that
    falls in the same second on a coarse clock) is seen by its ctime."""
    srv, _ = rt
    gmap = srv.gmap
    u, a = ad_sids["web-users"], ad_sids["web-admins"]
    if len(u) != len(a):
        pytest.skip("the two SIDs differ in length")
    with open(gmap) as f:
        old = f.read()
    st, _, log = get(srv, "/admins/", alice.token()[1])
    assert st == 403, log
    before = os.stat(gmap)
    new = old.replace(u, "@U@").replace(a, u).replace("@U@", a)
    assert len(new) == len(old) and new != old
    try:
        time.sleep(1.1)
        with open(gmap, "r+") as f:
            f.write(new)
        os.utime(gmap, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(gmap)
        assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
            (before.st_size, before.st_mtime_ns, before.st_ino)
        time.sleep(1.1)
        st, _, log = get(srv, "/admins/", alice.token()[1])
        assert st == 404, ("the swapped map was not read again\n" + log)
    finally:
        _restore_map(gmap, old)


def test_group_map_over_4mib_is_refused(rt, alice):
    """A map over 4 MiB is refused with a clear error (N8443380) and the
    map read before stays: here a good map padded with comments, in
    which web-users would be dropped."""
    srv, _ = rt
    gmap = srv.gmap
    with open(gmap) as f:
        old = f.read()
    try:
        _restore_map(gmap, old)
        mark = srv.log_mark()
        st, _, log = get(srv, "/users/", alice.token()[1])
        assert st == 404, log
        pad = ("#" + "x" * 1000 + "\n") * (4 * 1024 * 1024 // 1000 + 10)
        big = "".join(l + "\n" for l in old.splitlines()
                      if not l.startswith("web-users")) + pad
        _restore_map(gmap, big)
        mark = srv.log_mark()
        get(srv, "/users/", alice.token()[1])
        log = srv.log_since(mark)
        assert "larger than 4194304 bytes" in log, log
        # The old map stays: 404 where this child had the full map (one
        # that last saw the map removed keeps its empty one: 403).
        assert "read again" not in log, log
    finally:
        _restore_map(gmap, old)


# ------------------------------------- indicators from the authenticator

IND_BODY = "\n" + location("/hardened", FORBID, require=HARDENED,
                           after=(SHOW_IND,)) + HARDENED_GSS

# AD-AUTHENTICATION-INDICATOR (97): SEQUENCE OF UTF8String { "hardened" }
IND97 = "300a0c0868617264656e6564"
# AD-CAMMAC (96): CAMMAC { elements [0] { { 97, IND97 } } }, no verifier
CAMMAC = "301ba0193017" "3015a003020161a10e040c" + IND97
# AD-IF-RELEVANT (1) { { 96, CAMMAC } }
IFREL_CAMMAC = "30283026a003020160a11f041d" + CAMMAC


@pytest.fixture(scope="module")
def rt_ind(base_dir, module_path, certs):
    from conftest import Client
    with harness.indicator_realm(os.path.join(base_dir, "redteam-ind"),
                                 IND_USERS) as r:
        kt = os.path.join(base_dir, "redteam-ind", "http.keytab")
        harness.httpd_keytab(r, kt, ["HTTP/localhost"])
        srv = harness.Httpd(base_dir, module_path, r, certs, kt, IND_BODY,
                            name="httpd-redteam-ind")
        srv.ca = certs.ca
        try:
            srv.start()
            yield srv, kt, Client(r, certs, "plain", IND_USERS)
        finally:
            srv.stop()


@pytest.mark.parametrize("ad", ["97:" + IND97, "96:" + CAMMAC,
                                "1:" + IFREL_CAMMAC],
                         ids=["raw-indicator", "cammac", "if-relevant-cammac"])
@pytest.mark.parametrize("path", ["/hardened/", "/hardened-gss/"])
def test_indicator_in_the_authenticator_is_not_used(rt_ind, ad, path,
                                                    tmp_path):
    """The client writes the authenticator: an indicator there (bare, in
    a CAMMAC without verifiers, in an AD-IF-RELEVANT CAMMAC) is never
    taken, on either path."""
    srv, kt, plain = rt_ind
    st, h, log = get(srv, path, forged(kt, plain, "authn-ad:" + ad,
                                       tmp_path))
    assert "N8443001: login of plain@" in log, log
    assert st == 403, log
    assert h.get("X-Ind") in (None, "", "(null)")

