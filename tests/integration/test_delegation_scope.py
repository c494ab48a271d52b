"""Issue 24.6: delegated tickets are not readable by other applications of
the httpd user.  An unauthenticated CGI of another vhost, running as the
httpd user, tries to list NegotiateDelegationDir and the vhosts'
directories in it, to read alice's cache under the name older versions
gave it (a digest of the principal), and to open up the directories; all
of it fails, while the application that was given KRB5CCNAME reads its
cache.  The S4U2Proxy evidence cache (which holds the service's own TGT) is
kept the same way.  The parent still sweeps expired caches, and a vhost
directory replaced behind httpd's back gets no caches."""

import grp
import hashlib
import os
import pwd
import stat
import subprocess
import time

import pytest

import harness
import test_delegation as delegation
from conftest import DELEGATION_BODY, https_request, negotiate

KLIST_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'KRB5CCNAME=%s\\n' "$KRB5CCNAME"
if [ -n "$KRB5CCNAME" ]; then klist 2>&1; fi
"""

# What a hostile application of another vhost tries; QUERY_STRING is
# "<base>|<vhost dir>|<old-style name of alice's cache>".
SNOOP_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
base=$(echo "$QUERY_STRING" | cut -d'|' -f1)
sub=$(echo "$QUERY_STRING" | cut -d'|' -f2)
old=$(echo "$QUERY_STRING" | cut -d'|' -f3)
echo "uid=$(id -u)"
echo "== ls base"; ls -a "$base" 2>&1
echo "== ls sub"; ls -a "$base/$sub" 2>&1
echo "== find"; find "$base" 2>&1
echo "== chmod sub"; chmod 0777 "$base/$sub" 2>&1 && echo CHMOD-OK
echo "== ls sub again"; ls -a "$base/$sub" 2>&1
echo "== klist old"; klist -c "FILE:$base/$old" 2>&1
echo "== klist old in sub"; klist -c "FILE:$base/$sub/$old" 2>&1
echo "== end"
"""


# A third vhost without any login: the other application.
OTHER_VHOST = """
Listen 127.0.0.1:%(port)d http
<VirtualHost 127.0.0.1:%(port)d>
  ServerName other.test.n8443
  PassEnv KRB5_CONFIG
  ScriptAlias /snoop/ %(dir)s/snoop-bin/
</VirtualHost>
"""


def make_server(base_dir, module_path, realm, certs, keytab, name,
                base_owner_httpd, extra=""):
    """test_delegation's server with this module's CGI scripts and a
    third vhost (OTHER_VHOST); base_owner_httpd: the layout older
    versions asked for (the httpd user's, 0700), else root's, 0711."""
    def more(srv):
        srv.other_port = harness.free_port()
        return "%s\n%s" % (extra, OTHER_VHOST % {"port": srv.other_port,
                                                "dir": srv.dir})
    return delegation.make_server(
        base_dir, module_path, realm, certs, keytab, name, more,
        {"cgi-bin/klist": KLIST_CGI, "snoop-bin/snoop": SNOOP_CGI},
        ccdir_owner_httpd=base_owner_httpd)


@pytest.fixture(scope="module")
def dsrv(base_dir, module_path, realm, certs, keytab):
    srv = make_server(base_dir, module_path, realm, certs, keytab,
                      "httpd-deleg-scope", base_owner_httpd=True)
    yield srv
    srv.stop()


def ccname_of(body):
    line = [l for l in body.splitlines() if l.startswith("KRB5CCNAME=")][0]
    return line.split("=", 1)[1]


def snoop(srv, sub, principal="alice@TEST.N8443"):
    old = "n8443cc_" + hashlib.sha256(principal.encode()).hexdigest()[:32]
    conn_path = "/snoop/snoop?%s|%s|%s" % (srv.ccdir, sub, old)
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.other_port,
                                      timeout=20)
    conn.request("GET", conn_path)
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 200, body
    return body


