"""Replay cache and clock skew against a real KDC and httpd: a token is
good once, across threads, children, graceful restarts and a farm sharing
memcached; the cache fails closed (503) when it cannot answer; the clock
skew is the configured one."""

import concurrent.futures
import os
import subprocess
import time

import pytest

import harness
from conftest import (MINIMAL_BODY, Client, https_request, negotiate,
                      start_httpd)

SPNEGO_OID = bytes.fromhex("2b0601050502")
KRB5_OID = bytes.fromhex("2a864886f712010202")
KRB5_MS_OID = bytes.fromhex("2a864882f712010202")


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + content


def spnego_wrap(raw_krb5_token, mechs=(KRB5_MS_OID, KRB5_OID)):
    """A NegTokenInit that carries an existing raw krb5 token."""
    mech_types = der(0x30, b"".join(der(0x06, m) for m in mechs))
    init = der(0x30, der(0xa0, mech_types) + der(0xa2, der(0x04,
                                                            raw_krb5_token)))
    return der(0x60, der(0x06, SPNEGO_OID) + der(0xa0, init))


def login(srv, tok, path="/protected/"):
    return https_request(srv, path, [negotiate(tok)])[0]


@pytest.fixture(scope="module")
def shm_server(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-replay-shm",
                      extra_global="NegotiateReplayCache shm")
    yield srv
    srv.stop()


def test_same_token_twice(shm_server, alice):
    _, tok = alice.token()
    assert login(shm_server, tok) == 200
    mark = shm_server.log_mark()
    assert login(shm_server, tok) == 401
    assert "N8443025: login refused (replay): the authenticator of " \
        "alice@TEST.N8443 was presented before" in shm_server.log_since(mark)


def test_fifty_concurrent_requests_one_token(shm_server, alice):
    _, tok = alice.token()
    with concurrent.futures.ThreadPoolExecutor(25) as pool:
        statuses = list(pool.map(lambda _: login(shm_server, tok),
                                 range(50)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 49, statuses


@pytest.mark.parametrize("first,second", [("raw", "spnego"),
                                          ("spnego", "raw"),
                                          ("spnego", "spnego-other-mechs")])
def test_rewrapped_authenticator_is_a_replay(shm_server, alice, first,
                                             second):
    from conftest import KRB5
    _, raw = alice.token(mech=KRB5)
    forms = {"raw": raw, "spnego": spnego_wrap(raw),
             "spnego-other-mechs": spnego_wrap(raw, (KRB5_OID,))}
    assert forms[first] != forms[second]
    assert login(shm_server, forms[first]) == 200
    mark = shm_server.log_mark()
    assert login(shm_server, forms[second]) == 401
    assert "N8443025: login refused (replay)" in shm_server.log_since(mark)


def test_replay_across_graceful_restart(shm_server, alice):
    _, tok = alice.token()
    assert login(shm_server, tok) == 200
    shm_server.graceful()
    harness.wait_port(shm_server.port, shm_server.proc)
    _, fresh = alice.token()
    assert login(shm_server, fresh) == 200      # serving again
    assert login(shm_server, tok) == 401        # and still remembers


def test_replay_across_prefork_children(base_dir, module_path, realm, certs,
                                        keytab, alice):
    pidlog = os.path.join(base_dir, "prefork-pids.log")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, mpm="prefork", name="httpd-replay-pf",
                      extra_global="StartServers 8\nMinSpareServers 8\n"
                                   "MaxSpareServers 16\n"
                                   "LogFormat \"%%P %%>s\" pid\n"
                                   "CustomLog %s pid" % pidlog)
    try:
        time.sleep(1.0)     # let the spare children come up
        tokens = [alice.token()[1] for _ in range(12)]
        for tok in tokens:
            assert login(srv, tok) == 200
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda t: login(srv, t), tokens * 3))
        assert statuses == [401] * 36
        time.sleep(0.3)
        with open(pidlog) as f:
            pids = {line.split()[0] for line in f if line.endswith(" 401\n")}
        assert len(pids) >= 2, "replays were all served by one child"
    finally:
        srv.stop()


