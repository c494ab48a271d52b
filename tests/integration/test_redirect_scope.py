"""What an internal redirect or sub-request may reuse of an earlier
login, by how that login was made; and that any Authorization ends a
connection login, wherever it is sent.

A login made without a token on its request -- the connection's login
(NegotiateConnectionAuth), a session cookie (NegotiateSession), a
password (NegotiateBasicFallback) -- is reused by an internal redirect (a
CGI's local Location:, ErrorDocument) or a sub-request (SSI include
virtual) only where the target location offers that kind of login: a
direct request there without a token gets 401, and the redirect must not
do better.  A login with a token on the request is reused wherever the
target's credential set, binding and mechanism fit (test_proxy.py).

From an outside review (findings F3, F4); the session cookie's own scope
(F1, F2) is tested in test_session_scope.py."""

import os

import pytest

import harness
from conftest import location, negotiate, script_aliases
from test_proxy import (BACKEND_USER, REDIR_CGI, SSI, Conn, basic, cgi_env,
                        write_key, write_ssi_page)

ALICE = "alice@TEST.N8443"


def body(cgi, htdocs):
    conn = "NegotiateConnectionAuth On"
    return "\n" + BACKEND_USER + \
        script_aliases(cgi, "conn", "conn2", "neg", "sess", "sess2", "fb",
                       "pw") + """\
  Alias /connssi/ {htdocs}/connssi/
  RewriteEngine On
  RewriteRule ^/conn-pt/(.*)$ /neg/$1 [PT]
""".format(htdocs=htdocs) + \
        location("/conn/", conn, "ErrorDocument 404 /neg/env") + \
        location("/conn2/", conn, "ErrorDocument 404 /conn/env") + \
        location("/conn-pt/", conn) + \
        location("/connssi/", conn, before=SSI) + location("/neg/") + \
        location("/sess/", "NegotiateSession On") + \
        location("/sess2/", "NegotiateSession On") + \
        location("/fb/", 'AuthName "fallback"',
                 "NegotiateBasicFallback On") + """\
  <Location /pw/>
    AuthType Basic
    AuthName "passwords"
    AuthBasicProvider negotiate8443
    Require valid-user
  </Location>
"""


@pytest.fixture(scope="module")
def rs(base_dir, module_path, realm, certs, keytab):
    name = "httpd-redirect-scope"
    cgi = os.path.join(base_dir, name, "cgi-bin")
    htdocs = os.path.join(base_dir, name, "htdocs")
    key = write_key(os.path.join(base_dir, "redirect-scope-session.key"))
    moddir = harness.apxs("LIBEXECDIR")
    extra = "\n".join([
        "LoadModule rewrite_module %s/mod_rewrite.so" % moddir,
        "LoadModule include_module %s/mod_include.so" % moddir,
        "NegotiateSessionKeyFile %s" % key,
        "MaxKeepAliveRequests 0",
        "KeepAliveTimeout 60"])
    srv = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                        body(cgi, htdocs), name=name, extra_global=extra)
    srv.ca = certs.ca
    harness.write_script(os.path.join(cgi, "redir"), REDIR_CGI)
    write_ssi_page(htdocs, "connssi",
                   'neg:<!--#include virtual="/neg/env" -->:\n'
                   'conn2:<!--#include virtual="/conn2/env" -->:\n')
    srv.start()
    yield srv
    srv.stop()


def session_cookie(h):
    for v in h.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v.split(";")[0]
    return None


def connection_login(srv, alice):
    """A connection that logged in as alice at /conn/."""
    c = Conn(srv.port, srv.ca)
    st, h, _ = c.get("/conn/env", [negotiate(alice.token()[1])])
    assert st == 200 and h["X-Backend-User"] == ALICE
    return c


