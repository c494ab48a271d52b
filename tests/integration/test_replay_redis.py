"""The Redis replay cache (NegotiateReplayCache redis / redis-sentinel)
against real servers on 127.0.0.1: a primary, a replica and three
Sentinels shared by two httpd nodes; a failover under load; Redis down and
back; and bad servers (unreachable, wrong password, -READONLY, -OOM,
garbage, a name that does not resolve): a clear line, 503, never a crash.

The servers are started once for the module and stopped at its end."""

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

import harness
from conftest import MINIMAL_BODY, https_request, negotiate, start_httpd

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
PASSWORD = "n8443-redis-pw"
MASTER = "n8443master"

BODY = MINIMAL_BODY + """
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""

pytestmark = pytest.mark.skipif(
    not (os.path.exists(REDIS) and os.path.exists(SENTINEL)),
    reason="redis-server / redis-sentinel not installed")


def login(srv, tok):
    return https_request(srv, "/protected/", [negotiate(tok)])[0]


def status(srv):
    st, _, body = https_request(srv, "/negotiate8443-status", plain=True)
    assert st == 200
    return json.loads(body)["replay_cache"]


def settle():
    """After httpd first saw a Redis: MIT stamps authenticators with the
    KDC's clock offset, in whole seconds, so a token made within a second
    of the watermark may look older than it (the documented trade-off).
    The tests that want a first login to pass wait that second out."""
    time.sleep(1.5)


def crashes(srv):
    """Lines of the error log that tell of a crashed child."""
    with open(srv.error_log, errors="replace") as f:
        return [l for l in f if "Segmentation fault" in l
                or "exit signal" in l or "AH00052" in l]


def redis_built(module_path):
    with open(module_path, "rb") as f:
        return b"redisConnectWithTimeout" in f.read()


@pytest.fixture(scope="module")
def redis_build(module_path):
    """The servers of this module are started only for a Redis build."""
    if not redis_built(module_path):
        pytest.skip("module built without Redis support (--with-redis=no)")


@pytest.fixture(autouse=True)
def need_redis_build(request, module_path):
    built = redis_built(module_path)
    if request.node.name.startswith("test_built_without_redis"):
        if built:
            pytest.skip("module built with Redis support")
    elif not built:
        pytest.skip("module built without Redis support (--with-redis=no)")


@pytest.mark.parametrize("conf", [
    "NegotiateReplayCache redis 127.0.0.1:6379",
    "NegotiateReplayCache redis-sentinel 127.0.0.1:26379 mymaster",
    "NegotiateReplayCacheRedisAuth /etc/redis.pw"])
def test_built_without_redis_refuses_the_directives(
        base_dir, module_path, realm, certs, keytab, conf):
    """A build without hiredis (configure --with-redis=no) says so."""
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY,
                        name="httpd-noredis-%d" % abs(hash(conf)),
                        extra_global=conf)
    res = srv.configtest()
    assert res.returncode != 0
    assert "mod_negotiate8443 was built without Redis support " \
        "(configure --with-redis, needs hiredis)" in res.stdout + res.stderr


class Redis:
    """One redis-server on 127.0.0.1 (no persistence: a restart is a
    memory loss, as the watermark must catch)."""

    def __init__(self, base, name, password=None, replicaof=None,
                 extra=(), tls=None):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.password = password
        if tls:     # (cert, key, ca): TLS only, on self.port
            conf = ["port 0", "tls-port %d" % self.port,
                    "tls-cert-file %s" % tls[0], "tls-key-file %s" % tls[1],
                    "tls-ca-cert-file %s" % tls[2], "tls-auth-clients no"]
        else:
            conf = ["port %d" % self.port]
        conf += ["bind 127.0.0.1",
                "dir %s" % self.dir, 'save ""', "appendonly no",
                "protected-mode no", "logfile %s/redis.log" % self.dir]
        if password:
            conf += ["requirepass %s" % password,
                     "masterauth %s" % password]
        if replicaof:
            conf.append("replicaof 127.0.0.1 %d" % replicaof)
        conf += list(extra)
        self.conf = os.path.join(self.dir, "redis.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([REDIS, self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert harness.wait_port(self.port, self.proc)

    def cli(self, *args):
        cmd = ["redis-cli", "-p", str(self.port), "--no-auth-warning"]
        if self.password:
            cmd += ["-a", self.password]
        return subprocess.run(cmd + list(args), capture_output=True,
                              text=True, timeout=10).stdout.strip()

    def kill(self, sig=9):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def addr(self):
        return "127.0.0.1:%d" % self.port


class Sentinel:
    def __init__(self, base, name, master_port):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "bind 127.0.0.1", "port %d" % self.port,
                "dir %s" % self.dir, "protected-mode no",
                "logfile %s/sentinel.log" % self.dir,
                "sentinel monitor %s 127.0.0.1 %d 2" % (MASTER, master_port),
                "sentinel auth-pass %s %s" % (MASTER, PASSWORD),
                "sentinel down-after-milliseconds %s 1000" % MASTER,
                "sentinel failover-timeout %s 5000" % MASTER,
                "sentinel parallel-syncs %s 1" % MASTER]) + "\n")
        self.proc = subprocess.Popen([SENTINEL, self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert harness.wait_port(self.port, self.proc)

    def master(self):
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), "SENTINEL",
             "get-master-addr-by-name", MASTER],
            capture_output=True, text=True, timeout=10).stdout.split()
        return int(out[1]) if len(out) == 2 else None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def auth_file(base, name, text, mode=0o600):
    path = os.path.join(base, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


@pytest.fixture(scope="module")
def cluster(redis_build, base_dir):
    """A primary, a replica and three Sentinels, started once."""
    base = os.path.join(base_dir, "redis-cluster")
    primary = Redis(base, "primary", PASSWORD)
    replica = Redis(base, "replica", PASSWORD, replicaof=primary.port)
    deadline = time.monotonic() + 15
    while "master_link_status:up" not in replica.cli("INFO", "replication"):
        assert time.monotonic() < deadline, "replica did not sync"
        time.sleep(0.1)
    sentinels = [Sentinel(base, "sentinel%d" % i, primary.port)
                 for i in range(3)]
    # Every Sentinel knows the replica and its peers before a failover.
    deadline = time.monotonic() + 20
    while True:
        info = subprocess.run(
            ["redis-cli", "-p", str(sentinels[0].port), "SENTINEL",
             "master", MASTER], capture_output=True, text=True,
            timeout=10).stdout.split("\n")
        fields = dict(zip(info[::2], info[1:][::2]))
        if fields.get("num-slaves") == "1" \
                and fields.get("num-other-sentinels") == "2":
            break
        assert time.monotonic() < deadline, "Sentinels did not settle"
        time.sleep(0.2)
    yield primary, replica, sentinels
    for s in sentinels:
        s.kill()
    for r in (primary, replica):
        r.kill()


@pytest.fixture(scope="module")
def farm(redis_build, base_dir, module_path, realm, certs, keytab,
         cluster):
    """Two httpd nodes sharing the cluster through Sentinel."""
    _, _, sentinels = cluster
    pw = auth_file(base_dir, "redis-farm.pw", PASSWORD)
    harness.chown_to_httpd(pw)
    conf = ("NegotiateReplayCache redis-sentinel %s %s\n"
            "NegotiateReplayCacheRedisAuth %s\n" % (
                ",".join("127.0.0.1:%d" % s.port for s in sentinels),
                MASTER, pw))
    a = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                    name="httpd-redis-a", extra_global=conf)
    b = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                    name="httpd-redis-b", extra_global=conf)
    settle()
    yield a, b
    a.stop()
    b.stop()


def test_token_used_on_a_is_refused_on_b(farm, alice):
    a, b = farm
    _, tok = alice.token()
    assert login(a, tok) == 200
    mark = b.log_mark()
    assert login(b, tok) == 401
    assert "N8443025: login refused (replay)" in b.log_since(mark)
    assert login(a, tok) == 401
    _, fresh = alice.token()
    assert login(b, fresh) == 200


def test_status_shows_watermark_state_errors(farm, cluster):
    primary, _, _ = cluster
    a, b = farm
    sa, sb = status(a), status(b)
    for st in (sa, sb):
        assert st["backend"] == "redis"
        r = st["redis"]
        assert r["mode"] == "sentinel" and r["master_name"] == MASTER
        assert r["state"] == "up"
        assert r["primary"] == primary.addr()
        assert isinstance(r["watermark"], float)
        assert abs(r["watermark"] - time.time()) < 600
        assert isinstance(r["errors"], int)
    # One watermark for the primary, whichever node or child saw it first.
    assert sa["redis"]["watermark"] == sb["redis"]["watermark"]
    assert sa["redis"]["identity"] == sb["redis"]["identity"]
    replid = primary.cli("INFO", "replication")
    assert sa["redis"]["identity"].split(":")[0] in replid


def test_failover_under_load_lets_no_replay_in(farm, cluster, alice, bob):
    primary, replica, sentinels = cluster
    a, b = farm
    nodes = (a, b)
    # Tokens accepted before the failover, on both nodes.
    before = []
    for i in range(10):
        _, tok = alice.token()
        assert login(nodes[i % 2], tok) == 200
        before.append(tok)

    results = []            # (start, end, node index, status, token)
    lock = threading.Lock()
    stop = threading.Event()

    def load(idx, client):
        n = 0
        while not stop.is_set() and n < 2000:
            n += 1
            _, tok = client.token()
            t0 = time.monotonic()
            try:
                st = login(nodes[idx], tok)
            except Exception as e:     # a reset connection is a failure
                st = repr(e)
            with lock:
                results.append((t0, time.monotonic(), idx, st, tok))
            time.sleep(0.02)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(load, i % 2, (alice, bob)[i // 2])
                for i in range(4)]
        time.sleep(2.0)
        t_kill = time.monotonic()
        primary.kill()
        t_promo = None
        deadline = t_kill + 30
        while time.monotonic() < deadline:
            if sentinels[0].master() == replica.port:
                t_promo = time.monotonic()
                break
            time.sleep(0.05)
        assert t_promo is not None, "Sentinel did not promote the replica"
        time.sleep(12.0)
        stop.set()
        for f in futs:
            f.result()

    statuses = [r[3] for r in results]
    first = min((r[1] for r in results if r[0] > t_promo and r[3] == 200),
                default=None)
    print("failover: promotion %.1f s after the kill; first fresh login "
          "%.2f s after it; statuses %s" % (
              t_promo - t_kill, (first or t_promo) - t_promo,
              {str(k): statuses.count(k) for k in set(statuses)}))
    assert all(s in (200, 401, 503) for s in statuses), \
        sorted(set(map(str, statuses)))
    after = [r for r in results if r[0] > t_promo + 10.0]
    assert after and all(r[3] == 200 for r in after), \
        [(round(r[0] - t_promo, 2), r[2], r[3]) for r in after if r[3] != 200]
    resumed = [r for r in results if r[0] > t_promo and r[3] == 200]
    assert resumed and resumed[0][1] - t_promo < 10.0
    # Fresh logins went through both nodes before and after.
    assert {r[2] for r in after} == {0, 1}

    # No replay is let in: tokens accepted before the kill (some of their
    # entries may be lost with the primary) and after it, on both nodes.
    accepted_before = [r[4] for r in results
                       if r[3] == 200 and r[1] <= t_kill]
    accepted_after = [r[4] for r in results
                      if r[3] == 200 and r[0] > t_promo]
    sample = before + accepted_before[-20:] + accepted_after[:10]
    assert len(accepted_before) >= 10
    for i, tok in enumerate(sample):
        for node in nodes:
            assert login(node, tok) == 401, (i, node.dir)
    log = a.output() + b.output()
    assert "N8443325: replay cache: Redis primary %s" % replica.addr() in log
    assert "N8443300" in log or all(s == 200 for s in statuses)
    for node in nodes:
        assert crashes(node) == []
        assert status(node)["redis"]["primary"] == replica.addr()


@pytest.fixture(scope="module")
def lone(redis_build, base_dir):
    """A Redis of its own (no Sentinel), stopped and started by tests."""
    r = Redis(os.path.join(base_dir, "redis-lone"), "lone")
    yield r
    r.kill()


def test_redis_down_503_then_recovers_and_forgets_safely(
        base_dir, module_path, realm, certs, keytab, alice, lone):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-lone", mpm="prefork",
                      extra_global="NegotiateReplayCache redis %s\n"
                                   "StartServers 4" % lone.addr())
    try:
        settle()
        _, used = alice.token()
        assert login(srv, used) == 200
        wm_before = status(srv)["redis"]["watermark"]
        lone.kill()
        mark = srv.log_mark()
        for _ in range(6):
            assert login(srv, alice.token()[1]) == 503
        log = srv.log_since(mark)
        assert "N8443329: replay cache: Redis (%s) cannot answer" \
            % lone.addr() in log
        assert status(srv)["redis"]["state"] == "down"
        # Back without its memory (no persistence): no restart of httpd.
        lone.start()
        t0 = time.monotonic()
        while True:
            st = login(srv, alice.token()[1])
            if st == 200:
                break
            assert st in (401, 503)
            assert time.monotonic() - t0 < 10.0, "no recovery in 10 s"
            time.sleep(0.2)
        # Every child: a child that failed lately waits out its retry
        # pause (one connection attempt a second), then no more 503.
        time.sleep(1.1)
        for _ in range(12):
            assert login(srv, alice.token()[1]) == 200
        assert time.monotonic() - t0 < 10.0
        # The token used before the loss is refused: its entry is gone,
        # but it was made before the new watermark.
        mark = srv.log_mark()
        assert login(srv, used) == 401
        assert "N8443300" in srv.log_since(mark)
        assert status(srv)["redis"]["watermark"] > wm_before
        assert crashes(srv) == []
    finally:
        srv.stop()


class FakeRedis:
    """A server on 127.0.0.1 that speaks RESP with canned answers (handler:
    command name -> raw reply bytes), or garbage."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.client, args=(c,),
                             daemon=True).start()

    def client(self, c):
        buf = b""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                while True:
                    cmd, buf = parse_resp(buf)
                    if cmd is None:
                        break
                    reply = self.handler(cmd)
                    if isinstance(reply, Trickle):
                        for i in range(len(reply.data)):
                            time.sleep(reply.delay)
                            c.sendall(reply.data[i:i + 1])
                    else:
                        c.sendall(reply)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def parse_resp(buf):
    """One command (a RESP array of bulk strings) from buf, or None."""
    if not buf.startswith(b"*") or b"\r\n" not in buf:
        return None, buf
    head, rest = buf.split(b"\r\n", 1)
    args = []
    for _ in range(int(head[1:])):
        if b"\r\n" not in rest:
            return None, buf
        h, rest = rest.split(b"\r\n", 1)
        n = int(h[1:])
        if len(rest) < n + 2:
            return None, buf
        args.append(rest[:n])
        rest = rest[n + 2:]
    return [a.decode() for a in args], rest


