"""The replay cache keeps an entry as long as Kerberos takes its
authenticator (from an outside review of the fast path).

Kerberos takes an authenticator while |floor(now) - ctime| <= skew, both
ends included, in whole seconds.  One first used at the start of its
earliest good second (ctime = now + skew: a client clock `skew` ahead) is
good until the end of second ctime + skew, up to 2 x skew + 1 s after its
first use; the cache once kept entries exactly 2 x skew, so a replay in the
last second was a fresh login, on both paths and with memcached (whose
clock ticks once a second).  The token is forged with the service key
(tests/diff/n8443_diff --forge KEYTAB CLIENT SECONDS CTIME) so that its
ctime is exact.
"""
import base64
import subprocess
import time

import pytest

import harness
from conftest import FAST_AND_GSS, https_request, negotiate, start_httpd
from test_differential import driver

SKEW = 5

BODY = "\n" + FAST_AND_GSS
@pytest.fixture(scope="module")
def esrv(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-replay-edge",
                      extra_global="NegotiateClockSkew %d\n"
                                   "NegotiateReplayCache shm" % SKEW)
    yield srv
    srv.stop()


def forge(realm, keytab, ctime):
    res = subprocess.run([driver(), "--forge", keytab, "alice@TEST.N8443",
                          "36000", str(ctime)], capture_output=True,
                         text=True, env=realm.env, check=True, timeout=30)
    return base64.b64decode(res.stdout.strip())


def sleep_until(t):
    while True:
        d = t - time.time()
        if d <= 0:
            return
        time.sleep(min(d, 0.2))


def get(srv, path, tok):
    st, headers, _ = https_request(srv, path, [negotiate(tok)])
    return st


@pytest.mark.parametrize("path", ["/fast/", "/gss/"])
def test_replay_just_after_the_cache_entry_expires(esrv, realm, keytab, path):
    # Start at the beginning of a second s; the client's clock is SKEW ahead.
    sleep_until(int(time.time()) + 1.02)
    s = int(time.time())
    tok = forge(realm, keytab, s + SKEW)
    t1 = time.time()
    assert int(t1) == s, "too slow to stay in second s"
    st1 = get(esrv, path, tok)
    assert st1 == 404, st1              # accepted (no such page: 404)
    # A replay inside the retention: refused, as it must be.
    sleep_until(s + 2 * SKEW - 1.5)
    assert get(esrv, path, tok) == 401
    # After the entry's expiry (t1 + 2*SKEW) but while krb5 still takes the
    # authenticator (floor(now) == ctime + SKEW).
    sleep_until(max(t1 + 0.3, s + 0.6) + 2 * SKEW)
    t2 = time.time()
    mark = esrv.log_mark()
    st2 = get(esrv, path, tok)
    log = esrv.log_since(mark)
    print(log)
    print("first use at s+%.3f -> %d; replay at s+%.3f -> %d"
          % (t1 - s, st1, t2 - s, st2))
    assert st2 == 401, "replay accepted %.3f s after first use" % (t2 - t1)


def test_memcache_replay_at_the_edge(base_dir, module_path, realm, certs,
                                     keytab):
    """The memcache backend stores for retention + 1 s, and memcached
    expires by its own once-a-second clock (current_time), whose ticks
    need not line up with the wall-clock seconds krb5 counts: stored while
    current_time still shows the previous second, the entry can expire
    during second ctime + skew, while krb5 still takes the authenticator.
    Two memcached processes (each with its own tick phase), one try
    each; the test fails if any replay is accepted."""
    results = []
    for attempt in range(2):
        port = harness.free_port()
        mc = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p",
                               str(port), "-U", "0", "-u", "nobody", "-m",
                               "16", "-M"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        srv = None
        try:
            assert harness.wait_port(port, mc)
            srv = start_httpd(
                base_dir, module_path, realm, certs, keytab, BODY,
                name="httpd-replay-edge-mc-%d" % attempt,
                extra_global="NegotiateClockSkew %d\nNegotiateReplayCache "
                             "memcache 127.0.0.1:%d" % (SKEW, port))
            sleep_until(int(time.time()) + 1.02)
            s = int(time.time())
            tok = forge(realm, keytab, s + SKEW)
            t1 = time.time()
            st1 = get(srv, "/fast/", tok)
            sleep_until(s + 2 * SKEW - 1.5)
            st_mid = get(srv, "/fast/", tok)
            sleep_until(s + 2 * SKEW + 0.75)
            t2 = time.time()
            st2 = get(srv, "/fast/", tok)
            results.append((attempt, round(t1 - s, 3), st1, st_mid,
                            round(t2 - s, 3), st2))
            print("memcached #%d: first use s+%.3f -> %d, s+%d -> %d, "
                  "replay s+%.3f -> %d" % (attempt, t1 - s, st1,
                                           2 * SKEW - 1, st_mid, t2 - s, st2))
            assert st1 == 404 and st_mid == 401
        finally:
            if srv is not None:
                srv.stop()
            mc.terminate()
            mc.wait(10)
    assert all(r[5] == 401 for r in results), results