@pytest.fixture
def memcached():
    port = harness.free_port()
    procs = []

    def start():
        p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port),
                              "-U", "0", "-u", "nobody", "-m", "16",
                              "-M"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(p)
        assert harness.wait_port(port, p)
        return p

    def stop():
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)

    start()
    yield port, start, stop
    stop()


def test_replay_across_two_servers_sharing_memcached(
        base_dir, module_path, realm, certs, keytab, alice, memcached):
    port, _, _ = memcached
    conf = "NegotiateReplayCache memcache 127.0.0.1:%d" % port
    a = start_httpd(base_dir, module_path, realm, certs, keytab,
                    MINIMAL_BODY, name="httpd-farm-a", extra_global=conf)
    b = start_httpd(base_dir, module_path, realm, certs, keytab,
                    MINIMAL_BODY, name="httpd-farm-b", extra_global=conf)
    try:
        _, tok = alice.token()
        assert login(a, tok) == 200
        mark = b.log_mark()
        assert login(b, tok) == 401
        assert "N8443025: login refused (replay)" in b.log_since(mark)
        _, tok2 = alice.token()
        assert login(b, tok2) == 200
        assert login(a, tok2) == 401
    finally:
        a.stop()
        b.stop()


def test_memcached_down_fails_closed_and_recovers(
        base_dir, module_path, realm, certs, keytab, alice, memcached):
    port, start, stop = memcached
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-mc-down",
                      extra_global="NegotiateReplayCache memcache "
                                   "127.0.0.1:%d" % port)
    try:
        assert login(srv, alice.token()[1]) == 200
        stop()
        mark = srv.log_mark()
        assert login(srv, alice.token()[1]) == 503
        assert "N8443060: replay cache: memcached (127.0.0.1:%d) did not " \
            "answer; login refused (503)" % port in srv.log_since(mark)
        start()
        # The client retries a dead server after a few seconds.
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = login(srv, alice.token()[1])
            if status == 200:
                break
            time.sleep(1)
        assert status == 200
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_full_cache_fails_closed_with_sizing_advice(
        base_dir, module_path, realm, certs, keytab, alice):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-rc-tiny",
                      extra_global="NegotiateReplayCacheSize 8")
    try:
        for _ in range(8):
            assert login(srv, alice.token()[1]) == 200
        mark = srv.log_mark()
        assert login(srv, alice.token()[1]) == 503
        log = srv.log_since(mark)
        assert "N8443058: replay cache full of live entries: login refused " \
            "(503). Each login is kept for 602 s (2 x NegotiateClockSkew + " \
            "2 s); set NegotiateReplayCacheSize to at least peak logins " \
            "per second x 602" in log
    finally:
        srv.stop()


def test_krb5_backend_uses_mit_cache(base_dir, module_path, realm, certs,
                                     keytab, alice):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY, name="httpd-rc-krb5")
    rcache = os.path.join(srv.dir, "rcache", "mit.rcache2")
    srv.write_conf(module_path, certs, keytab, MINIMAL_BODY, "event",
                   "NegotiateReplayCache krb5 file2:%s" % rcache)
    srv.ca = certs.ca
    srv.start()
    try:
        _, tok = alice.token()
        assert login(srv, tok) == 200
        mark = srv.log_mark()
        assert login(srv, tok) == 401
        assert "N8443020: login refused (replay)" in srv.log_since(mark)
        assert os.path.exists(rcache)
    finally:
        srv.stop()


def test_none_backend_warns_and_allows_replay(base_dir, module_path, realm,
                                              certs, keytab, alice):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-rc-none",
                      extra_global="NegotiateReplayCache none")
    try:
        assert "N8443055: NegotiateReplayCache none for localhost" \
            in srv.output()
        _, tok = alice.token()
        assert login(srv, tok) == 200
        assert login(srv, tok) == 200
    finally:
        srv.stop()


