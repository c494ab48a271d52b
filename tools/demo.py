"""A throwaway realm, httpd with the module on https://localhost:8443, and
one real `curl --negotiate` login against it.  Everything is removed at the
end (pass --keep to leave it running until Enter is pressed)."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "integration"))
import harness  # noqa: E402

BODY = """
  <Location /cgi-bin/>
    AuthType Negotiate
    AuthName "mod_negotiate8443 demo"
    Require valid-user
  </Location>
"""


def main():
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    module = os.path.join(top, ".libs", "mod_negotiate8443.so")
    base = harness.make_base()
    realm = srv = None
    try:
        print("* creating realm %s with a KDC on 127.0.0.1" % harness.REALM)
        realm = harness.Realm(base)
        realm.add_user("alice", "alice-demo-pw")
        realm.add_service("HTTP/localhost")
        keytab = os.path.join(base, "http.keytab")
        realm.export_keytab(keytab, ["HTTP/localhost"])
        harness.chown_to_httpd(keytab)
        certs = harness.Certs(base)
        print("* starting httpd with mod_negotiate8443 on "
              "https://localhost:8443")
        srv = harness.Httpd(base, module, realm, certs, keytab, BODY,
                            port=8443, name="httpd")
        srv.start()
        env = realm.client_env("alice", "alice-demo-pw")
        print("* kinit alice: done; now: curl --negotiate -u : "
              "https://localhost:8443/cgi-bin/env\n")
        res = subprocess.run(
            ["curl", "-sS", "-i", "--negotiate", "-u", ":", "--cacert",
             certs.ca, "https://localhost:8443/cgi-bin/env"],
            env=env, capture_output=True, text=True)
        sys.stdout.write(res.stdout + res.stderr)
        with open(srv.error_log) as f:
            lines = [l for l in f if "N8443" in l]
        print("\n* the server's log says:\n" + "".join(lines))
        ok = res.returncode == 0 and "REMOTE_USER=alice@" in res.stdout
        print("* login %s" % ("WORKED" if ok else "FAILED"))
        if "--keep" in sys.argv:
            input("Press Enter to stop the KDC and httpd ...")
        return 0 if ok else 1
    finally:
        if srv is not None:
            srv.stop()
        if realm is not None:
            realm.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
