"""Red-team regression tests for the replay cache (issue: a token accepted
once is never accepted again while Kerberos would still accept it).  Each
test here failed when it was written."""

import os
import time

import pytest

from conftest import https_request, negotiate, start_httpd

# The replay-memory tests' server body and helpers.
from test_replay_memory import BODY, login, rc_file, status  # noqa: E402,F401


def _set_skew(srv, conf, skew):
    with open(srv.conf, "w") as f:
        f.write(conf.replace("NegotiateClockSkew 3\n",
                             "NegotiateClockSkew %d\n" % skew))


@pytest.mark.parametrize("how", ["graceful", "stop-start"])
def test_skew_raised_across_restart_keeps_entries_long_enough(
        base_dir, module_path, realm, certs, keytab, alice, how):
    """NegotiateClockSkew raised on a restart (graceful or full) with an
    explicit NegotiateReplayCacheSize: the table (same size) is kept, and
    its entries still expire after the OLD retention (2 x old skew + 2 s),
    while Kerberos now accepts the authenticator for the NEW skew.  A token
    used before the restart must stay refused while the new skew accepts
    it."""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-skew-" + how,
                      extra_global="NegotiateReplayCache shm\n"
                                   "NegotiateReplayCacheSize 5000\n"
                                   "NegotiateClockSkew 3\n")
    try:
        with open(srv.conf) as f:
            conf = f.read()
        _, tok = alice.token()
        assert login(srv, tok) == 200
        used_at = time.time()
        assert login(srv, tok) == 401
        _set_skew(srv, conf, 300)
        if how == "graceful":
            srv.graceful()
        else:
            srv.stop()
            srv.start()
        # The old retention (2 x 3 + 2 = 8 s) is over; the new skew (300 s)
        # still accepts the authenticator.
        time.sleep(max(0.0, used_at + 10 - time.time()))
        assert login(srv, tok) == 401, \
            "a token used once was accepted again after the skew was raised"
    finally:
        srv.stop()


def test_memcache_server_removed_from_list_moves_keys(
        base_dir, module_path, realm, certs, keytab, alice):
    """One memcached of two is lost and the administrator drops it from
    NegotiateReplayCache memcache (graceful restart).  The home of a key
    is FNV(key) % N: with N changed, keys that lived on the lost server
    (and some of the survivor's) are now checked on the survivor, whose
    watermark is old - the tokens used before are accepted again."""
    from test_replay_memory_mc import Memcached
    a, b = Memcached(), Memcached()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-mc-list",
                      extra_global="NegotiateReplayCache memcache "
                                   "127.0.0.1:%d,127.0.0.1:%d\n"
                                   % (a.port, b.port))
    try:
        toks = [alice.token()[1] for _ in range(16)]
        for t in toks:
            assert login(srv, t) == 200
        b.kill()
        with open(srv.conf) as f:
            conf = f.read()
        with open(srv.conf, "w") as f:
            f.write(conf.replace(",127.0.0.1:%d" % b.port, ""))
        srv.graceful()
        again = [login(srv, t) for t in toks]
        assert 200 not in again, \
            "tokens used once accepted again after the list changed: %r" \
            % again
    finally:
        srv.stop()
        a.kill()
        b.kill()


@pytest.mark.parametrize("how", ["FLUSHALL", "FLUSHDB"])
def test_redis_flush_without_restart(base_dir, module_path, realm, certs,
                                     keytab, alice, how):
    """Redis loses its memory without a new identity (FLUSHALL / FLUSHDB:
    same replication ID, same run ID).  The children keep the watermark
    they cached for that identity; the entries are gone, so a token used
    before is accepted again.  (The memcached provider catches a flush
    through its lost n8443:born key; Redis's since key goes with the
    flush, but nobody looks.)"""
    import test_replay_redis as tr
    if not tr.redis_built(module_path):
        pytest.skip("module built without Redis support")
    r = tr.Redis(os.path.join(base_dir, "redis-rt-rc-" + how), "rt")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-redis-" + how,
                      extra_global="NegotiateReplayCache redis %s\n"
                                   % r.addr())
    try:
        time.sleep(1.5)
        toks = [alice.token()[1] for _ in range(4)]
        for t in toks:
            assert login(srv, t) == 200
        assert r.cli(how) == "OK"
        time.sleep(1.2)     # past the children's once-a-second look
        again = [login(srv, t) for t in toks]
        assert 200 not in again, \
            "tokens used once accepted again after %s: %r" % (how, again)
    finally:
        srv.stop()
        r.kill()


def _forge(realm, keytab, ctime):
    import base64
    import subprocess
    from test_differential import driver
    res = subprocess.run([driver(), "--forge", keytab, "alice@TEST.N8443",
                          "36000", str(int(ctime))],
                         capture_output=True, text=True, env=realm.env,
                         check=True)
    return base64.b64decode(res.stdout.strip())


