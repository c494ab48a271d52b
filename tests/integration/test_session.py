"""Persistence and status: NegotiateConnectionAuth keeps a login on its TLS
connection, NegotiateSession keeps it in a sealed cookie (tampered,
truncated, expired or foreign-key cookies fall back to Negotiate), and the
status handler's counters move with real logins, replays and failures."""

import base64
import http.client
import json
import os
import pwd
import ssl
import subprocess
import time

import pytest

import harness
from conftest import (MINIMAL_BODY, https_request, location, negotiate,
                      start_httpd)

BODY = "\n" + location("/conn", "NegotiateConnectionAuth On") + \
    location("/session", "NegotiateSession On") + \
    location("/short-session", "NegotiateSession On",
             "NegotiateSessionMaxAge 2") + \
    location("/protected") + \
    location("/notls-session", "NegotiateRequireTLS Off",
             "NegotiateSession On") + """\
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
    Require ip 127.0.0.1
  </Location>
"""


def write_key(path, data=None):
    with open(path, "wb") as f:
        f.write(data if data is not None else os.urandom(32))
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="module")
def keyfile(base_dir):
    return write_key(os.path.join(base_dir, "session.key"))


@pytest.fixture(scope="module")
def sserver(base_dir, module_path, realm, certs, keytab, keyfile):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-session",
                      extra_global="NegotiateSessionKeyFile %s" % keyfile)
    yield srv
    srv.stop()


class Conn:
    """One keep-alive TLS connection."""

    def __init__(self, srv):
        ctx = ssl.create_default_context(cafile=srv.ca)
        ctx.check_hostname = False
        self.c = http.client.HTTPSConnection("127.0.0.1", srv.port,
                                             context=ctx, timeout=20)
        self.srv = srv

    def get(self, path, headers=()):
        self.c.putrequest("GET", path, skip_host=True)
        self.c.putheader("Host", "localhost:%d" % self.srv.port)
        for k, v in headers:
            self.c.putheader(k, v)
        self.c.endheaders()
        r = self.c.getresponse()
        r.read()
        return r.status, r.headers

    def close(self):
        self.c.close()


def test_connection_auth_holds_for_the_connection(sserver, alice):
    conn = Conn(sserver)
    try:
        st, h = conn.get("/conn/", [negotiate(alice.token()[1])])
        assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"
        for _ in range(3):
            st, h = conn.get("/conn/")
            assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"
        # A location without ConnectionAuth still asks for a token.
        st, _ = conn.get("/protected/")
        assert st == 401
    finally:
        conn.close()
    # A new connection starts unauthenticated.
    st, _, _ = https_request(sserver, "/conn/")
    assert st == 401


def session_cookie(headers):
    for v in headers.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v
    return None


def test_session_cookie_is_issued_and_accepted(sserver, alice):
    st, h, _ = https_request(sserver, "/session/",
                             [negotiate(alice.token()[1])])
    assert st == 404
    cookie = session_cookie(h)
    assert cookie is not None
    attrs = [a.strip() for a in cookie.split(";")]
    # Path: the <Location> that switched sessions on, not the whole site.
    assert "Secure" in attrs and "HttpOnly" in attrs \
        and "SameSite=Lax" in attrs and "Path=/session" in attrs
    max_age = [a for a in attrs if a.startswith("Max-Age=")]
    # min(NegotiateSessionMaxAge 3600, the ticket's remaining life)
    assert max_age and 3500 < int(max_age[0].split("=")[1]) <= 3600
    value = attrs[0].split("=", 1)[1]
    st, h, _ = https_request(sserver, "/session/",
                             [("Cookie", "n8443_session=" + value)])
    assert st == 404
    assert h["X-Remote-User"] == "alice@TEST.N8443"
    assert session_cookie(h) is None     # no new cookie without a login


def test_no_session_cookie_over_plain_http(sserver, alice):
    # A cookie is a reusable bearer credential: never sent in the clear,
    # where anyone on the path could take it to the TLS vhost.
    mark = sserver.log_mark()
    for _ in range(4):
        st, h, _ = https_request(sserver, "/notls-session/",
                                 [negotiate(alice.token()[1])], plain=True)
        assert st == 404
        assert h["X-Remote-User"] == "alice@TEST.N8443"
        assert session_cookie(h) is None
    log = sserver.log_since(mark)
    # Said once per child (StartServers 2) at info, not on every login.
    assert 1 <= log.count("N8443285: ") <= 2, log
    # The same location over TLS does issue one.
    st, h, _ = https_request(sserver, "/notls-session/",
                             [negotiate(alice.token()[1])])
    assert st == 404 and session_cookie(h) is not None


