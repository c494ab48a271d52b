#!/usr/bin/env python3
"""Summarise AddressSanitizer / UBSan / LeakSanitizer and valgrind logs.

Usage: san_report.py asan|valgrind LOGDIR [KNOWN-LEAKS]

Each log file holds the reports of one process (ASAN_OPTIONS log_path=DIR/
asan gives DIR/asan.<pid>, valgrind --log-file=DIR/vg.%p gives DIR/vg.<pid>).
Every report is split out, classified, and counted:

  ours     a frame of its stack is in the module or its core
           (a source path with mod_negotiate8443/, or mod_negotiate8443.so)
  foreign  httpd, APR, OpenSSL, krb5... alone

Exit status: 1 when any report is ours, or when there is any ASan or UBSan
error at all (those abort the process that hit them: a child died, whoever's
code it was); 0 otherwise.  Foreign leaks, and valgrind's foreign
non-leak errors, are listed but do not fail the run: the suppression
files hold the ones that are understood.

KNOWN-LEAKS (default: known-leaks.ini next to this script) explains leaks:
each entry gives regular expressions that frames of the stack must match,
in that order (not necessarily adjacent), and a scope:
  scope = ours     a library's own bug reached from our frames, pinned to
                   our call site (a one-frame LeakSanitizer suppression
                   could not tell it from a leak of ours);
  scope = foreign  httpd, mod_ssl, OpenSSL, krb5 on their own; matches
                   only reports without any frame of ours.
Optional: kinds (leak indirect possible), tools (lsan valgrind).
A report that matches is counted as "known" and is not listed one by one.
"""

import configparser

import collections
import os
import re
import sys

OURS = re.compile(r"mod_negotiate8443(/|\.so)")
FRAME_ASAN = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ +(?:in )?(.*)$")
FRAME_VG = re.compile(r"^==\d+==\s+(?:at|by) 0x[0-9A-F]+: (.*)$")


class Report:
    def __init__(self, tool, kind, title, frames, text, pid, leak_bytes=0):
        self.tool = tool
        self.kind = kind          # error | leak
        self.title = title
        self.frames = frames
        self.text = text
        self.pid = pid
        self.leak_bytes = leak_bytes
        self.ours = any(OURS.search(f) for f in frames)
        self.known = None         # the known-leaks entry that explains it

    def top(self, n=6):
        """The first frames, ours marked, for the summary."""
        out = []
        for f in self.frames[:n]:
            out.append(("  >> " if OURS.search(f) else "     ") + f)
        return "\n".join(out)

    def key(self):
        # Reports that differ only in addresses and counts are one finding.
        sig = [re.sub(r"0x[0-9a-fA-F]+", "", f) for f in self.frames[:8]]
        return (self.tool, self.kind, re.sub(r"\d+", "N", self.title),
                tuple(sig))


def load_known(path):
    """[name] sections with frames = re1 > re2 > ... and kinds = ..."""
    cp = configparser.ConfigParser(interpolation=None)
    if path and os.path.exists(path):
        cp.read(path)
    known = []
    for name in cp.sections():
        frames = [re.compile(x.strip())
                  for x in cp[name]["frames"].split(" > ")]
        kinds = cp[name].get("kinds", "leak indirect possible").split()
        scope = cp[name].get("scope", "ours")
        tools = cp[name].get("tools", "lsan valgrind").split()
        known.append((name, frames, kinds, scope, tools))
    return known


def match_known(report, known):
    for name, pats, kinds, scope, tools in known:
        if report.kind not in kinds or (scope == "ours") != report.ours \
                or report.tool not in tools:
            continue
        i = 0
        for f in report.frames:
            if i < len(pats) and pats[i].search(f):
                i += 1
        if i == len(pats):
            return name
    return None


def parse_asan(path, pid):
    """ASan and LSan (one log) or UBSan (its own log) reports."""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    reports = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m_err = re.search(r"ERROR: (AddressSanitizer|UndefinedBehavior"
                          r"Sanitizer): (.*)", line)
        m_leak = re.match(r"(Direct|Indirect) leak of (\d+) byte", line)
        m_ub = re.search(r"runtime error: (.*)", line)
        if m_leak:
            frames, j = [], i + 1
            while j < len(lines) and (FRAME_ASAN.match(lines[j])):
                frames.append(FRAME_ASAN.match(lines[j]).group(1))
                j += 1
            kind = "leak" if m_leak.group(1) == "Direct" else "indirect"
            reports.append(Report("lsan", kind, line.strip(), frames,
                                  "\n".join(lines[i:j]), pid,
                                  int(m_leak.group(2))))
            i = j
            continue
        if m_err or m_ub:
            title = (m_err.group(1) + ": " + m_err.group(2)) if m_err \
                else line.strip()
            frames, j = [], i + 1
            # The first stack is the one that matters (where it happened).
            while j < len(lines) and not FRAME_ASAN.match(lines[j]) \
                    and j < i + 6:
                j += 1
            while j < len(lines) and FRAME_ASAN.match(lines[j]):
                frames.append(FRAME_ASAN.match(lines[j]).group(1))
                j += 1
            end = j
            while end < len(lines) and not lines[end].startswith("SUMMARY"):
                end += 1
            tool = "ubsan" if (m_ub or "Undefined" in title) else "asan"
            reports.append(Report(tool, "error", title, frames,
                                  "\n".join(lines[i:end + 1]), pid))
            i = j
            continue
        i += 1
    return reports


