"""Red-team regression tests (review s6): the replay cache's network
clients (rcache_mc_client.c, rcache_redis_wire.c / _conn.c / _script.c)
against a store that is slow or late, through a TCP proxy in front of a
real memcached or redis-server that delays or holds the answer to chosen
commands.  Findings (each test failed when it was written; fixed since):
  - a command's answer may take twice its timeout (the deadline is checked
    only between reads that each wait the whole timeout);
  - a store command that failed after the store got it (late answer, half
    an answer then a reset) is sent again on a new connection, and the
    fresh login is refused as a replay (401, N8443025), not 503;
  - a memcached trickling its "stats" answer holds httpd's parent.
The others guard what held (no late answer read by the next login, the
quota's HMAC key across restarts and in -X, threads, split answers).

Each httpd here has one child (one connection pool / one Redis connection),
so that "the connection of the last login" is well defined."""

import os
import select
import socket
import threading
import time

import pytest

from conftest import MINIMAL_BODY, https_request, negotiate, start_httpd
from test_replay_memory_mc import Memcached
from test_replay_redis import Redis, redis_built

BODY = MINIMAL_BODY + """
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""

# One child: its pool (memcache) or its connection (Redis) serves every
# login of the test.
ONE_CHILD = ("ServerLimit 1\nStartServers 1\nThreadsPerChild 8\n"
             "MaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8\n"
             "NegotiateReplayCacheQuota 100000\n")

MC_TIMEOUT = 1.0        # rcache_mc_client.c MC_TIMEOUT_SEC
REDIS_TIMEOUT = 2.0     # NegotiateReplayCacheRedisTimeout 2000 below


def login(srv, tok):
    return https_request(srv, "/protected/", [negotiate(tok)])[0]


def crashes(srv):
    with open(srv.error_log, errors="replace") as f:
        return [l for l in f if "Segmentation fault" in l
                or "exit signal" in l or "AH00052" in l]


class Proxy:
    """127.0.0.1 TCP proxy to a store.  rule(state, data) is asked for
    every chunk the client (httpd) sends; an action it returns applies to
    the store's next chunk back on that connection:
      ("late", s): the answer is forwarded s seconds late;
      ("hold", s): its first byte after s seconds, then nothing more;
      ("rst", s): half of it, s seconds later a TCP reset;
      ("trickle", d, s[, "keep"]): a byte every d seconds for s seconds,
      then closed (kept open with "keep").
    state["stores"] counts the chunks on that connection that is_store
    says are a login's store command."""

    def __init__(self, upstream_port, is_store):
        self.upstream = upstream_port
        self.is_store = is_store
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.rule = None
        self.fired = []
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), 5)
            except OSError:
                c.close()
                continue
            st = {"stores": 0, "pending": None, "closed": threading.Event(),
                  "c": c, "u": u}
            with self.lock:
                self.conns.append(st)
            threading.Thread(target=self.up, args=(st,), daemon=True).start()
            threading.Thread(target=self.down, args=(st,),
                             daemon=True).start()

    def close_conn(self, st):
        with self.lock:
            if st.get("done"):
                return
            st["done"] = True
        st["closed"].set()
        for s in (st["c"], st["u"]):
            try:
                if not (s is st["c"] and st.get("rst")):
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def up(self, st):
        try:
            while True:
                data = st["c"].recv(65536)
                if not data:
                    break
                if self.is_store(data):
                    st["stores"] += 1
                rule = self.rule
                act = rule(st, data) if rule is not None else None
                if act is not None:
                    st["pending"] = act
                    self.fired.append(act)
                st["u"].sendall(data)
        except OSError:
            pass
        self.close_conn(st)

    def down(self, st):
        try:
            while True:
                data = st["u"].recv(65536)
                if not data:
                    break
                act, st["pending"] = st["pending"], None
                if act is not None and act[0] == "late":
                    time.sleep(act[1])
                elif act is not None and act[0] == "rst":
                    # Half the answer, then a reset (SO_LINGER 0).
                    st["c"].sendall(data[:len(data) // 2])
                    time.sleep(act[1])
                    st["rst"] = True
                    st["c"].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    st["c"].shutdown(socket.SHUT_RD)    # wakes up()
                    break
                elif act is not None and act[0] == "trickle":
                    # A byte every act[1] s for act[2] s, then closed.
                    end = time.monotonic() + act[2]
                    for i in range(len(data)):
                        if time.monotonic() > end or st["closed"].is_set():
                            break
                        time.sleep(act[1])
                        st["c"].sendall(data[i:i + 1])
                    if len(act) > 3 and act[3] == "keep":
                        continue
                    break
                elif act is not None and act[0] == "hold":
                    time.sleep(act[1])
                    st["c"].sendall(data[:1])
                    st["closed"].wait(30)
                    break
                st["c"].sendall(data)
        except OSError:
            pass
        self.close_conn(st)

    def reset(self):
        """Close every proxied connection (httpd's kept ones break)."""
        with self.lock:
            conns, self.conns = self.conns, []
        for st in conns:
            self.close_conn(st)

    def close(self):
        self.sock.close()
        self.reset()


def mc_store(data):
    return data.startswith(b"add n8443rc:")


def redis_store(data):
    # The login's store script: EVALSHA/EVAL with three keys (ten words).
    return data.startswith(b"*10\r\n") and b"EVAL" in data[:24]


class Armed:
    """A rule: the next login's store (on a connection that already
    carried `after` stores) gets `action`."""

    def __init__(self, is_store, action, after=0):
        self.is_store, self.action, self.after = is_store, action, after
        self.armed = True

    def __call__(self, st, data):
        if not self.is_store(data):
            return None
        if self.armed and st["stores"] > self.after:
            self.armed = False
            return self.action
        return None


def baseline(srv, client, n=3):
    """A login's own time here (Kerberos, TLS, the store): the fastest of
    n fresh logins."""
    best = 10.0
    for _ in range(n):
        t0 = time.monotonic()
        assert login(srv, client.token()[1]) == 200
        best = min(best, time.monotonic() - t0)
    return best


# ------------------------------------------------------------- memcached

@pytest.fixture(scope="module")
def mc(base_dir, module_path, realm, certs, keytab):
    m = Memcached()
    p = Proxy(m.port, mc_store)
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt6-mc",
                      extra_global=ONE_CHILD + "NegotiateReplayCache "
                                               "memcache %s" % p.addr())
    yield srv, p
    srv.stop()
    p.close()
    m.kill()


def stalled_login(srv, proxy, store, hold, tok):
    """A login with the fresh token tok whose store answer starts after
    `hold` seconds and then stalls: (status, seconds it took)."""
    proxy.rule = Armed(store, ("hold", hold))
    try:
        t0 = time.monotonic()
        st = login(srv, tok)
        return st, time.monotonic() - t0
    finally:
        proxy.rule = None


def cut_login(srv, proxy, store, how, late, tok):
    """A login with the fresh token tok, on a kept connection, whose store
    command the store runs, then answers `late` seconds late (how "late")
    or half then a reset ("rst"): (status, its log lines, whether the rule
    fired)."""
    proxy.rule = Armed(store, (how, late if how == "late" else 0.2),
                       after=1)
    try:
        mark = srv.log_mark()
        st = login(srv, tok)
        log = srv.log_since(mark)
        fired = not proxy.rule.armed
    finally:
        proxy.rule = None
    time.sleep(late)    # the late answer has come and gone
    return st, log, fired


def replays_after_a_late_answer(srv, proxy, store, alice, late, wait):
    """A token used; the next login's store answer `late` seconds late;
    `wait` seconds for it to come; then the used token six times: the
    statuses."""
    _, used = alice.token()
    assert login(srv, used) == 200
    proxy.rule = Armed(store, ("late", late), after=0)
    try:
        login(srv, alice.token()[1])
    finally:
        proxy.rule = None
    time.sleep(wait)    # the late answer has arrived
    return [login(srv, used) for _ in range(6)]


def test_mc_command_answer_bounded_by_its_timeout(mc, alice):
    """README: "1 s for connect and for a command's whole answer".  A
    memcached that sends the first byte of the answer after 0.6 s and then
    stalls: the login must be refused within about 1 s."""
    srv, proxy = mc
    base = baseline(srv, alice)
    proxy.reset()   # a new connection: no retry on a pooled one
    st, took = stalled_login(srv, proxy, mc_store, 0.6 * MC_TIMEOUT,
                             alice.token()[1])
    print("memcache: first byte at 0.6 s then nothing: %d after %.2f s "
          "(a login alone: %.2f s)" % (st, took, base))
    assert st == 503
    assert took < MC_TIMEOUT + base + 0.3, took


@pytest.mark.parametrize("how", ["late", "rst"])
def test_mc_late_answer_is_not_a_replay(mc, alice, how):
    """A fresh token whose 'add' memcached executed but answered late (a
    stall, a slow network) or half then reset (a crash, a middlebox): the
    store did not answer - 503 - not a replayed token (401 and N8443025
    "presented before")."""
    srv, proxy = mc
    time.sleep(1.1)     # past the 1 s a failed server is left alone
    assert login(srv, alice.token()[1]) == 200    # a pooled connection
    st, log, fired = cut_login(srv, proxy, mc_store, how, 2.5 * MC_TIMEOUT,
                               alice.token()[1])
    print("memcache: add executed, answer %s on a pooled connection: "
          "%d; log:\n%s" % ("2.5 s late" if how == "late"
                             else "half then RST", st, log))
    assert fired
    assert "N8443025" not in log, log
    assert st == 503


def test_mc_late_answer_is_never_read_by_the_next_login(mc, alice):
    """A late answer must not be taken by the next command of a kept
    connection (a desynchronised reply: a replay read a fresh login's
    STORED).  A token is used; the next login's answer comes 2 s late;
    then the token, replayed, is refused every time."""
    srv, proxy = mc
    time.sleep(1.1)     # past the 1 s a failed server is left alone
    got = replays_after_a_late_answer(srv, proxy, mc_store, alice,
                                      2.0 * MC_TIMEOUT, 2.5 * MC_TIMEOUT)
    print("memcache: replays after a late answer: %s" % got)
    assert got == [401] * 6
    assert crashes(srv) == []


# ----------------------------------------------------------------- Redis

@pytest.fixture(scope="module")
def rd(base_dir, module_path, realm, certs, keytab):
    if not redis_built(module_path):
        pytest.skip("module built without Redis support")
    r = Redis(os.path.join(base_dir, "redis-rt6"), "rt6")
    p = Proxy(r.port, redis_store)
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt6-redis",
                      extra_global=ONE_CHILD
                      + "NegotiateReplayCache redis %s\n"
                        "NegotiateReplayCacheRedisTimeout %d\n"
                      % (p.addr(), int(REDIS_TIMEOUT * 1000)))
    time.sleep(1.5)     # MIT's whole-second stamps vs the watermark
    yield srv, p
    srv.stop()
    p.close()
    r.kill()


