"""Issue 24.7: the replay cache as a lockout lever.  One user's flood of
fresh logins must not fill the shared-memory table for everybody: past its
share (NegotiateReplayCacheQuota, default 1% of the table, at least 16) the
flooder gets 429 - no live entry is ever evicted - with one log line naming
it, while another user still logs in and a replay is still refused.  A
memcached that evicts (no -M) is warned about, and the status page shows
the refusals and memcached's evictions.  The floods are bounded: a table of
1000 entries, at most 1100 logins."""

import json
import socket
import subprocess
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
    assert headers["Retry-After"] == "86"    # 600 s / 7, rounded up
    # Further attempts are refused too, and not logged again.
    for _ in range(3):
        assert login(small, bob.token()[1])[0] == 429
    log = small.log_since(mark)
    lines = [l for l in log.splitlines() if "N8443261" in l]
    assert len(lines) == 1, lines
    assert "N8443261: replay cache: bob@TEST.N8443 made 16 logins within " \
        "600 s (NegotiateReplayCacheQuota)" in lines[0]
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


def start_memcached(extra):
    port = harness.free_port()
    p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port),
                          "-U", "0", "-u", "nobody", "-m", "16"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert harness.wait_port(port, p)
    return port, p


def fill_memcached(port, items=60, size=900000):
    """Store more than -m 16 holds: memcached without -M evicts."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        for i in range(items):
            s.sendall(b"set filler%d 0 0 %d\r\n" % (i, size)
                      + b"x" * size + b"\r\n")
            f.readline()


@pytest.mark.parametrize("evicts", [True, False])
def test_memcached_eviction_is_checked(base_dir, module_path, realm, certs,
                                       keytab, alice, evicts):
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
        assert login(srv, alice.token()[1])[0] == 200
        doc = status_json(srv)["replay_cache"]
        assert doc["backend"] == "memcache"
        assert doc["memcache_evictions_on"] is evicts
        assert doc["memcache_evictions"] == 0
        if not evicts:
            return
        # The parent looks about 10 s after start, then once a minute.
        mark = srv.log_mark()
        fill_memcached(port)
        doc = status_json(srv)["replay_cache"]
        assert doc["memcache_evictions"] > 0
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and \
                "N8443263" not in srv.log_since(mark):
            time.sleep(1)
        assert "N8443263: replay cache: memcached (127.0.0.1:%d) evicted " \
            % port in srv.log_since(mark)
    finally:
        if srv is not None:
            srv.stop()
        mc.terminate()
        mc.wait(10)