@pytest.mark.parametrize("path", ["/protected/", "/gss/"],
                         ids=["fast-path", "gss-api"])
def test_future_authenticator_replayed_after_table_loss(
        base_dir, module_path, realm, certs, keytab, path):
    """A client whose clock runs ahead (within the skew: Kerberos takes
    it) stamps its authenticator after the moment the table is lost (here:
    a host reboot, the file's boot ID no longer the host's).  Default
    configuration (NegotiateReplayCacheMargin 0): the stamp is after the
    new watermark, the entry is gone, the captured token is accepted a
    second time while Kerberos still accepts it."""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-future-" + path.strip("/"),
                      extra_global="NegotiateReplayCache shm\n")
    try:
        os.makedirs(os.path.join(srv.dir, "htdocs", "gss"), exist_ok=True)
        with open(os.path.join(srv.dir, "htdocs", "gss", "index.html"),
                  "w") as f:
            f.write("gss\n")
        # Stamped 4 s ahead: within the default NegotiateReplayCacheMargin
        # (5 s), which is what the module covers; a client further ahead
        # is the documented residual (raise the margin for it).
        tok = _forge(realm, keytab, time.time() + 4)
        assert login(srv, tok, path) == 200
        assert login(srv, tok, path) == 401
        srv.stop()
        rc = rc_file(srv)
        with open(rc, "r+b") as f:          # a reboot: another boot ID
            f.seek(40)
            f.write(b"0" * 36)
        srv.start()
        assert login(srv, tok, path) == 401, \
            "a token used once was accepted again after the table was lost"
    finally:
        srv.stop()


def test_token_used_on_one_vhost_is_refused_on_another(
        base_dir, module_path, realm, certs, keytab, alice):
    """Two vhosts of one instance, same SPN and keytab, each with its own
    NegotiateReplayCache (the directive is per vhost): the main one (TLS)
    uses the shm table, the plain one memcached.  A token accepted on one
    is looked up only in that vhost's store and is accepted again on the
    other."""
    import harness
    from test_replay_memory_mc import Memcached
    m = Memcached()
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-rt-rc-vhosts",
                        extra_global="NegotiateReplayCache shm\n")
    srv.ca = certs.ca
    with open(srv.conf) as f:
        conf = f.read()
    marker = "<VirtualHost 127.0.0.1:%d>\n" % srv.plain_port
    assert marker in conf
    conf = conf.replace(marker, marker + "  NegotiateReplayCache memcache "
                        "127.0.0.1:%d\n  <Location /protected>\n"
                        "    NegotiateRequireTLS Off\n  </Location>\n"
                        % m.port)
    with open(srv.conf, "w") as f:
        f.write(conf)
    srv.start()
    try:
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        st = https_request(srv, "/protected/", [negotiate(tok)],
                           plain=True)[0]
        assert st == 401, "a token used on one vhost was accepted on another"
    finally:
        srv.stop()
        m.kill()


def test_backend_switch_on_graceful_restart(
        base_dir, module_path, realm, certs, keytab, alice):
    """NegotiateReplayCache memcache -> shm on a graceful restart (or the
    reverse): the shm table was born at the first start, before the token
    was used through memcached; it never saw the token and its watermark
    does not refuse it.  A switch of store is a memory loss that no
    watermark covers."""
    from test_replay_memory_mc import Memcached
    m = Memcached()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-switch",
                      extra_global="NegotiateReplayCache memcache "
                                   "127.0.0.1:%d\n" % m.port)
    try:
        time.sleep(1.1)
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        with open(srv.conf) as f:
            conf = f.read()
        with open(srv.conf, "w") as f:
            f.write(conf.replace("NegotiateReplayCache memcache 127.0.0.1:%d"
                                 % m.port, "NegotiateReplayCache shm"))
        srv.graceful()
        assert status(srv)["replay_cache"]["backend"] == "shm"
        assert login(srv, tok) == 401, \
            "a token used through memcached was accepted after the switch"
    finally:
        srv.stop()
        m.kill()


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