def skewed_token(client, offset, host="localhost"):
    """A token from a client whose clock is `offset` off (faketime), with
    the service ticket fetched beforehand at the true time."""
    subprocess.run(["kvno", "HTTP/" + host], env=client.env, check=True,
                   capture_output=True)
    env = dict(client.env)
    # The client tolerates its own wrong clock (else it refuses its ticket
    # as "not yet valid") and does not correct it from the KDC.
    conf = os.path.join(client.realm.dir, "krb5-skewed-client.conf")
    client.realm.write_krb5_conf(conf, " clockskew = 3600\n"
                                       " kdc_timesync = 0\n")
    env["KRB5_CONFIG"] = conf
    res = subprocess.run(harness.faketime(offset) + ["/usr/bin/python3",
                          os.path.join(os.path.dirname(__file__),
                                       "mktoken.py"), host],
                         env=env, capture_output=True, text=True, check=True)
    import base64
    return base64.b64decode(res.stdout.strip())


def age_replay_cache(srv, seconds=3600):
    """Stop srv, move its shm replay cache's birth (the watermark, at
    offset 32 of the file's header) `seconds` back, start it again: a
    table that has been remembering for that long."""
    import struct
    srv.stop()
    with open(os.path.join(srv.dir, "run", "negotiate8443-rcache"),
              "r+b") as f:
        f.seek(32)
        born = struct.unpack("=q", f.read(8))[0]
        f.seek(32)
        f.write(struct.pack("=q", born - seconds * 1000000))
    srv.start()


@pytest.mark.parametrize("skew_conf,offset,expected", [
    (None, "-10m", 401),
    (None, "+2m", 200),
    ("NegotiateClockSkew 60", "+2m", 401),
    ("NegotiateClockSkew 900", "-10m", 200),
])
def test_clock_skew(base_dir, module_path, realm, certs, keytab, skew_conf,
                    offset, expected):
    client = Client(realm, certs, "alice")
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY,
                      name="httpd-skew-%s-%s" % (skew_conf and
                                                 skew_conf.split()[1],
                                                 offset),
                      extra_global=skew_conf or "")
    try:
        if offset.startswith("-"):
            # A table born a moment ago refuses what a slow clock stamped
            # before its birth (test_replay_memory.py): one born long ago.
            age_replay_cache(srv)
        tok = skewed_token(client, offset)
        mark = srv.log_mark()
        assert login(srv, tok) == expected
        if expected == 401:
            log = srv.log_since(mark)
            assert "N8443020: login refused (skew)" in log
            assert "clock skew" in log
    finally:
        srv.stop()


@pytest.mark.parametrize("conf,message", [
    ("<VirtualHost 127.0.0.1:1>\nNegotiateClockSkew 60\n</VirtualHost>",
     "NegotiateClockSkew cannot occur within <VirtualHost> section"),
    ("NegotiateClockSkew 5m",
     "NegotiateClockSkew: '5m' is not a whole number"),
    ("NegotiateClockSkew 0",
     "NegotiateClockSkew: 0 is out of range (1 to 86400)"),
    ("NegotiateReplayCache redix", "NegotiateReplayCache: 'redix' is not "
     "one of shm, memcache, redis, redis-sentinel, krb5, none"),
    ("NegotiateReplayCache memcache localhost",
     "NegotiateReplayCache memcache: 'localhost' is not host:port"),
    ("NegotiateReplayCache krb5", "NegotiateReplayCache krb5 needs an MIT "
     "replay cache name"),
    ("NegotiateReplayCacheSize lots",
     "NegotiateReplayCacheSize: 'lots' is not a whole number"),
])
def test_bad_replay_and_skew_directives(base_dir, module_path, realm, certs,
                                        keytab, conf, message):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY,
                        name="httpd-badrc-%d" % abs(hash(conf)),
                        extra_global=conf)
    res = srv.configtest()
    assert res.returncode != 0
    assert message in res.stdout + res.stderr
