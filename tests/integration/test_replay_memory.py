"""A token accepted once is never accepted again, whatever happens in
between (issue 16): the shm table lives in a file that a full stop/start,
a kill -9 of every httpd process and a module upgrade keep; where a table
had to start empty its watermark (its birth) refuses every authenticator
made before it, and fresh logins go through at once on both paths (the
fast path and GSS-API), because the authenticator's own time is
compared.  The memcached half is test_replay_memory_mc.py."""

import json
import os
import shutil
import signal
import stat
import struct
import time

import pytest

from conftest import https_request, negotiate, start_httpd

BODY = """
  <Location /protected>
    AuthType Negotiate
    Require valid-user
  </Location>
  <Location /gss>
    AuthType Negotiate
    NegotiateFastPath Off
    Require valid-user
  </Location>
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
  </Location>
"""


def login(srv, tok, path="/protected/"):
    return https_request(srv, path, [negotiate(tok)])[0]


def status(srv):
    st, _, body = https_request(srv, "/negotiate8443-status")
    assert st == 200
    return json.loads(body)


def rc_file(srv):
    return os.path.join(srv.dir, "run", "negotiate8443-rcache")


def kill9(srv):
    """SIGKILL to every process of the instance (its process group)."""
    os.killpg(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait()
    srv.proc = None
    time.sleep(0.3)


# NegotiateReplayCacheMargin's default: after a loss, authenticators are
# refused for that long more (clients whose clocks run ahead).
MARGIN = 5

@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab):
    s = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                    name="httpd-replay-memory",
                    extra_global="NegotiateReplayCache shm")
    os.makedirs(os.path.join(s.dir, "htdocs", "gss"))
    with open(os.path.join(s.dir, "htdocs", "gss", "index.html"), "w") as f:
        f.write("gss\n")
    yield s
    s.stop()


def settle(srv):
    """Tokens made from now on are after the table's birth: the harness may
    return from a restart before httpd's post_config ran (it finds the
    previous start's line in the log), and MIT stamps tokens made within
    one second with that second's first time."""
    wm = status(srv)["replay_cache"]["shm"]["watermark_unix"]
    time.sleep(max(0.0, wm + MARGIN + 1.1 - time.time()))
    return wm


def used_and_unused(srv, client, path="/protected/"):
    """A token used once (200) and one made at the same time, unused."""
    settle(srv)
    _, used = client.token()
    _, unused = client.token()
    assert login(srv, used, path) == 200
    return used, unused


def test_file_is_private_and_status_shows_the_watermark(srv):
    st = os.lstat(rc_file(srv))
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    shm = status(srv)["replay_cache"]["shm"]
    assert shm["state"] == "ok"
    assert shm["file"] == rc_file(srv)
    assert shm["errors"] == 0
    assert abs(shm["watermark_unix"] - time.time()) < 3600
    assert "replay_cache_lost" in status(srv)["failures"]


def test_graceful_restart_keeps_the_watermark(srv, alice):
    before = status(srv)["replay_cache"]["shm"]["watermark_unix"]
    used, _ = used_and_unused(srv, alice)
    srv.graceful()
    assert status(srv)["replay_cache"]["shm"]["watermark_unix"] == before
    assert login(srv, used) == 401


@pytest.mark.parametrize("how", ["stop-start", "kill-9"])
def test_full_restart_keeps_the_table(srv, alice, how):
    before = status(srv)["replay_cache"]["shm"]["watermark_unix"]
    used, unused = used_and_unused(srv, alice)
    used_gss, _ = used_and_unused(srv, alice, "/gss/")
    if how == "kill-9":
        kill9(srv)
    else:
        srv.stop()
    srv.start()
    mark = srv.log_mark()
    assert login(srv, used) == 401
    assert login(srv, used_gss, "/gss/") == 401
    log = srv.log_since(mark)
    assert log.count("N8443025: login refused (replay)") == 2, log
    # The table is the same: same watermark, and a token made before the
    # restart but never used is still good.
    assert status(srv)["replay_cache"]["shm"]["watermark_unix"] == before
    assert login(srv, unused) == 200
    _, fresh = alice.token()
    assert login(srv, fresh) == 200