def bulk(s):
    s = s.encode()
    return b"$%d\r\n%s\r\n" % (len(s), s)


def readonly_primary(cmd):
    """Says it is a primary, refuses every write: -READONLY."""
    name = cmd[0].upper()
    if name == "ROLE":
        return b"*3\r\n" + bulk("master") + b":0\r\n*0\r\n"
    if name == "INFO":
        return bulk("# x\r\nrole:master\r\nmaster_replid:%s\r\n"
                    "run_id:%s\r\nmaxmemory_policy:noeviction\r\n"
                    % ("a" * 40, "b" * 40))
    if name in ("EVALSHA", "EVAL") and cmd[2] == "2":
        # The watermark script, its since and marker keys only: an old
        # watermark.
        return script_answer(3)
    return b"-READONLY You can't write against a read only replica.\r\n"


def script_answer(code):
    """The store script's answer: {code, watermark an hour ago, kept}."""
    return b"*3\r\n:%d\r\n" % code \
        + bulk("%d" % int((time.time() - 3600) * 1e6)) + b":0\r\n"


class Trickle:
    """A reply sent a byte every `delay` seconds."""

    def __init__(self, data, delay):
        self.data, self.delay = data, delay


def trickling_primary(cmd):
    """A primary that answers a login's store script (three keys) a byte
    every 0.2 s, and everything else at once: it passes the start-up and
    identity looks.  Read whole, its answer would let the login in."""
    if cmd[0].upper() in ("EVALSHA", "EVAL") and cmd[2] == "3":
        return Trickle(script_answer(1), 0.2)
    return readonly_primary(cmd)


