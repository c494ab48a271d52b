"""Basic fallback and the negotiate8443 authn provider: a password is good
only if the KDC accepts it AND the resulting ticket verifies with the
service keytab.  Every other case is a refusal (never 200, never 500), and
the log says why."""

import base64
import os

import pytest

import harness
from conftest import PASSWORDS, https_request, negotiate, start_httpd

BODY = """
  Header always set X-Mech "expr=%{reqenv:NEGOTIATE_MECH}"
  Header always set X-Principal "expr=%{reqenv:NEGOTIATE_PRINCIPAL}"
  <Location /fallback>
    AuthType Negotiate
    AuthName "n8443 fallback"
    NegotiateBasicFallback On
    Require valid-user
  </Location>
  <Location /provider>
    AuthType Basic
    AuthName "n8443 provider"
    AuthBasicProvider negotiate8443
    Require valid-user
  </Location>
  <Location /provider-principal>
    AuthType Basic
    AuthName "n8443 provider"
    AuthBasicProvider negotiate8443
    NegotiateUserName principal
    Require valid-user
  </Location>
  <Location /provider-short-not-alice>
    AuthType Basic
    AuthName "n8443 provider"
    AuthBasicProvider negotiate8443
    NegotiateUserName short
    <RequireAll>
      Require valid-user
      Require not user alice
    </RequireAll>
  </Location>
"""


def basic(user, password):
    raw = (user if isinstance(user, bytes) else user.encode()) + b":" + (
        password if isinstance(password, bytes) else password.encode())
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


@pytest.fixture(scope="module")
def bserver(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-basic")
    yield srv
    srv.stop()


def test_fallback_offers_both_challenges(bserver):
    st, headers, _ = https_request(bserver, "/fallback/")
    assert st == 401
    assert headers.get_all("WWW-Authenticate") == [
        "Negotiate", 'Basic realm="n8443 fallback"']


@pytest.mark.parametrize("path", ["/fallback/", "/provider/"])
def test_right_password(bserver, path):
    mark = bserver.log_mark()
    st, headers, _ = https_request(bserver, path,
                                   [basic("alice", PASSWORDS["alice"])])
    assert st == 404        # authenticated; the directory does not exist
    assert headers["X-Remote-User"] in ("alice@TEST.N8443", "alice")
    assert headers["X-Mech"] == "basic"
    assert headers["X-Principal"] == "alice@TEST.N8443"
    if path == "/fallback/":
        assert "N8443083: login of alice@TEST.N8443 accepted (basic, " \
            "verified with the keytab)" in bserver.log_since(mark)


@pytest.mark.parametrize("typed", ["alice", "alice@TEST.N8443"])
def test_provider_remote_user_is_the_mapped_principal(bserver, typed):
    # REMOTE_USER is the verified principal mapped with NegotiateUserName,
    # as for the fallback, not the name the client typed.
    st, headers, _ = https_request(bserver, "/provider-principal/",
                                   [basic(typed, PASSWORDS["alice"])])
    assert st == 404
    assert headers["X-Remote-User"] == "alice@TEST.N8443"


@pytest.mark.parametrize("typed", ["alice", "alice@TEST.N8443"])
def test_provider_require_not_user_sees_the_mapped_name(bserver, typed):
    # Typing the realm must not get alice past 'Require not user alice'.
    st, headers, _ = https_request(bserver, "/provider-short-not-alice/",
                                   [basic(typed, PASSWORDS["alice"])])
    assert st in (401, 403)
    st, headers, _ = https_request(bserver, "/provider-short-not-alice/",
                                   [basic("bob@TEST.N8443",
                                          PASSWORDS["bob"])])
    assert st == 404
    assert headers["X-Remote-User"] == "bob"


def test_negotiate_still_works_on_fallback_location(bserver, alice):
    st, headers, _ = https_request(bserver, "/fallback/",
                                   [negotiate(alice.token()[1])])
    assert st == 404
    assert headers["X-Mech"] == "krb5"


@pytest.mark.parametrize("path", ["/fallback/", "/provider/"])
@pytest.mark.parametrize("case,user,password,reason", [
    ("wrong password", "alice", "not-her-password", "(password)"),
    ("unknown user", "mallory", "whatever", "(password)"),
    ("foreign realm", "alice@OTHER.EXAMPLE", PASSWORDS["alice"],
     "(realm not served)"),
    ("over-long user", "a" * 300, "pw", "over-long"),
    ("non-UTF-8 user", b"al\xe9ice", "pw", "non-UTF-8"),
    ("non-UTF-8 password", "alice", b"pw\xff\xfe", "non-UTF-8"),
    ("over-long password", "alice", "p" * 2000, "over-long"),
])
def test_refusals(bserver, path, case, user, password, reason):
    mark = bserver.log_mark()
    st, headers, _ = https_request(bserver, path, [basic(user, password)])
    assert st == 401, case
    log = bserver.log_since(mark)
    assert reason in log, (case, log)


@pytest.mark.parametrize("raw", [b":pw", b"alice", b"alice\x00x:pw",
                                 b"ali\x01ce:pw"])
def test_malformed_basic_is_400_on_fallback(bserver, raw):
    value = "Basic " + base64.b64encode(raw).decode()
    st, _, _ = https_request(bserver, "/fallback/",
                             [("Authorization", value)])
    assert st == 400


def test_kdc_down_refuses_cleanly(bserver, realm, alice):
    realm.stop_kdc()
    try:
        mark = bserver.log_mark()
        st, _, _ = https_request(bserver, "/fallback/",
                                 [basic("alice", PASSWORDS["alice"])])
        assert st == 401
        assert "(KDC unreachable)" in bserver.log_since(mark)
        # Negotiate needs no KDC on the server side.
        st, _, _ = https_request(bserver, "/fallback/",
                                 [negotiate(alice.token()[1])])
        assert st == 404
    finally:
        realm.start_kdc()


def test_kdc_impostor_cannot_log_anyone_in(base_dir, module_path, realm,
                                           certs, keytab):
    """A second KDC that serves the same realm name and knows alice's
    password, but not the service key: the ticket it issues does not
    verify with our keytab."""
    impostor_base = os.path.join(base_dir, "impostor")
    os.makedirs(impostor_base)
    impostor = harness.Realm(impostor_base)
    try:
        impostor.add_user("alice", "impostor-pw")
        impostor.add_service("HTTP/localhost")   # a different random key
        srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                          name="httpd-basic-impostor",
                          env_extra={"KRB5_CONFIG": impostor.krb5_conf})
        try:
            mark = srv.log_mark()
            st, _, _ = https_request(srv, "/fallback/",
                                     [basic("alice", "impostor-pw")])
            assert st == 401
            log = srv.log_since(mark)
            assert "(KDC not verified)" in log
            st, _, _ = https_request(srv, "/provider/",
                                     [basic("alice", "impostor-pw")])
            assert st == 401
        finally:
            srv.stop()
    finally:
        impostor.close()


def test_no_500_and_no_crash(bserver):
    log = open(bserver.error_log, errors="replace").read()
    assert "exit signal" not in log
    access = open(os.path.join(bserver.dir, "access.log")).read()
    assert '" 500' not in access
