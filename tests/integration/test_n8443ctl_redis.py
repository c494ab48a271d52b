"""n8443ctl and a Redis replay cache: `replay_cache: redis://...` and
`redis-sentinel://.../MASTER` with the `redis:` block render the module's
directives; `check` finds a bad password file or a host that does not
resolve (krb5.redis-*); `check --online` asks real redis-server and
redis-sentinel processes on 127.0.0.1, started here, up and down
(online.redis)."""

import json
import os
import subprocess

import pytest

import harness
from conftest import MINIMAL_BODY, start_httpd
from test_n8443ctl_render import tool
from test_replay_redis import MASTER, PASSWORD, REDIS, SENTINEL, Redis, \
    Sentinel

HTTPD_USER = harness.ensure_user()

pytestmark = pytest.mark.skipif(
    not (os.path.exists(REDIS) and os.path.exists(SENTINEL)),
    reason="redis-server / redis-sentinel not installed")

SITE = """version: 1
sites:
  - name: farm
    server_name: localhost
    tls:
      certificate: /etc/pki/tls/certs/farm.crt
      key: /etc/pki/tls/private/farm.key
    kerberos:
      replay_cache: {rc}
{extra}"""


def write_site(tmp_path, rc, extra=""):
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(rc=rc, extra=extra))
    return str(path)


def redis_block(**keys):
    return "      redis:\n" + "".join("        %s: %s\n" % kv
                                      for kv in keys.items())


def check(realm, site, only, online=False):
    """n8443ctl check SITE --only ONLY --format json: (status, records)."""
    cmd = [tool(), "check", site, "--format", "json", "--only", only]
    if HTTPD_USER:
        cmd += ["--httpd-user", HTTPD_USER]
    if online:
        cmd.append("--online")
    res = subprocess.run(cmd, env=realm.env, capture_output=True, text=True,
                         timeout=60)
    doc = json.loads(res.stdout)
    assert doc["summary"]["exit_status"] == res.returncode, doc
    return res.returncode, doc["checks"]


def by_id(recs, check_id):
    return [r for r in recs if r["id"] == check_id]


def password_file(tmp_path, name, text, mode=0o600):
    path = tmp_path / name
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return str(path)


# ------------------------------------------------------------- render

def test_render_redis_sentinel_and_settings(tmp_path, base_dir,
                                            module_path, realm, certs,
                                            keytab):
    site = write_site(
        tmp_path, "redis-sentinel://127.0.0.1:26379,[::1]:26380/n8443",
        redis_block(auth_file="/etc/httpd/conf/redis.pw",
                    tls_ca="/etc/pki/redis-ca.pem",
                    tls_name="redis.example.com", timeout=300,
                    wait_replicas=1, wait_timeout=100)
        + "      replay_cache_file: /var/lib/httpd/rcache\n"
          "      replay_cache_margin: 0\n")
    res = subprocess.run([tool(), "render", site], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    top, vhost = res.stdout.split("<VirtualHost", 1)
    lines = [l.strip() for l in vhost.splitlines()]
    assert "NegotiateReplayCache redis-sentinel " \
        "127.0.0.1:26379,[::1]:26380 n8443" in lines
    assert 'NegotiateReplayCacheRedisAuth "/etc/httpd/conf/redis.pw"' \
        in lines
    assert 'NegotiateReplayCacheRedisTLS "/etc/pki/redis-ca.pem" ' \
        'redis.example.com' in lines
    assert "NegotiateReplayCacheRedisTimeout 300" in lines
    assert "NegotiateReplayCacheRedisWait 1 100" in lines
    # Global-only directives: at the top level, never in the vhost.
    assert 'NegotiateReplayCacheFile "/var/lib/httpd/rcache"' \
        in top.splitlines()
    assert "NegotiateReplayCacheMargin 0" in top.splitlines()
    assert "NegotiateReplayCacheFile" not in vhost
    assert "NegotiateReplayCacheMargin" not in vhost

    # httpd's own syntax check takes them as written (the Redis lines at
    # server level, where a vhost's are too).
    with open(module_path, "rb") as f:
        if b"redisConnectWithTimeout" not in f.read():
            return
    lines = [l for l in lines if l.startswith("NegotiateReplayCache")]
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        MINIMAL_BODY, name="httpd-ctl-redis-syntax",
                        extra_global="\n".join(lines))
    res = srv.configtest()
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(lines) == 5