def test_session_cookie_not_accepted_over_plain_http(sserver, alice):
    st, h, _ = https_request(sserver, "/notls-session/",
                             [negotiate(alice.token()[1])])
    value = session_cookie(h).split(";")[0].split("=", 1)[1]
    # Control: it holds over TLS.
    st, h, _ = https_request(sserver, "/notls-session/",
                             [("Cookie", "n8443_session=" + value)])
    assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"
    mark = sserver.log_mark()
    st, h, _ = https_request(sserver, "/notls-session/",
                             [("Cookie", "n8443_session=" + value)],
                             plain=True)
    assert st == 401
    assert "N8443287: session cookie ignored over plain HTTP" in \
        sserver.log_since(mark)


def fresh_cookie(sserver, alice, path="/session/"):
    st, h, _ = https_request(sserver, path, [negotiate(alice.token()[1])])
    assert st == 404
    return session_cookie(h).split(";")[0].split("=", 1)[1]


def flip(value, pos):
    raw = bytearray(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    raw[pos] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("case", ["tampered-body", "tampered-tag",
                                  "tampered-nonce", "truncated", "garbage",
                                  "empty"])
def test_bad_cookie_falls_back_to_negotiate(sserver, alice, case):
    value = fresh_cookie(sserver, alice)
    bad = {"tampered-body": flip(value, 20), "tampered-tag": flip(value, -1),
           "tampered-nonce": flip(value, 3), "truncated": value[:-10],
           "garbage": "not*a*cookie", "empty": ""}[case]
    mark = sserver.log_mark()
    st, h, _ = https_request(sserver, "/session/",
                             [("Cookie", "n8443_session=" + bad)])
    assert st == 401
    assert h.get_all("WWW-Authenticate") == ["Negotiate"]
    if case != "empty":
        assert "N8443100: session cookie does not open" in \
            sserver.log_since(mark)


def test_expired_cookie_falls_back(sserver, alice):
    value = fresh_cookie(sserver, alice, "/short-session/")
    st, _, _ = https_request(sserver, "/short-session/",
                             [("Cookie", "n8443_session=" + value)])
    assert st == 404
    time.sleep(3)
    mark = sserver.log_mark()
    st, _, _ = https_request(sserver, "/short-session/",
                             [("Cookie", "n8443_session=" + value)])
    assert st == 401
    assert "N8443100: session cookie expired" in sserver.log_since(mark)


def test_cookie_from_another_key_is_refused(base_dir, module_path, realm,
                                            certs, keytab, sserver, alice):
    other_key = write_key(os.path.join(base_dir, "other.key"))
    other = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-session-other",
                        extra_global="NegotiateSessionKeyFile %s" % other_key)
    try:
        value = fresh_cookie(other, alice)
        st, _, _ = https_request(sserver, "/session/",
                                 [("Cookie", "n8443_session=" + value)])
        assert st == 401
    finally:
        other.stop()


def test_farm_shares_the_key(base_dir, module_path, realm, certs, keytab,
                             keyfile, sserver, alice):
    twin = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                       name="httpd-session-twin",
                       extra_global="NegotiateSessionKeyFile %s" % keyfile)
    try:
        value = fresh_cookie(sserver, alice)
        st, h, _ = https_request(twin, "/session/",
                                 [("Cookie", "n8443_session=" + value)])
        assert st == 404
        assert h["X-Remote-User"] == "alice@TEST.N8443"
    finally:
        twin.stop()


def test_session_without_key_fails_at_startup(base_dir, module_path, realm,
                                              certs, keytab):
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-session-nokey")
    assert srv.start(expect_fail=True) != 0
    assert "N8443103: NegotiateSession On in server" in srv.output()


def key_case(base_dir, case):
    """A key file set up the way `case` says; returns its path."""
    path = os.path.join(base_dir, "key-%s" % case)
    if case == "symlink":
        target = write_key(path + ".real")
        os.symlink(target, path)
        return path
    write_key(path, b"short" if case == "short" else None)
    user = harness.ensure_user()
    pw = pwd.getpwnam(user) if user else None
    if case == "world-readable":
        os.chmod(path, 0o644)
    elif case == "group-writable":
        os.chmod(path, 0o620)
    elif case == "owned-by-httpd-user":
        os.chown(path, pw.pw_uid, pw.pw_gid)
    elif case == "httpd-group-readable":
        os.chown(path, 0, pw.pw_gid)
        os.chmod(path, 0o640)
    elif case == "fifo":
        os.unlink(path)
        os.mkfifo(path, 0o600)
    return path