def listings(out):
    """The parts of the snoop's output that list directories."""
    return out.split("== klist old")[0]


def httpd_uid():
    user = harness.ensure_user()
    if user is None:
        pytest.skip("needs root: the httpd user must differ from root")
    return pwd.getpwnam(user).pw_uid


def test_other_vhost_cgi_cannot_find_delegated_tgt(dserver_login):
    srv, path, sub = dserver_login
    out = snoop(srv, sub)
    assert "uid=%d" % httpd_uid() in out
    # The base belongs to the httpd user here (the old layout), so its
    # listing shows the vhosts' directories - but none of their files.
    section = out.split("== ls sub\n")[1].split("== find")[0]
    assert "Permission denied" in section, out
    assert "n8443cc_" not in listings(out), out
    assert "CHMOD-OK" not in out, out
    assert "Default principal" not in out, out
    assert "krbtgt" not in out, out


def test_cache_is_where_krb5ccname_says(dserver_login):
    srv, path, sub = dserver_login
    assert sub.startswith("localhost_%d_" % srv.port), sub
    assert os.path.dirname(os.path.dirname(path)) == srv.ccdir
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == httpd_uid()
    name = os.path.basename(path)
    old = "n8443cc_" + hashlib.sha256(b"alice@TEST.N8443").hexdigest()[:32]
    assert name.startswith("n8443cc_") and len(name) == 40 and name != old
    d = os.stat(os.path.dirname(path))
    assert d.st_uid == 0
    assert stat.S_IMODE(d.st_mode) == 0o730


@pytest.fixture(scope="module")
def dserver_login(dsrv, alice):
    status, out = alice.curl(dsrv.url("/cgi-bin/klist"), "--delegation",
                             "always")
    assert status == 200, out
    assert "Default principal: alice@TEST.N8443" in out, out
    path = ccname_of(out).split("FILE:", 1)[1]
    sub = os.path.relpath(os.path.dirname(path), dsrv.ccdir)
    return dsrv, path, sub


def test_cache_name_is_not_logged(dserver_login):
    """KRB5CCNAME is the one place the name is given."""
    srv, path, _ = dserver_login
    assert os.path.basename(path) not in srv.output()


def test_s4u_evidence_not_listable_either(dserver_login, bob):
    srv, _, sub = dserver_login
    _, tok = bob.token(delegate=False)
    st, _, body = https_request(srv, "/s4u/klist", [negotiate(tok)])
    text = body.decode()
    assert st == 200, text
    path = ccname_of(text).split("FILE:", 1)[1]
    assert os.path.basename(os.path.dirname(path)) == sub
    assert "HTTP/localhost@TEST.N8443" in text
    out = snoop(srv, sub, "bob@TEST.N8443")
    assert "n8443cc_" not in listings(out), out
    assert "Default principal" not in out, out


def test_base_owned_by_httpd_user_is_warned_about(dserver_login):
    srv = dserver_login[0]
    line = "N8443257: NegotiateDelegationDir %s belongs to the httpd " \
        "user" % srv.ccdir
    assert srv.output().count(line) == 1    # once, for all its vhosts


def test_parent_sweeps_expired_caches(dserver_login, alice):
    srv = dserver_login[0]
    status, out = alice.curl(srv.url("/cgi-bin/klist"), "--delegation",
                             "always")
    assert status == 200, out
    path = ccname_of(out).split("FILE:", 1)[1]
    assert os.path.exists(path)
    past = time.time() - 10
    os.utime(path, (past, past))
    # The httpd user (who owns this base) plants a link to a directory of
    # root's with an expired-looking cache name in it: the sweep, which
    # runs as root, must not follow it.
    outside = os.path.join(srv.dir, "not-a-cache-dir")
    os.makedirs(outside)
    bait = os.path.join(outside, "n8443cc_bait")
    open(bait, "w").close()
    os.utime(bait, (past, past))
    os.symlink(outside, os.path.join(srv.ccdir, "planted-link"))
    # The parent's monitor hook runs about every 10 s.
    deadline = time.monotonic() + 40
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(1)
    assert not os.path.exists(path)
    assert os.path.exists(bait)


