"""memcached forgets (restart, flush_all, a server of two lost); the
replay cache must not (issue 16).  Each server keeps its birth time (the
watermark, key n8443:born); a token made before it is refused, a key is
checked only on the server it was stored on, and after the event fresh
logins are 200 on every child of a prefork httpd with 8 children within
10 s, with no flapping and no 500.  The shm half is test_replay_memory.py.
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import time

import pytest

import harness
from conftest import https_request, negotiate, start_httpd

BODY = """
  <Location /protected>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""

PREFORK = ("StartServers 8\nMinSpareServers 8\nMaxSpareServers 16\n"
           "NegotiateReplayCacheQuota 100000\n"
           "LogFormat \"%%P %%>s\" pid\nCustomLog %s pid\n")


class Memcached:
    def __init__(self, extra=()):
        self.port = harness.free_port()
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
             "-u", "nobody", "-m", "16", "-M"] + self.extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert harness.wait_port(self.port, self.proc)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def command(self, text):
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(text.encode())
            return s.recv(65536).decode()


def login(srv, tok):
    return https_request(srv, "/protected/", [negotiate(tok)])[0]


def status(srv):
    st, _, body = https_request(srv, "/negotiate8443-status")
    assert st == 200
    return json.loads(body)


def start(base_dir, module_path, realm, certs, keytab, name, servers):
    pidlog = os.path.join(base_dir, name + "-pids.log")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      mpm="prefork", name=name,
                      extra_global=PREFORK % pidlog
                      + "NegotiateReplayCache memcache "
                      + ",".join("127.0.0.1:%d" % m.port for m in servers))
    srv.pidlog = pidlog
    time.sleep(1.0)     # the spare children come up
    return srv


def burst(srv, client, n=32, workers=8):
    """n fresh logins, `workers` at a time: their statuses, and the pids
    of the children that answered 200."""
    toks = [client.token()[1] for _ in range(n)]
    size = os.path.getsize(srv.pidlog) if os.path.exists(srv.pidlog) else 0
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        statuses = list(pool.map(lambda t: login(srv, t), toks))
    time.sleep(0.3)
    with open(srv.pidlog) as f:
        f.seek(size)
        pids = {ln.split()[0] for ln in f if ln.endswith(" 200\n")}
    return statuses, pids


def used_tokens(srv, client, n=8):
    toks = [client.token()[1] for _ in range(n)]
    for t in toks:
        assert login(srv, t) == 200
    return toks


def recover(srv, client, event, seen):
    """Fresh logins until a whole burst is 200; within 10 s of event.
    Then one more burst, all 200 (no flapping), from most children."""
    while True:
        statuses, _ = burst(srv, client, n=16)
        seen.extend(statuses)
        if statuses == [200] * 16:
            break
        assert time.monotonic() - event < 10, statuses
    assert time.monotonic() - event < 10
    statuses, pids = burst(srv, client, n=48)
    seen.extend(statuses)
    assert statuses == [200] * 48, statuses
    assert len(pids) >= 6, pids
    return time.monotonic() - event


def no_500(srv, seen):
    assert 500 not in seen
    with open(os.path.join(srv.dir, "access.log")) as f:
        assert " 500\n" not in f.read()
    with open(srv.error_log, errors="replace") as f:
        assert "exit signal" not in f.read()


def test_memcached_restart(base_dir, module_path, realm, certs, keytab,
                           alice):
    mc = Memcached()
    srv = start(base_dir, module_path, realm, certs, keytab, "httpd-mcmem-rs",
                [mc])
    seen = []
    try:
        # Every child holds pooled connections to the memcached that dies.
        statuses, _ = burst(srv, alice, n=64, workers=16)
        assert statuses == [200] * 64
        used = used_tokens(srv, alice)
        born = status(srv)["replay_cache"]["memcache_servers"][0]
        assert born["state"] == "up"
        mark = srv.log_mark()
        mc.kill()
        mc.start()
        event = time.monotonic()
        replays = [login(srv, t) for t in used]
        assert 200 not in replays and 500 not in replays, replays
        took = recover(srv, alice, event, seen)
        assert [login(srv, t) for t in used] == [401] * len(used)
        log = srv.log_since(mark)
        assert "N8443307: replay cache: memcached (127.0.0.1:%d) had lost " \
            "its memory" % mc.port in log
        assert "N8443300: the replay cache (memcache) lost its memory" in log
        after = status(srv)["replay_cache"]["memcache_servers"][0]
        assert after["state"] == "up"
        assert after["watermark_unix"] > born["watermark_unix"]
        assert set(seen) <= {200, 401, 503}
        no_500(srv, seen)
        print("memcached restart: fresh logins 200 on every child %.1f s "
              "after; statuses %s" % (took, sorted(set(seen))))
    finally:
        srv.stop()
        mc.kill()


def test_memcached_flush_all(base_dir, module_path, realm, certs, keytab,
                             alice):
    mc = Memcached()
    srv = start(base_dir, module_path, realm, certs, keytab, "httpd-mcmem-fl",
                [mc])
    seen = []
    try:
        used = used_tokens(srv, alice)
        assert mc.command("flush_all\r\n").startswith("OK")
        event = time.monotonic()
        mark = srv.log_mark()
        assert [login(srv, t) for t in used] == [401] * len(used)
        assert "N8443300" in srv.log_since(mark)
        recover(srv, alice, event, seen)
        no_500(srv, seen)
    finally:
        srv.stop()
        mc.kill()