def garbage(cmd):
    return b"HTTP/1.0 200 OK\r\n\r\n<html>not redis</html>\r\n"


@pytest.fixture(scope="module")
def oom_redis(redis_build, base_dir):
    r = Redis(os.path.join(base_dir, "redis-oom"), "oom",
              extra=("maxmemory 1", "maxmemory-policy noeviction"))
    yield r
    r.kill()


@pytest.fixture(scope="module")
def pw_redis(redis_build, base_dir):
    r = Redis(os.path.join(base_dir, "redis-pw"), "pw",
              password="right-password")
    yield r
    r.kill()


@pytest.fixture(scope="module")
def lone_replica(redis_build, base_dir, lone):
    r = Redis(os.path.join(base_dir, "redis-lone-replica"), "replica",
              replicaof=lone.port)
    yield r
    r.kill()


def closed_port():
    return harness.free_port()


@pytest.mark.parametrize("case", ["unreachable", "wrong-password",
                                  "readonly", "oom", "garbage",
                                  "no-such-name", "replica",
                                  "evicting", "trickle"])
def test_bad_redis_is_503_with_a_clear_line(
        base_dir, module_path, realm, certs, keytab, alice, case,
        oom_redis, pw_redis, lone, lone_replica):
    fake = None
    extra = ""
    if case == "unreachable":
        where, expect = "127.0.0.1:%d" % closed_port(), "Connection refused"
    elif case == "wrong-password":
        pw = auth_file(base_dir, "wrong.pw", "not-the-password")
        extra = "NegotiateReplayCacheRedisAuth %s\n" % pw
        where, expect = pw_redis.addr(), "AUTH (password file %s) " \
            "refused: WRONGPASS" % pw
    elif case == "readonly":
        fake = FakeRedis(readonly_primary)
        where, expect = "127.0.0.1:%d" % fake.port, "SET answered READONLY"
    elif case == "oom":
        where, expect = oom_redis.addr(), "cannot record the watermark: OOM"
    elif case == "garbage":
        fake = FakeRedis(garbage)
        where, expect = "127.0.0.1:%d" % fake.port, "Protocol error"
    elif case == "trickle":
        fake = FakeRedis(trickling_primary)
        where, expect = "127.0.0.1:%d" % fake.port, \
            "no whole reply within 500 ms"
    elif case == "no-such-name":
        where, expect = "no-such-host.invalid:6379", "no-such-host.invalid"
    elif case == "replica":
        where, expect = lone_replica.addr(), "it is not a primary"
    else:
        lone.cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
        where, expect = lone.addr(), "maxmemory-policy is volatile-lru"
    try:
        srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                          name="httpd-redis-bad-%s" % case,
                          extra_global="NegotiateReplayCache redis %s\n%s"
                                       % (where, extra))
        try:
            # The fake read-only server passes the start-up look.
            quick_look = case in ("readonly", "trickle")
            assert ("N8443322: replay cache: Redis (%s) cannot be used at "
                    "start-up" % where in srv.output()) != quick_look
            mark = srv.log_mark()
            for _ in range(3):
                t0 = time.monotonic()
                assert login(srv, alice.token()[1]) == 503
                # The timeout (500 ms a command, the whole reply; a kept
                # connection is tried once more), not the server's pace:
                # the trickled answer takes 7 s.
                assert time.monotonic() - t0 < 4
            log = srv.log_since(mark)
            assert "N8443329: replay cache: Redis (%s) cannot answer" \
                % where in log
            assert expect in log or expect in srv.output(), log
            # The status page is one child's view: ask until a child
            # that met the failure answers (the read-only fake passes
            # the identity look, so only the errors show it).
            for _ in range(20):
                st = status(srv)["redis"]
                if st["errors"] >= 1 and (st["state"] != "up"
                                          or quick_look):
                    break
            assert st["errors"] >= 1, st
            assert st["state"] != "up" or quick_look, st
            assert crashes(srv) == []
        finally:
            srv.stop()
    finally:
        if fake is not None:
            fake.close()
        if case == "evicting":
            lone.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_readonly_on_set_after_a_good_start(
        base_dir, module_path, realm, certs, keytab, alice):
    """A server that turns read-only (demoted) between two logins: 503
    with its words, and the connection is found again."""
    mode = {"ro": False}

    def handler(cmd):
        if mode["ro"] or cmd[0].upper() not in ("EVALSHA", "EVAL") \
                or cmd[2] != "3":
            return readonly_primary(cmd)
        return script_answer(1)
    fake = FakeRedis(handler)
    try:
        srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                          name="httpd-redis-ro",
                          extra_global="NegotiateReplayCache redis "
                                       "127.0.0.1:%d" % fake.port)
        try:
            assert login(srv, alice.token()[1]) == 200
            mode["ro"] = True
            mark = srv.log_mark()
            assert login(srv, alice.token()[1]) == 503
            assert "SET answered READONLY You can't write against a read " \
                "only replica." in srv.log_since(mark)
            mode["ro"] = False
            time.sleep(1.1)
            assert login(srv, alice.token()[1]) == 200
            assert crashes(srv) == []
        finally:
            srv.stop()
    finally:
        fake.close()