def test_module_upgrade_same_file(srv, alice, module_path):
    """A new .so (another file name) over the same table file."""
    if ".so" in os.environ.get("N8443_HTTPD_LD_PRELOAD", ""):
        pytest.skip("the sanitizer run preloads the module: a copy under "
                    "another name would bind its symbols to the preloaded "
                    "one")
    used, _ = used_and_unused(srv, alice)
    srv.stop()
    new = os.path.join(srv.dir, "mod_negotiate8443-upgraded.so")
    shutil.copy(module_path, new)
    with open(srv.conf) as f:
        conf = f.read()
    old_line = [ln for ln in conf.splitlines()
                if ln.startswith("LoadModule negotiate8443_module")][0]
    with open(srv.conf, "w") as f:
        f.write(conf.replace(old_line,
                             "LoadModule negotiate8443_module " + new))
    try:
        srv.start()
        assert login(srv, used) == 401
        _, fresh = alice.token()
        assert login(srv, fresh) == 200
    finally:
        srv.stop()
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.start()


@pytest.mark.parametrize("path", ["/protected/", "/gss/"],
                         ids=["fast-path", "gss-api"])
def test_new_layout_starts_empty_with_a_watermark(srv, alice, path):
    """A module whose table layout differs (simulated: the header's layout
    word changed) cannot read the file: the table starts empty, born now.
    Tokens made before are refused as the table's lost memory, used or
    not; a fresh token is good at once (its own time is after the
    watermark: the stamp is read on both paths)."""
    used, unused = used_and_unused(srv, alice, path)
    srv.stop()
    with open(rc_file(srv), "r+b") as f:
        magic, layout = struct.unpack("=II", f.read(8))
        f.seek(0)
        f.write(struct.pack("=II", magic, layout + 1000))
    time.sleep(0.05)
    srv.start()
    mark = srv.log_mark()
    assert login(srv, used, path) == 401
    assert login(srv, unused, path) == 401
    log = srv.log_since(mark)
    assert log.count("N8443300: the replay cache (shm) lost its memory "
                     "at ") == 2, log
    assert "alice@TEST.N8443" in log
    st = status(srv)
    assert st["failures"]["replay_cache_lost"] == 2
    wm = st["replay_cache"]["shm"]["watermark_unix"]
    assert wm > time.time() - 30
    # MIT stamps authenticators made within one second with that second's
    # first time (+1 us each): up to a second behind the clock.
    time.sleep(max(0.0, wm + MARGIN + 1.1 - time.time()))
    _, fresh = alice.token()
    assert login(srv, fresh, path) == 200
    assert login(srv, fresh, path) == 401


def test_file_from_an_earlier_boot_starts_empty(srv, alice):
    """The header names the boot the table was made in (Linux's boot_id,
    at offset 40): a file kept on disk across a reboot (or a crash of the
    host, which may lose pages not yet written) starts empty, born now."""
    used, _ = used_and_unused(srv, alice)
    srv.stop()
    with open(rc_file(srv), "r+b") as f:
        f.seek(40)
        boot = f.read(36)
        assert boot == open("/proc/sys/kernel/random/boot_id",
                            "rb").read(36)
        f.seek(40)
        f.write(b"0" * 36)
    mark = srv.log_mark()
    srv.start()
    assert login(srv, used) == 401
    log = srv.log_since(mark)
    assert "made before the host rebooted" in log
    assert "N8443300" in log
    settle(srv)
    _, fresh = alice.token()
    assert login(srv, fresh) == 200


