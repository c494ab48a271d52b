#!/usr/bin/python3
"""Instructions per login, counted by callgrind: deterministic, so other
load on a shared machine does not move it (bench/bench.py's requests per
second do move).

For each scenario one httpd runs under callgrind in one process (-X), with
--toggle-collect=ap_run_process_connection (so start-up and shutdown are not
counted), and one TLS connection sends N1 and then, on a second server,
N2 requests with fresh tokens; (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost
of one request without the TLS handshake.  Scenarios:

  a      mod_negotiate8443, NegotiateReplayCache shm (fast path, default)
  a-gss  the same with NegotiateFastPath Off (every login through GSS-API)
  b      NegotiateReplayCache memcache (httpd's side only: memcached's
         own work is another process)
  r      NegotiateReplayCache redis (httpd's side only, as b)
  c      mod_auth_gssapi, MIT's replay cache
  d      mod_auth_gssapi, KRB5RCACHETYPE=none
  e      the (a) server's unprotected path with the same token headers

Usage: bash bench/run --callgrind  (or bench/callgrind.py [--n1 N] [--n2 N]
[--only a,e] [--out FILE] [--module PATH])
"""
import argparse
import glob
import json
import os
import pwd
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, HERE)

import bench  # noqa: E402
import harness  # noqa: E402
import gen_tokens  # noqa: E402

WRAPPER = os.path.join(TOP, "tests", "sanitizers", "valgrind-httpd")

SCENARIOS = {
    "a": ("shm", "", {}, bench.PROTECTED),
    "a-gss": ("shm", "    NegotiateFastPath Off", {}, bench.PROTECTED),
    "b": ("memcache", "", {}, bench.PROTECTED),
    "r": ("redis", "", {}, bench.PROTECTED),
    "c": ("gssapi", "", {}, bench.PROTECTED),
    "d": ("gssapi", "", {"KRB5RCACHETYPE": "none"}, bench.PROTECTED),
    "e": ("shm", "", {}, bench.OPEN),
}


def total_ir(outfile):
    """Instructions of a callgrind output file (its 'summary:' or
    'totals:' line)."""
    with open(outfile) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return 0        # a process that had not finished writing its file


def one_run(b, key, n, tag):
    kind, extra, env, path = SCENARIOS[key]
    # httpd writes the file after it has become the httpd user.
    outdir = os.path.join(b.base, "callgrind")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o1777)
    out = os.path.join(outdir, "%s.%d" % (tag, n))
    # httpd -X under callgrind, through the sanitizer runs' wrapper (which
    # also logs the start-up line httpd -X does not); forks (the start-up
    # keytab check, mod_cgid's daemon) are not counted.
    os.environ["N8443_HTTPD_WRAPPER"] = (
        "%s --tool=callgrind --toggle-collect=ap_run_process_connection "
        "--child-silent-after-fork=yes --callgrind-out-file=%s.%%p"
        % (WRAPPER, out))
    try:
        srv = b.make_server("cg-%s-%d" % (tag, n), kind, extra=extra,
                            env_extra=env or None, status=False)
        srv.env.pop("KRB5_TRACE", None)
        b.servers.append(srv)
        srv.start()
    finally:
        del os.environ["N8443_HTTPD_WRAPPER"]
    # callgrind made its output file at start-up, as root; httpd writes it
    # at exit as the httpd user, so the file must be that user's.
    user = harness.ensure_user()
    if user:
        pw = pwd.getpwnam(user)
        for f in glob.glob(out + ".*"):
            if os.stat(f).st_uid == 0:
                os.chown(f, pw.pw_uid, pw.pw_gid)
    toks = gen_tokens.generate("localhost", n, procs=2)
    conn = None
    bad = 0
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=b.certs.ca)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx,
                                       timeout=120)
    for t in toks:
        status, hdrs = b.https(srv, path, [("Authorization", t)], conn=conn)
        if status != 200:
            bad += 1
    conn.close()
    b.stop_server(srv)
    dumps = [f for f in glob.glob(out + ".*") if os.path.getsize(f) > 0]
    ir = max([total_ir(f) for f in dumps] or [0])
    if ir == 0:
        raise RuntimeError("callgrind wrote no profile for %s" % out)
    return ir, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default=os.environ.get(
        "N8443_MODULE", os.path.join(TOP, ".libs", "mod_negotiate8443.so")))
    ap.add_argument("--n1", type=int, default=50)
    ap.add_argument("--n2", type=int, default=250)
    ap.add_argument("--only", default="a,a-gss,b,c,d,e")
    ap.add_argument("--out", default=os.path.join(HERE, "results",
                                                  "callgrind.json"))
    a = ap.parse_args()
    # What Bench.setup and make_server read of the benchmark's options.
    bargs = argparse.Namespace(module=a.module, threads_per_child=4,
                               gen_procs=2, wrk_threads=1,
                               heimdal_share=None,
                               rcache_dir="/dev/shm"
                               if os.path.isdir("/dev/shm") else "")
    b = bench.Bench(bargs)
    res = {}
    t0 = time.monotonic()
    try:
        b.setup()
        if "b" in a.only.split(","):
            b.start_memcached()
        if "r" in a.only.split(","):
            b.start_redis()
        for key in a.only.split(","):
            ir1, bad1 = one_run(b, key, a.n1, key)
            ir2, bad2 = one_run(b, key, a.n2, key)
            per = (ir2 - ir1) / float(a.n2 - a.n1)
            res[key] = {"ir_n1": ir1, "ir_n2": ir2, "n1": a.n1, "n2": a.n2,
                        "ir_per_request": round(per), "non_200": bad1 + bad2}
            print("%-6s %9.0f Ir/request  (non-200: %d)" % (
                key, per, bad1 + bad2), flush=True)
    finally:
        b.close()
    if "e" in res:
        for key in res:
            if key != "e":
                res[key]["ir_per_login"] = (res[key]["ir_per_request"]
                                            - res["e"]["ir_per_request"])
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "git": subprocess.run(["git", "-C", TOP, "rev-parse", "--short",
                                  "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
           "seconds": round(time.monotonic() - t0), "scenarios": res}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print()
    for key, r in res.items():
        if "ir_per_login" in r:
            print("%-6s %9d Ir per login over the unprotected path" % (
                key, r["ir_per_login"]))
    if "a" in res and "ir_per_login" in res["a"]:
        for other in ("a-gss", "b", "r", "c", "d"):
            if other in res:
                print("%s / a: %.2fx the instructions per login" % (
                    other, res[other]["ir_per_login"]
                    / float(res["a"]["ir_per_login"])))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
