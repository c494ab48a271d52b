"""A 401 decided after the login (Require user that does not name the
client: mod_authz_core calls ap_note_auth_failure) still carries the
challenge, as mod_auth_basic's note_auth_failure hook does for Basic: the
client is asked for a new login instead of getting a bare 401, and httpd
does not log that AuthType Negotiate has no module (AH01796)."""

import base64

import pytest

from conftest import PASSWORDS, https_request, negotiate, start_httpd

BODY = """
  <Location /protected>
    AuthType Negotiate
    Require user bob@TEST.N8443
  </Location>
  <Location /protected/basic>
    AuthType Negotiate
    AuthName "bob's"
    NegotiateBasicFallback On
    Require user bob@TEST.N8443
  </Location>
"""


@pytest.fixture(scope="module")
def srv(base_dir, module_path, realm, certs, keytab):
    s = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                    name="httpd-auth-failure")
    yield s
    s.stop()


def test_authz_401_after_login_carries_the_challenge(srv, alice):
    _, tok = alice.token()
    mark = srv.log_mark()
    status, headers, _ = https_request(srv, "/protected/", [negotiate(tok)])
    assert status == 401
    # The challenge alone: no AP-REP for a login that does not count.
    assert headers.get_all("WWW-Authenticate") == ["Negotiate"]
    log = srv.log_since(mark)
    assert "N8443001: login of alice@TEST.N8443 accepted" in log
    assert "AH01796" not in log


def test_authz_401_offers_basic_where_the_location_does(srv, alice):
    _, tok = alice.token()
    status, headers, _ = https_request(srv, "/protected/basic/",
                                       [negotiate(tok)])
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == [
        "Negotiate", "Basic realm=\"bob's\""]
    cred = base64.b64encode(
        ("alice:" + PASSWORDS["alice"]).encode()).decode()
    status, headers, _ = https_request(srv, "/protected/basic/",
                                       [("Authorization", "Basic " + cred)])
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == [
        "Negotiate", "Basic realm=\"bob's\""]


def test_the_user_named_gets_in(srv, bob):
    _, tok = bob.token()
    status, headers, _ = https_request(srv, "/protected/", [negotiate(tok)])
    assert status != 401
    assert headers.get_all("WWW-Authenticate") is not None