@pytest.mark.parametrize("case,message", [
    ("short", "holds 5 bytes, not 32 random bytes"),
    ("world-readable", "is readable by everyone"),
    ("group-writable", "is writable by its group or by everyone (mode 0620)"),
    ("symlink", "is a symbolic link"),
    ("fifo", "is not a regular file"),
    ("owned-by-httpd-user", "is owned by 'n8443test'"),
    ("httpd-group-readable", "can be read through its group by the httpd "
                             "user 'n8443test'"),
])
def test_bad_key_file(base_dir, module_path, realm, certs, keytab, case,
                      message):
    """The key is read at start-up as root; the httpd user (any CGI or
    application running as it) must not be able to read or change it, so
    httpd -t and the start-up refuse, naming the file (and the user)."""
    if os.geteuid() != 0 and case in ("owned-by-httpd-user",
                                      "httpd-group-readable"):
        pytest.skip("needs root (a User to keep out)")
    path = key_case(base_dir, case)
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab, BODY,
                        name="httpd-badkey-%s" % case,
                        extra_global="NegotiateSessionKeyFile %s" % path)
    try:
        # A timeout: a FIFO at the key's path must not hang start-up.
        res = subprocess.run([srv.binary, "-t", "-f", srv.conf],
                             env=srv.env, capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("httpd -t hangs on the key file")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "NegotiateSessionKeyFile" in out and path in out, out
    assert message in out, out
    # And the server itself does not start.
    assert srv.start(expect_fail=True) != 0


def test_key_rotation(base_dir, module_path, realm, certs, keytab, alice):
    """NegotiateSessionKeyFile NEW OLD: cookies sealed with OLD still
    open, new ones are sealed with NEW; once OLD is dropped, its cookies
    no longer open."""
    old = write_key(os.path.join(base_dir, "rot-old.key"))
    new = write_key(os.path.join(base_dir, "rot-new.key"))
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rot-1",
                      extra_global="NegotiateSessionKeyFile %s" % old)
    try:
        old_cookie = fresh_cookie(srv, alice)
    finally:
        srv.stop()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rot-2",
                      extra_global="NegotiateSessionKeyFile %s %s" % (new,
                                                                      old))
    try:
        st, h, _ = https_request(srv, "/session/",
                                 [("Cookie", "n8443_session=" + old_cookie)])
        assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"
        new_cookie = fresh_cookie(srv, alice)
    finally:
        srv.stop()
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-rot-3",
                      extra_global="NegotiateSessionKeyFile %s" % new)
    try:
        st, h, _ = https_request(srv, "/session/",
                                 [("Cookie", "n8443_session=" + new_cookie)])
        assert st == 404 and h["X-Remote-User"] == "alice@TEST.N8443"
        mark = srv.log_mark()
        st, _, _ = https_request(srv, "/session/",
                                 [("Cookie", "n8443_session=" + old_cookie)])
        assert st == 401
        assert "N8443100: session cookie does not open" in \
            srv.log_since(mark)
    finally:
        srv.stop()


def status(srv):
    st, _, body = https_request(srv, "/negotiate8443-status")
    assert st == 200
    return json.loads(body)


def test_status_counters_move(base_dir, module_path, realm, certs, keytab,
                              alice):
    body = MINIMAL_BODY + """
  <Location /negotiate8443-status>
    SetHandler negotiate8443-status
    Require ip 127.0.0.1
  </Location>
"""
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, body,
                      name="httpd-status")
    try:
        s0 = status(srv)
        assert s0["logins"] == 0
        assert s0["replay_cache"]["backend"] == "shm"
        assert s0["replay_cache"]["capacity"] >= 600000
        _, tok = alice.token()
        assert https_request(srv, "/protected/", [negotiate(tok)])[0] == 200
        assert https_request(srv, "/protected/", [negotiate(tok)])[0] == 401
        _, other = alice.token(host="other.test.n8443")
        assert https_request(srv, "/protected/", [negotiate(other)])[0] == 401
        assert https_request(srv, "/protected/",
                             [("Authorization", "Negotiate !!")])[0] == 400
        ntlm = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="
        assert https_request(srv, "/protected/",
                             [("Authorization", "Negotiate " + ntlm)])[0] \
            == 401
        s1 = status(srv)
        assert s1["logins"] == 1
        assert s1["failures"]["replay"] == 1
        assert s1["failures"]["wrong_principal"] == 1
        assert s1["failures"]["malformed"] == 1
        assert s1["failures"]["ntlm"] == 1
        assert s1["replay_cache"]["entries"] == 1
        assert set(s1["failures"]) >= {"replay", "skew", "wrong_principal",
                                       "bad_bindings", "ntlm", "malformed",
                                       "other"}
    finally:
        srv.stop()