def fresh_connection(proxy):
    """Break the child's Redis connection, and let its next login
    reconnect at once (not within N8443_REDIS_RETRY of the last try)."""
    proxy.reset()
    time.sleep(1.1)


def test_redis_reply_bounded_by_its_timeout(rd, alice):
    """NegotiateReplayCacheRedisTimeout is "the time a command's whole
    reply may take".  A primary that sends the first byte of the store
    script's reply after 0.6 of it and then stalls: 503 within about the
    timeout (2 s here), on a new connection (no retry)."""
    srv, proxy = rd
    base = baseline(srv, alice)
    fresh_connection(proxy)
    st, took = stalled_login(srv, proxy, redis_store, 0.6 * REDIS_TIMEOUT,
                             alice.token()[1])
    print("redis: first byte at %.1f s then nothing (timeout %.1f s): %d "
          "after %.2f s (a login alone: %.2f s)"
          % (0.6 * REDIS_TIMEOUT, REDIS_TIMEOUT, st, took, base))
    assert st == 503
    assert took < REDIS_TIMEOUT + base + 0.4, took


@pytest.mark.parametrize("how", ["late", "rst"])
def test_redis_late_reply_is_not_a_replay(rd, alice, how):
    """A fresh token whose store script Redis ran but answered late, or
    half then reset: 503, not 'replayed token' (401, N8443025)."""
    srv, proxy = rd
    fresh_connection(proxy)
    assert login(srv, alice.token()[1]) == 200    # the connection is kept
    st, log, fired = cut_login(srv, proxy, redis_store, how,
                               1.5 * REDIS_TIMEOUT, alice.token()[1])
    print("redis: store ran, reply %s on a kept connection: %d; log:\n%s"
          % ("3 s late" if how == "late" else "half then RST", st, log))
    assert fired
    assert "N8443025" not in log, log
    assert st == 503


