#!/usr/bin/env python3
"""Pre-generate Negotiate tokens for the benchmark.

Each token is the first (and, for Kerberos, only) output of a new GSS
initiator context for HTTP@HOST, so each carries a fresh authenticator
(new timestamp, sub-key and sequence number) of one service ticket taken
from the client's ccache: a replay cache has real work to do for every
one of them.

Output: one "Negotiate <base64>" line per token, split round-robin over
PARTS files PREFIX.0 ... PREFIX.<PARTS-1> (wrk runs one Lua state per
thread; each thread reads its own part).

    gen_tokens.py [--mech spnego|krb5] [--procs P] HOST N PREFIX PARTS

The ccache is the one in KRB5CCNAME; it is copied into a MEMORY ccache
first so that the file is not re-read for every token.  With --procs P
the work is spread over P processes (a token costs ~0.2 ms CPU, mostly
krb5_init_context re-reading krb5.conf, AES and the DER encoding).
"""

import argparse
import base64
import multiprocessing
import os
import sys
import time

MECHS = {"spnego": "1.3.6.1.5.5.2", "krb5": "1.2.840.113554.1.2.2"}


def _reset_signals():
    # Pool workers are ended with SIGTERM: the parent's handler (if any)
    # must not run in them.
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker(job):
    host, mech, count, ccache = job
    import gssapi
    src = gssapi.Credentials(usage="initiate", store={"ccache": ccache})
    mem = "MEMORY:n8443bench%d" % os.getpid()
    src.store(store={"ccache": mem}, overwrite=True, set_default=False)
    creds = gssapi.Credentials(usage="initiate", store={"ccache": mem})
    name = gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service)
    oid = gssapi.OID.from_int_seq(MECHS[mech])
    flags = [gssapi.RequirementFlag.mutual_authentication,
             gssapi.RequirementFlag.out_of_sequence_detection]
    out = []
    for _ in range(count):
        ctx = gssapi.SecurityContext(name=name, creds=creds,
                                     usage="initiate", mech=oid,
                                     flags=flags)
        out.append("Negotiate " + base64.b64encode(ctx.step()).decode())
    return out


def generate(host, n, mech="spnego", procs=2, ccache=None):
    """Return n distinct header values "Negotiate <b64>"."""
    ccache = ccache or os.environ["KRB5CCNAME"]
    procs = max(1, min(procs, n))
    share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    jobs = [(host, mech, c, ccache) for c in share if c > 0]
    if len(jobs) == 1:
        parts = [_worker(jobs[0])]
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(len(jobs), initializer=_reset_signals) as pool:
            parts = pool.map(_worker, jobs)
    tokens = [t for p in parts for t in p]
    if len(set(tokens)) != len(tokens):
        raise RuntimeError("duplicate tokens generated")
    return tokens


def write_parts(tokens, prefix, parts):
    """Split tokens round-robin into prefix.0 .. prefix.<parts-1>."""
    files = [open("%s.%d" % (prefix, i), "w") for i in range(parts)]
    try:
        for i, t in enumerate(tokens):
            files[i % parts].write(t + "\n")
    finally:
        for f in files:
            f.close()
    return ["%s.%d" % (prefix, i) for i in range(parts)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mech", choices=sorted(MECHS), default="spnego")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("host")
    ap.add_argument("n", type=int)
    ap.add_argument("prefix")
    ap.add_argument("parts", type=int)
    a = ap.parse_args()
    t0 = time.monotonic()
    toks = generate(a.host, a.n, a.mech, a.procs)
    write_parts(toks, a.prefix, a.parts)
    dt = time.monotonic() - t0
    print("%d tokens in %.1f s (%.0f/s)" % (len(toks), dt, len(toks) / dt),
          file=sys.stderr)


if __name__ == "__main__":
    main()