@pytest.mark.parametrize("conf,message", [
    ("NegotiateReplayCache redis",
     "NegotiateReplayCache redis needs HOST:PORT[,HOST:PORT...] and "
     "nothing more"),
    ("NegotiateReplayCache redis-sentinel 127.0.0.1:26379",
     "NegotiateReplayCache redis-sentinel needs HOST:PORT[,HOST:PORT...] "
     "MASTER-NAME"),
    ("NegotiateReplayCache redis localhost",
     "NegotiateReplayCache redis: 'localhost' is not host:port"),
    ("NegotiateReplayCache shm x y",
     "NegotiateReplayCache shm: too many arguments"),
    ("NegotiateReplayCacheRedisTimeout 5s",
     "NegotiateReplayCacheRedisTimeout: '5s' is not a number of "
     "milliseconds from 10 to 10000"),
    ("NegotiateReplayCacheRedisWait many",
     "NegotiateReplayCacheRedisWait: 'many' is not a number of replicas"),
])
def test_bad_redis_directives(base_dir, module_path, realm, certs, keytab,
                              conf, message):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY,
                        name="httpd-badredis-%d" % abs(hash(conf)),
                        extra_global=conf)
    res = srv.configtest()
    assert res.returncode != 0
    assert message in res.stdout + res.stderr


