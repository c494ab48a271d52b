"""Faults while logins are flowing: the KDC goes away, the keytab is
replaced, memcached dies and comes back, httpd restarts gracefully, the log
disk fills up.  For each: the statuses while it happens are the contract's
(never a 500, never a dead child), and afterwards the same httpd (same
master pid, nobody restarted it by hand) serves logins again.

Load here is a few client threads, each logging in over and over with a
fresh token on a new connection (tests/integration/test_load.py has the
big numbers).
"""

import collections
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

import harness
from conftest import (PASSWORDS, Client, https_request, negotiate,
                      start_httpd)

BODY = """
  <Location /protected>
    AuthType Negotiate
    AuthName "n8443 faults"
    Require valid-user
  </Location>
  <Location /fallback>
    AuthType Negotiate
    AuthName "n8443 faults"
    NegotiateBasicFallback On
    Require valid-user
  </Location>
"""


NTLM = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="


class Load:
    """Client threads that log in over and over, each with a fresh token on
    a new connection, until stopped.  Every attempt is recorded as
    (start, end, status) with status an int or "ERR:<exception>"."""

    def __init__(self, srv, path="/protected/", host="localhost"):
        self.srv, self.path, self.host = srv, path, host
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def add(self, client, n=1):
        for _ in range(n):
            t = threading.Thread(target=self._run, args=(client,),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, client):
        while not self.stopping.is_set():
            tok = client.token(host=self.host)[1]
            t0 = time.monotonic()
            try:
                status = https_request(self.srv, self.path,
                                       [negotiate(tok)], host=self.host)[0]
            except Exception as e:          # recorded, judged by the test
                status = "ERR:%s" % type(e).__name__
            with self.lock:
                self.results.append((t0, time.monotonic(), status))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads)

    def statuses(self, start=None, end=None):
        """Counter of statuses of the attempts that started at or after
        start and ended at or before end."""
        with self.lock:
            return collections.Counter(
                s for t0, t1, s in self.results
                if (start is None or t0 >= start)
                and (end is None or t1 <= end))

    def wait_count(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.results) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.results)


def no_crash(srv, logfile=None):
    """No child died and nothing answered 500 (the access log that the
    harness keeps in the server's directory)."""
    with open(logfile or srv.error_log, errors="replace") as f:
        log = f.read()
    assert "exit signal" not in log, [l for l in log.splitlines()
                                      if "exit signal" in l][:3]
    with open(os.path.join(srv.dir, "access.log"), errors="replace") as f:
        statuses = collections.Counter(l.rsplit(" ", 1)[-1].strip()
                                       for l in f)
    assert statuses["500"] == 0, statuses
    return statuses


def serves_again(srv, client, master_pid, path="/protected/",
                 host="localhost", expected=200):
    """The same httpd answers a fresh login."""
    assert srv.proc.poll() is None and srv.proc.pid == master_pid
    status, headers, _ = https_request(srv, path,
                                       [negotiate(client.token(host=host)[1])],
                                       host=host)
    assert status == expected
    return headers


