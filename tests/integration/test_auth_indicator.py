"""Require negotiate-auth-indicator against an MIT KDC (issue 18): the KDC
of a realm of this module's own asserts the indicator "hardened" into
tickets obtained with SPAKE pre-authentication (spake_preauth_indicator);
stepup must pre-authenticate (+requires_preauth) and so gets it, plain
does not.  Both login paths: the fast path leaves a ticket with a CAMMAC
(where MIT keeps indicators) to GSS-API, which verifies and reads it.
A ticket from an MIT KDC has no PAC: a group rule never holds for it."""

import os

import pytest

import harness
from conftest import KRB5, SPNEGO, Client, https_request, location, negotiate

USERS = {"stepup": "stepup-pw-1", "plain": "plain-pw-2"}

SHOW_IND = 'Header always set X-Ind "expr=%{reqenv:NEGOTIATE_AUTH_INDICATORS}"'
FORBID = "AuthzSendForbiddenOnFailure On"
HARDENED = "negotiate-auth-indicator hardened"

# "hardened" asked for on GSS-API alone (also test_redteam_ad.py's).
HARDENED_GSS = location("/hardened-gss", "NegotiateFastPath Off", FORBID,
                        require=HARDENED, after=(SHOW_IND,))

BODY = "\n" + location("/hardened", FORBID,
                       require="negotiate-auth-indicator otp hardened",
                       after=(SHOW_IND,)) + HARDENED_GSS + \
    location("/pkinit", FORBID, require="negotiate-auth-indicator pkinit") + \
    location("/any", after=(SHOW_IND,)) + \
    location("/group", FORBID, require="negotiate-group S-1-5-21-1-2-3-513")


@pytest.fixture(scope="module")
def ind_realm(base_dir):
    with harness.indicator_realm(os.path.join(base_dir, "indicators"),
                                 USERS) as r:
        yield r


@pytest.fixture(scope="module")
def isrv(ind_realm, base_dir, module_path, certs):
    kt = os.path.join(base_dir, "indicators", "http.keytab")
    harness.httpd_keytab(ind_realm, kt, ["HTTP/localhost"])
    srv = harness.Httpd(base_dir, module_path, ind_realm, certs, kt, BODY,
                        name="httpd-indicators")
    srv.ca = certs.ca
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def users(ind_realm, certs):
    return {u: Client(ind_realm, certs, u, USERS) for u in USERS}


def get(srv, client, path, mech=SPNEGO):
    mark = srv.log_mark()
    st, h, _ = https_request(srv, path, [negotiate(client.token(
        mech=mech)[1])])
    return st, h, srv.log_since(mark)


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("path", ["/hardened/", "/hardened-gss/"])
def test_spake_login_carries_hardened(isrv, users, path, mech):
    st, h, log = get(isrv, users["stepup"], path, mech)
    assert st == 404, log
    assert h["X-Ind"] == "hardened"
    # A ticket with indicators is GSS-API's to read (its CAMMAC).
    assert "N8443001: login of stepup@TEST.N8443 accepted (krb5)" in log
    assert "by the fast path" not in log


@pytest.mark.parametrize("mech", [SPNEGO, KRB5], ids=["spnego", "raw-krb5"])
@pytest.mark.parametrize("path", ["/hardened/", "/hardened-gss/"])
def test_password_login_is_refused(isrv, users, path, mech):
    st, h, log = get(isrv, users["plain"], path, mech)
    assert st == 403, log
    assert "N8443001: login of plain@TEST.N8443 accepted" in log
    assert ("by the fast path" in log) == (path == "/hardened/")
    assert "N8443390: Require negotiate-auth-indicator" in log
    assert "the ticket of plain@TEST.N8443 carries no authentication " \
        "indicator: denied" in log


def test_other_indicator_is_refused(isrv, users):
    st, _, log = get(isrv, users["stepup"], "/pkinit/")
    assert st == 403, log
    assert "the ticket of stepup@TEST.N8443 carries only hardened" in log


def test_indicator_variable(isrv, users):
    st, h, _ = get(isrv, users["stepup"], "/any/")
    assert st == 404 and h["X-Ind"] == "hardened"
    st, h, _ = get(isrv, users["plain"], "/any/")
    assert st == 404 and h["X-Ind"] in ("", "(null)")


def test_mit_ticket_has_no_pac_so_no_group(isrv, users):
    for user in USERS:
        st, _, log = get(isrv, users[user], "/group/")
        assert st == 403, log
        assert "N8443386: Require negotiate-group: the ticket of " \
            "%s@TEST.N8443 has no PAC with groups (an MIT KDC issues none" \
            % user in log
        assert "N8443383" not in log


@pytest.mark.parametrize("content,message", [
    ("web-users S-1-5-21-1-2-3-1105\nbroken\n", ':2: expected "name SID"'),
    ("# comment\nweb-users S-1-5-21-1-2-x\n",
     ":2: 'S-1-5-21-1-2-x' is not a SID"),
    ("S-1-5-21-1-2-3 S-1-5-21-1-2-3-4\n",
     ":1: 'S-1-5-21-1-2-3' is not a group name"),
    ("a S-1-5-1\na S-1-5-2\n", ":2: 'a' is mapped twice"),
    ("a S-1-5-1 extra\n", ':1: expected "name SID"'),
    (None, ": cannot be read"),
    ("fifo", ": not a regular file"),
], ids=["bad-line", "bad-sid", "sid-as-name", "twice", "three-words",
        "missing", "fifo"])
def test_bad_group_map_stops_httpd(ind_realm, base_dir, module_path, certs,
                                   content, message, tmp_path):
    """A bad NegotiateGroupMap is a start-up error naming the file and
    the line (and a FIFO does not hang httpd -t)."""
    path = str(tmp_path / "groups.map")
    if content == "fifo":
        os.mkfifo(path)
    elif content is not None:
        with open(path, "w") as f:
            f.write(content)
    srv = harness.Httpd(base_dir, module_path, ind_realm, certs, None,
                        "", name="httpd-badmap-%s" % tmp_path.name,
                        extra_global="NegotiateGroupMap %s" % path)
    import subprocess
    res = subprocess.run([srv.binary, "-t", "-f", srv.conf], env=srv.env,
                         capture_output=True, text=True, timeout=20)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "NegotiateGroupMap " + path + message in out, out


@pytest.mark.parametrize("line,message", [
    ("Require negotiate-group S-1-5-21-x", "'S-1-5-21-x' is not a SID"),
    ("Require negotiate-group", "name at least one group"),
    ("Require negotiate-auth-indicator", "name at least one indicator"),
])
def test_bad_require_line_stops_httpd(ind_realm, base_dir, module_path,
                                      certs, line, message, tmp_path):
    body = "<Location /x>\n AuthType Negotiate\n %s\n</Location>\n" % line
    srv = harness.Httpd(base_dir, module_path, ind_realm, certs, None, body,
                        name="httpd-badreq-%s" % tmp_path.name)
    import subprocess
    res = subprocess.run([srv.binary, "-t", "-f", srv.conf], env=srv.env,
                         capture_output=True, text=True, timeout=20)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and message in out, out
