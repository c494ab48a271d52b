"""Not part of the suite (no test_ prefix): measures how long a refused
Basic login takes for a known user with a wrong password and for a user
the KDC does not know (issue 24.8), and prints the numbers.  Run it
explicitly:

    N8443_BUILDDIR=$PWD python3 -m pytest -q -s -p no:cacheprovider \\
        tests/integration/measure_basic_timing.py
"""

import base64
import http.client
import re
import ssl
import statistics
import time

from conftest import start_httpd

BODY = """
  <Location /fb>
    AuthType Negotiate
    NegotiateBasicFallback On
    Require valid-user
  </Location>
"""

ROUNDS = 40


def basic(user, password):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def test_measure(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-basic-timing")
    try:
        ctx = ssl.create_default_context(cafile=certs.ca)
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port,
                                           context=ctx, timeout=30)
        samples = {"known user, wrong password": [],
                   "unknown user": []}
        users = {"known user, wrong password": "alice",
                 "unknown user": "nobody-such"}
        for i in range(ROUNDS):
            # Interleaved, so that drift hits both alike.
            for label in samples:
                t0 = time.perf_counter()
                conn.request("GET", "/fb", headers={
                    "Authorization": basic(users[label], "wrong-pw-%d" % i)})
                resp = conn.getresponse()
                resp.read()
                samples[label].append((time.perf_counter() - t0) * 1000)
                assert resp.status == 401
        conn.close()
        for label, vals in samples.items():
            vals = vals[5:]     # warm-up
            print("%-28s n=%d median %.2f ms  mean %.2f ms  min %.2f  "
                  "max %.2f" % (label, len(vals), statistics.median(vals),
                                statistics.mean(vals), min(vals), max(vals)))
        # The work before the floor, from the module's own log lines.
        took = {"alice": [], "nobody-such": []}
        for line in srv.output().splitlines():
            m = re.search(r"Basic login of '([^']*)' refused .*took "
                          r"([0-9.]+) ms", line)
            if m and m.group(1) in took:
                took[m.group(1)].append(float(m.group(2)))
        for user, vals in took.items():
            if vals:
                print("work before the floor, %-12s median %.2f ms"
                      % (user, statistics.median(vals[5:] or vals)))
    finally:
        srv.stop()
