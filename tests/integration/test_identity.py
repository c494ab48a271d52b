"""Hostile and unusual principal names against a real httpd and KDC.

1. `NegotiateUserName local` with principals that auth_to_local does not
   map (two components such as alice/admin, a foreign-realm-shaped name,
   a name over 255 bytes): REMOTE_USER is the full principal, in the CGI
   environment and in a header echo, on a fresh login, on a session resume,
   on a connection login and with the Basic fallback.  (Issue 23 item 1:
   REMOTE_USER pointed into freed memory: garbage or a 500.)
2. Principals with control bytes (CR, C0, DEL), created in the test KDC:
   every path refuses them (Kerberos through GSS-API and the fast path,
   the Basic fallback, the authn provider, a session cookie sealed with the
   farm key) with a log line that shows the name escaped, and a backend
   behind a configuration shaped as `n8443ctl render` writes it
   (`RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"`) never sees a
   request.  (Issue 23 item 2: the backend received a second
   X-Remote-User header.)

These tests are also the subset that tests/sanitizers/run-asan-subset runs
under AddressSanitizer.
"""

import os
import re
import socket
import ssl
import struct
import threading
import time

import pytest

import harness
from conftest import KRB5, SPNEGO, https_request, negotiate, start_httpd

REALM = harness.REALM
PW = "identity-pw-1"

UNMAPPED = {
    "admin": "alice/admin",
    "foreign": "carol\\@OTHER.N8443",
    "long": "l" * 300,
}

# Control bytes; the value is how the log line must render the name.
HOSTILE = {
    "cr": ("evil\rX-Remote-User: admin", "evil\\rX-Remote-User: admin"),
    "soh": ("ctl\x01name", "ctl\\x01name"),
    "esc": ("esc\x1b[31m", "esc\\x1b[31m"),
    "del": ("del\x7fname", "del\\x7fname"),
}
# krb5_unparse_name escapes TAB, LF, BS and NUL ("tab\\tname"), so the
# Kerberos path sees no control byte in these; a Basic user name typed with
# the raw byte is refused before the KDC is asked.
TYPED_ONLY = {
    "tab": ("tab\tname", "tab\\tname"),
}


class Backend:
    """A loopback HTTP server that records every request, byte for byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                          b"Connection: close\r\n\r\nok\n")
            except OSError:
                pass
            finally:
                c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


BODY = """
  <Location /local>
    AuthType Negotiate
    NegotiateUserName local
    Require valid-user
  </Location>
  <Location /local-session>
    AuthType Negotiate
    NegotiateUserName local
    NegotiateSession On
    Require valid-user
  </Location>
  <Location /local-conn>
    AuthType Negotiate
    NegotiateUserName local
    NegotiateConnectionAuth On
    Require valid-user
  </Location>
  <Location /local-basic>
    AuthType Negotiate
    AuthName "n8443 identity"
    NegotiateUserName local
    NegotiateBasicFallback On
    Require valid-user
  </Location>
  <Location /provider>
    AuthType Basic
    AuthName "n8443 identity provider"
    AuthBasicProvider negotiate8443
    Require valid-user
  </Location>
  <Location /gss>
    AuthType Negotiate
    NegotiateFastPath Off
    Require valid-user
  </Location>
  <Location /cgi-bin/>
    AuthType Negotiate
    AuthName "n8443 identity cgi"
    NegotiateUserName local
    NegotiateSession On
    NegotiateBasicFallback On
    Require valid-user
  </Location>

  # As n8443ctl render writes a proxied location with user_header.
  RequestHeader unset X-Remote-User early
  RequestHeader unset X_Remote-User early
  RequestHeader unset X-Remote_User early
  RequestHeader unset X_Remote_User early
  <Location "/app/">
    AuthType Negotiate
    AuthName "n8443 identity app"
    NegotiateUserName principal
    NegotiateSession On
    NegotiateBasicFallback On
    Require valid-user
    ProxyPass "http://127.0.0.1:{port}/"
    ProxyPassReverse "http://127.0.0.1:{port}/"
    RequestHeader set X-Remote-User "expr=%{{REMOTE_USER}}"
    RequestHeader unset Authorization
  </Location>