def test_password_file_readable_by_others_stops_startup(
        base_dir, module_path, realm, certs, keytab, pw_redis):
    pw = auth_file(base_dir, "loose.pw", "right-password", mode=0o644)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-redis-loose-pw",
                        extra_global="NegotiateReplayCache redis %s\n"
                                     "NegotiateReplayCacheRedisAuth %s"
                                     % (pw_redis.addr(), pw))
    assert srv.start(expect_fail=True) != 0
    assert "N8443323: NegotiateReplayCacheRedisAuth %s: the Redis password "\
        "is readable by group or others (mode 0644)" % pw in srv.output()


def test_right_password_and_wait(base_dir, module_path, realm, certs,
                                 keytab, alice, pw_redis):
    """AUTH from the file; WAIT 1 with no replica: every login 503 with
    the count; WAIT 0 would not ask."""
    pw = auth_file(base_dir, "right.pw", "right-password")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-pw",
                      extra_global="NegotiateReplayCache redis %s\n"
                                   "NegotiateReplayCacheRedisAuth %s"
                                   % (pw_redis.addr(), pw))
    try:
        settle()
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        assert pw_redis.cli("DBSIZE") not in ("", "0")
    finally:
        srv.stop()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-wait",
                      extra_global="NegotiateReplayCache redis %s\n"
                                   "NegotiateReplayCacheRedisAuth %s\n"
                                   "NegotiateReplayCacheRedisWait 1 50"
                                   % (pw_redis.addr(), pw))
    try:
        mark = srv.log_mark()
        assert login(srv, alice.token()[1]) == 503
        assert "0 of 1 replicas acknowledged the entry within 50 ms" \
            in srv.log_since(mark)
    finally:
        srv.stop()
    # A WAIT longer than the command timeout: its answer is waited for
    # (the timeout on top of WAIT's own), not taken for a dead server.
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-wait-long",
                      extra_global="NegotiateReplayCache redis %s\n"
                                   "NegotiateReplayCacheRedisAuth %s\n"
                                   "NegotiateReplayCacheRedisTimeout 300\n"
                                   "NegotiateReplayCacheRedisWait 1 600"
                                   % (pw_redis.addr(), pw))
    try:
        mark = srv.log_mark()
        assert login(srv, alice.token()[1]) == 503
        assert "0 of 1 replicas acknowledged the entry within 600 ms" \
            in srv.log_since(mark)
    finally:
        srv.stop()


