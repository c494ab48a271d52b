"""Delegated credentials for the application: a ticket the client
delegated lands in a private credential cache under NegotiateDelegationDir,
named by a digest (never by the principal's text), and the CGI gets
KRB5CCNAME; no delegation, no cache.  NegotiateConstrainedDelegation
stores S4U2Proxy evidence when the client did not delegate."""

import os
import pwd
import stat

import pytest

import harness
from conftest import (DELEGATION_BODY, PASSWORDS, Client, https_request,
                      negotiate)

KLIST_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
printf 'KRB5CCNAME=%s\\n' "$KRB5CCNAME"
if [ -n "$KRB5CCNAME" ]; then klist 2>&1; fi
"""

BODY = DELEGATION_BODY


def make_server(base_dir, module_path, realm, certs, keytab, name,
                extra="", cgis=None, ccdir_owner_httpd=True):
    """httpd with DELEGATION_BODY and NegotiateDelegationDir srv.ccdir:
    the httpd user's, 0700 (or, not ccdir_owner_httpd, root's, 0711).
    cgis: {path under the server's directory: script} (by default
    cgi-bin/klist: KLIST_CGI); extra: more global configuration, or a
    function of the server that returns it.  Also test_delegation_scope's."""
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, "",
                        name=name)
    ccdir = os.path.join(srv.dir, "ccaches")
    os.makedirs(ccdir)
    if ccdir_owner_httpd:
        harness.chown_to_httpd(ccdir, 0o700)
    else:
        os.chmod(ccdir, 0o711)
    for path, text in (cgis or {"cgi-bin/klist": KLIST_CGI}).items():
        harness.write_script(os.path.join(srv.dir, path), text)
    if callable(extra):
        extra = extra(srv)
    srv.write_conf(module_path, certs, keytab, BODY % {"dir": srv.dir},
                   "event", "NegotiateDelegationDir %s\n%s" % (ccdir, extra))
    srv.ca = certs.ca
    srv.ccdir = ccdir
    srv.start()
    return srv


@pytest.fixture(scope="module")
def dserver(base_dir, module_path, realm, certs, keytab):
    srv = make_server(base_dir, module_path, realm, certs, keytab,
                      "httpd-deleg")
    yield srv
    srv.stop()


def check_cache_file(srv, path):
    # One directory per vhost under NegotiateDelegationDir.
    assert os.path.dirname(os.path.dirname(path)) == srv.ccdir
    name = os.path.basename(path)
    assert name.startswith("n8443cc_") and len(name) == 8 + 32
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    user = harness.ensure_user()
    if user:
        assert st.st_uid == pwd.getpwnam(user).pw_uid


def test_curl_delegation_always_gives_the_cgi_a_tgt(dserver, alice):
    status, out = alice.curl(dserver.url("/cgi-bin/klist"), "--delegation",
                             "always")
    assert status == 200, out
    assert "REMOTE_USER=alice@TEST.N8443" in out
    cc = [l for l in out.splitlines() if l.startswith("KRB5CCNAME=")][0]
    path = cc.split("FILE:", 1)[1]
    check_cache_file(dserver, path)
    assert "Default principal: alice@TEST.N8443" in out
    assert "krbtgt/TEST.N8443@TEST.N8443" in out


def test_delegation_none_gives_no_cache(dserver, alice):
    status, out = alice.curl(dserver.url("/cgi-bin/klist"), "--delegation",
                             "none")
    assert status == 200, out
    assert "KRB5CCNAME=\n" in out


def test_python_gssapi_delegation(dserver, bob):
    ctx, tok = bob.token(delegate=True)
    st, _, body = https_request(dserver, "/cgi-bin/klist", [negotiate(tok)])
    assert st == 200
    assert b"Default principal: bob@TEST.N8443" in body
    assert b"krbtgt/TEST.N8443@TEST.N8443" in body


def test_hostile_principal_stays_inside_dir(dserver, realm, certs):
    evil = "x/../../../tmp/n8443-evil"
    realm.add_user(evil, "evil-pw")
    PASSWORDS[evil] = "evil-pw"
    client = Client(realm, certs, evil)
    ctx, tok = client.token(delegate=True)
    st, _, body = https_request(dserver, "/cgi-bin/klist", [negotiate(tok)])
    assert st == 200
    text = body.decode()
    assert "REMOTE_USER=x/../../../tmp/n8443-evil@TEST.N8443" in text
    path = [l for l in text.splitlines()
            if l.startswith("KRB5CCNAME=")][0].split("FILE:", 1)[1]
    check_cache_file(dserver, path)
    assert not os.path.exists("/tmp/n8443-evil")
    assert all(n.startswith("n8443cc_")
               for n in os.listdir(os.path.dirname(path)))


def test_missing_delegation_dir_fails_at_startup(base_dir, module_path,
                                                 realm, certs, keytab):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        BODY % {"dir": "/nonexistent"},
                        name="httpd-deleg-nodir")
    assert srv.start(expect_fail=True) != 0
    assert "N8443113: NegotiateDelegation/NegotiateConstrainedDelegation " \
        "in server" in srv.output()


def test_open_delegation_dir_fails_at_startup(base_dir, module_path, realm,
                                              certs, keytab):
    d = os.path.join(base_dir, "open-ccdir")
    os.makedirs(d)
    os.chmod(d, 0o777)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        BODY % {"dir": "/nonexistent"},
                        name="httpd-deleg-open",
                        extra_global="NegotiateDelegationDir %s" % d)
    assert srv.start(expect_fail=True) != 0
    assert "N8443114: NegotiateDelegationDir: %s is open to other users " \
        "(mode 0777)" % d in srv.output()


def test_constrained_delegation_stores_s4u2proxy_evidence(dserver, alice):
    """Without delegation from the client, the module keeps the client's
    forwardable service ticket as S4U2Proxy evidence together with the
    service's own credentials (MIT's proxy_impersonator ccache)."""
    ctx, tok = alice.token(delegate=False)
    st, _, body = https_request(dserver, "/s4u/klist", [negotiate(tok)])
    assert st == 200
    text = body.decode()
    assert "REMOTE_USER=alice@TEST.N8443" in text
    path = [l for l in text.splitlines()
            if l.startswith("KRB5CCNAME=")][0].split("FILE:", 1)[1]
    check_cache_file(dserver, path)
    # The evidence: a ticket for our own service, for alice.
    assert "Default principal: alice@TEST.N8443" in text
    assert "HTTP/localhost@TEST.N8443" in text
