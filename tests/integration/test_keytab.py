"""Keys: rotation on the KDC is picked up from a new keytab without a
restart, and a missing or unreadable keytab stops httpd at start-up with a
message that names the file and the user."""

import os
import shutil

import pytest

import harness
from conftest import (MINIMAL_BODY, STANDARD_BODY, Client, https_request, negotiate,
                      start_httpd)


@pytest.fixture
def rotation_setup(request, base_dir, module_path, realm, certs):
    """Its own service principal, keytab and httpd, so that rotating the
    key does not disturb the other tests."""
    realm.add_service("HTTP/rotate.test.n8443")
    kt = os.path.join(base_dir, "rotate-%s.keytab" % request.node.name)
    realm.export_keytab(kt, ["HTTP/rotate.test.n8443"])
    harness.chown_to_httpd(kt)
    srv = start_httpd(base_dir, module_path, realm, certs, kt, MINIMAL_BODY,
                      name="httpd-" + request.node.name)
    yield srv, kt
    srv.stop()


def test_key_rotation_picked_up_without_restart(rotation_setup, realm,
                                                certs):
    srv, kt = rotation_setup
    host = "rotate.test.n8443"
    alice = Client(realm, certs, "alice")
    _, tok = alice.token(host=host)
    status, _, _ = https_request(srv, "/protected/", [negotiate(tok)],
                                 host=host)
    assert status == 200
    old_kvno = realm.kvno_of("HTTP/" + host)

    # The KDC gets a new key; the server still has the old keytab.
    realm.kadmin("cpw -randkey HTTP/" + host)
    new_kvno = realm.kvno_of("HTTP/" + host)
    assert new_kvno == old_kvno + 1
    alice = Client(realm, certs, "alice")      # fresh ccache, new ticket
    mark = srv.log_mark()
    _, tok = alice.token(host=host)
    status, _, _ = https_request(srv, "/protected/", [negotiate(tok)],
                                 host=host)
    assert status == 401
    log = srv.log_since(mark)
    assert ("login refused (wrong_principal): client asked for "
            "HTTP/%s@TEST.N8443 kvno %d" % (host, new_kvno)) in log
    assert ("holds: HTTP/%s@TEST.N8443 kvno %d" % (host, old_kvno)) in log

    # The administrator exports the new key and swaps the file in place.
    tmp = kt + ".new"
    realm.export_keytab(tmp, ["HTTP/" + host])
    harness.chown_to_httpd(tmp)
    os.replace(tmp, kt)
    mark = srv.log_mark()
    _, tok = alice.token(host=host)
    status, headers, _ = https_request(srv, "/protected/", [negotiate(tok)],
                                       host=host)
    assert status == 200
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    assert srv.proc.poll() is None          # the same server, no restart
    # The new key reached the fast path's copy of the keytab too (the
    # child that serves this may be one that never had the old keys, so
    # N8443031 is not always logged here).
    assert "accepted (krb5) by the fast path" in srv.log_since(mark)


def test_key_rotated_in_place_with_the_old_mtime(rotation_setup, realm,
                                                 certs):
    """A keytab rewritten in place (same inode, same size) with its old
    modification time put back, as `cp -p` or `rsync -t --inplace` do: the
    change time still moves, and the module reads the new keys."""
    srv, kt = rotation_setup
    host = "rotate.test.n8443"
    alice = Client(realm, certs, "alice")
    _, tok = alice.token(host=host)
    assert https_request(srv, "/protected/", [negotiate(tok)],
                         host=host)[0] == 200
    before = os.stat(kt)

    realm.kadmin("cpw -randkey HTTP/" + host)
    tmp = kt + ".new"
    realm.export_keytab(tmp, ["HTTP/" + host])
    with open(tmp, "rb") as f:
        data = f.read()
    os.unlink(tmp)
    assert len(data) == before.st_size      # same size: only ctime tells
    with open(kt, "r+b") as f:
        f.write(data)
        f.truncate()
    os.utime(kt, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(kt)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)

    alice = Client(realm, certs, "alice")      # fresh ccache, new ticket
    mark = srv.log_mark()
    _, tok = alice.token(host=host)
    status, headers, _ = https_request(srv, "/protected/", [negotiate(tok)],
                                       host=host)
    assert status == 200, srv.log_since(mark)
    assert headers["X-Remote-User"] == "alice@TEST.N8443"


def test_missing_keytab_stops_startup(base_dir, module_path, realm, certs):
    srv = harness.Httpd(base_dir, module_path, realm, certs,
                        "/nonexistent/n8443.keytab", STANDARD_BODY,
                        name="httpd-nokeytab")
    rc = srv.start(expect_fail=True)
    assert rc != 0
    out = srv.output()
    assert ("N8443040: NegotiateKeytab /nonexistent/n8443.keytab "
            "(server localhost:0): the file does not exist") in out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_unreadable_keytab_stops_startup(base_dir, module_path, realm, certs,
                                         keytab):
    kt = os.path.join(base_dir, "root-only.keytab")
    shutil.copy(keytab, kt)
    os.chown(kt, 0, 0)
    os.chmod(kt, 0o600)
    srv = harness.Httpd(base_dir, module_path, realm, certs, kt,
                        STANDARD_BODY, name="httpd-unreadable")
    rc = srv.start(expect_fail=True)
    assert rc != 0
    assert ("N8443041: NegotiateKeytab %s (server localhost:0): not "
            "readable by the httpd user '%s'" % (kt, harness.HTTPD_USER)) \
        in srv.output()


def test_principal_missing_from_keytab_stops_startup(base_dir, module_path,
                                                     realm, certs, keytab):
    body = STANDARD_BODY + """
  <Location /nokey>
    AuthType Negotiate
    NegotiateServicePrincipal HTTP/nokey.test.n8443
    Require valid-user
  </Location>
"""
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                        name="httpd-nokey")
    assert srv.start(expect_fail=True) != 0
    out = srv.output()
    assert "N8443042: cannot get acceptor credentials for " \
        "HTTP/nokey.test.n8443 from keytab" in out
    assert "<Location /nokey>" in out


@pytest.mark.parametrize("directive,message", [
    ("NegotiateUserName nickname",
     "NegotiateUserName: 'nickname' is not one of principal, short, local"),
    ("NegotiateServicePrincipal HTTP/host:8443",
     "NegotiateServicePrincipal: 'HTTP/host:8443' is not 'any'"),
    ("NegotiateMaxTokenSize 64k",
     "NegotiateMaxTokenSize: '64k' is not a whole number"),
    ("NegotiateMaxTokenSize 10",
     "NegotiateMaxTokenSize: 10 is out of range (1024 to 1048576)"),
    ("NegotiateRequireTLS maybe",
     "NegotiateRequireTLS: 'maybe' is not On, Off or TrustedProxy"),
])
def test_bad_directive_values_fail_configtest(base_dir, module_path, realm,
                                              certs, keytab, directive,
                                              message):
    body = """
  <Location /x>
    AuthType Negotiate
    %s
    Require valid-user
  </Location>
""" % directive
    if directive.startswith("NegotiateMaxTokenSize"):
        body = directive + "\n"
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, body,
                        name="httpd-bad-%d" % abs(hash(directive)))
    res = srv.configtest()
    assert res.returncode != 0
    assert message in res.stdout + res.stderr