def test_tls_without_hiredis_ssl_stops_startup(
        base_dir, module_path, realm, certs, keytab, lone):
    """TLS asked of a build without hiredis_ssl: a clear start-up error
    (httpd -t passes: one configuration serves both kinds of build)."""
    with open(module_path, "rb") as f:
        if b"redisInitiateSSLWithContext" in f.read():
            pytest.skip("module built with hiredis_ssl")
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-redis-tls-unsupported",
                        extra_global="NegotiateReplayCache redis %s\n"
                                     "NegotiateReplayCacheRedisTLS %s"
                                     % (lone.addr(), certs.ca))
    assert srv.configtest().returncode == 0
    assert srv.start(expect_fail=True) != 0
    assert "N8443330: NegotiateReplayCacheRedisTLS %s: mod_negotiate8443 " \
        "was built without Redis TLS support" % certs.ca in srv.output()


def test_tls(base_dir, module_path, realm, certs, keytab, alice):
    """NegotiateReplayCacheRedisTLS against a TLS-only Redis: logins and
    replays as over TCP; a CA that did not sign its certificate: 503."""
    with open(module_path, "rb") as f:
        if b"redisInitiateSSLWithContext" not in f.read():
            pytest.skip("module built without hiredis_ssl")
    r = Redis(os.path.join(base_dir, "redis-tls"), "tls",
              tls=(certs.cert, certs.key, certs.ca))
    other_ca = os.path.join(base_dir, "redis-other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=other", "-days", "1",
                    "-keyout", other_ca + ".key", "-out", other_ca],
                   check=True, capture_output=True)
    try:
        for ca, name in ((certs.ca, "good"), (other_ca, "bad")):
            srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                              BODY, name="httpd-redis-tls-%s" % name,
                              extra_global="NegotiateReplayCache redis %s\n"
                                           "NegotiateReplayCacheRedisTLS %s"
                                           % (r.addr(), ca))
            try:
                settle()
                _, tok = alice.token()
                if name == "good":
                    assert login(srv, tok) == 200
                    assert login(srv, tok) == 401
                    assert status(srv)["redis"]["tls"] is True
                else:
                    mark = srv.log_mark()
                    assert login(srv, tok) == 503
                    log = srv.log_since(mark)
                    assert "N8443329" in log and "SSL" in log, log
                assert crashes(srv) == []
            finally:
                srv.stop()
    finally:
        r.kill()