def test_redis_late_reply_is_never_read_by_the_next_login(rd, alice):
    """hiredis keeps what it read: a late reply read by the next login's
    command would be a desynchronised answer (a replay taken for the
    fresh login before it).  A used token, a late reply, then the token
    replayed: 401 every time."""
    srv, proxy = rd
    fresh_connection(proxy)
    got = replays_after_a_late_answer(srv, proxy, redis_store, alice,
                                      1.2 * REDIS_TIMEOUT, 1.5 * REDIS_TIMEOUT)
    print("redis: replays after a late reply: %s" % got)
    assert got == [401] * 6
    assert crashes(srv) == []


# ------------------------------------------- the quota's principal digest

QUOTA = "NegotiateReplayCacheSize 1000\nNegotiateReplayCacheQuota 3\n"


def until_200(srv, client, seconds=12.0):
    """A table that starts empty refuses older authenticators for the
    margin: the first fresh login that passes, within seconds."""
    t0 = time.monotonic()
    while True:
        st = login(srv, client.token()[1])
        if st == 200:
            return
        assert st == 401 and time.monotonic() - t0 < seconds, st
        time.sleep(0.3)


def test_quota_digest_across_graceful_restarts(base_dir, module_path, realm,
                                               certs, keytab, alice, bob):
    """who_mac (the quota's HMAC key, set up in child_init): children of a
    graceful restart that keeps the table count alice where the old ones
    did (429 still); a restart that makes a new table (a new key) gives
    every child the new key (logins 200, the quota again after 3)."""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt6-quota", extra_global=QUOTA)
    try:
        until_200(srv, alice)
        got = [login(srv, alice.token()[1]) for _ in range(3)]
        assert got == [200, 200, 429], got
        srv.graceful()
        got = [login(srv, alice.token()[1]) for _ in range(4)]
        print("after a graceful restart (table kept): alice %s" % got)
        assert got == [429] * 4
        assert login(srv, bob.token()[1]) == 200
        with open(srv.conf) as f:
            conf = f.read()
        with open(srv.conf, "w") as f:
            f.write(conf.replace("NegotiateReplayCacheSize 1000",
                                 "NegotiateReplayCacheSize 2000"))
        srv.graceful()
        until_200(srv, alice)
        got = [login(srv, alice.token()[1]) for _ in range(4)]
        print("after a graceful restart (new table): alice %s" % got)
        assert got == [200, 200, 429, 429], got
        assert crashes(srv) == []
    finally:
        srv.stop()


