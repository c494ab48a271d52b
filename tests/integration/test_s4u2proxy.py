"""S4U2Proxy end to end: NegotiateConstrainedDelegation gives the CGI a
credential cache from which it gets, for the logged-in user, a ticket to a
second service that the KDC lets the front service delegate to, and uses
it against that service.

MIT's DB2 KDB does not implement constrained delegation (it has no
check_allowed_to_delegate method, so the KDC gets KRB5_PLUGIN_OP_NOTSUPP
and refuses every S4U2Proxy request), so this realm runs on the LDAP KDB (ldap_realm.LdapRealm: a private slapd on 127.0.0.1), where
the ACL is krbAllowedToDelegateTo on the proxy service's entry:

  alice --(Negotiate, no delegation)--> front httpd, HTTP/localhost,
        NegotiateConstrainedDelegation On
  CGI (KRB5CCNAME = the module's ccache) --S4U2Proxy--> KDC:
        alice -> HTTP/backend.test.n8443 (in krbAllowedToDelegateTo)
  CGI --(Negotiate as alice)--> backend httpd, HTTP/backend.test.n8443
  CGI --S4U2Proxy--> KDC: alice -> HTTP/other.test.n8443 (not in the
        list): refused
"""

import os

import pytest

import harness
import ldap_realm
from conftest import S4U_LOCATION
from harness import REALM

PASSWORD = "alice-pw-s4u"
FRONT = "HTTP/localhost"
BACKEND = "HTTP/backend.test.n8443"
OTHER = "HTTP/other.test.n8443"

# The application behind the front service: with the ccache the module
# gave it, a ticket for ?target= as the logged-in user (S4U2Proxy happens
# inside gss_init_sec_context), then, if ?port= is given, a Negotiate
# request to the backend httpd's plain-HTTP port.  It prints what it saw,
# and the krb5 trace when something failed.
S4U_CGI = r"""#!/usr/bin/python3
import base64, http.client, os, subprocess, sys, tempfile, urllib.parse

trace = tempfile.NamedTemporaryFile(prefix="n8443-s4u-trace-", delete=False)
trace.close()
os.environ["KRB5_TRACE"] = trace.name
out = ["REMOTE_USER=%s" % os.environ.get("REMOTE_USER", ""),
       "KRB5CCNAME=%s" % os.environ.get("KRB5CCNAME", "")]
q = dict(urllib.parse.parse_qsl(os.environ.get("QUERY_STRING", "")))
failed = True
try:
    import gssapi
    creds = gssapi.Credentials(usage="initiate")
    out.append("CRED_NAME=%s" % creds.name)
    ctx = gssapi.SecurityContext(
        name=gssapi.Name(q["target"], gssapi.NameType.kerberos_principal),
        creds=creds, usage="initiate",
        mech=gssapi.OID.from_int_seq("1.3.6.1.5.5.2"))
    token = ctx.step()
    out.append("TICKET=ok")
    failed = False
    if q.get("port"):
        conn = http.client.HTTPConnection("127.0.0.1", int(q["port"]),
                                          timeout=15)
        conn.request("GET", "/cgi-bin/env", headers={
            "Host": "backend.test.n8443:%s" % q["port"],
            "Authorization": "Negotiate " + base64.b64encode(token).decode()})
        resp = conn.getresponse()
        out.append("BACKEND_STATUS=%d" % resp.status)
        out += ["BACKEND_" + l for l in resp.read().decode().splitlines()]
        failed = resp.status != 200
except Exception as e:
    out.append("GSS_ERROR=%s" % " ".join(str(e).split()))
with open(trace.name) as f:
    trace_text = f.read()
os.unlink(trace.name)
del os.environ["KRB5_TRACE"]
out.append("-- klist -f")
out.append(subprocess.run(["klist", "-f"], capture_output=True,
                          text=True).stdout)
if failed:
    out += ["-- krb5 trace", trace_text]
sys.stdout.write("Content-Type: text/plain\r\n\r\n" + "\n".join(out) + "\n")
"""

# The same with an ordinary client: curl --negotiate, which takes the
# default credentials (KRB5CCNAME) and the principal HTTP/<URL host>.
CURL_CGI = r"""#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
printf 'REMOTE_USER=%s\n' "$REMOTE_USER"
port=${QUERY_STRING#port=}
curl -sS --negotiate -u : --resolve "backend.test.n8443:$port:127.0.0.1" \
    "http://backend.test.n8443:$port/cgi-bin/env" 2>&1 | sed 's/^/BACKEND_/'
"""