def _skew(srv, conf, skew):
    with open(srv.conf, "w") as f:
        f.write(conf.replace("NegotiateClockSkew 3\n",
                             "NegotiateClockSkew %d\n" % skew))


def _entries(r):
    return {k for k in r.cli("--scan", "--pattern", "n8443rc:*").split()
            if not k.startswith("n8443rc:since:") and k != "n8443rc:known"}


def fresh_login_within(srv, client, seconds=10.0):
    """After a memory loss fresh logins are refused for the margin
    (NegotiateReplayCacheMargin, 5 s), then succeed: within 10 s."""
    t0 = time.monotonic()
    while login(srv, client.token()[1]) != 200:
        assert time.monotonic() - t0 < seconds, \
            "no fresh login within %g s" % seconds
        time.sleep(0.3)


def test_skew_raised_on_graceful_restart_redis(
        base_dir, module_path, realm, certs, keytab, alice):
    """NegotiateClockSkew raised on a graceful restart: the entry was
    stored with the old retention (PX 2 x 3 + 2 s) while Kerberos now takes
    the authenticator for 300 s.  The since key records the retention of
    its entries; a longer one begins a new watermark, so the token, its
    entry expired, is refused as made before it.  Lowered again, entries
    keep the longer retention that the since key records."""
    r = Redis(os.path.join(base_dir, "redis-skew"), "skew")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-skew",
                      extra_global="NegotiateReplayCache redis %s\n"
                                   "NegotiateClockSkew 3\n" % r.addr())
    try:
        with open(srv.conf) as f:
            conf = f.read()
        settle()
        _, tok = alice.token()
        assert login(srv, tok) == 200
        used_at = time.time()
        assert login(srv, tok) == 401
        assert 0 < int(r.cli("PTTL", _entries(r).pop())) <= 8000
        wm = status(srv)["redis"]["watermark"]
        _skew(srv, conf, 300)
        srv.graceful()
        time.sleep(max(0.0, used_at + 11 - time.time()))
        assert _entries(r) == set(), "the old entry should have expired"
        mark = srv.log_mark()
        assert login(srv, tok) == 401, \
            "a token used once was accepted again after the skew was raised"
        assert "N8443300" in srv.log_since(mark)
        assert status(srv)["redis"]["watermark"] > wm
        since = r.cli("--scan", "--pattern", "n8443rc:since:*").split()
        assert [r.cli("GET", k).split()[1] for k in since] == ["602000"]
        # Back to 3 s: new entries still kept 602 s, as recorded.
        _skew(srv, conf, 3)
        srv.graceful()
        time.sleep(1.5)
        assert login(srv, alice.token()[1]) == 200
        new = _entries(r)
        assert len(new) == 1
        assert int(r.cli("PTTL", new.pop())) > 590000
        assert login(srv, tok) == 401
        # The script is sent (EVAL) only when Redis lacks it, once: the
        # module's SHA-1 of it is Redis's.
        stats = dict(l.split(":", 1) for l in
                     r.cli("INFO", "commandstats").splitlines()
                     if l.startswith("cmdstat_eval"))
        calls = {k: int(v.split("calls=")[1].split(",")[0])
                 for k, v in stats.items()}
        assert calls.get("cmdstat_eval", 0) <= 2
        assert calls["cmdstat_evalsha"] >= 4
        assert crashes(srv) == []
    finally:
        srv.stop()
        r.kill()


