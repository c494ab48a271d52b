"""Load: many authenticated requests over keep-alive connections, every one
with a fresh Kerberos token (the replay cache would refuse a reused one),
and nothing lost: no unexpected status, no connection error, no child that
died or grew.

- test_brief_load (regular suite): a few thousand logins from 16
  keep-alive connections, in Python.
- test_200k_requests_64_connections (slow; N8443_SLOW=1): 200,000 logins
  from 64 keep-alive connections with wrk, tokens made ahead in chunks by
  python-gssapi, the RSS of every httpd child measured before and after.
  N8443_LOAD_REQUESTS changes the count.
"""

import collections
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from conftest import negotiate, start_httpd

BODY = """
  <Location /protected>
    AuthType Negotiate
    AuthName "n8443 load"
    Require valid-user
  </Location>
"""

# Event MPM with a fixed set of children, so that "the RSS of each child
# before and after" compares the same processes: 3 children, never more
# (ServerLimit), never fewer (MaxSpareThreads = all of them).  Each has a
# thread for every one of the 64 connections: when all of a child's
# workers are busy, the event MPM closes idle keep-alive connections to
# make room, and a client that had just sent its next request on one sees
# the connection close without an answer (wrk counts a read error).  That
# is httpd's own load shedding, not what this test measures.
FIXED_CHILDREN = """
StartServers 3
ServerLimit 3
ThreadsPerChild 64
MaxRequestWorkers 192
MinSpareThreads 64
MaxSpareThreads 192
MaxConnectionsPerChild 0
# Two principals make every login here: a flood, by design.
NegotiateReplayCacheQuota 100000000
"""

slow = pytest.mark.skipif(os.environ.get("N8443_SLOW") != "1",
                          reason="slow: set N8443_SLOW=1")


@pytest.fixture(scope="module")
def lsrv(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-load", extra_global=FIXED_CHILDREN)
    yield srv
    srv.stop()


def worker_children(srv):
    """pid -> RSS in kB of httpd's worker children (not mod_cgid's
    single-threaded daemon)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                status = f.read()
        except OSError:
            continue
        ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
        threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        if ppid == srv.proc.pid and threads > 1:
            out[int(pid)] = int(re.search(r"^VmRSS:\s+(\d+)", status,
                                          re.M).group(1))
    return out


def settled_children(srv, n=3, timeout=60):
    """The worker children once all n are up (httpd reports itself started
    before the MPM has forked every child; slower under ASan)."""
    deadline = time.monotonic() + timeout
    while True:
        children = worker_children(srv)
        if len(children) >= n or time.monotonic() > deadline:
            return children
        time.sleep(0.1)


def access_statuses(srv):
    with open(os.path.join(srv.dir, "access.log"), errors="replace") as f:
        return collections.Counter(l.rsplit(" ", 1)[-1].strip() for l in f)


# ------------------------------------------------------------------ brief

def test_brief_load(lsrv, alice, bob):
    """16 keep-alive connections, 2,400 logins, each with its own token:
    every one is 200 for the right user, no connection breaks."""
    per_conn, conns = 150, 16
    results = collections.Counter()
    errors = []
    lock = threading.Lock()
    ctx = ssl.create_default_context(cafile=lsrv.ca)
    ctx.check_hostname = False
    wrapped = bool(os.environ.get("N8443_HTTPD_WRAPPER"))   # -X: no children
    before = {} if wrapped else settled_children(lsrv)

    def run(i):
        client = (alice, bob)[i % 2]
        conn = None
        for _ in range(per_conn):
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", lsrv.port,
                                                   context=ctx, timeout=30)
            tok = client.token()[1]
            try:
                conn.request("GET", "/protected/", headers=dict(
                    [("Host", "localhost:%d" % lsrv.port), negotiate(tok)]))
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200 and resp.getheader(
                    "X-Remote-User") == client.user + "@TEST.N8443"
                with lock:
                    results[resp.status if ok else "wrong user"] += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except Exception as e:
                with lock:
                    errors.append(repr(e))
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    took = time.monotonic() - t0
    assert not errors, errors[:5]
    assert results == {200: per_conn * conns}, results
    if not wrapped:
        after = worker_children(lsrv)
        assert len(after) == 3 and set(after) == set(before), (before, after)
    print("brief load: %d logins in %.1fs (%.0f/s)" % (
        per_conn * conns, took, per_conn * conns / took))


# --------------------------------------------------------------- 200k

WRK_SCRIPT = r"""
-- One fresh Negotiate token per request, from the thread's own file;
-- each thread stops after its quota of responses and says so in a file.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  dir, quota, host = args[1], tonumber(args[2]), args[3]
  tokens = {}
  for line in io.lines(dir .. "/tokens." .. id) do
    tokens[#tokens + 1] = line
  end
  nexttok, answered, statuses, stopped = 1, 0, {}, false
end

function request()
  local t = tokens[nexttok] or ""   -- ran out: the 400 will show
  nexttok = nexttok + 1
  return wrk.format("GET", "/protected/",
                    {["Host"] = host, ["Authorization"] = "Negotiate " .. t})
end

function response(status, headers, body)
  if stopped then return end
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if answered >= quota then
    stopped = true
    local f = io.open(dir .. "/done." .. id, "w")
    f:write(answered)
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local agg, sent = {}, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do
      agg[k] = (agg[k] or 0) + v
    end
    sent = sent + thread:get("nexttok") - 1
  end
  local e = summary.errors
  io.write(string.format(
    "N8443LOAD {\"requests\": %d, \"tokens_sent\": %d, \"duration_us\": %d, " ..
    "\"connect\": %d, \"read\": %d, \"write\": %d, \"timeout\": %d, " ..
    "\"latency_p50_us\": %d, \"latency_p99_us\": %d, \"statuses\": {",
    summary.requests, sent, summary.duration, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99)))
  local first = true
  for k, v in pairs(agg) do
    io.write(string.format("%s\"%d\": %d", first and "" or ", ", k, v))
    first = false
  end
  io.write("}}\n")
end
"""

GEN_SCRIPT = textwrap.dedent(r"""
    import base64, sys
    import gssapi
    ccache, host, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        sys.argv[4]
    creds = gssapi.Credentials(usage="initiate", store={"ccache": ccache})
    name = gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service)
    mech = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
    flags = [gssapi.RequirementFlag.mutual_authentication,
             gssapi.RequirementFlag.out_of_sequence_detection]
    with open(out + ".part", "w") as f:
        for _ in range(count):
            ctx = gssapi.SecurityContext(name=name, creds=creds, mech=mech,
                                         usage="initiate", flags=flags)
            f.write(base64.b64encode(ctx.step()).decode() + "\n")
    import os
    os.rename(out + ".part", out)