@pytest.mark.skipif(not os.path.exists(FAKETIME), reason="no libfaketime")
def test_reboot_with_clock_behind_then_stepped(base_dir, module_path, realm,
                                               certs, keytab, alice):
    """A reboot (the file's boot ID is no longer the host's), and httpd
    starts before NTP set the clock: the host's clock is an hour behind.
    The new table is born at the wrong time (an hour ago), then NTP steps
    the clock: every token used before the reboot (still within the skew)
    is after the watermark, the entries are gone - accepted again."""
    ft = os.path.join(base_dir, "rt-rc-faketime")
    with open(ft, "w") as f:
        f.write("+0\n")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-clock",
                      extra_global="NegotiateReplayCache shm\n",
                      env_extra={"LD_PRELOAD": FAKETIME,
                                 "FAKETIME_TIMESTAMP_FILE": ft,
                                 "FAKETIME_NO_CACHE": "1",
                                 "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    try:
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        srv.stop()
        rc = rc_file(srv)
        with open(rc, "r+b") as f:          # a reboot: another boot ID
            f.seek(40)
            f.write(b"0" * 36)
        with open(ft, "w") as f:            # the clock an hour behind
            f.write("-3600\n")
        srv.start()
        # The new table's watermark is not dated by the clock that is
        # behind: the old table's last clock reading and newest entry
        # carry it (it used to be an hour ago).
        wm = status(srv)["replay_cache"]["shm"]["watermark_unix"]
        assert wm > time.time() - 60
        with open(ft, "w") as f:            # NTP steps it
            f.write("+0\n")
        time.sleep(0.5)
        assert login(srv, tok) == 401, \
            "a token used before the reboot was accepted again"
    finally:
        srv.stop()


@pytest.mark.skipif(not os.path.exists(FAKETIME), reason="no libfaketime")
def test_clock_jump_forward_and_back(base_dir, module_path, realm, certs,
                                     keytab, alice):
    """The server's clock jumps an hour ahead (a bad NTP step) and back.
    While it is ahead every entry looks expired and its slot is reused by
    the logins of that hour (here: clients whose clocks agree with the
    server's); when the clock comes back, a token used before the jump is
    within the skew again, its entry is gone - accepted again."""
    ft = os.path.join(base_dir, "rt-rc-faketime2")
    with open(ft, "w") as f:
        f.write("+0\n")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-jump",
                      extra_global="NegotiateReplayCache shm\n"
                                   "NegotiateReplayCacheSize 8\n"
                                   "NegotiateReplayCacheQuota 100000\n",
                      env_extra={"LD_PRELOAD": FAKETIME,
                                 "FAKETIME_TIMESTAMP_FILE": ft,
                                 "FAKETIME_NO_CACHE": "1",
                                 "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    try:
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        with open(ft, "w") as f:
            f.write("+3600\n")
        time.sleep(0.3)
        # One login of that hour (a client whose clock agrees with the
        # server's): the table (one bucket of 8 slots) gives it the first
        # slot that looks expired - the one of the token used before.
        assert login(srv, _forge(realm, keytab, time.time() + 3600)) == 200
        with open(ft, "w") as f:
            f.write("+0\n")
        time.sleep(0.3)
        assert login(srv, tok) == 401, \
            "a token used before the clock jump was accepted again"
    finally:
        srv.stop()


def test_table_file_replaced_by_an_older_copy_owned_by_user(
        base_dir, module_path, realm, certs, keytab, alice):
    """The table file replaced, between two starts, by a copy of itself
    made before a token was used (same boot, same geometry, same birth),
    owned by httpd's unprivileged User - which the start-up check accepts.
    Code that runs as the User (a CGI, where the runtime directory is the
    User's) can write such a file: every header field is public (the
    status page shows the watermark, /proc shows the boot ID, the size
    gives the geometry).  The kept table has no entry of the token and its
    watermark is old: the token is accepted again."""
    import pwd
    import shutil
    import harness
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-oldcopy",
                      extra_global="NegotiateReplayCache shm\n")
    try:
        rc = rc_file(srv)
        time.sleep(1.1)
        old = rc + ".old"
        shutil.copy(rc, old)            # before the token is used
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        srv.stop()
        user = harness.ensure_user()
        if user is not None:
            pw = pwd.getpwnam(user)
            os.chown(old, pw.pw_uid, pw.pw_gid)
        os.chmod(old, 0o600)
        os.rename(old, rc)
        srv.start()
        assert login(srv, tok) == 401, \
            "a token used once was accepted again from an older table copy"
    finally:
        srv.stop()


def test_skew_raised_on_graceful_restart_memcache(
        base_dir, module_path, realm, certs, keytab, alice):
    """The same with memcached (no NegotiateReplayCacheSize involved):
    the entry was added with the old retention as its expiry time, and a
    raised skew moves no watermark."""
    from test_replay_memory_mc import Memcached
    m = Memcached()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt-rc-skew-mc",
                      extra_global="NegotiateReplayCache memcache "
                                   "127.0.0.1:%d\n"
                                   "NegotiateClockSkew 3\n" % m.port)
    try:
        with open(srv.conf) as f:
            conf = f.read()
        time.sleep(1.1)
        _, tok = alice.token()
        assert login(srv, tok) == 200
        used_at = time.time()
        assert login(srv, tok) == 401
        _set_skew(srv, conf, 300)
        srv.graceful()
        time.sleep(max(0.0, used_at + 11 - time.time()))
        assert login(srv, tok) == 401, \
            "a token used once was accepted again after the skew was raised"
    finally:
        srv.stop()
        m.kill()
