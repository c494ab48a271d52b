"""An anonymous login (RFC 8062, WELLKNOWN/ANONYMOUS) kept beyond its
request opens only locations with NegotiateAllowAnonymous On: the
session cookie (test_redteam_sso.py), the connection's login
(NegotiateConnectionAuth), an internal redirect and a sub-request of the
request that logged in.  Each path has its control: alice's login is
reused there (the reuse works, only the anonymous one is refused).

From an outside review (F5): n8443_login_misfit() did not look at
NegotiateAllowAnonymous."""

import os

import pytest

import harness
from conftest import location, negotiate, script_aliases
from test_fast_path import forged
from test_proxy import (BACKEND_USER, REDIR_CGI, SSI, Conn, cgi_env,
                        write_ssi_page)

ANON = "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS"
ALICE = "alice@TEST.N8443"


def body(cgi, htdocs):
    anon = "NegotiateAllowAnonymous On"
    return "\n" + BACKEND_USER + script_aliases(cgi, "anon", "members") + \
        "  Alias /anonssi/ %s/anonssi/\n" % htdocs + \
        location("/anon/", anon, "NegotiateConnectionAuth On") + \
        location("/anonssi/", anon, before=SSI) + \
        location("/members/", "NegotiateConnectionAuth On")


@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab):
    name = "httpd-anonymous-reuse"
    cgi = os.path.join(base_dir, name, "cgi-bin")
    htdocs = os.path.join(base_dir, name, "htdocs")
    moddir = harness.apxs("LIBEXECDIR")
    extra = "\n".join([
        "LoadModule include_module %s/mod_include.so" % moddir,
        "MaxKeepAliveRequests 0",
        "KeepAliveTimeout 60"])
    s = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                      body(cgi, htdocs), name=name, extra_global=extra)
    s.ca = certs.ca
    harness.write_script(os.path.join(cgi, "redir"), REDIR_CGI)
    write_ssi_page(htdocs, "anonssi",
                   'members:<!--#include virtual="/members/env" -->:\n')
    s.start()
    yield s
    s.stop()


@pytest.fixture
def tokens(realm, keytab, alice):
    return {ANON: lambda: forged(realm, keytab, ANON),
            ALICE: lambda: alice.token()[1]}


@pytest.mark.parametrize("user", [ANON, ALICE])
def test_connection_login(srv, tokens, user):
    c = Conn(srv.port, srv.ca)
    try:
        st, h, _ = c.get("/anon/env", [negotiate(tokens[user]())])
        assert st == 200 and h["X-Backend-User"] == user
        mark = srv.log_mark()
        st, h, _ = c.get("/members/env")
        if user == ANON:
            assert st == 401 and not h.get("X-Backend-User"), st
            assert "NegotiateAllowAnonymous Off" in srv.log_since(mark)
        else:
            assert st == 200 and h["X-Backend-User"] == ALICE
    finally:
        c.close()


@pytest.mark.parametrize("user", [ANON, ALICE])
def test_internal_redirect(srv, tokens, user):
    c = Conn(srv.port, srv.ca)
    try:
        mark = srv.log_mark()
        st, h, text = c.get("/anon/redir?/members/env",
                            [negotiate(tokens[user]())])
        if user == ANON:
            assert st == 401, text
            assert "REMOTE_USER" not in cgi_env(text), text
            log = srv.log_since(mark)
            assert "N8443224" in log and "NegotiateAllowAnonymous" in log
        else:
            assert st == 200, text
            assert cgi_env(text)["REMOTE_USER"] == ALICE
    finally:
        c.close()


@pytest.mark.parametrize("user", [ANON, ALICE])
def test_sub_request(srv, tokens, user):
    c = Conn(srv.port, srv.ca)
    try:
        st, h, text = c.get("/anonssi/page.shtml",
                            [negotiate(tokens[user]())])
        assert st == 200 and h["X-Backend-User"] == user
        page = text.decode(errors="replace")
        if user == ANON:
            assert "REMOTE_USER" not in page and "error occurred" in page, \
                page
        else:
            assert "REMOTE_USER=" + ALICE in page, page
    finally:
        c.close()
