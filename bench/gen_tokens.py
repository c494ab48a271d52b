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

    gen_tokens.py [--mech spnego|krb5] [--procs P] [--heimdal-share S]
                  HOST N PREFIX PARTS

The ccache is the one in KRB5CCNAME; it is copied into a MEMORY ccache
first so that the file is not re-read for every token.  With --procs P
the work is spread over P processes (a token costs ~0.2 ms CPU, mostly
krb5_init_context re-reading krb5.conf, AES and the DER encoding).

With --heimdal-share S (0 < S <= 1), that share of the tokens comes from
Heimdal's GSS-API instead (libgssapi3-heimdal, through
tests/diff/heimdal_token.c, built here with `pkg-config heimdal-gssapi`,
reading the same ccache file), with the same flags (mutual, out of
sequence).  Heimdal's client puts authorization data in the
authenticator (AD-IF-RELEVANT carrying the GSS-API etype negotiation,
type 129), as Windows clients do (they add 141, 142, 143).  The two kinds
are interleaved so that every part file (every wrk thread) gets the same
share of each, spread evenly through the file.
"""

import argparse
import base64
import multiprocessing
import os
import subprocess
import sys
import time

MECHS = {"spnego": "1.3.6.1.5.5.2", "krb5": "1.2.840.113554.1.2.2"}
HERE = os.path.dirname(os.path.abspath(__file__))
HEIMDAL_SRC = os.path.join(HERE, "..", "tests", "diff", "heimdal_token.c")
# GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG: what _worker asks MIT for.
HEIMDAL_FLAGS = "0x0a"


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


def build_heimdal(outdir):
    """Build tests/diff/heimdal_token.c against Heimdal's libgssapi into
    outdir; returns the executable.  RuntimeError without Heimdal."""
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                                "heimdal-gssapi"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError("no Heimdal GSS-API (pkg-config heimdal-gssapi: "
                           "install libgssapi3-heimdal heimdal-multidev): "
                           "%s" % e)
    exe = os.path.join(outdir, "heimdal_token")
    subprocess.run(["cc", "-O2", "-Wall", "-o", exe, HEIMDAL_SRC] + flags,
                   check=True)
    return exe


def _shares(n, procs):
    procs = max(1, min(procs, n))
    return [n // procs + (1 if i < n % procs else 0) for i in range(procs)]


def _start_heimdal(exe, host, mech, n, procs, ccache):
    """Start the Heimdal processes (they run while python-gssapi works)."""
    env = dict(os.environ, KRB5CCNAME=ccache)
    return [subprocess.Popen([exe, "-n", str(c), host, mech, HEIMDAL_FLAGS],
                             env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for c in _shares(n, procs) if c > 0]


def _finish_heimdal(ps):
    out = []
    for p in ps:
        so, se = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("heimdal_token failed (%d): %s"
                               % (p.returncode, se.strip()))
        out += ["Negotiate " + line for line in so.split()]
    return out


def interleave(mit, heimdal, parts=1):
    """One list of both kinds: token i goes to part i % parts (as
    write_parts deals them), and each part's sequence spreads the Heimdal
    tokens evenly among the MIT ones (Bresenham on groups of `parts`)."""
    n = len(mit) + len(heimdal)
    share = len(heimdal) / n if n else 0.0
    out, mi, hi = [], 0, 0
    for i in range(n):
        g = i // parts
        want_h = int((g + 1) * share) > int(g * share)
        if (want_h and hi < len(heimdal)) or mi >= len(mit):
            out.append(heimdal[hi])
            hi += 1
        else:
            out.append(mit[mi])
            mi += 1
    return out


def generate(host, n, mech="spnego", procs=2, ccache=None,
             heimdal_share=0.0, heimdal_exe=None, parts=1):
    """Return n distinct header values "Negotiate <b64>"; round(n *
    heimdal_share) of them from Heimdal (heimdal_exe, see build_heimdal),
    interleaved for `parts` part files (see interleave)."""
    ccache = ccache or os.environ["KRB5CCNAME"]
    n_h = int(round(n * heimdal_share)) if heimdal_share > 0 else 0
    if n_h and not heimdal_exe:
        raise ValueError("heimdal_share without heimdal_exe")
    # Heimdal reads a FILE ccache (not python-gssapi's MEMORY copy).
    hps = _start_heimdal(heimdal_exe, host, mech, n_h, procs,
                         ccache) if n_h else []
    try:
        jobs = [(host, mech, c, ccache) for c in _shares(n - n_h, procs)
                if c > 0]
        if not jobs:
            parts_out = []
        elif len(jobs) == 1:
            parts_out = [_worker(jobs[0])]
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(len(jobs), initializer=_reset_signals) as pool:
                parts_out = pool.map(_worker, jobs)
        mit = [t for p in parts_out for t in p]
        heimdal = _finish_heimdal(hps)
    finally:
        for p in hps:
            if p.poll() is None:
                p.kill()
                p.wait()
    if len(heimdal) != n_h:
        raise RuntimeError("heimdal_token printed %d tokens, not %d"
                           % (len(heimdal), n_h))
    tokens = interleave(mit, heimdal, parts) if heimdal else mit
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
    ap.add_argument("--heimdal-share", type=float, default=0.0,
                    help="share of the tokens made by Heimdal's GSS-API "
                    "(0..1)")
    ap.add_argument("host")
    ap.add_argument("n", type=int)
    ap.add_argument("prefix")
    ap.add_argument("parts", type=int)
    a = ap.parse_args()
    t0 = time.monotonic()
    exe = None
    if a.heimdal_share > 0:
        import tempfile
        exe = build_heimdal(tempfile.mkdtemp(prefix="n8443-heimdal-"))
    toks = generate(a.host, a.n, a.mech, a.procs,
                    heimdal_share=a.heimdal_share, heimdal_exe=exe,
                    parts=a.parts)
    write_parts(toks, a.prefix, a.parts)
    dt = time.monotonic() - t0
    print("%d tokens in %.1f s (%.0f/s)" % (len(toks), dt, len(toks) / dt),
          file=sys.stderr)


if __name__ == "__main__":
    main()