def start_one_process(srv):
    """httpd -X (no "resuming normal operations" line to wait for): up
    once it answers a plain request."""
    import subprocess
    import harness
    srv.stdout = open(os.path.join(srv.dir, "stdout.log"), "w")
    srv.proc = subprocess.Popen(
        [srv.binary, "-f", srv.conf, "-DFOREGROUND", "-X"], env=srv.env,
        stdout=srv.stdout, stderr=subprocess.STDOUT, start_new_session=True)
    assert harness.wait_port(srv.plain_port, srv.proc, timeout=20)
    deadline = time.monotonic() + 20
    while True:
        try:
            https_request(srv, "/", plain=True)
            break
        except OSError:
            assert time.monotonic() < deadline, srv.output()
            time.sleep(0.2)
    time.sleep(1.1)


def test_quota_digest_in_one_process_mode(base_dir, module_path, realm,
                                          certs, keytab, alice):
    """httpd -X: child_init runs in the one process; logins and the quota
    work (no 503 for a missing key)."""
    import harness
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-rt6-quota-x", extra_global=QUOTA)
    srv.ca = certs.ca
    start_one_process(srv)
    try:
        until_200(srv, alice)
        got = [login(srv, alice.token()[1]) for _ in range(3)]
        print("httpd -X: alice %s" % got)
        assert got == [200, 200, 429], got
        assert srv.proc.poll() is None
    finally:
        srv.stop()


# ------------------------------------------------- threads, a flaky store