"""


def fast_path_directive_known(module_path):
    with open(module_path, "rb") as f:
        return b"NegotiateFastPath" in f.read()


@pytest.fixture(scope="module")
def principals(realm):
    made = {}
    for key, name in UNMAPPED.items():
        realm.kadmin('addprinc -pw %s "%s"' % (PW, name))
        made[key] = name
    for key, (name, _) in list(HOSTILE.items()) + list(TYPED_ONLY.items()):
        realm.kadmin('addprinc -pw %s "%s"' % (PW, name))
        made[key] = name
    listed = realm.kadmin("listprincs").stdout
    for key, name in list(made.items()):
        # kadmin's output went through text mode: compare without CR.
        shown = name.replace("\r", "\n").replace("\t", "\\t")
        if shown + "@" + REALM not in listed:
            pytest.fail("kadmin.local did not create %r" % name)
    return made


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def session_key(base_dir):
    path = os.path.join(base_dir, "identity-session.key")
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o600)
    with open(path, "rb") as f:
        return path, f.read()


@pytest.fixture(scope="module")
def isrv(base_dir, module_path, realm, certs, keytab, backend, session_key):
    moddir = harness.apxs("LIBEXECDIR")
    body = BODY.replace("{port}", str(backend.port)) \
               .replace("{{REMOTE_USER}}", "{REMOTE_USER}")
    if not fast_path_directive_known(module_path):
        body = body.replace("    NegotiateFastPath Off\n", "")
    srv = start_httpd(
        base_dir, module_path, realm, certs, keytab, body,
        name="httpd-identity",
        extra_global="LoadModule proxy_module %s/mod_proxy.so\n"
                     "LoadModule proxy_http_module %s/mod_proxy_http.so\n"
                     "NegotiateSessionKeyFile %s" % (moddir, moddir,
                                                     session_key[0]))
    yield srv
    srv.stop()


_envs = {}


def client_env(realm, name):
    if name not in _envs:
        _envs[name] = realm.client_env(name, PW,
                                       ccache_name="cc_identity_%d"
                                       % len(_envs))
    return _envs[name]


def token(realm, name, host="localhost"):
    import gssapi
    env = client_env(realm, name)
    creds = gssapi.Credentials(usage="initiate",
                               store={"ccache": env["KRB5CCNAME"]})
    target = gssapi.Name("HTTP@" + host, gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(
        name=target, creds=creds, usage="initiate",
        mech=gssapi.OID.from_int_seq(SPNEGO),
        flags=[gssapi.RequirementFlag.mutual_authentication])
    return ctx.step()


def basic(name, pw=PW):
    import base64
    raw = (name + ":" + pw).encode("utf-8")
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


def cgi_env(body):
    out = {}
    for line in body.decode("latin-1").split("\n"):
        k, _, v = line.partition("=")
        if k:
            out[k] = v
    return out


def session_cookie(headers):
    for v in headers.get_all("Set-Cookie") or []:
        if v.startswith("n8443_session="):
            return v.split(";")[0].split("=", 1)[1]
    return None


def seal(key, keytab, principal, expires=None, flags=0):
    """A session cookie as core/sealed_cookie.c seals it (format 2, see its
    header), under the server's own key, scoped as session.c scopes a
    login in this file's server: vhost localhost, the harness keytab, no
    service principal, not channel-bound."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    import base64
    import hashlib

    def digest(parts):
        h = hashlib.sha256()
        for p in parts:
            b = p.encode() if p is not None else b""
            h.update(bytes([p is not None]) + struct.pack(">I", len(b)) + b)
        return h.digest()[:16]

    now = int(time.time())
    scope = digest(["negotiate8443 session scope 2", "localhost", keytab,
                    None])
    plain = struct.pack(">qqB", expires or now + 600, now, flags) \
        + scope + bytes(16) + principal.encode("utf-8")
    nonce = os.urandom(12)
    raw = b"\x02" + nonce + AESGCM(key).encrypt(nonce, plain, b"\x02")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def no_child_died(srv):
    assert "exit signal" not in srv.output()
    assert "AddressSanitizer" not in srv.output()


# ------------------------------------------------ 1. unmapped principals