def test_other_size_starts_empty(srv, alice):
    used, _ = used_and_unused(srv, alice)
    srv.stop()
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf + "NegotiateReplayCacheSize 5000\n")
    try:
        srv.start()
        mark = srv.log_mark()
        assert login(srv, used) == 401
        assert "N8443300" in srv.log_since(mark)
        settle(srv)
        _, fresh = alice.token()
        assert login(srv, fresh) == 200
    finally:
        srv.stop()
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.start()


def test_other_size_on_graceful_restart(srv, alice):
    """A size change on a graceful restart: a new table in a new file (old
    children keep the old one until they go), born now."""
    used, _ = used_and_unused(srv, alice)
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf + "NegotiateReplayCacheSize 7000\n")
    try:
        srv.graceful()
        mark = srv.log_mark()
        assert login(srv, used) == 401
        log = srv.log_since(mark)
        assert "N8443300" in log or "N8443025" in log, log
        wm = status(srv)["replay_cache"]["shm"]["watermark_unix"]
        time.sleep(max(0.0, wm + MARGIN + 1.1 - time.time()))
        _, fresh = alice.token()
        assert login(srv, fresh) == 200
        assert login(srv, fresh) == 401
        assert stat.S_IMODE(os.stat(rc_file(srv)).st_mode) == 0o600
    finally:
        srv.stop()
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.start()


def test_old_table_gss_path(srv, alice):
    """A table born long ago (its birth moved an hour back): the GSS-API
    path no longer reads the authenticator's time (nothing Kerberos takes
    can be older); logins and replays are what they were."""
    srv.stop()
    with open(rc_file(srv), "r+b") as f:
        f.seek(32)
        born = struct.unpack("=q", f.read(8))[0]
        f.seek(32)
        f.write(struct.pack("=q", born - 3600 * 1000000))
    srv.start()
    assert status(srv)["replay_cache"]["shm"]["watermark_unix"] \
        < time.time() - 3500
    _, tok = alice.token()
    assert login(srv, tok, "/gss/") == 200
    assert login(srv, tok, "/gss/") == 401
    assert login(srv, tok) == 401


def test_margin_covers_clocks_ahead(srv, alice):
    """NegotiateReplayCacheMargin 3: for 3 s more after the watermark,
    authenticators are refused (a client whose clock is ahead stamps
    tokens it used before the loss after it)."""
    srv.stop()
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf + "NegotiateReplayCacheMargin 3\n")
    os.unlink(rc_file(srv))         # a new table, born now
    try:
        srv.start()
        wm = status(srv)["replay_cache"]["shm"]["watermark_unix"]
        time.sleep(max(0.0, wm + 1.1 - time.time()))
        _, early = alice.token()
        mark = srv.log_mark()
        assert login(srv, early) == 401
        assert "N8443300" in srv.log_since(mark)
        time.sleep(max(0.0, wm + 4.1 - time.time()))
        _, later = alice.token()
        assert login(srv, later) == 200
    finally:
        srv.stop()
        with open(srv.conf, "w") as f:
            f.write(conf)
        srv.start()


@pytest.mark.parametrize("bad", ["mode-0644", "symlink"])
def test_untrusted_file_refuses_to_start(srv, bad):
    path = rc_file(srv)
    srv.stop()
    saved = path + ".saved"
    os.rename(path, saved)
    try:
        if bad == "mode-0644":
            shutil.copy(saved, path)
            os.chmod(path, 0o644)
        else:
            os.symlink(saved, path)
        assert srv.start(expect_fail=True) != 0
        out = srv.output()
        assert ("N8443302" if bad == "mode-0644" else "N8443301") in out
    finally:
        os.unlink(path)
        os.rename(saved, path)
        srv.start()


@pytest.mark.parametrize("how", ["owned-by-user", "group-writable",
                                 "world-writable", "parent-owned-by-user"])