def fill(mc):
    """Items the size of the module's (40-byte key, 1-byte value) until
    memcached -M has no memory left for one more."""
    with socket.create_connection(("127.0.0.1", mc.port), 5) as sock:
        f = sock.makefile("rb")
        for batch in range(1000):
            sock.sendall(b"".join(b"set fill:%035d 0 0 1 noreply\r\n1\r\n"
                                  % (batch * 1000 + i) for i in range(1000)))
            sock.sendall(b"set fill:probe%030d 0 0 1\r\n1\r\n" % batch)
            if f.readline().startswith(b"SERVER_ERROR"):
                return
    raise AssertionError("memcached did not fill up")


def test_memcached_full_fails_closed(base_dir, module_path, realm, certs,
                                     keytab, alice):
    """A small memcached with -M that filled up (nothing is evicted): a
    fresh login is refused (503), a replay still is a replay."""
    mc = Memcached(["-m", "2"])
    srv = start(base_dir, module_path, realm, certs, keytab, "httpd-mcmem-ev",
                [mc])
    try:
        used = used_tokens(srv, alice, 4)
        fill(mc)
        mark = srv.log_mark()
        # memcached makes room for the item before it looks for the key:
        # a replay is refused too (503, not taken for fresh).
        replays = [login(srv, t) for t in used]
        assert set(replays) <= {401, 503}, replays
        statuses, _ = burst(srv, alice, n=8)
        assert 200 not in statuses and 500 not in statuses, statuses
        assert 503 in statuses
        log = srv.log_since(mark)
        assert "N8443308: replay cache: memcached (127.0.0.1:%d) answered " \
            "\"SERVER_ERROR out of memory" % mc.port in log
        assert status(srv)["replay_cache"]["memcache_errors"] >= 1
    finally:
        srv.stop()
        mc.kill()


def test_one_of_two_memcached_killed_and_restarted(
        base_dir, module_path, realm, certs, keytab, alice):
    a, b = Memcached(), Memcached()
    srv = start(base_dir, module_path, realm, certs, keytab, "httpd-mcmem-2",
                [a, b])
    seen = []
    try:
        used = used_tokens(srv, alice, 24)
        b.kill()
        # Keys never move to the other server, which did not see them:
        # b's logins wait for it (503), a's go on.
        replays = [login(srv, t) for t in used]
        assert 200 not in replays, replays
        assert set(replays) == {401, 503}, replays
        statuses, _ = burst(srv, alice, n=32)
        seen.extend(statuses)
        assert set(statuses) == {200, 503}, statuses
        b.start()
        event = time.monotonic()
        replays = [login(srv, t) for t in used]
        assert 200 not in replays, replays
        recover(srv, alice, event, seen)
        # a's keys are still there, b's are older than its new birth.
        assert [login(srv, t) for t in used] == [401] * len(used)
        servers = status(srv)["replay_cache"]["memcache_servers"]
        assert [s["state"] for s in servers] == ["up", "up"]
        assert servers[1]["watermark_unix"] > servers[0]["watermark_unix"]
        assert set(seen) <= {200, 401, 503}
        no_500(srv, seen)
    finally:
        srv.stop()
        a.kill()
        b.kill()


class Garbage:
    """A TCP server that answers every line with `answer` (a byte every
    `delay` seconds when delay is given)."""

    def __init__(self, answer, delay=0):
        self.delay = delay
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        import threading
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        try:
            while conn.recv(4096):
                if not self.delay:
                    conn.sendall(self.answer)
                for i in range(len(self.answer) if self.delay else 0):
                    time.sleep(self.delay)
                    conn.sendall(self.answer[i:i + 1])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("what", ["unresolvable", "garbage", "error",
                                  "junk-value", "silent", "trickle"])
def test_bad_memcached_fails_closed(base_dir, module_path, realm, certs,
                                    keytab, alice, what):
    """A name that does not resolve, a server that speaks garbage, one that
    answers errors, a birth that is not a time, one that takes commands
    and never answers, one that answers a byte every 0.3 s: 503 and a log
    line, never 200, a crash or a login waiting on it for longer than the
    command timeout (1 s, the whole answer) allows."""
    fake = None
    if what == "unresolvable":
        servers = "no-such-host.invalid:11211"
    else:
        fake = Garbage({"garbage": b"\x00\xffHELLO there\r\n" * 40,
                        "error": b"SERVER_ERROR busy\r\n",
                        "junk-value": b"STORED\r\nVALUE n8443:born 0 3\r\n"
                                      b"abc\r\nEND\r\n",
                        "silent": b"",
                        "trickle": b"STORED\r\nEND\r\n"}[what],
                       delay=0.3 if what == "trickle" else 0)
        servers = "127.0.0.1:%d" % fake.port
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-mcmem-bad-" + what,
                      extra_global="NegotiateReplayCache memcache " + servers)
    try:
        mark = srv.log_mark()
        statuses, waits = [], []
        for _ in range(3):
            t0 = time.monotonic()
            statuses.append(login(srv, alice.token()[1]))
            waits.append(time.monotonic() - t0)
        assert statuses == [503] * 3, statuses
        # The command timeout, not httpd's Timeout or the server's pace:
        # nobody waits on a dead or crawling server (the trickled answer
        # would take 3.9 s).
        assert max(waits) < 3.5, waits
        log = srv.log_since(mark)
        assert "N8443060" in log or "N8443308" in log, log
        assert status(srv)["replay_cache"]["memcache_servers"][0][
            "state"] in ("down", "no_watermark")
        no_500(srv, statuses)
        assert srv.proc.poll() is None
    finally:
        srv.stop()
        if fake is not None:
            fake.close()