def wait_for(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# The loads here are two users logging in as fast as they can: past the
# per-principal replay-cache quota (1 % of the table) within a few
# minutes on a fast machine, which is not what these tests are about.
NO_QUOTA = "NegotiateReplayCacheQuota 100000000"


@pytest.fixture(scope="module")
def fsrv(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-faults", extra_global=NO_QUOTA)
    yield srv
    srv.stop()


# ------------------------------------------------------------- KDC down

def test_kdc_down_negotiate_works_basic_refuses_cleanly(fsrv, realm, alice):
    master = fsrv.proc.pid
    alice.token()                        # service ticket in alice's ccache
    realm.stop_kdc()
    try:
        load = Load(fsrv)
        load.add(alice, 3)
        try:
            load.wait_count(30)
            # Basic, meanwhile: refused at once, with the reason, never let
            # through (right password) and never a 500.
            for pw in (PASSWORDS["alice"], "wrong"):
                mark = fsrv.log_mark()
                t0 = time.monotonic()
                st, headers, _ = https_request(
                    fsrv, "/fallback/", [basic_header("alice", pw)])
                took = time.monotonic() - t0
                assert st == 401
                assert took < 10, "Basic hung %.1fs on a dead KDC" % took
                assert wait_for(lambda: "(KDC unreachable)" in
                                fsrv.log_since(mark), 5), \
                    [l for l in fsrv.log_since(mark).splitlines()
                     if "Basic" in l or "basic" in l]
            load.wait_count(len(load.results) + 20)
        finally:
            load.stop()
        got = load.statuses()
        assert set(got) == {200} and got[200] >= 30, got
    finally:
        realm.start_kdc()
    # The KDC is back: Basic works again, in the same httpd.
    assert wait_for(lambda: https_request(
        fsrv, "/fallback/", [basic_header("alice", PASSWORDS["alice"])]
    )[0] == 404, 20)
    serves_again(fsrv, alice, master)
    no_crash(fsrv)


def basic_header(user, password):
    import base64
    raw = ("%s:%s" % (user, password)).encode()
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


# ----------------------------------------------------- keytab replacement
# While the keytab cannot be used, a login is refused (401: the keytab
# that MIT reads at every accept has no key for it) or deferred (503: a
# child that holds no credentials yet cannot get any), never a 500.

_kt_services = iter(range(1, 1000))


def kt_service(base_dir, module_path, realm, certs):
    """A service principal, keytab and httpd of its own (rotating its key
    or moving its keytab disturbs no other test)."""
    n = next(_kt_services)
    host = "ktload%d.test.n8443" % n
    realm.add_service("HTTP/" + host)
    kt = os.path.join(base_dir, "ktload%d.keytab" % n)
    realm.export_keytab(kt, ["HTTP/" + host])
    harness.chown_to_httpd(kt)
    srv = start_httpd(base_dir, module_path, realm, certs, kt, BODY,
                      name="httpd-ktload%d" % n, extra_global=NO_QUOTA)
    return srv, kt, host


@pytest.fixture
def kt_setup(base_dir, module_path, realm, certs):
    srv, kt, host = kt_service(base_dir, module_path, realm, certs)
    yield srv, kt, host
    srv.stop()


def test_keytab_rotated_mid_load_no_failed_request(kt_setup, realm, certs):
    """Key rotation the way it should be done: the new key is added to a
    copy of the keytab (ktadd keeps the old kvno), and the copy is renamed
    over the live file while logins with old-kvno tickets are flowing.
    Then clients with new-kvno tickets join.  Not one request fails: old
    tickets keep working, new ones work from the switch on."""
    srv, kt, host = kt_setup
    master = srv.proc.pid
    old = [Client(realm, certs, "alice"), Client(realm, certs, "bob")]
    old_kvno = realm.kvno_of("HTTP/" + host)
    load = Load(srv, host=host)
    for c in old:
        load.add(c, 2)
    try:
        load.wait_count(40)
        mark = srv.log_mark()
        tmp = kt + ".new"
        shutil.copy(kt, tmp)
        realm.kadmin("ktadd -k %s HTTP/%s" % (tmp, host))   # new random key
        harness.chown_to_httpd(tmp)
        os.replace(tmp, kt)
        switch = time.monotonic()
        assert realm.kvno_of("HTTP/" + host) == old_kvno + 1
        new = Client(realm, certs, "alice")             # new-kvno ticket
        load.add(new, 2)
        n = len(load.results)
        load.wait_count(n + 80)
        assert wait_for(lambda: "N8443031" in srv.log_since(mark), 5)
    finally:
        load.stop()
    got = load.statuses()
    assert set(got) == {200}, got
    assert load.statuses(start=switch)[200] >= 80
    serves_again(srv, new, master, host=host)
    serves_again(srv, old[0], master, host=host)
    no_crash(srv)


@pytest.fixture(scope="module")
def keytab_rewrite_run(base_dir, module_path, realm, certs):
    """The careless way: the live keytab is rewritten in place (truncated,
    then written in two halves 0.5 s apart, like a slow cp) while four
    threads log in.  Run once; the tests below judge what happened."""
    srv, kt, host = kt_service(base_dir, module_path, realm, certs)
    try:
        master = srv.proc.pid
        client = Client(realm, certs, "alice")
        with open(kt, "rb") as f:
            content = f.read()
        load = Load(srv, host=host)
        load.add(client, 4)
        try:
            load.wait_count(40)
            begin = time.monotonic()
            with open(kt, "r+b") as f:
                f.truncate(0)
                f.flush()
                os.fsync(f.fileno())
                f.write(content[:len(content) // 2])
                f.flush()
                time.sleep(0.5)
                f.write(content[len(content) // 2:])
                f.flush()
                os.fsync(f.fileno())
            whole = time.monotonic()
            n = len(load.results)
            load.wait_count(n + 80)
        finally:
            load.stop()
        yield dict(srv=srv, load=load, begin=begin, whole=whole,
                   client=client, host=host, master=master)
    finally:
        srv.stop()


def statuses_within(srv, load, allowed):
    """The statuses of the run are all allowed ones (never a 500); a 503
    is only where the module logged why (N8443033: no credentials could
    be had from the keytab as it was then)."""
    got = load.statuses()
    assert set(got) <= set(allowed), got
    if got[503]:
        with open(srv.error_log, errors="replace") as f:
            assert f.read().count("N8443033") >= 1
    return got


def test_keytab_overwritten_in_place_recovers(keytab_rewrite_run):
    """From the moment the file is whole again, no login fails; while it
    was half-written, none got through that should not have."""
    r = keytab_rewrite_run
    load = r["load"]
    statuses_within(r["srv"], load, {200, 401, 503})
    assert set(load.statuses(end=r["begin"])) == {200}
    after = load.statuses(start=r["whole"] + 0.01)
    assert set(after) == {200} and after[200] >= 60, after
    serves_again(r["srv"], r["client"], r["master"], host=r["host"])
    with open(r["srv"].error_log, errors="replace") as f:
        assert "exit signal" not in f.read()


@pytest.fixture(scope="module")
def keytab_gone_run(base_dir, module_path, realm, certs):
    """The keytab disappears for a second (an administrator's mv) while
    four threads log in, then comes back.  Run once; the tests below judge
    what happened."""
    srv, kt, host = kt_service(base_dir, module_path, realm, certs)
    try:
        master = srv.proc.pid
        client = Client(realm, certs, "alice")
        load = Load(srv, host=host)
        load.add(client, 4)
        aside = kt + ".aside"
        try:
            load.wait_count(40)
            gone = time.monotonic()
            os.rename(kt, aside)
            time.sleep(1.0)
            os.rename(aside, kt)
            back = time.monotonic()
            n = len(load.results)
            load.wait_count(n + 60)
        finally:
            load.stop()
            if os.path.exists(aside):
                os.rename(aside, kt)
        yield dict(srv=srv, load=load, gone=gone, back=back, client=client,
                   host=host, master=master)
    finally:
        srv.stop()


def test_keytab_missing_for_a_while_recovers(keytab_gone_run):
    """Logins work again as soon as the file is back, without a restart,
    and no child died."""
    r = keytab_gone_run
    load = r["load"]
    statuses_within(r["srv"], load, {200, 401, 503})
    assert set(load.statuses(end=r["gone"])) == {200}
    after = load.statuses(start=r["back"] + 0.01)
    assert set(after) == {200} and after[200] >= 40, after
    serves_again(r["srv"], r["client"], r["master"], host=r["host"])
    with open(r["srv"].error_log, errors="replace") as f:
        assert "exit signal" not in f.read()


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_keytab_unusable_at_first_login_is_503(base_dir, module_path,
                                               realm, certs, damage):
    """httpd started with a good keytab; before anyone logs in, the file is
    moved away (or truncated, as the first instant of an in-place
    rewrite).  A child then has no keys to check a login with: 503, "try
    later", logged as N8443033 (never a 500), and logins work again as
    soon as the file is back."""
    srv, kt, host = kt_service(base_dir, module_path, realm, certs)
    try:
        client = Client(realm, certs, "alice")
        with open(kt, "rb") as f:
            content = f.read()
        if damage == "missing":
            os.rename(kt, kt + ".aside")
        else:
            open(kt, "wb").close()
        mark = srv.log_mark()
        statuses = [https_request(srv, "/protected/",
                                  [negotiate(client.token(host=host)[1])],
                                  host=host)[0] for _ in range(4)]
        log = srv.log_since(mark)
        if damage == "missing":
            os.rename(kt + ".aside", kt)
        else:
            with open(kt, "wb") as f:
                f.write(content)
        ok = https_request(srv, "/protected/",
                           [negotiate(client.token(host=host)[1])],
                           host=host)[0]
        assert statuses == [503] * 4, statuses
        assert "N8443033" in log, log[-2000:]
        assert ok == 200
    finally:
        srv.stop()


# ---------------------------------------------------------- memcached

def test_memcached_killed_and_restarted_mid_load(base_dir, module_path,
                                                 realm, certs, keytab,
                                                 alice, bob):
    """memcached is the farm's replay cache: while it is dead, logins fail
    closed (503); once it is back, they succeed again by themselves."""
    port = harness.free_port()
    procs = []

    def start_memcached():
        p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p",
                              str(port), "-U", "0", "-u", "nobody", "-m",
                              "16", "-M"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(p)
        assert harness.wait_port(port, p)
        return p

    mc = start_memcached()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-faults-mc",
                      extra_global="NegotiateReplayCache memcache "
                                   "127.0.0.1:%d\n" % port + NO_QUOTA)
    master = srv.proc.pid
    load = Load(srv)
    load.add(alice, 2)
    load.add(bob, 2)
    try:
        load.wait_count(40)
        mark = srv.log_mark()
        killed = time.monotonic()
        mc.kill()
        mc.wait()
        assert wait_for(lambda: load.statuses(start=killed)[503] >= 5, 30)
        mc = start_memcached()
        restarted = time.monotonic()

        # Back to 200 by itself: no failed login for 5 s running (each
        # child finds out on its own that memcached is back).
        def last_failure():
            with load.lock:
                return max([t0 for t0, _, st in load.results
                            if st != 200] or [restarted])

        def stable():
            return time.monotonic() - max(last_failure(), restarted) >= 5 \
                and load.statuses(start=last_failure() + 0.001)[200] >= 40
        assert wait_for(stable, 90), load.statuses(start=restarted)
        recovered_at = last_failure()
        assert srv.proc.poll() is None and srv.proc.pid == master
    finally:
        load.stop()
        srv.stop()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
    before = [(round(t0 - killed, 3), round(t1 - killed, 3), st)
              for t0, t1, st in load.results if t1 <= killed and st != 200]
    assert not before, before
    # 401: a token made before the restarted memcached's birth (its
    # watermark, N8443300), never before the kill.
    assert set(load.statuses()) <= {200, 401, 503}, load.statuses()
    assert load.statuses(end=killed)[401] == 0
    assert load.statuses(start=recovered_at + 0.001)[200] >= 40
    print("memcached outage: %s; last 503 %.1fs after the restart" % (
        dict(load.statuses(start=killed)), recovered_at - restarted))
    text = open(srv.error_log, errors="replace").read()
    assert "N8443060" in text[mark:]
    assert "exit signal" not in text
    access = open(os.path.join(srv.dir, "access.log")).read()
    assert '" 500' not in access and " 500\n" not in access


# ----------------------------------------------------- graceful restart

def test_graceful_restart_mid_load(fsrv, alice, bob):
    """Two graceful restarts (SIGUSR1) while logins flow: not one fails,
    not even by a reset connection, and the shm replay cache still knows
    a token used before them."""
    master = fsrv.proc.pid
    _, used = alice.token()
    assert https_request(fsrv, "/protected/", [negotiate(used)])[0] == 200
    load = Load(fsrv)
    load.add(alice, 2)
    load.add(bob, 2)
    try:
        load.wait_count(40)
        mark = fsrv.log_mark()
        for _ in range(2):
            os.kill(master, signal.SIGUSR1)
            n = len(load.results)
            load.wait_count(n + 40)
        assert wait_for(lambda: fsrv.log_since(mark).count("AH00493") >= 2
                        or fsrv.log_since(mark).count("Graceful restart")
                        >= 2, 10), fsrv.log_since(mark)[-2000:]
        n = len(load.results)
        load.wait_count(n + 40)
    finally:
        load.stop()
    got = load.statuses()
    assert set(got) == {200}, got
    assert https_request(fsrv, "/protected/", [negotiate(used)])[0] == 401
    serves_again(fsrv, alice, master)
    no_crash(fsrv)


# ------------------------------------------------------------- disk full

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a "
                    "small tmpfs for the log directory")
def test_log_disk_full(base_dir, module_path, realm, certs, keytab, alice):
    """The error and access logs live on a 1 MiB filesystem that fills up.
    Logins, refusals and malformed requests get their usual statuses (the
    harness's own access log, on another disk, records them); when space
    is freed the same httpd logs again."""
    logdir = os.path.join(base_dir, "fulldisk-logs")
    os.makedirs(logdir)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755",
                          "tmpfs", logdir], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + res.stderr.strip())
    srv = None
    try:
        # The harness's error log is a link into the small filesystem (so
        # that the harness still sees httpd start); a second access log is
        # there too.  The harness's own access log stays on the big disk
        # and records every status.
        errlog = os.path.join(logdir, "error.log")
        srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                            BODY, name="httpd-faults-disk",
                            extra_global="CustomLog %s/access.log brief"
                                         % logdir)
        srv.ca = certs.ca
        os.symlink(errlog, srv.error_log)
        srv.start()
        master = srv.proc.pid
        assert https_request(srv, "/protected/",
                             [negotiate(alice.token()[1])])[0] == 200
        filler = os.path.join(logdir, "filler")
        with open(filler, "wb", buffering=0) as f:     # nothing left to flush
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        assert shutil.disk_usage(logdir).free < 8192
        size_full = os.path.getsize(errlog)

        expected = []
        for i in range(30):
            expected.append((200, [negotiate(alice.token()[1])]))
            expected.append((400, [("Authorization", "Negotiate YW-j")]))
            expected.append((401, [("Authorization", "Negotiate " + NTLM)]))
        expected.append((401, [basic_header("alice", "wrong")]))
        for want, headers in expected:
            path = "/fallback/" if headers[0][1].startswith("Basic") \
                else "/protected/"
            assert https_request(srv, path, headers)[0] == want
        assert srv.proc.poll() is None and srv.proc.pid == master
        assert os.path.getsize(errlog) <= size_full + 8192

        # Space again: the same httpd logs the next login.
        os.unlink(filler)
        mark = os.path.getsize(errlog)
        assert https_request(srv, "/protected/",
                             [negotiate(alice.token()[1])])[0] == 200
        assert wait_for(lambda: "N8443001" in open(
            errlog, errors="replace").read()[mark:], 5)
        serves_again(srv, alice, master)
        no_crash(srv, errlog)
    finally:
        if srv is not None:
            srv.stop()
        subprocess.run(["umount", "-l", logdir], capture_output=True)