FRONT_BODY = """
  PassEnv KRB5_CONFIG
""" + S4U_LOCATION

BACKEND_BODY = """
  <Location /cgi-bin/>
    AuthType Negotiate
    NegotiateRequireTLS Off
    Require valid-user
  </Location>
"""

_missing = ldap_realm.missing()
pytestmark = pytest.mark.skipif(_missing is not None,
                                reason=_missing or "")


@pytest.fixture(scope="module")
def lrealm(base_dir):
    r = ldap_realm.LdapRealm(base_dir, "s4u-realm")
    try:
        r.add_user("alice", PASSWORD)
        for p in (FRONT, BACKEND, OTHER):
            r.add_service(p)
        r.allow_delegation(FRONT, ["%s@%s" % (BACKEND, REALM)])
        yield r
    finally:
        r.close()


def service_keytab(realm, base_dir, principal, stem):
    path = os.path.join(base_dir, stem + ".keytab")
    realm.export_keytab(path, [principal])
    harness.chown_to_httpd(path)
    return path


@pytest.fixture(scope="module")
def backend(lrealm, base_dir, module_path, certs):
    srv = harness.Httpd(base_dir, module_path, lrealm, certs,
                        service_keytab(lrealm, base_dir, BACKEND,
                                       "s4u-backend"),
                        BACKEND_BODY, name="httpd-s4u-backend")
    srv.ca = certs.ca
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def front(lrealm, base_dir, module_path, certs, backend):
    keytab = service_keytab(lrealm, base_dir, FRONT, "s4u-front")
    srv = harness.Httpd(base_dir, module_path, lrealm, certs, keytab, "",
                        name="httpd-s4u-front")
    ccdir = os.path.join(srv.dir, "ccaches")
    os.makedirs(ccdir)
    harness.chown_to_httpd(ccdir, 0o700)
    for name, text in (("s4u", S4U_CGI), ("curl", CURL_CGI)):
        harness.write_script(os.path.join(srv.dir, "cgi-bin", name), text)
    srv.write_conf(module_path, certs, keytab, FRONT_BODY % {"dir": srv.dir},
                   "event", "NegotiateDelegationDir %s" % ccdir)
    srv.ca = certs.ca
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def alice_env(lrealm):
    return lrealm.client_env("alice", PASSWORD)


def curl(env, certs, url):
    """curl --negotiate without delegation: the front service gets only
    alice's (forwardable) service ticket."""
    res = harness.run(["curl", "-sS", "--negotiate", "-u", ":",
                       "--delegation", "none", "--cacert", certs.ca,
                       "-w", "\nHTTP_STATUS=%{http_code}\n", url],
                      env=env, check=False)
    return res.stdout + res.stderr


def values(text, key):
    return [l.split("=", 1)[1] for l in text.splitlines()
            if l.startswith(key + "=")]


def test_kdc_has_the_delegation_acl(lrealm):
    assert lrealm.delegation_targets(FRONT) == ["%s@%s" % (BACKEND, REALM)]
    assert lrealm.delegation_targets(BACKEND) == []


def test_cgi_reaches_backend_as_the_user(front, backend, lrealm, certs,
                                         alice_env):
    mark = lrealm.kdc_log_mark()
    out = curl(alice_env, certs, front.url(
        "/s4u/s4u?target=%s&port=%d" % (BACKEND, backend.plain_port)))
    assert "HTTP_STATUS=200" in out, out
    assert values(out, "REMOTE_USER") == ["alice@" + REALM], out
    # The module's ccache is a proxy credential for alice ...
    assert values(out, "CRED_NAME") == ["alice@" + REALM], out
    assert values(out, "TICKET") == ["ok"], out
    # It holds the front service's own TGT (the module's s4u ccache got it
    # with the keytab while accepting), the evidence, and now the ticket
    # for the backend, all in alice's name but the TGT.
    assert "krbtgt/%s@%s\n\tfor client %s@%s" % (REALM, REALM, FRONT,
                                                 REALM) in out, out
    klist = out.split("-- klist")[1]
    assert "%s@%s" % (BACKEND, REALM) in klist, out
    assert klist.count("krbtgt/") == 1, out     # no TGT of alice's
    # ... from which the backend saw alice, not the front service.
    assert values(out, "BACKEND_STATUS") == ["200"], out
    assert values(out, "BACKEND_REMOTE_USER") == ["alice@" + REALM], out
    assert values(out, "BACKEND_NEGOTIATE_PRINCIPAL") == \
        ["alice@" + REALM], out
    # The KDC issued it by S4U2Proxy, with HTTP/localhost as the proxy.
    # MIT logs "<proxy> for <target>" and, on the next line,
    # "CONSTRAINED-DELEGATION s4u-client=<user>".
    lines = lrealm.kdc_log_since(mark).splitlines()
    s4u = [i for i, l in enumerate(lines[:-1]) if "ISSUE" in l
           and "%s@%s for %s@%s" % (FRONT, REALM, BACKEND, REALM) in l
           and "CONSTRAINED-DELEGATION s4u-client=alice@%s" % REALM
           in lines[i + 1]]
    assert s4u, "\n".join(lines)