""")


class TokenChunks:
    """Token files for wrk, made ahead by one generator process per wrk
    thread: chunk k+1 is made while wrk spends chunk k, so that no token
    is older than about two chunks' time (the KDC's clock skew is 300 s)."""

    def __init__(self, workdir, clients, threads):
        self.workdir, self.clients, self.threads = workdir, clients, threads
        self.n = 0

    def start(self, per_thread):
        d = os.path.join(self.workdir, "chunk%d" % self.n)
        os.makedirs(d)
        procs = []
        for t in range(self.threads):
            client = self.clients[t % len(self.clients)]
            client.token()              # the service ticket in the ccache
            procs.append(subprocess.Popen(
                [sys.executable, "-c", GEN_SCRIPT, client.ccache,
                 "localhost", str(per_thread), os.path.join(d, "tokens.%d"
                                                            % t)],
                env=client.env, stderr=subprocess.PIPE))
        self.n += 1
        return d, procs

    @staticmethod
    def wait(procs):
        for p in procs:
            _, err = p.communicate(timeout=900)
            assert p.returncode == 0, err.decode()[-2000:]


def run_wrk(srv, chunk_dir, quota_per_thread, threads, connections,
            script):
    """wrk until every thread has had quota answers, then SIGINT (wrk's
    own stop: it prints the summary and runs done())."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d3600s",
           "--timeout", "60s", "-s", script,
           "https://127.0.0.1:%d/protected/" % srv.port, "--",
           chunk_dir, str(quota_per_thread), "localhost:%d" % srv.port]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline and p.poll() is None:
        if all(os.path.exists(os.path.join(chunk_dir, "done.%d" % t))
               for t in range(threads)):
            break
        time.sleep(0.1)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    m = re.search(r"^N8443LOAD (\{.*\})$", out, re.M)
    assert m, (out[-3000:], err[-3000:])
    res = json.loads(m.group(1))
    res["statuses"] = {int(k): v for k, v in res["statuses"].items()}
    return res


