"""HAProxy in front of the suite's httpd (test_balancer.py, test_proxy.py):
a directory of its own, the frontends' certificate, haproxy.cfg from the
lines a test writes, the frontends' ports waited for, and stopped at the
end.  Listens on 127.0.0.1 only."""

import os
import shutil
import subprocess

import pytest

import harness

# haproxy.cfg's first lines: the same limits and timeouts for every test.
DEFAULTS = ["global", "  maxconn 200",
            "defaults", "  mode http", "  timeout connect 5s",
            "  timeout client 20s", "  timeout server 20s",
            "  timeout http-keep-alive 10s"]


def need_haproxy(fail_if_installable=False):
    """Skip the test where HAProxy is missing; fail it instead where
    fail_if_installable and tools/install-deps could install it."""
    if shutil.which("haproxy") is None and \
            not os.path.exists("/usr/sbin/haproxy"):
        if fail_if_installable and shutil.which("apt-get") and \
                os.geteuid() == 0:
            pytest.fail("haproxy missing: run tools/install-deps")
        pytest.skip("haproxy is not installed")


class HAProxyFront:
    """One haproxy process in directory d; its frontends terminate TLS
    with cert and key.  A subclass adds frontends (frontend()) and
    backends to DEFAULTS and calls start()."""

    def __init__(self, d, cert, key, exist_ok=False):
        self.dir = d
        os.makedirs(self.dir, exist_ok=exist_ok)
        self.pem = os.path.join(self.dir, "front.pem")
        with open(self.pem, "w") as out:
            for p in (cert, key):
                with open(p) as f:
                    out.write(f.read())
        os.chmod(self.pem, 0o600)
        self.ports = {}
        self.proc = None

    def frontend(self, name):
        """The first lines of frontend fe_<name> on a free port (in
        self.ports[name]) with TLS."""
        port = harness.free_port()
        self.ports[name] = port
        return ["frontend fe_%s" % name,
                "  bind 127.0.0.1:%d ssl crt %s" % (port, self.pem)]

    def start(self, lines):
        self.conf = os.path.join(self.dir, "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "haproxy.log"), "w")
        self.proc = subprocess.Popen(
            [harness.sbin("haproxy"), "-db", "-f", self.conf],
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        for port in self.ports.values():
            if not harness.wait_port(port, self.proc):
                self.stop()
                with open(os.path.join(self.dir, "haproxy.log")) as f:
                    raise RuntimeError("haproxy did not start: " + f.read())

    def stop(self):
        harness.stop_process(self.proc)
        self.proc = None
        self.log.close()
