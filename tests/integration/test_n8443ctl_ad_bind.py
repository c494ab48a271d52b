"""n8443ctl's bind to Active Directory (Samba's AD DC, ad_realm.py):
libldap's SASL GSSAPI path with Cyrus SASL's plugin.

- What goes over the wire: after the bind every LDAP message travels in
  a SASL security layer, sealed -- a relay between the tool and the DC
  sees 4-byte length frames and no group name, no DN in clear (no layer,
  or integrity alone, would show them).
- The DC refuses a bind without a layer (Samba's default, as AD with
  LDAP signing required): the tool is accepted by a server that insists.
- The failures say what to do: no ticket (kinit), the KDC refusing a
  ticket for ldap/HOST (HOST as the URI has it: no reverse DNS), the
  GSSAPI plugin not installed; --ccache is the ticket bound with.
"""

import os
import shutil
import socket
import struct
import subprocess
import threading

import pytest

import harness
from conftest import build_dir

LDAP_PORT = 389


def tool():
    path = os.path.join(build_dir(), "n8443ctl")
    if not os.access(path, os.X_OK):
        pytest.fail("n8443ctl not built: %s (run make first)" % path)
    return path


def run(env, *args):
    res = subprocess.run([tool()] + list(args), env=env,
                         capture_output=True, text=True, timeout=120)
    return res.returncode, res.stdout, res.stderr


# The AD fixtures of test_n8443ctl_ad.py: the DC's LDAP started once
# per module, the administrator's ticket.
from test_n8443ctl_ad import ad, admin_env  # noqa: E402,F401 (fixtures)