def parse_valgrind(path, pid):
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    reports = []
    block = []

    def flush():
        if not block:
            return
        head = re.sub(r"^==\d+== ", "", block[0]).strip()
        frames = [FRAME_VG.match(l).group(1) for l in block
                  if FRAME_VG.match(l)]
        if not frames:
            return
        m_leak = re.match(r"([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?"
                          r"bytes in [\d,]+ blocks are (definitely|"
                          r"indirectly|possibly) lost", head)
        if m_leak:
            kind = {"definitely": "leak", "indirectly": "indirect",
                    "possibly": "possible"}[m_leak.group(2)]
            reports.append(Report("valgrind", kind, head, frames,
                                  "\n".join(block), pid,
                                  int(m_leak.group(1).replace(",", ""))))
        elif not head.startswith(("HEAP SUMMARY", "LEAK SUMMARY",
                                  "ERROR SUMMARY", "Memcheck", "Copyright",
                                  "Using Valgrind", "Command", "Parent PID",
                                  "For lists", "in use at exit",
                                  "total heap usage")):
            reports.append(Report("valgrind", "error", head, frames,
                                  "\n".join(block), pid))
        block.clear()

    for line in lines:
        if re.match(r"^==\d+== ?$", line):
            flush()
        elif re.match(r"^==\d+==", line):
            block.append(line)
    flush()
    return reports


def main():
    mode, logdir = sys.argv[1], sys.argv[2]
    known = load_known(sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "known-leaks.ini"))
    files = sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []
    reports = []
    processes = 0
    for name in files:
        path = os.path.join(logdir, name)
        m = re.match(r"(asan|ubsan|vg)\.(\d+)$", name)
        if not m:
            continue
        processes += 1
        pid = int(m.group(2))
        if mode == "valgrind":
            reports += parse_valgrind(path, pid)
        else:
            reports += parse_asan(path, pid)

    for r in reports:
        r.known = match_known(r, known)

    groups = collections.OrderedDict()
    for r in reports:
        groups.setdefault(r.key(), []).append(r)

    counts = collections.Counter()
    leak_bytes = collections.Counter()
    for r in reports:
        who = ("ours" if r.ours else "foreign") + ("-known" if r.known
                                                    else "")
        counts[(r.kind, who)] += 1
        leak_bytes[(r.kind, who)] += r.leak_bytes

    fail = False
    print("%s: %d log file(s) with reports in %s" % (mode, processes,
                                                     logdir))
    for (kind, who), n in sorted(counts.items()):
        extra = ""
        if leak_bytes[(kind, who)]:
            extra = ", %d bytes" % leak_bytes[(kind, who)]
        print("  %-9s %-14s %6d report(s)%s" % (kind, who, n, extra))
    by_entry = collections.Counter(r.known for r in reports if r.known)
    for name, n in sorted(by_entry.items()):
        print("  known: %-40s %6d report(s)" % (name, n))
    if not reports:
        print("  no reports at all")

    for key, rs in groups.items():
        r = rs[0]
        serious = r.ours and not r.known and r.kind in ("error", "leak")
        if r.kind == "error" and r.tool in ("asan", "ubsan"):
            serious = True
        if r.known or (r.kind in ("indirect", "possible") and not r.ours):
            continue
        label = "FAIL" if serious else "note"
        fail |= serious
        print("\n[%s] %s %s%s (x%d, pids %s)" % (
            label, r.tool, ("KNOWN(%s) " % r.known) if r.known else
            "OURS " if r.ours else "", r.title, len(rs),
            ",".join(str(x.pid) for x in rs[:5])))
        print(r.top(10 if serious else 6))
    print()
    if fail:
        print("%s: FAILED: see the [FAIL] reports above (full logs in %s)"
              % (mode, logdir))
    else:
        print("%s: clean: no error and no definite leak from our code"
              % mode)
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