def test_curl_in_cgi_reaches_backend(front, backend, certs, alice_env):
    out = curl(alice_env, certs, front.url("/s4u/curl?port=%d"
                                           % backend.plain_port))
    assert "HTTP_STATUS=200" in out, out
    assert values(out, "BACKEND_REMOTE_USER") == ["alice@" + REALM], out


def test_kdc_refuses_a_backend_not_in_the_list(front, lrealm, certs,
                                               alice_env):
    mark = lrealm.kdc_log_mark()
    out = curl(alice_env, certs, front.url("/s4u/s4u?target=%s" % OTHER))
    assert "HTTP_STATUS=200" in out, out
    assert values(out, "REMOTE_USER") == ["alice@" + REALM], out
    assert values(out, "TICKET") == [], out
    assert "KDC can't fulfill requested option" in \
        values(out, "GSS_ERROR")[0], out
    assert_kdc_refused(lrealm, mark, OTHER)


def assert_kdc_refused(lrealm, mark, target):
    """The KDC answered the S4U2Proxy request for target with
    KDC_ERR_BADOPTION.  (For a target not in the list MIT 1.20 logs the
    status UNSUPPORTED_S4U2PROXY_REQUEST, as on DB2; later releases say
    NOT_ALLOWED_TO_DELEGATE.)"""
    log = lrealm.kdc_log_since(mark)
    tried = [l for l in log.splitlines() if "TGS_REQ" in l
             and "%s@%s for %s@%s" % (FRONT, REALM, target, REALM) in l]
    assert tried, log
    assert all("ISSUE" not in l and "KDC can't fulfill requested option"
               in l for l in tried), log


def test_without_the_acl_the_backend_is_refused_too(front, backend, lrealm,
                                                    certs, alice_env):
    """The ACL is what lets the proxy through: with the backend taken out
    of krbAllowedToDelegateTo, the same request is refused."""
    lrealm.allow_delegation(FRONT, [])
    try:
        mark = lrealm.kdc_log_mark()
        out = curl(alice_env, certs, front.url(
            "/s4u/s4u?target=%s&port=%d" % (BACKEND, backend.plain_port)))
        assert values(out, "REMOTE_USER") == ["alice@" + REALM], out
        assert values(out, "TICKET") == [], out
        assert values(out, "BACKEND_STATUS") == [], out
        assert_kdc_refused(lrealm, mark, BACKEND)
    finally:
        lrealm.allow_delegation(FRONT, ["%s@%s" % (BACKEND, REALM)])
    assert lrealm.delegation_targets(FRONT) == ["%s@%s" % (BACKEND, REALM)]


def test_non_forwardable_ticket_is_no_evidence(front, backend, lrealm,
                                               certs):
    """S4U2Proxy needs the user's service ticket to be forwardable: with
    kinit -F the module still stores the (proxy) credential, and the KDC
    refuses the S4U2Proxy request."""
    env = lrealm.client_env("alice", PASSWORD)
    harness.run(["kinit", "-F", "alice"], env=env, input=PASSWORD + "\n")
    mark = lrealm.kdc_log_mark()
    out = curl(env, certs, front.url(
        "/s4u/s4u?target=%s&port=%d" % (BACKEND, backend.plain_port)))
    assert "HTTP_STATUS=200" in out, out
    assert values(out, "REMOTE_USER") == ["alice@" + REALM], out
    assert values(out, "TICKET") == [], out
    assert_kdc_refused(lrealm, mark, BACKEND)
    assert "EVIDENCE_TKT_NOT_FORWARDABLE" in lrealm.kdc_log_since(mark)