def test_render_plain_redis_has_only_what_was_set(tmp_path):
    site = write_site(tmp_path, "redis://127.0.0.1:6379,[::1]:6380")
    res = subprocess.run([tool(), "render", site], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    found = [l.strip() for l in res.stdout.splitlines()
             if "NegotiateReplayCache" in l]
    assert found == ["NegotiateReplayCache redis 127.0.0.1:6379,[::1]:6380"]


def test_rendered_replay_cache_file_starts_httpd(tmp_path, base_dir,
                                                 module_path, realm, certs,
                                                 keytab):
    """The top-level lines render writes for replay_cache_file and
    replay_cache_margin, in a real httpd: it starts and makes the file.
    (It once did not: the module kept the configuration pool's copy of
    the path across the two configuration passes, compared freed memory
    on the second and waited for its own lock, N8443303.)"""
    d = os.path.join(base_dir, "n8443ctl-rcfile")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    path = os.path.join(d, "n8443-rcache")
    site = write_site(tmp_path, "shm",
                      "      replay_cache_file: %s\n"
                      "      replay_cache_margin: 0\n" % path)
    res = subprocess.run([tool(), "render", site], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    top = [l for l in res.stdout.split("<VirtualHost")[0].splitlines()
           if l.startswith("NegotiateReplayCache")]
    assert top == ['NegotiateReplayCacheFile "%s"' % path,
                   "NegotiateReplayCacheMargin 0"]
    srv = start_httpd(base_dir, module_path, realm, certs, keytab,
                      MINIMAL_BODY, name="httpd-ctl-rcfile",
                      extra_global="\n".join(top))
    try:
        assert os.path.exists(path)
    finally:
        srv.stop()


@pytest.mark.parametrize("rc,extra,message", [
    ("redis://127.0.0.1", "",
     "site.yaml:9:21: 'replay_cache' Redis server '127.0.0.1' must be "
     "HOST:PORT with a port from 1 to 65535"),
    ("redis-sentinel://127.0.0.1:26379", "",
     "site.yaml:9:21: 'replay_cache' must be redis-sentinel://"),
    ("shm", redis_block(timeout=100),
     "site.yaml:11:9: 'redis' sets up a replay_cache of redis:// or "
     "redis-sentinel://, but this site's replay_cache is shm"),
    ("redis://r:6379", redis_block(wait_replicas=101),
     "site.yaml:11:24: 'wait_replicas' 101 is out of range"),
])
def test_render_refuses_bad_redis_values(tmp_path, rc, extra, message):
    site = write_site(tmp_path, rc, extra)
    res = subprocess.run([tool(), "render", site], capture_output=True,
                         text=True, cwd=str(tmp_path))
    assert res.returncode == 3
    assert message in res.stderr, res.stderr
    assert res.stdout == ""


# ------------------------------------------------------- check offline

@pytest.fixture(scope="module")
def redis_dir(base_dir):
    path = os.path.join(base_dir, "n8443ctl-redis")
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


OFFLINE = "krb5.redis-host,krb5.redis-auth"


def test_check_offline_finds_the_password_file_and_host_mistakes(
        tmp_path, realm):
    missing = str(tmp_path / "missing.pw")
    site = write_site(tmp_path,
                      "redis://127.0.0.1:6379,nowhere.test.n8443:6379",
                      redis_block(auth_file=missing))
    status, recs = check(realm, site, OFFLINE)
    assert status == 1
    hosts = {r["details"]["host"]: r for r in by_id(recs, "krb5.redis-host")}
    assert hosts["127.0.0.1"]["severity"] == "ok"
    assert hosts["nowhere.test.n8443"]["severity"] == "error"
    assert "does not resolve" in hosts["nowhere.test.n8443"]["message"]
    auth, = by_id(recs, "krb5.redis-auth")
    assert auth["severity"] == "error"
    assert "No such file" in auth["message"]
    assert auth["details"]["where"].endswith("site.yaml:11:20")

    # Readable by others: httpd would refuse to start (N8443323).
    open_pw = password_file(tmp_path, "open.pw", PASSWORD, 0o644)
    site = write_site(tmp_path, "redis://127.0.0.1:6379",
                      redis_block(auth_file=open_pw))
    status, recs = check(realm, site, OFFLINE)
    auth, = by_id(recs, "krb5.redis-auth")
    assert (status, auth["severity"], auth["details"]["mode"]) == \
        (1, "error", "0644")
    assert "chmod 600" in auth["message"]

    # Empty: N8443326.
    empty = password_file(tmp_path, "empty.pw", "", 0o600)
    site = write_site(tmp_path, "redis://127.0.0.1:6379",
                      redis_block(auth_file=empty))
    status, recs = check(realm, site, OFFLINE)
    auth, = by_id(recs, "krb5.redis-auth")
    assert (status, auth["severity"]) == (1, "error")
    assert "no password" in auth["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")
def test_check_offline_password_file_good_and_httpd_user(tmp_path, realm,
                                                         redis_dir):
    # In a directory the httpd user may enter (tmp_path's are root's).
    good = password_file(tmp_path, "good.pw", "n8443 " + PASSWORD, 0o600)
    good = os.path.join(redis_dir, "good.pw")
    os.rename(str(tmp_path / "good.pw"), good)
    site = write_site(tmp_path, "redis://localhost:6379",
                      redis_block(auth_file=good))
    status, recs = check(realm, site, OFFLINE)
    assert status == 0, recs
    assert [r["severity"] for r in by_id(recs, "krb5.redis-auth")] == ["ok"]
    assert "user and a password" in by_id(recs, "krb5.redis-auth")[0][
        "message"]

    # Owned by the httpd user: the children could read it, which only
    # the parent (root) needs: a warning, tried as that user.
    harness.chown_to_httpd(good, 0o600)
    status, recs = check(realm, site, OFFLINE)
    sev = sorted(r["severity"] for r in by_id(recs, "krb5.redis-auth"))
    assert (status, sev) == (0, ["ok", "warning"])
    warn, = [r for r in by_id(recs, "krb5.redis-auth")
             if r["severity"] == "warning"]
    assert warn["details"]["method"] == "tried as that user"


# -------------------------------------------------------- check online

def test_online_redis_up_wrong_password_and_down(tmp_path, realm, redis_dir):
    primary = Redis(redis_dir, "ctl-primary", password=PASSWORD)
    try:
        good = password_file(tmp_path, "good.pw", PASSWORD)
        site = write_site(tmp_path, "redis://%s" % primary.addr(),
                          redis_block(auth_file=good))
        status, recs = check(realm, site, "online.redis", online=True)
        rec, = by_id(recs, "online.redis")
        assert (status, rec["severity"]) == (0, "ok"), recs
        assert "answers as the primary" in rec["message"]
        assert "noeviction" in rec["message"]
        assert rec["details"]["server"] == primary.addr()

        # Without the password file: NOAUTH, and the fix.
        site = write_site(tmp_path, "redis://%s" % primary.addr())
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        first = by_id(recs, "online.redis")[0]
        assert first["severity"] == "error"
        assert "set redis: auth_file" in first["message"]

        # A wrong password.
        wrong = password_file(tmp_path, "wrong.pw", "not-the-password")
        site = write_site(tmp_path, "redis://%s" % primary.addr(),
                          redis_block(auth_file=wrong))
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        assert "did not take the password" in by_id(recs, "online.redis")[0][
            "message"]

        # A primary that may evict: the module refuses it (503).
        primary.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        site = write_site(tmp_path, "redis://%s" % primary.addr(),
                          redis_block(auth_file=good))
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        assert "maxmemory-policy noeviction" in by_id(
            recs, "online.redis")[0]["message"]
        primary.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")

        # Down: said per server, then that no primary is left.
        primary.kill()
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        down, none = by_id(recs, "online.redis")
        assert "cannot be reached" in down["message"]
        assert "no usable Redis primary" in none["message"]
        # Back: ok again.
        primary.start()
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 0, recs
    finally:
        primary.kill()


def test_online_replica_first_then_primary(tmp_path, realm, redis_dir):
    primary = Redis(redis_dir, "ctl-p2", password=PASSWORD)
    replica = Redis(redis_dir, "ctl-r2", password=PASSWORD,
                    replicaof=primary.port)
    try:
        good = password_file(tmp_path, "good.pw", PASSWORD)
        site = write_site(tmp_path, "redis://%s,%s" % (replica.addr(),
                                                       primary.addr()),
                          redis_block(auth_file=good))
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 0, recs
        msgs = {r["details"]["server"]: r["message"]
                for r in by_id(recs, "online.redis")}
        assert "as a replica" in msgs[replica.addr()]
        assert "as the primary" in msgs[primary.addr()]
    finally:
        replica.kill()
        primary.kill()


def test_online_sentinel_up_unknown_master_and_down(tmp_path, realm,
                                                    redis_dir):
    primary = Redis(redis_dir, "ctl-p3", password=PASSWORD)
    sentinel = Sentinel(redis_dir, "ctl-s3", primary.port)
    try:
        good = password_file(tmp_path, "good.pw", PASSWORD)
        block = redis_block(auth_file=good)
        site = write_site(tmp_path, "redis-sentinel://%s/%s" % (
            "127.0.0.1:%d" % sentinel.port, MASTER), block)
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 0, recs
        sent, prim = by_id(recs, "online.redis")
        assert sent["details"]["role"] == "sentinel"
        assert sent["details"]["primary"] == "127.0.0.1 %d" % primary.port
        assert prim["details"]["server"] == primary.addr()
        assert "answers as the primary" in prim["message"]

        # A name the Sentinel does not monitor.
        site = write_site(tmp_path, "redis-sentinel://127.0.0.1:%d/other"
                          % sentinel.port, block)
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        assert "does not know the master other" in by_id(
            recs, "online.redis")[0]["message"]

        # The Sentinel down.
        sentinel.kill()
        site = write_site(tmp_path, "redis-sentinel://127.0.0.1:%d/%s"
                          % (sentinel.port, MASTER), block)
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        down, none = by_id(recs, "online.redis")
        assert "Sentinel 127.0.0.1:%d cannot be reached" % sentinel.port \
            in down["message"]
        assert "no usable Redis primary" in none["message"]
    finally:
        sentinel.kill()
        primary.kill()


def test_online_redis_over_tls(tmp_path, realm, certs, redis_dir):
    """tls_ca: the connection is TLS, the chain checked against that CA
    (as hiredis_ssl does for the module); another CA fails the
    handshake, a plain TCP client gets nothing."""
    r = Redis(redis_dir, "ctl-tls", password=PASSWORD,
              tls=(certs.cert, certs.key, certs.ca))
    other_ca = str(tmp_path / "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=other", "-days", "1",
                    "-keyout", other_ca + ".key", "-out", other_ca],
                   check=True, capture_output=True)
    try:
        good = password_file(tmp_path, "good.pw", PASSWORD)
        for ca, want in ((certs.ca, 0), (other_ca, 1)):
            site = write_site(tmp_path, "redis://%s" % r.addr(),
                              redis_block(auth_file=good, tls_ca=ca,
                                          tls_name="localhost"))
            status, recs = check(realm, site, "online.redis", online=True)
            assert status == want, recs
            first = by_id(recs, "online.redis")[0]
            if want == 0:
                assert "answers as the primary" in first["message"]
            else:
                assert "TLS handshake failed" in first["message"], recs
        site = write_site(tmp_path, "redis://%s" % r.addr(),
                          redis_block(auth_file=good))
        status, recs = check(realm, site, "online.redis", online=True)
        assert status == 1
        first = by_id(recs, "online.redis")[0]
        assert first["severity"] == "error"
        assert "A TLS-only port needs redis: tls_ca" in first["message"]
    finally:
        r.kill()


def test_check_knows_the_build(tmp_path, realm, certs, module_path):
    """krb5.redis-module: what configure found for this build (the module
    next to the tool): Redis, and hiredis_ssl for tls_ca."""
    with open(module_path, "rb") as f:
        so = f.read()
    has_redis = b"redisConnectWithTimeout" in so
    has_tls = b"redisInitiateSSLWithContext" in so
    site = write_site(tmp_path, "redis://127.0.0.1:6379",
                      redis_block(tls_ca=certs.ca))
    status, recs = check(realm, site, "krb5.redis-module,krb5.redis-tls")
    mod, = by_id(recs, "krb5.redis-module")
    tls, = by_id(recs, "krb5.redis-tls")
    assert tls["severity"] == "ok"
    if has_redis and has_tls:
        assert mod["severity"] == "ok" and "with TLS" in mod["message"]
    elif has_redis:
        assert mod["severity"] == "warning"
        assert "without Redis TLS support" in mod["message"]
        assert "N8443330" in mod["message"]
    else:
        assert mod["severity"] == "warning"
        assert "without Redis support" in mod["message"]
    assert status == 0

    # A CA file that is no certificate.
    bad = password_file(tmp_path, "bad-ca.pem", "not a certificate", 0o644)
    site = write_site(tmp_path, "redis://127.0.0.1:6379",
                      redis_block(tls_ca=bad))
    status, recs = check(realm, site, "krb5.redis-tls")
    tls, = by_id(recs, "krb5.redis-tls")
    assert (status, tls["severity"]) == (1, "error")
    assert "no PEM certificate" in tls["message"]


def test_online_sentinels_that_disagree(tmp_path, realm, redis_dir):
    """Two Sentinels naming two primaries for one master name: the module
    takes the first answer, so nodes may store in different places."""
    one = Redis(redis_dir, "ctl-p4", password=PASSWORD)
    two = Redis(redis_dir, "ctl-p5", password=PASSWORD)
    s1 = Sentinel(redis_dir, "ctl-s4", one.port)
    s2 = Sentinel(redis_dir, "ctl-s5", two.port)
    try:
        good = password_file(tmp_path, "good.pw", PASSWORD)
        site = write_site(tmp_path, "redis-sentinel://127.0.0.1:%d,"
                          "127.0.0.1:%d/%s" % (s1.port, s2.port, MASTER),
                          redis_block(auth_file=good))
        status, recs = check(realm, site, "online.redis", online=True)
        first, second, prim = by_id(recs, "online.redis")
        assert (first["severity"], second["severity"]) == ("ok", "warning")
        assert "names another primary" in second["message"]
        assert second["details"]["primary"] == "127.0.0.1 %d" % two.port
        # The first answer's primary is the one checked.
        assert prim["details"]["server"] == one.addr()
        assert status == 0
    finally:
        for p in (s2, s1, two, one):
            p.kill()