def test_table_directory_writable_by_user_refuses_to_start(srv, how):
    """The table's directory (or one above it) writable by httpd's User or
    Group, or by everybody: a child or CGI script could swap the table for
    an older copy made by root, which the file's own checks accept.  httpd
    does not start, and says which directory and what to do (N8443480)."""
    import pwd
    import harness
    user = harness.ensure_user()
    if user is None:
        pytest.skip("needs root (httpd's User differs from the start user)")
    pw = pwd.getpwnam(user)
    run = os.path.dirname(rc_file(srv))
    bad = srv.dir if how == "parent-owned-by-user" else run
    st = os.stat(bad)
    srv.stop()
    try:
        if how in ("owned-by-user", "parent-owned-by-user"):
            os.chown(bad, pw.pw_uid, st.st_gid)
        elif how == "group-writable":
            os.chown(bad, st.st_uid, pw.pw_gid)
            os.chmod(bad, 0o775)
        else:
            os.chmod(bad, 0o777)
        assert srv.start(expect_fail=True) != 0
        out = srv.output()
        assert "N8443480: the replay cache file %s " \
            "(NegotiateReplayCacheFile) is in %s, and %s is " \
            % (rc_file(srv), run, os.path.realpath(bad)) in out, out[-2000:]
        assert {"owned-by-user": "owned by httpd's User",
                "parent-owned-by-user": "owned by httpd's User",
                "group-writable": "writable by group %d" % pw.pw_gid,
                "world-writable": "writable by everybody (mode 0777)"}[how] \
            in out
        assert "Make every directory of the path writable by root only" in out
    finally:
        os.chown(bad, st.st_uid, st.st_gid)
        os.chmod(bad, stat.S_IMODE(st.st_mode))
        srv.start()
    assert status(srv)["replay_cache"]["shm"]["state"] == "ok"


def test_table_path_through_a_link_in_a_user_directory_refuses_to_start(
        base_dir, module_path, realm, certs, keytab):
    """NegotiateReplayCacheFile names a root-owned directory through a
    symbolic link that lies in a directory of the User: the real path is
    safe, but the User may point the link elsewhere.  Both the real path
    and the path as written are checked (N8443480)."""
    import pwd
    import harness
    user = harness.ensure_user()
    if user is None:
        pytest.skip("needs root (httpd's User differs from the start user)")
    pw = pwd.getpwnam(user)
    name = "httpd-rcmem-link"
    udir = os.path.join(base_dir, name + "-user")
    os.makedirs(udir)
    os.chown(udir, pw.pw_uid, pw.pw_gid)
    link = os.path.join(udir, "table")
    os.symlink(os.path.join(base_dir, name, "run"), link)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name=name,
                        extra_global="NegotiateReplayCacheFile %s/x"
                                     % link)
    assert srv.start(expect_fail=True) != 0
    out = srv.output()
    assert "N8443480: the replay cache file %s/x (NegotiateReplayCacheFile) " \
        "is in %s, and %s is owned by httpd's User" % (link, link, udir) \
        in out, out[-2000:]


@pytest.mark.parametrize("conf,message", [
    ("NegotiateReplayCacheMargin -1", "NegotiateReplayCacheMargin: '-1' is "
     "not a number of seconds from 0 to 86400"),
    ("NegotiateReplayCacheMargin 5s", "NegotiateReplayCacheMargin: '5s' is "
     "not a number of seconds from 0 to 86400"),
    ("<VirtualHost 127.0.0.1:1>\nNegotiateReplayCacheFile /tmp/x\n"
     "</VirtualHost>", "NegotiateReplayCacheFile cannot occur within "
     "<VirtualHost> section"),
])
def test_directive_errors(base_dir, module_path, realm, certs, keytab, conf,
                          message):
    import harness
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-rcmem-conf-%d" % abs(hash(conf)),
                        extra_global=conf)
    res = srv.configtest()
    assert res.returncode != 0
    assert message in res.stdout + res.stderr