@slow
def test_200k_requests_64_connections(lsrv, alice, bob):
    """200,000 authenticated requests (N8443_LOAD_REQUESTS), 64 keep-alive
    connections, in chunks of 25,000: zero unexpected statuses, zero
    socket errors, the same three children throughout, and their RSS
    stable (see the end).  The figures are printed ("LOAD REPORT") and
    kept in load-report.json in the server's directory."""
    if shutil.which("wrk") is None:
        pytest.fail("wrk is needed for the load test: apt-get install wrk")
    total = int(os.environ.get("N8443_LOAD_REQUESTS", "200000"))
    threads, connections, chunk = 2, 64, 25000
    chunks = [chunk] * (total // chunk) + ([total % chunk] if total % chunk
                                           else [])
    # Warm-up: enough that every child has had most of its threads and
    # malloc arenas in use (with 5,000 the youngest children still grew
    # 6-7 MiB over the run, almost all of it in the first 25,000).
    warmup = 15000
    work = tempfile.mkdtemp(prefix="n8443-load-", dir=lsrv.dir)
    script = os.path.join(work, "load.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    gen = TokenChunks(work, [alice, bob], threads)

    def spare(n):
        """Tokens beyond the quota: the requests in flight when a thread
        stops, and any that a dropped connection took along (those would
        show as socket errors, which fail the test; the spare keeps them
        from turning into 'ran out of tokens' 400s that hide the cause)."""
        return connections + n // 50

    # Warm-up: children, credentials, TLS, the allocator's arenas.
    d, procs = gen.start(warmup // threads + spare(warmup // threads))
    gen.wait(procs)
    res = run_wrk(lsrv, d, warmup // threads, threads, connections, script)
    assert set(res["statuses"]) == {200}, res
    children = settled_children(lsrv)
    assert len(children) == 3, children
    rss0 = dict(children)
    report = {"warmup": res, "rss_kb_after_warmup": rss0, "chunks": []}

    d, procs = gen.start(chunks[0] // threads + spare(chunks[0] // threads))
    gen.wait(procs)
    done = 0
    t_start = time.monotonic()
    for i, n in enumerate(chunks):
        nxt = None
        if i + 1 < len(chunks):
            nxt = gen.start(chunks[i + 1] // threads
                            + spare(chunks[i + 1] // threads))
        res = run_wrk(lsrv, d, n // threads, threads, connections, script)
        rss = worker_children(lsrv)
        report["chunks"].append({"requests": res["requests"],
                                 "statuses": res["statuses"],
                                 "errors": {k: res[k] for k in (
                                     "connect", "read", "write",
                                     "timeout")},
                                 "p99_ms": res["latency_p99_us"] / 1000.0,
                                 "rate": res["requests"] * 1e6
                                 / max(res["duration_us"], 1),
                                 "rss_kb": rss})
        print("chunk %d: %s" % (i, json.dumps(report["chunks"][-1])))
        assert set(res["statuses"]) == {200}, res
        assert sum(res[k] for k in ("connect", "read", "write",
                                    "timeout")) == 0, res
        assert set(rss) == set(rss0), (rss0, rss)    # no child replaced
        done += res["statuses"][200]
        if nxt is not None:
            d, procs = nxt
            gen.wait(procs)
    took = time.monotonic() - t_start

    rss1 = worker_children(lsrv)
    growth = {pid: rss1[pid] - rss0[pid] for pid in rss0}
    report.update(requests_200=done, seconds=took, rss_kb_after=rss1,
                  rss_growth_kb=growth)
    print("LOAD REPORT " + json.dumps(report))
    with open(os.path.join(lsrv.dir, "load-report.json"), "w") as f:
        json.dump(report, f, indent=1)

    assert done >= total
    # The server's own record agrees: no status but 200 (and the requests
    # of the test above), no 500, no child died.
    statuses = access_statuses(lsrv)
    assert set(statuses) == {"200"}, statuses
    with open(lsrv.error_log, errors="replace") as f:
        assert "exit signal" not in f.read()
    # RSS stable.  What a child still gains after the warm-up is its
    # threads and malloc arenas coming into use one by one (measured: with
    # one child, 16 threads and MALLOC_ARENA_MAX=1, under 7 bytes a login,
    # and falling); a leak grows linearly.  So: within 8 MiB over the whole
    # run, and within 3 MiB over its second half (~33,000 logins a child:
    # a leak of 100 bytes a login would add 3.2 MiB there).  Exact leak
    # detection is the sanitizer runs' job (tests/sanitizers): they see any
    # unreachable byte.
    half = report["chunks"][len(chunks) // 2 - 1]["rss_kb"]
    for pid in rss0:
        assert growth[pid] <= 8192, report
        assert rss1[pid] - half[pid] <= 3072, (pid, half, rss1)
