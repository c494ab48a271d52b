"""Issue 24.7: the replay cache as a lockout lever.  One user's flood of
fresh logins must not fill the shared-memory table for everybody: past its
share (NegotiateReplayCacheQuota, default 1% of the table, at least 16) the
flooder gets 429 - no live entry is ever evicted - with one log line naming
it, while another user still logs in and a replay is still refused.  A
memcached that evicts (no -M), or whose eviction counter grew, could drop
a live token's entry: logins through it are refused (503) while it does,
and the status page shows it.  The floods are bounded: a table of
1000 entries, at most 1100 logins."""

import json
import socket
import subprocess
import threading
import time

import pytest

import harness
from conftest import MINIMAL_BODY, https_request, negotiate, start_httpd

STATUS = """
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""


def login(srv, tok, path="/protected/"):
    st, headers, _ = https_request(srv, path, [negotiate(tok)])
    return st, headers


def status_json(srv):
    st, _, body = https_request(srv, "/negotiate8443-status")
    assert st == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def small(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY + STATUS, name="httpd-rc-quota",
                      extra_global="NegotiateReplayCacheSize 1000")
    yield srv
    srv.stop()


def test_flood_by_one_user_does_not_lock_out_others(small, alice, bob):
    mark = small.log_mark()
    statuses = []
    headers = None
    first = None
    for _ in range(1100):
        _, tok = bob.token()
        first = first or tok
        st, headers = login(small, tok)
        statuses.append(st)
        if st != 200:
            break
    # 1% of 1000 is 10: the floor of 16 applies.
    assert statuses == [200] * 16 + [429], statuses[-5:]
    assert headers["Retry-After"] == "86"    # 602 s / 7, rounded up
    # Further attempts are refused too, and not logged again.
    for _ in range(3):
        assert login(small, bob.token()[1])[0] == 429
    log = small.log_since(mark)
    lines = [l for l in log.splitlines() if "N8443261" in l]
    assert len(lines) == 1, lines
    assert "N8443261: replay cache: bob@TEST.N8443 made 16 logins within " \
        "602 s (NegotiateReplayCacheQuota)" in lines[0]
    # The flooder's replayed token is a replay (401), checked first.
    assert login(small, first)[0] == 401
    # Everybody else still logs in; a replay is still a replay.
    _, tok = alice.token()
    assert login(small, tok)[0] == 200
    assert login(small, tok)[0] == 401
    doc = status_json(small)["replay_cache"]
    assert doc["quota_per_principal"] == 16
    assert doc["quota_refused"] == 4
    assert doc["full"] == 0
    assert doc["entries"] == 17


def test_replays_do_not_count_against_the_victim(base_dir, module_path,
                                                 realm, certs, keytab,
                                                 alice):
    """Replaying alice's captured token many times must not use up her
    share: she still logs in."""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-rc-quota-replay",
                      extra_global="NegotiateReplayCacheSize 1000\n"
                                   "NegotiateReplayCacheQuota 3")
    try:
        _, tok = alice.token()
        assert login(srv, tok)[0] == 200
        for _ in range(10):
            assert login(srv, tok)[0] == 401
        assert login(srv, alice.token()[1])[0] == 200
        assert login(srv, alice.token()[1])[0] == 200
        assert login(srv, alice.token()[1])[0] == 429
    finally:
        srv.stop()


@pytest.mark.parametrize("value,message", [
    ("0", "NegotiateReplayCacheQuota: 0 is out of range"),
    ("many", "NegotiateReplayCacheQuota: 'many' is not a whole number"),
])
def test_bad_quota_is_refused(base_dir, module_path, realm, certs, keytab,
                              value, message):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY, name="httpd-rc-quota-bad-%s" % value,
                        extra_global="NegotiateReplayCacheQuota %s" % value)
    res = srv.configtest()
    assert res.returncode != 0
    assert message in res.stdout + res.stderr


def start_memcached_on(port, extra, memory="16"):
    p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port),
                          "-U", "0", "-u", "nobody"]
                         + (["-m", memory] if memory else []) + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert harness.wait_port(port, p)
    return p


def start_memcached(extra):
    port = harness.free_port()
    return port, start_memcached_on(port, extra)


def stop_memcached(mc):
    mc.terminate()
    mc.wait(10)


@pytest.mark.parametrize("evicts", [True, False])
def test_memcached_that_evicts_refuses_logins(base_dir, module_path, realm,
                                              certs, keytab, alice, evicts):
    """memcached's LRU (no -M) can drop the entry of a live token, which
    would then be accepted again: logins through it are refused (503),
    from the first request on, until it runs with -M."""
    port, mc = start_memcached([] if evicts else ["-M"])
    srv = None
    try:
        srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                          MINIMAL_BODY + STATUS,
                          name="httpd-rc-mc-evicts-%s" % evicts,
                          extra_global="NegotiateReplayCache memcache "
                                       "127.0.0.1:%d" % port)
        warning = "N8443262: replay cache: memcached (127.0.0.1:%d) evicts " \
            "items when its memory is full (it runs without -M)" % port
        # Once, though three server records share this memcached and
        # httpd reads its configuration twice at start-up.
        assert srv.output().count(warning) == (1 if evicts else 0)
        mark = srv.log_mark()
        _, tok = alice.token()
        st, _ = login(srv, tok)
        doc = status_json(srv)["replay_cache"]
        assert doc["backend"] == "memcache"
        assert doc["memcache_evictions_on"] is evicts
        assert doc["memcache_evictions"] == 0
        assert doc["memcache_refusing"] is evicts
        if not evicts:
            assert st == 200
            assert login(srv, tok)[0] == 401
            return
        assert st == 503
        assert "N8443289: replay cache: memcached (127.0.0.1:%d) evicts " \
            "items when its memory is full (runs without -M): a token " \
            "whose entry it dropped could be replayed, so the login is " \
            "refused (503). Run it as memcached -M" % port \
            in srv.log_since(mark)
        # Restarted with -M on the same port: a graceful restart (or the
        # parent's next look, once a minute) lets logins in again.
        stop_memcached(mc)
        mc = start_memcached_on(port, ["-M"])
        mark = srv.log_mark()
        srv.graceful()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                login(srv, alice.token()[1])[0] != 200:
            time.sleep(0.5)
        # Never stored, but made before the new memcached was born (its
        # watermark): refused, as a replay stored in the lost one would be.
        assert login(srv, tok)[0] == 401
        assert "N8443300: the replay cache (memcache) lost its memory" \
            in srv.log_since(mark)
        _, tok = alice.token()
        assert login(srv, tok)[0] == 200
        assert login(srv, tok)[0] == 401
        assert "N8443288: replay cache: memcached (127.0.0.1:%d) no longer " \
            "evicts" % port in srv.log_since(mark)
        assert status_json(srv)["replay_cache"]["memcache_refusing"] is False
    finally:
        if srv is not None:
            srv.stop()
        stop_memcached(mc)


def test_flood_cannot_push_a_token_out_of_a_small_memcached(
        base_dir, module_path, realm, certs, keytab, alice):
    """The red team's case: a 1 MB memcached without -M evicted alice's
    entry under a flood and her captured token was accepted again.  Now
    nothing is accepted through it, so nothing can be pushed out."""
    port = harness.free_port()
    mc = start_memcached_on(port, ["-m", "1", "-I", "512k", "-n", "1000"],
                            memory=None)
    srv = None
    try:
        srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                          MINIMAL_BODY, name="httpd-rc-mc-small",
                          extra_global="NegotiateReplayCache memcache "
                                       "127.0.0.1:%d" % port)
        _, captured = alice.token()
        assert login(srv, captured)[0] == 503
        for _ in range(20):
            assert login(srv, alice.token()[1])[0] == 503
        assert login(srv, captured)[0] == 503
    finally:
        if srv is not None:
            srv.stop()
        stop_memcached(mc)


class FakeMemcached(threading.Thread):
    """Speaks enough of memcached's text protocol for the module (add,
    get, version, stats settings, stats) and reports "evictions off" with an
    evictions counter the test sets: what a memcached that evicted
    without saying so in its settings looks like."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.evictions = 0
        self.keys = {}
        self.lock = threading.Lock()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        f = conn.makefile("rb")
        try:
            for line in f:
                words = line.split()
                if not words:
                    continue
                if words[0] == b"add":
                    value = f.read(int(words[4]) + 2)[:-2]
                    with self.lock:
                        new = words[1] not in self.keys
                        if new:
                            self.keys[words[1]] = value
                    conn.sendall(b"STORED\r\n" if new
                                 else b"NOT_STORED\r\n")
                elif words[0] == b"get":
                    with self.lock:
                        value = self.keys.get(words[1])
                    conn.sendall(b"END\r\n" if value is None else
                                 b"VALUE %s 0 %d\r\n%s\r\nEND\r\n"
                                 % (words[1], len(value), value))
                elif words[:2] == [b"stats", b"settings"]:
                    conn.sendall(b"STAT evictions off\r\nEND\r\n")
                elif words[0] == b"stats":
                    conn.sendall(b"STAT evictions %d\r\nEND\r\n"
                                 % self.evictions)
                elif words[0] == b"version":
                    conn.sendall(b"VERSION 1.6.18\r\n")
                else:
                    conn.sendall(b"ERROR\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def test_memcached_whose_evictions_grow_refuses_logins(
        base_dir, module_path, realm, certs, keytab, alice):
    fake = FakeMemcached()
    fake.start()
    srv = None
    try:
        srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                          MINIMAL_BODY + STATUS, name="httpd-rc-mc-grow",
                          extra_global="NegotiateReplayCache memcache "
                                       "127.0.0.1:%d" % fake.port)
        assert login(srv, alice.token()[1])[0] == 200
        mark = srv.log_mark()
        # Before the parent's first look (about 10 s after start).
        fake.evictions = 7
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and \
                "N8443263" not in srv.log_since(mark):
            time.sleep(1)
        log = srv.log_since(mark)
        assert "N8443263: replay cache: memcached (127.0.0.1:%d) evicted 7 " \
            "items since the last look" % fake.port in log
        assert "are refused (503) for the next 602 s" in log
        mark = srv.log_mark()
        assert login(srv, alice.token()[1])[0] == 503
        assert "N8443289: replay cache: memcached (127.0.0.1:%d) evicted " \
            "items lately" % fake.port in srv.log_since(mark)
        doc = status_json(srv)["replay_cache"]
        assert doc["memcache_evictions_on"] is False
        assert doc["memcache_refusing"] is True
    finally:
        if srv is not None:
            srv.stop()
        fake.close()