def test_mapped_principal_still_maps(isrv, alice):
    """The control case: alice has an auth_to_local_names rule."""
    st, h, body = https_request(isrv, "/cgi-bin/env",
                                [negotiate(alice.token()[1])])
    assert st == 200
    assert cgi_env(body)["REMOTE_USER"] == "alice.local"
    assert h["X-Remote-User"] == "alice.local"


@pytest.mark.parametrize("who", sorted(UNMAPPED))
def test_unmapped_local_fresh_login(isrv, realm, principals, who):
    full = principals[who] + "@" + REALM
    for _ in range(3):
        st, h, body = https_request(isrv, "/cgi-bin/env",
                                    [negotiate(token(realm,
                                                     principals[who]))])
        assert st == 200, body
        env = cgi_env(body)
        assert env["REMOTE_USER"] == full
        assert env["NEGOTIATE_PRINCIPAL"] == full
        assert h["X-Remote-User"] == full
    st, h, _ = https_request(isrv, "/local/",
                             [negotiate(token(realm, principals[who]))])
    assert st == 404 and h["X-Remote-User"] == full
    no_child_died(isrv)


@pytest.mark.parametrize("who", sorted(UNMAPPED))
def test_unmapped_local_session_resume(isrv, realm, principals, who):
    full = principals[who] + "@" + REALM
    st, h, body = https_request(isrv, "/cgi-bin/env",
                                [negotiate(token(realm, principals[who]))])
    assert st == 200
    cookie = session_cookie(h)
    assert cookie is not None
    for path in ("/cgi-bin/env", "/local-session/"):
        for _ in range(3):
            st, h, body = https_request(isrv, path,
                                        [("Cookie", "n8443_session="
                                          + cookie)])
            assert st in (200, 404), body
            assert h["X-Remote-User"] == full
            if st == 200:
                assert cgi_env(body)["REMOTE_USER"] == full
    no_child_died(isrv)


@pytest.mark.parametrize("who", sorted(UNMAPPED))
def test_unmapped_local_sealed_cookie(isrv, session_key, keytab, principals,
                                      who):
    """The resume on its own (a cookie sealed with the farm key, no login
    first): REMOTE_USER pointed into n8443_session_resume()'s stack frame,
    which ASan sees with detect_stack_use_after_return (run-asan-subset)."""
    full = principals[who] + "@" + REALM
    cookie = seal(session_key[1], keytab, full)
    for path in ("/cgi-bin/env", "/local-session/"):
        st, h, body = https_request(isrv, path,
                                    [("Cookie", "n8443_session=" + cookie)])
        assert st in (200, 404), body
        assert h["X-Remote-User"] == full
        if st == 200:
            assert cgi_env(body)["REMOTE_USER"] == full
    no_child_died(isrv)


@pytest.mark.parametrize("who", sorted(UNMAPPED))
def test_unmapped_local_connection_login(isrv, realm, principals, who):
    full = principals[who] + "@" + REALM
    ctx = ssl.create_default_context(cafile=isrv.ca)
    ctx.check_hostname = False
    import http.client
    c = http.client.HTTPSConnection("127.0.0.1", isrv.port, context=ctx,
                                    timeout=20)
    try:
        for i in range(3):
            c.putrequest("GET", "/local-conn/", skip_host=True)
            c.putheader("Host", "localhost:%d" % isrv.port)
            if i == 0:
                k, v = negotiate(token(realm, principals[who]))
                c.putheader(k, v)
            c.endheaders()
            r = c.getresponse()
            r.read()
            assert r.status == 404
            assert r.headers["X-Remote-User"] == full
    finally:
        c.close()


@pytest.mark.parametrize("who", ["admin", "foreign"])
def test_unmapped_local_basic(isrv, principals, who):
    full = principals[who] + "@" + REALM
    st, h, body = https_request(isrv, "/cgi-bin/env",
                                [basic(principals[who])])
    assert st == 200
    env = cgi_env(body)
    assert env["REMOTE_USER"] == full and env["AUTH_TYPE"] == "Basic"
    assert h["X-Remote-User"] == full


# ------------------------------------------------ 2. control bytes

def expect_refused(isrv, mark, rendering):
    log = isrv.log_since(mark)
    assert "N8443230" in log, log
    assert rendering in log, log
    # The raw name never reaches the log either.
    assert "\r" not in log.replace("\r\n", "\n")