@pytest.mark.parametrize("how", ["SWAPDB", "old-since"])
def test_memory_lost_without_new_identity(
        base_dir, module_path, realm, certs, keytab, alice, how):
    """SWAPDB 0 1 (the entries and the since key move away, same
    replication ID and run ID), or a since key without a retention (an
    older version's): the store script begins a new watermark at once
    (N8443460), so tokens used before are refused, not let in again."""
    r = Redis(os.path.join(base_dir, "redis-lost-" + how), "lost")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-lost-" + how,
                      extra_global="NegotiateReplayCache redis %s\n"
                                   % r.addr())
    try:
        settle()
        toks = [alice.token()[1] for _ in range(3)]
        for t in toks:
            assert login(srv, t) == 200
        if how == "SWAPDB":
            assert r.cli("SWAPDB", "0", "1") == "OK"
        else:
            since = r.cli("--scan", "--pattern", "n8443rc:since:*").split()
            assert len(since) == 1
            assert r.cli("SET", since[0], "1") == "OK"
            assert len(_entries(r)) == 3
            r.cli("FLUSHDB")
            assert r.cli("SET", since[0], "1") == "OK"
        mark = srv.log_mark()
        again = [login(srv, t) for t in toks]
        assert again == [401] * 3, again
        log = srv.log_since(mark)
        # Said by a child that looks now (N8443460), or by one that had
        # not connected yet and sees the primary first (N8443325).
        assert "N8443460" in log or "(first seen now)" in log, log
        assert "N8443300" in log
        fresh_login_within(srv, alice)
        assert crashes(srv) == []
    finally:
        srv.stop()
        r.kill()


@pytest.mark.parametrize("how", ["FLUSHALL", "restart"])
def test_default_margin_covers_a_clock_ahead_across_a_loss(
        base_dir, module_path, realm, certs, keytab, lone, how):
    """A client whose clock runs 4 s ahead (within the default
    NegotiateReplayCacheMargin, 5 s) uses a token just before Redis loses
    its memory (FLUSHALL: the since key goes; a restart without
    persistence: a new run ID).  Its stamp is after the new watermark, so
    only the margin refuses it - with the default margin, as for shm
    (test_redteam_rc F4) and memcached.  A first start (no table file yet,
    a store httpd has never seen) is still not held back: the birth
    httpd's start-up sees first is dated the margin back."""
    from test_redteam_rc import _forge
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-redis-margin-" + how,
                      extra_global="NegotiateReplayCache redis %s\n"
                                   % lone.addr())
    try:
        srv.stop()
        lone.cli("FLUSHALL")
        from test_replay_memory import rc_file
        os.unlink(rc_file(srv))
        srv.start()
        settle()
        # A first start: fresh logins at once, not after the margin.
        assert login(srv, _forge(realm, keytab, time.time())) == 200
        tok = _forge(realm, keytab, time.time() + 4)
        assert login(srv, tok) == 200
        assert login(srv, tok) == 401
        if how == "FLUSHALL":
            assert lone.cli("FLUSHALL") == "OK"
        else:
            lone.kill()
            lone.start()
        mark = srv.log_mark()
        deadline = time.monotonic() + 5
        while True:             # a child may wait out its retry pause
            st = login(srv, tok)
            if st != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert st == 401, \
            "a token used once was accepted again after Redis's %s" % how
        assert "N8443300" in srv.log_since(mark)
        # Fresh logins come back once the margin is over (the contract:
        # within 10 s of the event).
        t0 = time.monotonic()
        while login(srv, _forge(realm, keytab, time.time())) != 200:
            assert time.monotonic() - t0 < 10.0, "no fresh login in 10 s"
            time.sleep(0.3)
        assert crashes(srv) == []
    finally:
        srv.stop()
