"""Clients other than python-gssapi and curl, for the channel-binding
tests (issue 17): OpenJDK's JGSS and HttpURLConnection
(clients/JavaNegotiate.java), and a C client on Heimdal's libgssapi.so.3
(../diff/heimdal_token.c).  Each is required on Debian (tools/install-deps
installs them) and skipped elsewhere."""

import base64
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
JAVA_SRC = os.path.join(HERE, "clients", "JavaNegotiate.java")
HEIMDAL_SRC = os.path.join(HERE, "..", "diff", "heimdal_token.c")


def _need(what, found):
    if found:
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        pytest.fail("%s missing: run tools/install-deps" % what)
    pytest.skip("%s missing" % what)


def java():
    path = shutil.which("java")
    _need("java (openjdk-17-jdk-headless)", path)
    return path


def _java_env(client):
    env = dict(client.env)
    env["KRB5CCNAME"] = client.ccache.replace("FILE:", "")
    return env


def java_token(client, cb, host="localhost"):
    """A SPNEGO token from JGSS with `new ChannelBinding(cb)`."""
    res = subprocess.run(
        [java(), "-Djava.security.krb5.conf=" + client.realm.krb5_conf,
         "-Djavax.security.auth.useSubjectCredsOnly=false", JAVA_SRC,
         "token", host, cb.hex()],
        env=_java_env(client), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return base64.b64decode(res.stdout.strip())


def truststore(ca, directory):
    """A PKCS#12 trust store with the test CA, for Java."""
    path = os.path.join(directory, "truststore-%d.p12" % abs(hash(ca)))
    if not os.path.exists(path):
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias",
                        "n8443ca", "-file", ca, "-keystore", path,
                        "-storepass", "changeit", "-storetype", "PKCS12"],
                       check=True, capture_output=True)
    return path


def java_get(client, url, ca, directory, cbt="always"):
    """HttpURLConnection with Negotiate (jdk.https.negotiate.cbt=cbt):
    (status, X-Channel-Bound, X-Remote-User)."""
    res = subprocess.run(
        [java(), "-Djava.security.krb5.conf=" + client.realm.krb5_conf,
         "-Djavax.security.auth.useSubjectCredsOnly=false",
         "-Djdk.https.negotiate.cbt=" + cbt,
         "-Djavax.net.ssl.trustStore=" + truststore(ca, directory),
         "-Djavax.net.ssl.trustStorePassword=changeit",
         "-Djavax.net.ssl.trustStoreType=PKCS12",
         JAVA_SRC, "get", url],
        env=_java_env(client), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    value = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        value[k] = v.strip() if v.strip() not in ("", "null") else None
    return int(lines[0]), value.get("X-Channel-Bound"), \
        value.get("X-Remote-User")


def heimdal_exe(directory):
    """heimdal_token built against Heimdal's libgssapi.so.3."""
    exe = os.path.join(directory, "heimdal_token")
    if os.path.exists(exe):
        return exe
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                                "heimdal-gssapi"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        flags = None
    _need("Heimdal's GSS-API (libgssapi3-heimdal, heimdal-multidev)",
          flags)
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-o", exe, HEIMDAL_SRC] + flags, check=True,
                   capture_output=True)
    return exe


def heimdal_token(client, directory, cb, addrtype, host="localhost"):
    """A SPNEGO token from Heimdal, bindings cb hashed with addrtype (0
    GSS_C_AF_UNSPEC, 255 GSS_C_AF_NULLADDR) for both addresses."""
    flags = 0x02 | 0x04 | 0x08 | 0x10 | 0x20
    res = subprocess.run([heimdal_exe(directory), host, "spnego",
                          str(flags), cb.hex(), str(addrtype)],
                         env=client.env, capture_output=True)
    assert res.returncode == 0, res.stderr
    return res.stdout