@pytest.fixture(scope="module")
def cookie(rs, alice):
    """A session cookie of alice's from /sess/."""
    c = Conn(rs.port, rs.ca)
    try:
        st, h, _ = c.get("/sess/env", [negotiate(alice.token()[1])])
        assert st == 200
        value = session_cookie(h)
        assert value
        return value
    finally:
        c.close()


# ------------------------------------------------------ connection logins

@pytest.mark.parametrize("target,user", [
    ("/neg/env", None),                 # no NegotiateConnectionAuth
    ("/sess/env", None),                # sessions, but no connection auth
    ("/fb/env", None),                  # Basic fallback, no connection auth
    ("/conn2/env", ALICE),              # connection auth, same scope
    # Carried on through a second redirect, still a connection login.
    ("/conn2/redir?/neg/env", None),
    ("/conn2/redir?/conn/env", ALICE),
])
def test_connection_login_redirected(rs, alice, target, user):
    c = connection_login(rs, alice)
    try:
        # Directly, without a token: what the redirect may not beat.
        st, h, _ = c.get(target.split("?")[-1])
        assert (st == 200) == (user is not None)
        mark = rs.log_mark()
        st, h, text = c.get("/conn/redir?" + target)
        env = cgi_env(text)
        if user is None:
            assert st == 401, text
            assert "REMOTE_USER" not in env, text
            log = rs.log_since(mark)
            assert "N8443224" in log and "connection login" in log, log
        else:
            assert st == 200, text
            assert env["REMOTE_USER"] == user
        # The connection's login is still good where it was made.
        st, h, _ = c.get("/conn/env")
        assert st == 200 and h["X-Backend-User"] == ALICE
    finally:
        c.close()


def test_token_login_is_reused_where_it_fits(rs, alice):
    """The request that carries the token: its login is reused at /neg/
    (same credential set), as before."""
    c = Conn(rs.port, rs.ca)
    try:
        st, h, text = c.get("/conn/redir?/neg/env",
                            [negotiate(alice.token()[1])])
        assert st == 200, text
        assert cgi_env(text)["REMOTE_USER"] == ALICE
        # ... and the connection keeps it (the redirect, which carries
        # the same Authorization header, does not end it).
        st, h, _ = c.get("/conn/env")
        assert st == 200 and h["X-Backend-User"] == ALICE
    finally:
        c.close()


def test_connection_login_errordocument(rs, alice):
    """ErrorDocument 404 /neg/env in /conn/: the error page is not run as
    the connection's user; from /conn2/ to /conn/ it is."""
    c = connection_login(rs, alice)
    try:
        st, h, text = c.get("/conn/no-such-script")
        assert st == 404
        assert b"alice" not in text, text
        st, h, text = c.get("/conn2/no-such-script")
        assert st == 404
        assert cgi_env(text).get("REMOTE_USER") == ALICE, text
    finally:
        c.close()


def test_connection_login_ssi_include(rs, alice):
    c = connection_login(rs, alice)
    try:
        st, h, text = c.get("/connssi/page.shtml")
        assert st == 200 and h["X-Backend-User"] == ALICE
        neg, conn2 = text.decode(errors="replace").split("conn2:", 1)
        assert "alice" not in neg and "error occurred" in neg, text
        assert "REMOTE_USER=" + ALICE in conn2, text
    finally:
        c.close()


def test_connection_login_rewrite_passthrough(rs, alice):
    """mod_rewrite [PT] is no redirect: the target's configuration
    applies from the start."""
    c = connection_login(rs, alice)
    try:
        st, h, text = c.get("/conn-pt/env")
        assert st == 401, text
    finally:
        c.close()


# ------------------------------------------------------- session cookies

