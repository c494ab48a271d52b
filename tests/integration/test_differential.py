"""The differential test of the fast path (issue 15): the fast path may only
accept what MIT's GSS-API acceptor accepts, and then must say the same
thing about it.  This module makes the corpus, real tokens from the
clients at hand and their framing mutations (tokedit), and runs
tests/diff/n8443_diff on it, which adds the mutations of every field of the
ticket and the authenticator (it has the service key) and compares the two
paths on each, under three kinds of acceptor channel bindings.  No httpd.
"""

import os
import shutil
import subprocess

import pytest

import harness
import tokedit
from conftest import KRB5, SPNEGO, AdClient, build_dir

# The acceptor bindings the driver uses (tests/diff/diff_core.h).
CB_APP = b"tls-server-end-point:" + bytes([0x11]) * 32


def driver():
    path = os.path.join(build_dir(), "tests", "diff", "n8443_diff")
    if not os.path.exists(path):
        pytest.fail("n8443_diff not built: run make check (or make "
                    "tests/diff/n8443_diff) first")
    return path


def real_tokens(alice):
    """python-gssapi (MIT) tokens: SPNEGO and raw, mutual or not, with and
    without bindings, with and without delegation."""
    import gssapi
    out = {}
    for mech, m in ((SPNEGO, "spnego"), (KRB5, "krb5")):
        for mutual in (True, False):
            for cb in (None, CB_APP):
                for deleg in (False, True):
                    bindings = None if cb is None else \
                        gssapi.raw.ChannelBindings(application_data=cb)
                    ctx = alice.context(mech=mech, mutual=mutual,
                                        delegate=deleg,
                                        channel_bindings=bindings)
                    name = "real-mit-%s-%s-%s-%s" % (
                        m, "mutual" if mutual else "nomutual",
                        "cb" if cb else "nocb",
                        "deleg" if deleg else "nodeleg")
                    out[name] = ctx.step()
    return out


HERE = os.path.dirname(os.path.abspath(__file__))
DIFF_SRC = os.path.join(HERE, "..", "diff")


def heimdal_tokens(tmp_path, alice):
    """Heimdal's GSS-API (libgssapi3-heimdal) as the client, reading the
    MIT ccache: the same combinations as real_tokens.  {} without it."""
    import shutil
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                                "heimdal-gssapi"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return {}
    exe = str(tmp_path / "heimdal_token")
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-o", exe, os.path.join(DIFF_SRC,
                                                "heimdal_token.c")] + flags,
                   check=True, capture_output=True)
    out = {}
    for mech in ("spnego", "krb5"):
        for mutual in (True, False):
            # cb255: the bindings hashed with GSS_C_AF_NULLADDR (issue 17)
            for cb, af in ((None, None), (CB_APP, None), (CB_APP, 255)):
                for deleg in (False, True):
                    f = 0x04 | 0x08 | 0x10 | 0x20 | (0x02 if mutual else 0) \
                        | (0x01 if deleg else 0)
                    args = [exe, "localhost", mech, str(f)]
                    if cb:
                        args.append(cb.hex())
                    if af is not None:
                        args.append(str(af))
                    res = subprocess.run(args, env=alice.env,
                                         capture_output=True)
                    assert res.returncode == 0, res.stderr
                    out["real-heimdal-%s-%s-%s-%s" % (
                        mech, "mutual" if mutual else "nomutual",
                        ("cb%d" % af if af else "cb") if cb else "nocb",
                        "deleg" if deleg else "nodeleg")] = res.stdout
    return out