def test_replaced_vhost_dir_gets_no_caches(dserver_login, alice):
    """Last in this module: the base is the httpd user's, so its code can
    rename the vhost directory and put its own in place; the module then
    stores nothing rather than write into it."""
    srv, _, sub = dserver_login
    d = os.path.join(srv.ccdir, sub)
    os.rename(d, d + ".moved")
    os.mkdir(d)
    harness.chown_to_httpd(d, 0o777)
    mark = srv.log_mark()
    status, out = alice.curl(srv.url("/cgi-bin/klist"), "--delegation",
                             "always")
    assert status == 200, out
    assert "KRB5CCNAME=\n" in out
    assert os.listdir(d) == []
    assert "N8443256: %s is not the directory made at start-up" % d \
        in srv.log_since(mark)


def test_root_base_0711_and_group_perms(base_dir, module_path, realm, certs,
                                        keytab, alice):
    """A root-owned 0711 base: no warning; NegotiateDelegationPerms gives
    the caches to the application's group, and the vhost directory lets
    that group in (but not list)."""
    user = harness.ensure_user()
    if user is None:
        pytest.skip("needs root")
    group = "n8443app"
    try:
        grp.getgrnam(group)
    except KeyError:
        harness.run(["groupadd", "--system", group])
    harness.run(["usermod", "-a", "-G", group, user])
    gid = grp.getgrnam(group).gr_gid
    srv = make_server(base_dir, module_path, realm, certs, keytab,
                      "httpd-deleg-scope-root", base_owner_httpd=False,
                      extra="NegotiateDelegationPerms mode:0640 group:%s"
                      % group)
    try:
        status, out = alice.curl(srv.url("/cgi-bin/klist"), "--delegation",
                                 "always")
        assert status == 200, out
        path = ccname_of(out).split("FILE:", 1)[1]
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o640
        assert st.st_gid == gid
        d = os.stat(os.path.dirname(path))
        assert (d.st_uid, d.st_gid, stat.S_IMODE(d.st_mode)) == \
            (0, gid, 0o730)
        assert "N8443257" not in srv.output()
        out = snoop(srv, os.path.basename(os.path.dirname(path)))
        assert "Permission denied" in out.split("== ls base\n")[1]
        assert "n8443cc_" not in listings(out)
        assert "Default principal" not in out
    finally:
        srv.stop()


def test_group_httpd_user_is_not_in_fails_at_startup(base_dir, module_path,
                                                     realm, certs, keytab):
    if harness.ensure_user() is None:
        pytest.skip("needs root")
    d = os.path.join(base_dir, "ccdir-badgroup")
    os.makedirs(d)
    os.chmod(d, 0o711)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        DELEGATION_BODY % {"dir": "/nonexistent"},
                        name="httpd-deleg-badgroup",
                        extra_global="NegotiateDelegationDir %s\n"
                        "NegotiateDelegationPerms group:root" % d)
    assert srv.start(expect_fail=True) != 0
    assert "N8443255: NegotiateDelegationDir in server" in srv.output()
    assert "is not in group 0" in srv.output()


@pytest.mark.parametrize("arg", ["mode:0644", "mode:0700", "mode:abc",
                                 "owner:www", "group:no-such-group-x"])
def test_bad_perms_are_refused_by_configtest(base_dir, module_path, realm,
                                             certs, keytab, arg):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, "",
                        name="httpd-deleg-perms-%s" % arg.replace(":", "-"),
                        extra_global="NegotiateDelegationPerms %s" % arg)
    res = srv.configtest()
    assert res.returncode != 0
    assert "NegotiateDelegationPerms: '%s'" % arg in res.stderr + res.stdout