@pytest.mark.parametrize("target,user", [
    ("/neg/env", None),                 # no NegotiateSession
    ("/conn2/env", None),               # connection auth, no session
    ("/fb/env", None),
    ("/sess2/env", ALICE),              # NegotiateSession On
    ("/sess2/redir?/neg/env", None),
])
def test_session_login_redirected(rs, cookie, target, user):
    c = Conn(rs.port, rs.ca)
    try:
        ck = [("Cookie", cookie)]
        st, h, _ = c.get(target.split("?")[-1], ck)
        assert (st == 200) == (user is not None)
        mark = rs.log_mark()
        st, h, text = c.get("/sess/redir?" + target, ck)
        env = cgi_env(text)
        if user is None:
            assert st == 401, text
            assert "REMOTE_USER" not in env, text
            log = rs.log_since(mark)
            assert "N8443224" in log and "session cookie" in log, log
        else:
            assert st == 200, text
            assert env["REMOTE_USER"] == user
    finally:
        c.close()


# ----------------------------------------------------------------- Basic

@pytest.mark.parametrize("target,user", [
    ("/conn2/env", None),               # no NegotiateBasicFallback
    ("/sess2/env", None),
    ("/fb/env", ALICE),
])
def test_basic_login_redirected(rs, target, user):
    c = Conn(rs.port, rs.ca)
    try:
        st, h, text = c.get("/fb/redir?" + target,
                            [basic("alice", "alice-pw-1")])
        if user is None:
            assert st == 401, text
        else:
            assert st == 200, text
            assert cgi_env(text)["REMOTE_USER"] == user
    finally:
        c.close()


# ----------------------------------- any Authorization ends the login

@pytest.mark.parametrize("path,header", [
    ("/", ("Authorization", "Basic Ym9iOnB3")),     # a public page
    ("/", ("Authorization", "")),
    ("/no-such-page", ("Authorization", "Bearer x")),
    ("/pw/env", basic("alice", "alice-pw-1")),      # AuthType Basic
])
def test_any_authorization_ends_the_connection_login(rs, alice, path,
                                                     header):
    """README: 'Any Authorization ends it' -- also where the module does
    not run AuthType Negotiate."""
    c = connection_login(rs, alice)
    try:
        mark = rs.log_mark()
        st, h, _ = c.get(path, [header])
        assert st in (200, 403, 404), st
        st, h, text = c.get("/conn/env")
        assert st == 401, text
        assert not h["X-Backend-User"]
        assert "N8443226" in rs.log_since(mark)
    finally:
        c.close()


def test_ssi_page_with_a_token_keeps_the_login(rs, alice):
    """The sub-requests of a request with a token see its Authorization
    too: they do not end the login it made."""
    c = Conn(rs.port, rs.ca)
    try:
        st, h, text = c.get("/connssi/page.shtml",
                            [negotiate(alice.token()[1])])
        assert st == 200 and h["X-Backend-User"] == ALICE
        st, h, _ = c.get("/conn/env")
        assert st == 200 and h["X-Backend-User"] == ALICE
    finally:
        c.close()


def test_pipelined_authorization_at_a_public_page(rs, alice):
    """A login and three more requests in one write (HTTP/1.1
    pipelining): the third, to a page the module does not guard, carries
    another scheme's Authorization; the fourth is not alice's."""
    import re
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=rs.ca)
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", rs.port),
                                                 timeout=10))
    host = "Host: localhost:%d\r\n" % rs.port
    reqs = ("GET /conn/env HTTP/1.1\r\n" + host
            + "%s: %s\r\n\r\n" % negotiate(alice.token()[1])
            + "GET /conn/env HTTP/1.1\r\n" + host + "\r\n"
            + "GET / HTTP/1.1\r\n" + host + "Authorization: Bearer x\r\n\r\n"
            + "GET /conn/env HTTP/1.1\r\n" + host
            + "Connection: close\r\n\r\n")
    try:
        s.sendall(reqs.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    statuses = re.findall(r"HTTP/1\.1 (\d\d\d) ", data.decode(errors="replace"))
    assert len(statuses) == 4, data
    assert statuses[0:2] == ["200", "200"] and statuses[3] == "401", data