def java_tokens(tmp_path, alice, realm):
    """OpenJDK's JGSS as the client.  {} without a JDK."""
    import shutil
    java = shutil.which("java")
    if java is None:
        return {}
    out_dir = tmp_path / "java"
    out_dir.mkdir()
    env = dict(alice.env)
    env["KRB5CCNAME"] = alice.ccache.replace("FILE:", "")
    res = subprocess.run(
        [java, "-Djava.security.krb5.conf=" + realm.krb5_conf,
         "-Djavax.security.auth.useSubjectCredsOnly=false",
         os.path.join(DIFF_SRC, "JgssToken.java"), str(out_dir),
         "localhost", CB_APP.hex()],
        env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return {p.stem: p.read_bytes() for p in out_dir.iterdir()}


def framings(spnego, raw):
    """The envelope around one krb5 token, every way a client or an
    attacker may write it."""
    from test_fast_path import FRAMINGS
    inner = tokedit.spnego_mech_token(spnego)
    oid, tok_id, apreq = tokedit.krb5_parts(inner)
    out = {}
    for name, (mech, rewrite, _) in FRAMINGS.items():
        out["frame-" + name] = rewrite(spnego if mech == SPNEGO else raw)

    def krb5(**kw):
        args = {"oid": oid, "tok_id": tok_id}
        args.update(kw)
        return tokedit.build_krb5(apreq, **args)

    init = tokedit.spnego_init
    out.update({
        "frame-mechlist-ms-first": init([tokedit.KRB5_MS_OID,
                                         tokedit.KRB5_OID], inner),
        "frame-mechlist-old-first": init([tokedit.KRB5_OLD_OID], inner),
        "frame-mechlist-ntlm-first": init([tokedit.NTLM_OID,
                                           tokedit.KRB5_OID], inner),
        "frame-mechlist-krb5-only": init([tokedit.KRB5_OID], inner),
        "frame-mechlistmic": init([tokedit.KRB5_OID], inner,
                                  mic=b"\x00" * 28),
        "frame-negtokenresp-first": tokedit.spnego_resp(token=inner),
        "frame-negtokenresp-mech": tokedit.spnego_resp(
            neg_state=1, mech=tokedit.KRB5_OID, token=inner),
        "frame-raw-old-oid": krb5(oid=tokedit.KRB5_OLD_OID),
        "frame-raw-ms-oid": krb5(oid=tokedit.KRB5_MS_OID),
        "frame-raw-tokid-0200": krb5(tok_id=b"\x02\x00"),
        "frame-raw-trailer": krb5(trailer=b"\x00"),
        "frame-inner-ms-oid": init([tokedit.KRB5_OID],
                                   krb5(oid=tokedit.KRB5_MS_OID)),
        "frame-bare-apreq": apreq.enc(),
    })
    for etype in (511, 17, 23, 0):
        a = tokedit.ApReq(apreq.enc())
        a.set_auth_etype(etype)
        out["frame-auth-etype-%d" % etype] = \
            tokedit.build_krb5(a, oid, tok_id)
    for kvno in (0, 7):
        a = tokedit.ApReq(apreq.enc())
        a.set_auth_kvno(kvno)
        out["frame-auth-kvno-%d" % kvno] = tokedit.build_krb5(a, oid, tok_id)
        a = tokedit.ApReq(apreq.enc())
        a.set_ticket_kvno(kvno)
        out["frame-ticket-kvno-%d" % kvno] = \
            tokedit.build_krb5(a, oid, tok_id)
    for bits in (b"\x00\x00\x00\x00\x00", b"\x00\x60\x00\x00\x00",
                 b"\x07\x20", b"\x00"):
        a = tokedit.ApReq(apreq.enc())
        a.set_ap_options(bits)
        out["frame-ap-options-%s" % bits.hex()] = \
            tokedit.build_krb5(a, oid, tok_id)
    return out


def test_fast_path_and_gssapi_agree_on_the_corpus(tmp_path, alice, keytab,
                                                  realm):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    real = real_tokens(alice)
    spnego = real["real-mit-spnego-mutual-nocb-nodeleg"]
    raw = real["real-mit-krb5-mutual-nocb-nodeleg"]
    toks = dict(real)
    toks.update(framings(spnego, raw))
    heimdal = heimdal_tokens(tmp_path, alice)
    java = java_tokens(tmp_path, alice, realm)
    print("tokens: %d python-gssapi (MIT), %d Heimdal, %d Java"
          % (len(real), len(heimdal), len(java)))
    if shutil.which("apt-get") and os.geteuid() == 0:
        # tools/install-deps installs both clients on Debian: a corpus
        # without them would prove less than the suite says.
        assert heimdal, "no Heimdal tokens: run tools/install-deps"
        assert java, "no Java tokens: run tools/install-deps"
    toks.update(heimdal)
    toks.update(java)
    for name, tok in toks.items():
        (corpus / (name + ".tok")).write_bytes(tok)
    res = subprocess.run([driver(), keytab, str(corpus)],
                         capture_output=True, text=True, timeout=900,
                         env=realm.env)
    print(res.stdout)
    print(res.stderr[-20000:])
    assert res.returncode == 0, res.stderr[-5000:]
    assert "differences 0" in res.stdout


def test_fuzzer_runs_briefly(tmp_path, alice, keytab, realm):
    """libFuzzer mutates real tokens: the fast path accepting anything
    GSS-API refuses (or reports differently) aborts it."""
    import shutil
    if not (os.environ.get("FUZZ_CC") or shutil.which("clang-14")
            or shutil.which("clang")):
        pytest.skip("no clang with libFuzzer")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    real = real_tokens(alice)
    toks = dict(real)
    toks.update(framings(real["real-mit-spnego-mutual-nocb-nodeleg"],
                         real["real-mit-krb5-mutual-nocb-nodeleg"]))
    for name, tok in toks.items():
        (seeds / (name + ".tok")).write_bytes(tok)
    script = os.path.join(os.path.dirname(__file__), "..", "fuzz",
                          "run-fuzzers")
    env = dict(realm.env)
    env.update(FUZZ_ARTIFACTS=str(tmp_path / "artifacts"), FUZZ_KEYTAB=keytab,
               FUZZ_SEEDS=str(seeds), FUZZ_SECONDS="15")
    res = subprocess.run(["bash", script, "fuzz_fast_path"],
                         capture_output=True, text=True, timeout=600,
                         env=env)
    print(res.stdout, res.stderr)
    assert res.returncode == 0, res.stdout + res.stderr


def test_paths_agree_on_ad_tickets_and_tampered_pacs(tmp_path, ad_realm,
                                                     base_dir):
    """AD tickets carry a PAC: real tokens of users with few and 1000
    groups, and the forge's PAC mutations of each (a byte of the logon
    info or of the server signature changed, the ticket encrypted again
    with the service key; and the PAC left as it was).  The paths must
    agree also on the claims: MIT accepts the login and hides a PAC that
    does not verify (state 2), and shows one that does (state 1)."""
    import ad_realm as adr
    kt = os.path.join(base_dir, "diff-ad.keytab")
    ad_realm.export_keytab(kt, "HTTP/localhost")
    corpus = tmp_path / "corpus-ad"
    corpus.mkdir()
    with harness.krb5_config(ad_realm.krb5_conf):
        for user in ("alice", "bob", "carol", "erin"):
            c = AdClient(ad_realm, None, user)
            for mech, m in ((SPNEGO, "spnego"), (KRB5, "krb5")):
                (corpus / ("real-ad-%s-%s.tok" % (user, m))).write_bytes(
                    c.token(mech=mech)[1])
    assert adr.PASSWORDS
    res = subprocess.run([driver(), "-v", kt, str(corpus)],
                         capture_output=True, text=True, timeout=900,
                         env=ad_realm.env)
    print(res.stdout)
    assert res.returncode == 0, res.stderr[-5000:]
    assert "differences 0" in res.stdout
    lines = res.stderr.splitlines()

    def states(mutation):
        return {ln.split(" pac=")[1].split(" ")[0] for ln in lines
                if ln.startswith("real-ad-") and "/" + mutation + " " in ln
                and "fast=accept" in ln}
    # Every real token's tampered PACs: accepted by both, hidden by both.
    assert states("pac-logon-info-byte") == {"2/2"}
    assert states("pac-server-signature-byte") == {"2/2"}
    assert states("pac-unchanged") == {"1/1"}
    assert states("identity") == {"1/1"}
