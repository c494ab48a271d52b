"""The exchange of RFC 4559 against a real KDC and a real httpd: statuses,
headers and log lines for good logins and for every way a login goes wrong.
"""

import base64
import random

import pytest

from conftest import KRB5, SPNEGO, challenge_tokens, https_request, negotiate


def test_no_header_gets_challenge(server):
    status, headers, _ = https_request(server, "/protected/")
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ["Negotiate"]


def test_public_page_needs_no_login(server):
    status, _, body = https_request(server, "/")
    assert status == 200
    assert body == b"public\n"


def test_curl_negotiate_logs_in(server, alice):
    mark = server.log_mark()
    status, out = alice.curl(server.url("/protected/"))
    assert status == 200, out
    assert out.rstrip().endswith("secret")
    assert "X-Remote-User: alice@TEST.N8443" in out
    assert "N8443001: login of alice@TEST.N8443 accepted (krb5)" in \
        server.log_since(mark)


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
def test_python_gssapi_login_and_mutual_auth(server, alice, mech):
    ctx, tok = alice.token(mech=mech)
    status, headers, body = https_request(server, "/protected/",
                                          [negotiate(tok)])
    assert status == 200
    assert body == b"secret\n"
    assert headers["X-Remote-User"] == "alice@TEST.N8443"
    # Mutual authentication: the server's answer completes the context.
    answers = [t for t in challenge_tokens(headers) if t]
    assert len(answers) == 1
    assert not ctx.complete
    ctx.step(base64.b64decode(answers[0]))
    assert ctx.complete


def test_cgi_sees_identity(server, alice):
    status, out = alice.curl(server.url("/cgi-bin/env"))
    assert status == 200, out
    assert "REMOTE_USER=alice@TEST.N8443" in out
    assert "AUTH_TYPE=Negotiate" in out
    assert "NEGOTIATE_PRINCIPAL=alice@TEST.N8443" in out
    assert "NEGOTIATE_MECH=krb5" in out


def test_two_users_in_turn(server, alice, bob):
    for client, name in ((alice, "alice"), (bob, "bob"), (alice, "alice")):
        _, tok = client.token()
        status, headers, _ = https_request(server, "/protected/",
                                           [negotiate(tok)])
        assert status == 200
        assert headers["X-Remote-User"] == name + "@TEST.N8443"


@pytest.mark.parametrize("path,user,expected,code", [
    ("/short/", "alice", "alice", 404),    # no such directory: auth first
    ("/short/", "bob", "bob", 404),
    ("/local/", "alice", "alice.local", 404),  # auth_to_local_names rule
    ("/local/", "bob", "bob", 404),            # DEFAULT rule
    ("/protected/", "bob", "bob@TEST.N8443", 200),
])
def test_user_name_modes(server, alice, bob, path, user, expected, code):
    client = {"alice": alice, "bob": bob}[user]
    _, tok = client.token()
    status, headers, _ = https_request(server, path, [negotiate(tok)])
    assert status == code
    assert headers["X-Remote-User"] == expected


@pytest.mark.parametrize("path", ["/spn-explicit/", "/spn-hostname/"])
def test_explicit_service_principal_accepts(server, alice, path):
    _, tok = alice.token()
    status, headers, _ = https_request(server, path, [negotiate(tok)])
    assert status == 404
    assert headers["X-Remote-User"] == "alice@TEST.N8443"


def test_wrong_spn_is_refused_with_actionable_log(server, alice):
    """A ticket for a name the keytab has no key for."""
    mark = server.log_mark()
    _, tok = alice.token(host="other.test.n8443")
    status, headers, _ = https_request(server, "/protected/",
                                       [negotiate(tok)])
    assert status == 401
    assert "Negotiate" in headers.get_all("WWW-Authenticate")
    log = server.log_since(mark)
    assert "N8443020: login refused (wrong_principal): client asked for " \
        "HTTP/other.test.n8443@TEST.N8443 kvno 1" in log
    assert "N8443034: client asked for HTTP/other.test.n8443@TEST.N8443; " \
        "keytab " in log
    assert "holds: HTTP/localhost@TEST.N8443 kvno 1 " in log


def test_plain_http_refused(server, alice):
    mark = server.log_mark()
    _, tok = alice.token()
    status, _, _ = https_request(server, "/protected/", [negotiate(tok)],
                                 plain=True)
    assert status == 403
    assert "N8443002: Negotiate over plain HTTP refused (403)" in \
        server.log_since(mark)


def test_plain_http_allowed_when_tls_not_required(server):
    status, headers, _ = https_request(server, "/notls/", plain=True)
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ["Negotiate"]


NTLM_NEGOTIATE = base64.b64decode(
    "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")


def malformed_cases(alice):
    _, tok = alice.token()
    rnd = random.Random(8443)
    return [
        ("not token68", "Negotiate !!!not*base64!!!", 400, "N8443018"),
        ("bad base64", "Negotiate YW-j", 400, "N8443022"),
        ("empty", "Negotiate", 400, "N8443017"),
        ("empty with spaces", "Negotiate   ", 400, "N8443017"),
        ("oversize", "Negotiate " + base64.b64encode(
            b"\x60" * 5000).decode(), 400, "N8443019"),
        ("truncated", "Negotiate " + base64.b64encode(
            tok[:len(tok) // 2]).decode(), 400, "N8443013"),
        ("random bytes", "Negotiate " + base64.b64encode(
            bytes(rnd.randrange(256) for _ in range(300))).decode(), 400,
         "N8443013"),
        ("two tokens", "Negotiate abcd efgh", 400, "N8443018"),
        ("wrong scheme", "Bearer abc.def", 401, "N8443016"),
        ("basic not offered", "Basic YWxpY2U6cHc=", 401, "N8443016"),
        ("ntlm", "Negotiate " + base64.b64encode(NTLM_NEGOTIATE).decode(),
         401, "N8443010: client sent an NTLM token inside Negotiate"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_malformed_inputs(server, alice, case):
    name, value, expected, logtag = malformed_cases(alice)[case]
    mark = server.log_mark()
    status, headers, _ = https_request(server, "/protected/",
                                       [("Authorization", value)])
    assert status == expected, name
    if expected == 401:
        assert headers.get_all("WWW-Authenticate") == ["Negotiate"]
    assert logtag in server.log_since(mark), name


def test_repeated_authorization_header_is_400(server, alice):
    _, tok1 = alice.token()
    _, tok2 = alice.token()
    status, _, _ = https_request(server, "/protected/",
                                 [negotiate(tok1), negotiate(tok2)])
    assert status == 400


def test_no_child_died(server):
    log = open(server.error_log, errors="replace").read()
    assert "exit signal" not in log
    assert "Segmentation fault" not in log


def test_same_token_twice_is_a_replay(server, alice):
    _, tok = alice.token()
    status, _, _ = https_request(server, "/protected/", [negotiate(tok)])
    assert status == 200
    mark = server.log_mark()
    status, headers, _ = https_request(server, "/protected/",
                                       [negotiate(tok)])
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ["Negotiate"]
    assert "N8443025: login refused (replay)" in server.log_since(mark)