@pytest.mark.parametrize("who", sorted(HOSTILE))
@pytest.mark.parametrize("path", ["/app/", "/gss/", "/cgi-bin/env"])
def test_control_bytes_kerberos(isrv, realm, principals, backend, who, path):
    name, rendering = HOSTILE[who]
    before = len(backend.requests)
    mark = isrv.log_mark()
    st, h, _ = https_request(isrv, path,
                             [negotiate(token(realm, name))])
    assert st == 401
    assert session_cookie(h) is None
    assert h.get("X-Remote-User", "") == ""
    assert len(backend.requests) == before
    expect_refused(isrv, mark, rendering)
    no_child_died(isrv)


@pytest.mark.parametrize("who", sorted(HOSTILE) + sorted(TYPED_ONLY))
@pytest.mark.parametrize("path", ["/app/", "/local-basic/"])
def test_control_bytes_basic_fallback(isrv, principals, backend, who, path):
    """The fallback refuses control bytes in Basic credentials as malformed
    (400) before the KDC is asked."""
    name, _ = dict(HOSTILE, **TYPED_ONLY)[who]
    before = len(backend.requests)
    mark = isrv.log_mark()
    st, h, _ = https_request(isrv, path, [basic(name)])
    assert st == 400
    assert h.get("X-Remote-User", "") == ""
    assert len(backend.requests) == before
    assert "N8443082" in isrv.log_since(mark)


@pytest.mark.parametrize("who", sorted(HOSTILE) + sorted(TYPED_ONLY))
def test_control_bytes_basic_provider(isrv, principals, who):
    """AuthBasicProvider negotiate8443: mod_auth_basic parsed the header;
    the provider refuses the name, and REMOTE_USER does not keep it (the
    "Header always" echo of this server would otherwise turn the 401 into
    a 500)."""
    name, rendering = dict(HOSTILE, **TYPED_ONLY)[who]
    mark = isrv.log_mark()
    st, h, _ = https_request(isrv, "/provider/", [basic(name)])
    assert st == 401
    assert h.get("X-Remote-User", "") == ""
    # The user name ends at the first ':'.
    expect_refused(isrv, mark, rendering.split(":")[0])


# Names no KDC login can produce here (MIT escapes LF; C1 is UTF-8), but a
# cookie sealed with the farm key can carry.
SEALED_ONLY = {
    "lf": ("lf\nX-Remote-User: admin", "lf\\nX-Remote-User: admin"),
    "nel": ("nel\u0085name", "nel\\xc2\\x85name"),
}


@pytest.mark.parametrize("who", sorted(HOSTILE) + sorted(SEALED_ONLY))
def test_control_bytes_session_cookie(isrv, session_key, keytab, backend,
                                      who):
    """A cookie sealed with the farm key (by an older server, or one that
    let such a name in) is refused too."""
    name, rendering = dict(HOSTILE, **SEALED_ONLY)[who]
    before = len(backend.requests)
    mark = isrv.log_mark()
    cookie = seal(session_key[1], keytab, name + "@" + REALM)
    st, h, _ = https_request(isrv, "/app/",
                             [("Cookie", "n8443_session=" + cookie)])
    assert st == 401
    assert h.get("X-Remote-User", "") == ""
    assert len(backend.requests) == before
    expect_refused(isrv, mark, rendering)


def test_backend_gets_one_user_header(isrv, realm, alice, backend,
                                      session_key, keytab):
    """The control case for the proxy: a genuine login (token, cookie)
    reaches the backend with exactly one X-Remote-User, and the forged
    copy a client sends is dropped."""
    for headers in ([negotiate(alice.token()[1])],
                    [("Cookie", "n8443_session="
                      + seal(session_key[1], keytab, "alice@" + REALM))]):
        before = len(backend.requests)
        st, _, body = https_request(isrv, "/app/x",
                                    headers + [("X-Remote-User", "admin")])
        assert st == 200 and body == b"ok\n"
        assert len(backend.requests) == before + 1
        req = backend.requests[-1]
        users = re.findall(rb"(?im)^x[-_]remote[-_]user:(.*)$", req)
        assert [u.strip() for u in users] == [b"alice@" + REALM.encode()]
        assert b"Authorization" not in req
