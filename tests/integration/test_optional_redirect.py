"""NegotiateOptional and internal redirects (F4 of the outside review):
a redirect of a request whose credentials did not log in stays anonymous
at an optional location (test_redteam_sso.py: the ErrorDocument); one of
a request that never looked at them (no AuthType Negotiate there) still
logs in with them, and one of a request that logged in keeps that
login."""

import os

import pytest

import harness
from conftest import location, negotiate, script_aliases
from test_proxy import Conn, REDIR_CGI, cgi_env

ALICE = "alice@TEST.N8443"


def body(cgi):
    return "\n" + script_aliases(cgi, "plain", "opt", "members") + \
        location("/opt/", "NegotiateOptional On", require="all granted") + \
        location("/members/", "ErrorDocument 401 /opt/env")


@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab):
    name = "httpd-optional-redirect"
    cgi = os.path.join(base_dir, name, "cgi-bin")
    s = harness.Httpd(base_dir, module_path, realm, certs, keytab,
                      body(cgi), name=name,
                      extra_global="LogLevel info negotiate8443:debug "
                                   "ssl:warn")
    s.ca = certs.ca
    harness.write_script(os.path.join(cgi, "redir"), REDIR_CGI)
    s.start()
    yield s
    s.stop()


def get(srv, path, headers=()):
    c = Conn(srv.port, srv.ca)
    try:
        return c.get(path, headers)
    finally:
        c.close()


def test_redirect_from_a_public_location_logs_in(srv, alice):
    """/plain/ has no AuthType Negotiate: its redirect to the optional
    location is the first to look at the token, which logs in."""
    st, h, text = get(srv, "/plain/redir?/opt/env",
                      [negotiate(alice.token()[1])])
    assert st == 200, text
    assert cgi_env(text).get("REMOTE_USER") == ALICE, text


def test_redirect_of_a_login_keeps_it(srv, alice):
    st, h, text = get(srv, "/opt/redir?/opt/env",
                      [negotiate(alice.token()[1])])
    assert st == 200, text
    assert cgi_env(text).get("REMOTE_USER") == ALICE, text


def test_error_document_of_a_refused_token_is_anonymous(srv, alice):
    _, tok = alice.token(host="other.test.n8443")
    mark = srv.log_mark()
    st, h, text = get(srv, "/members/env", [negotiate(tok)])
    log = srv.log_since(mark)
    assert st == 401, text
    assert not cgi_env(text).get("REMOTE_USER"), text
    assert log.count("N8443020") == 1, log
    assert "N8443430" in log, log


def test_error_document_without_credentials_is_anonymous(srv):
    st, h, text = get(srv, "/members/env")
    assert st == 401, text
    assert not cgi_env(text).get("REMOTE_USER"), text
    assert h.get_all("WWW-Authenticate") == ["Negotiate"], h