class EveryOther:
    """Every other store's answer comes late (after the timeout)."""

    def __init__(self, late):
        self.n, self.late = 0, late
        self.lock = threading.Lock()

    def __call__(self, st, data):
        if not (mc_store(data) or redis_store(data)):
            return None
        with self.lock:
            self.n += 1
            return ("late", self.late) if self.n % 2 == 0 else None


@pytest.mark.parametrize("backend", ["mc", "rd"])
def test_one_token_raced_by_threads_through_a_flaky_store(request, backend,
                                                          alice):
    """The same token from 8 threads at once into one child (the event
    MPM's threads share its memcache pool or its Redis connection), with
    every other store answer late: at most one 200, no 500, no crash;
    then a fresh login works."""
    import concurrent.futures
    srv, proxy = request.getfixturevalue(backend)
    timeout = MC_TIMEOUT if backend == "mc" else REDIS_TIMEOUT
    time.sleep(1.1)
    proxy.reset()
    time.sleep(1.1)
    for round_ in range(2 if backend == "mc" else 1):
        _, tok = alice.token()
        proxy.rule = EveryOther(1.2 * timeout)
        t0 = time.monotonic()
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                got = list(ex.map(lambda _: login(srv, tok), range(8)))
        finally:
            proxy.rule = None
        print("%s round %d: %s in %.1f s" % (backend, round_, sorted(got),
                                             time.monotonic() - t0))
        assert got.count(200) <= 1, got
        assert set(got) <= {200, 401, 503}, got
        time.sleep(1.2 * timeout + 1.1)
    until_200(srv, alice)
    assert crashes(srv) == []
    assert srv.proc.poll() is None


class Split:
    """Every store answer a byte at a time (5 ms apart): each byte
    boundary is a read boundary."""

    def __call__(self, st, data):
        if mc_store(data) or redis_store(data):
            return ("trickle", 0.005, 10, "keep")
        return None


@pytest.mark.parametrize("backend", ["mc", "rd"])
def test_answers_split_at_every_byte(request, backend, alice):
    """A store whose answers come a byte per segment, on a kept
    connection: a fresh login is 200, its replay 401, never the other way
    round, and the connection stays in use (no reconnect)."""
    srv, proxy = request.getfixturevalue(backend)
    time.sleep(1.1)
    proxy.reset()
    time.sleep(1.1)
    proxy.rule = Split()
    try:
        got = []
        for _ in range(3):
            _, tok = alice.token()
            got.append((login(srv, tok), login(srv, tok)))
    finally:
        proxy.rule = None
    print("%s, answers split at every byte: %s on %d connection(s)"
          % (backend, got, len(proxy.conns)))
    assert got == [(200, 401)] * 3, got
    assert len(proxy.conns) == 1


# ------------------------------------------- the parent's eviction watch

def test_trickling_memcached_does_not_hold_the_parent(base_dir, module_path,
                                                      realm, certs, keytab):
    """The parent asks each memcached "stats settings" / "stats" about
    every 10 s (is it -M? did it evict?).  One that sends its answer a
    byte every 0.5 s: httpd must still stop on SIGTERM within seconds."""
    import signal
    m = Memcached()
    p = Proxy(m.port, mc_store)
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rt6-mc-watch",
                      extra_global="NegotiateReplayCache memcache %s"
                                   % p.addr())
    try:
        watch = {"seen": 0}

        def rule(st, data):
            if data.startswith(b"stats settings") and not watch["seen"]:
                watch["seen"] = time.monotonic()
                return ("trickle", 0.5, 20)
            return None
        p.rule = rule
        deadline = time.monotonic() + 15
        while not watch["seen"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert watch["seen"], "the parent did not probe within 15 s"
        time.sleep(1.0)
        t0 = time.monotonic()
        os.kill(srv.proc.pid, signal.SIGTERM)
        try:
            srv.proc.wait(30)
        except Exception:
            pass
        took = time.monotonic() - t0
        print("SIGTERM while memcached trickles 'stats' (for 20 s from "
              "%.1f s before the signal): httpd's parent exited after "
              "%.1f s" % (t0 - watch["seen"], took))
        assert took < 8, took
    finally:
        p.rule = None
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()
        p.close()
        m.kill()