class Relay:
    """A TCP relay on 127.0.0.1 to the DC's LDAP port that keeps the bytes
    each side sent (up: client to server, down: server to client)."""

    def __init__(self, target_port=LDAP_PORT):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.up = bytearray()
        self.down = bytearray()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for src, dst, buf in ((client, server, self.up),
                                  (server, client, self.down)):
                threading.Thread(target=self._pump, args=(src, dst, buf),
                                 daemon=True).start()

    def _pump(self, src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    buf.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def ber_message(data, off):
    """(LDAP protocolOp tag, end) of the plaintext LDAPMessage at off, or
    None when the bytes there are not one."""
    if off + 2 > len(data) or data[off] != 0x30:
        return None
    n = data[off + 1]
    head = 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4 or off + 2 + k > len(data):
            return None
        n = int.from_bytes(data[off + 2:off + 2 + k], "big")
        head += k
    end = off + head + n
    body = off + head
    # messageID INTEGER, then the protocolOp.
    if end > len(data) or data[body] != 0x02:
        return None
    op = body + 2 + data[body + 1]
    return data[op], end


def test_bind_seals_every_message_after_it(ad, admin_env):
    """Everything after the bind in a SASL frame, nothing readable in it:
    the search for web-users and the directory's answer are sealed."""
    relay = Relay()
    try:
        rc, out, err = run(admin_env, "groups", "resolve", "web-users",
                           "--ldap-uri", "ldap://localhost:%d" % relay.port)
    finally:
        relay.close()
    assert rc == 0, err
    assert out.splitlines()[1] == "web-users " + ad.sid_of("web-users")
    with relay.lock:
        up, down = bytes(relay.up), bytes(relay.down)
    # In clear: the rootDSE search (0x63), then the bind requests (0x60)
    # of the GSSAPI exchange -- and nothing else.
    ops, off = [], 0
    while True:
        msg = ber_message(up, off)
        if msg is None:
            break
        ops.append(msg[0])
        off = msg[1]
    assert ops[0] == 0x63 and len(ops) >= 2, ops
    assert set(ops[1:]) == {0x60}, ops
    assert b"GSSAPI" in up[:off]
    # Then SASL frames (RFC 4752: 4-byte length, a gss_wrap token) to the
    # end: the protected rootDSE read, the searches, the unbind.
    frames = 0
    rest = up[off:]
    while rest:
        assert len(rest) >= 4, rest
        n = struct.unpack(">I", rest[:4])[0]
        assert 0 < n <= len(rest) - 4, (n, len(rest))
        rest = rest[4 + n:]
        frames += 1
    assert frames >= 3, frames
    # Sealed, not only signed: no name, no DN in clear either way.
    assert b"web-users" not in up
    assert b"web-users" not in down and b"CN=Users" not in down


def test_the_dc_refuses_a_bind_without_a_layer(ad, admin_env):
    """The DC insists on signing or sealing (Samba's default: ldap server
    require strong auth): OpenLDAP's own client, told to take no layer
    (maxssf=0), is refused by the DC that accepts it with a layer, and
    the tool."""
    if shutil.which("ldapsearch") is None:
        pytest.skip("ldapsearch not installed (ldap-utils)")
    base = ["ldapsearch", "-LLL", "-Q", "-N", "-Y", "GSSAPI", "-H",
            ad.ldap_uri_for_tests, "-b", "", "-s", "base",
            "defaultNamingContext"]
    res = subprocess.run(base[:1] + ["-O", "maxssf=0"] + base[1:],
                         env=admin_env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode != 0, res.stdout
    assert "Strong(er) authentication required" in res.stderr, res.stderr
    res = subprocess.run(base, env=admin_env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "defaultNamingContext: DC=ad,DC=n8443,DC=test" in res.stdout
    rc, _, err = run(admin_env, "groups", "resolve", "web-users",
                     "--ldap-uri", ad.ldap_uri_for_tests)
    assert rc == 0, err


def test_ldap_conf_cannot_take_the_layer_away(ad, admin_env):
    """libldap reads SASL_SECPROPS from ldap.conf, ~/.ldaprc and the
    environment: maxssf=0 there (no layer) is not what the bind does."""
    relay = Relay()
    env = dict(admin_env, LDAPSASL_SECPROPS="maxssf=0,maxbufsize=0",
               LDAPSASL_NOCANON="off")
    try:
        rc, out, err = run(env, "groups", "resolve", "web-users",
                           "--ldap-uri", "ldap://localhost:%d" % relay.port)
    finally:
        relay.close()
    assert rc == 0, err
    with relay.lock:
        assert b"web-users" not in relay.up


@pytest.mark.parametrize("how", ["KRB5CCNAME", "--ccache"])
def test_bind_without_a_ticket(ad, tmp_path, how):
    cc = "FILE:" + str(tmp_path / "none")
    env = dict(ad.env)
    args = ["groups", "resolve", "web-users", "--ldap-uri",
            ad.ldap_uri_for_tests]
    if how == "KRB5CCNAME":
        env["KRB5CCNAME"] = cc
    else:
        env["KRB5CCNAME"] = "FILE:" + str(tmp_path / "other")
        args += ["--ccache", cc]
    rc, out, err = run(env, *args)
    assert rc == 4, err
    assert out == ""
    assert "no ticket for ldap/localhost: " in err
    assert str(tmp_path / "none") in err
    assert "run kinit (or give --ccache)" in err


def test_bind_ccache_option_wins_over_the_environment(ad, admin_env,
                                                      tmp_path):
    env = dict(admin_env, KRB5CCNAME="FILE:" + str(tmp_path / "none"))
    rc, _, err = run(env, "groups", "resolve", "web-users", "--ldap-uri",
                     ad.ldap_uri_for_tests, "--ccache",
                     admin_env["KRB5CCNAME"])
    assert rc == 0, err


def test_bind_spn_is_the_uri_host_without_reverse_dns(ad, admin_env):
    """The SPN is ldap/ and the URI's host as written: ldap://127.0.0.1
    asks the KDC for ldap/127.0.0.1, which no account has -- the KDC's
    refusal, named.  (With libldap's default, the reverse DNS name of the
    address connected to, ldap://localhost would ask for another name
    too, and the other tests fail.)"""
    rc, _, err = run(admin_env, "groups", "resolve", "web-users",
                     "--ldap-uri", "ldap://127.0.0.1")
    assert rc == 4, err
    assert "the KDC gave no ticket for ldap/127.0.0.1" in err
    assert "not found in Kerberos database" in err


def test_bind_without_the_gssapi_plugin(ad, admin_env, tmp_path):
    """Cyrus SASL finds its plugins in SASL_PATH: an empty one is a host
    without libsasl2-modules-gssapi-mit."""
    empty = tmp_path / "plugins"
    empty.mkdir()
    env = dict(admin_env, SASL_PATH=str(empty))
    rc, _, err = run(env, "groups", "resolve", "web-users", "--ldap-uri",
                     ad.ldap_uri_for_tests)
    assert rc == 4, err
    assert ("no SASL GSSAPI mechanism: install libsasl2-modules-gssapi-mit"
            " / cyrus-sasl-gssapi") in err


def test_bind_with_an_expired_ticket(ad, tmp_path):
    import time
    import ad_realm
    env = dict(ad.env, KRB5CCNAME="FILE:" + str(tmp_path / "short"))
    harness.run(["kinit", "-l", "2s", "Administrator"], env=env,
                input=ad_realm.ADMIN_PW + "\n")
    time.sleep(3)
    rc, _, err = run(env, "groups", "resolve", "web-users", "--ldap-uri",
                     ad.ldap_uri_for_tests)
    assert rc == 4, err
    assert "no ticket for ldap/localhost: " in err
    assert "run kinit (or give --ccache)" in err
