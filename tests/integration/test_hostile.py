"""Hostile input: a catalogue of requests an attacker would send to a
Kerberos front door, each with the exact status the contract gives it, sent
byte for byte over raw TLS sockets.

Who answers matters as much as what: "module" cases must carry the
module's log tag (the module saw the request and chose the status);
"httpd" cases are refused by httpd's own limits (LimitRequestFieldSize
8190, LimitRequestFields 100, LimitRequestLine, strict header syntax,
Timeout) before the module sees them, which the contract also accepts.
No request may get a 500, and no child may die ('exit signal' in the error
log).  Also here: every prefix of real tokens, slowloris-style partial
headers, and a brief run of every libFuzzer target.
"""

import base64
import concurrent.futures
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import KRB5, PASSWORDS, SPN_EXPLICIT, location, start_httpd
from tokedit import (KRB5_MS_OID, KRB5_OID, NTLM_OID, SPNEGO_OID, Node,
                     read_tlv, spnego_init, spnego_resp, tlv)
from tokedit import parse as parse_der

BODY = "\n" + location("/protected", 'AuthName "n8443 hostile"') + \
    SPN_EXPLICIT + \
    location("/fallback", 'AuthName "n8443 hostile fallback"',
             "NegotiateBasicFallback On")

# httpd's defaults, stated so that the cases below can be read against them.
LIMIT_FIELD_SIZE = 8190
LIMIT_FIELDS = 100
MAX_TOKEN = 4096          # NegotiateMaxTokenSize for this server
TIMEOUT = 6               # httpd's Timeout for this server (slowloris)

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def hsrv(base_dir, module_path, realm, certs, keytab):
    srv = start_httpd(base_dir, module_path, realm, certs, keytab, BODY,
                      name="httpd-hostile",
                      extra_global="NegotiateMaxTokenSize %d\nTimeout %d\n"
                                   "KeepAliveTimeout 2" % (MAX_TOKEN,
                                                           TIMEOUT))
    yield srv
    srv.stop()


# ------------------------------------------------------------ raw HTTP/TLS

class Response:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
        self.status = int(m.group(1)) if m else None
        self.headers = []
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            self.headers.append((k.strip().decode("latin-1").lower(),
                                 v.strip().decode("latin-1")))

    def get_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]


def tls_connect(srv, timeout=30):
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.check_hostname = False
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def read_all(tls):
    data = b""
    while True:
        try:
            chunk = tls.recv(65536)
        except (ssl.SSLError, ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def exchange(srv, raw, pieces=None, pause=0.0, timeout=30):
    """Send raw (or raw cut into pieces, with a pause between them) on a
    new TLS connection and read until the server closes it."""
    tls = tls_connect(srv, timeout)
    try:
        try:
            if pieces is None:
                tls.sendall(raw)
            else:
                for i in range(0, len(raw), pieces):
                    tls.sendall(raw[i:i + pieces])
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass    # httpd may refuse before it has read everything
        return Response(read_all(tls))
    finally:
        tls.close()


def request(srv, fields, path="/protected/", line=None):
    """A request with exactly these header lines (bytes or str), a Host and
    Connection: close, in this order."""
    first = line if line is not None else b"GET %s HTTP/1.1" % path.encode()
    out = [first, b"Host: localhost:%d" % srv.port]
    for f in fields:
        out.append(f if isinstance(f, bytes) else f.encode("latin-1"))
    out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n"


def authz(value):
    return b"Authorization: " + (value if isinstance(value, bytes)
                                 else value.encode("latin-1"))


def neg(token):
    return authz(b"Negotiate " + base64.b64encode(token))


def basic(raw):
    return authz(b"Basic " + base64.b64encode(raw))


# ------------------------------------------------------------------- DER
# tokedit's tlv, read_tlv, Node, parse (here parse_der), spnego_init,
# spnego_resp and OIDs.

NEGOEX_OID = bytes.fromhex("2b06010401823702021e")
IAKERB_OID = bytes.fromhex("2b06010502 05".replace(" ", ""))

NTLM_NEGOTIATE = base64.b64decode(
    "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
# An NTLM AUTHENTICATE (type 3) message: header and empty security buffers.
NTLM_AUTHENTICATE = (b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 8 * 6
                     + b"\x05\x82\x88\xa2")
# A NegoEx message header as Windows sends it first (signature "NEGOEXTS").
NEGOEX_MSG = b"NEGOEXTS" + bytes(8) + b"\x00" * 24 + bytes(16) * 2


class Krb5Token:
    """A real raw krb5 initiator token, taken apart for editing:
    [APPLICATION 0] { OID, TOK_ID, AP-REQ }."""

    def __init__(self, raw):
        tag, content, end = read_tlv(raw, 0)
        assert tag == 0x60 and end == len(raw)
        _, _, j = read_tlv(content, 0)
        self.oid_tlv = content[:j]
        self.tok_id = content[j:j + 2]
        assert self.tok_id == b"\x01\x00"
        (self.apreq,) = parse_der(content[j + 2:])

    def seq(self):
        return self.apreq.kids[0]

    def ticket(self):
        return self.seq().ctx(3).kids[0]       # Ticket's SEQUENCE

    def bytes(self, tok_id=None, trailer=b""):
        return tlv(0x60, self.oid_tlv + (tok_id or self.tok_id)
                   + self.apreq.enc() + trailer)


def flip(b, i=None):
    i = len(b) // 2 if i is None else i
    return b[:i] + bytes([b[i] ^ 0x01]) + b[i + 1:]


# ------------------------------------------------------------- the catalogue

class Tokens:
    """Fresh tokens from alice for each case that needs one."""

    def __init__(self, alice):
        self.alice = alice

    def spnego(self):
        return self.alice.token()[1]

    def krb5(self):
        return self.alice.token(mech=KRB5)[1]

    def other_spn(self):
        return self.alice.token(host="other.test.n8443")[1]

    def edited(self, edit):
        t = Krb5Token(self.krb5())
        edit(t)
        return t.bytes()


def _set_int(node, value_bytes):
    node.value = value_bytes


def _sname_parts(t, n):
    names = t.ticket().ctx(2).ctx(1)
    names.kids = [Node(0x1b, value=b"p%d" % i) for i in range(n)]


def _extra_field(t):
    t.seq().kids.append(Node(0xa5, kids=[Node(0x02, value=b"\x00")]))


def _set_length(tok, offset, length_bytes):
    """Replace the length octets of the TLV at offset."""
    first = tok[offset + 1]
    old = 1 + (first & 0x7f if first >= 0x80 else 0)
    return tok[:offset + 1] + length_bytes + tok[offset + 1 + old:]


def _deep_nesting(depth):
    inner = tlv(0x04, b"x")
    for _ in range(depth):
        inner = tlv(0xa0, inner)
    return tlv(0x60, tlv(0x06, SPNEGO_OID) + inner)


def _mech_token_len_plus_one(tok):
    """The mechToken OCTET STRING claims one byte more than there is, and
    no enclosing length is changed."""
    i = tok.find(b"\xa2\x82")
    assert i > 0
    j = i + 4                                   # the 0x04 inside [2]
    assert tok[j] == 0x04 and tok[j + 1] == 0x82
    n = int.from_bytes(tok[j + 2:j + 4], "big") + 1
    return tok[:j + 2] + n.to_bytes(2, "big") + tok[j + 4:]


def _apreq_len_huge(t):
    raw = t.bytes()
    i = raw.find(b"\x6e\x82")                   # AP-REQ
    return _set_length(raw, i, b"\x84\x7f\xff\xff\xff")


# (id, request builder(srv, tokens) -> bytes, path, status, who, log tag)
# who: "module" (the tag must be logged) or "httpd" (refused before the
# module; a tag is not expected).
CASES = [
    # --- the Authorization header itself
    ("no-header", lambda s, t: request(s, []), "/protected/", 401,
     "module", None),
    ("empty-value", lambda s, t: request(s, [b"Authorization: "]),
     "/protected/", 400, "module", "N8443018"),
    ("scheme-only", lambda s, t: request(s, [authz("Negotiate")]),
     "/protected/", 400, "module", "N8443017"),
    ("scheme-trailing-spaces",
     lambda s, t: request(s, [authz("Negotiate \t  ")]),
     "/protected/", 400, "module", "N8443017"),
    ("only-padding", lambda s, t: request(s, [authz("Negotiate ====")]),
     "/protected/", 400, "module", "N8443018"),
    ("not-token68", lambda s, t: request(s, [authz("Negotiate !!x*y!!")]),
     "/protected/", 400, "module", "N8443018"),
    ("two-params", lambda s, t: request(s, [authz("Negotiate abcd efgh")]),
     "/protected/", 400, "module", "N8443018"),
    ("base64-url-alphabet", lambda s, t: request(s, [authz("Negotiate YW-j")]),
     "/protected/", 400, "module", "N8443022"),
    ("base64-nonzero-pad-bits",
     lambda s, t: request(s, [authz("Negotiate QR==")]),
     "/protected/", 400, "module", "N8443022"),
    ("base64-bad-length", lambda s, t: request(s, [authz("Negotiate YWJjZA")]),
     "/protected/", 400, "module", "N8443022"),
    ("base64-pad-inside", lambda s, t: request(
        s, [authz(b"Negotiate " + base64.b64encode(b"ab") + b"YWJj")]),
     "/protected/", 400, "module", "N8443018"),   # '=' only at the end
    ("two-tokens-comma", lambda s, t: request(s, [authz(
        b"Negotiate " + base64.b64encode(t.spnego()) + b", Negotiate "
        + base64.b64encode(t.spnego()))]),
     "/protected/", 400, "module", "N8443018"),
    # httpd merges repeated fields into one value joined by ", " before any
    # module sees them: the module refuses that as malformed (N8443018);
    # N8443015 ("more than one Authorization header") is for a table that
    # still holds several.
    ("repeated-field-x2", lambda s, t: request(
        s, [neg(t.spnego()), neg(t.spnego())]),
     "/protected/", 400, "module", "N8443018|N8443015"),
    # Host and Connection count too: 98 + 2 fields is exactly the limit.
    ("repeated-field-x98", lambda s, t: request(
        s, [neg(b"\x60\x00")] * (LIMIT_FIELDS - 2)),
     "/protected/", 400, "module", "N8443018|N8443015"),
    ("fields-over-limit-101", lambda s, t: request(
        s, [neg(b"\x60\x00")] * (LIMIT_FIELDS + 1)),
     "/protected/", 400, "httpd", None),
    ("field-over-8190", lambda s, t: request(
        s, [authz("Negotiate " + "A" * (LIMIT_FIELD_SIZE + 8))]),
     "/protected/", 400, "httpd", None),
    ("token-over-max-before-decode", lambda s, t: request(
        s, [neg(b"\x60" * 5000)]),
     "/protected/", 400, "module", "N8443019"),
    ("token-max-plus-one", lambda s, t: request(
        s, [neg(b"\x60" * (MAX_TOKEN + 1))]),
     "/protected/", 400, "module", "N8443023"),
    ("token-exactly-max-random", lambda s, t: request(
        s, [neg(bytes((i * 131 + 7) % 256 for i in range(MAX_TOKEN)))]),
     "/protected/", 400, "module", "N8443013"),
    ("control-byte-in-value", lambda s, t: request(
        s, [authz(b"Negotiate \x01YWJj")]),
     "/protected/", 400, "httpd", None),
    ("nul-byte-in-value", lambda s, t: request(
        s, [authz(b"Negotiate YW\x00Jj")]),
     "/protected/", 400, "httpd", None),
    ("space-before-colon", lambda s, t: request(
        s, [b"Authorization : Negotiate " + base64.b64encode(t.spnego())]),
     "/protected/", 400, "httpd", None),
    ("request-line-over-limit", lambda s, t: request(
        s, [neg(t.spnego())], line=b"GET /protected/?" + b"a" * 9000
        + b" HTTP/1.1"),
     "/protected/", 414, "httpd", None),
    ("bearer", lambda s, t: request(s, [authz("Bearer eyJhbGciOi.x.y")]),
     "/protected/", 401, "module", "N8443016"),
    ("digest", lambda s, t: request(s, [authz(
        'Digest username="alice", realm="x", nonce="1", uri="/", '
        'response="0"')]),
     "/protected/", 401, "module", "N8443016"),
    ("basic-not-offered", lambda s, t: request(
        s, [basic(b"alice:" + PASSWORDS["alice"].encode())]),
     "/protected/", 401, "module", "N8443016"),
    ("scheme-case-insensitive", lambda s, t: request(
        s, [authz(b"nEgOtIaTe " + base64.b64encode(t.spnego()))]),
     "/protected/", 200, "module", "N8443001"),

    # --- bytes that are not a Kerberos token, or not one we accept
    ("ntlm-negotiate", lambda s, t: request(s, [neg(NTLM_NEGOTIATE)]),
     "/protected/", 401, "module", "N8443010"),
    ("ntlm-authenticate", lambda s, t: request(s, [neg(NTLM_AUTHENTICATE)]),
     "/protected/", 401, "module", "N8443010"),
    ("spnego-ntlm-with-token", lambda s, t: request(
        s, [neg(spnego_init([NTLM_OID], NTLM_NEGOTIATE))]),
     "/protected/", 401, "module", "N8443010"),
    ("spnego-ntlm-only-no-token", lambda s, t: request(
        s, [neg(spnego_init([NTLM_OID]))]),
     "/protected/", 401, "module", "N8443010"),
    ("spnego-negoex-first", lambda s, t: request(
        s, [neg(spnego_init([NEGOEX_OID, KRB5_MS_OID, NTLM_OID],
                            NEGOEX_MSG))]),
     "/protected/", 401, "module", "N8443011"),
    ("gss-iakerb", lambda s, t: request(
        s, [neg(tlv(0x60, tlv(0x06, IAKERB_OID) + b"\x05\x01" + b"x" * 20))]),
     "/protected/", 401, "module", "N8443011"),
    ("spnego-krb5-no-token", lambda s, t: request(
        s, [neg(spnego_init([KRB5_OID, NTLM_OID]))]),
     "/protected/", 401, "module", "N8443012"),
    ("negtokenresp-state-only", lambda s, t: request(
        s, [neg(spnego_resp(neg_state=1))]),
     "/protected/", 401, "module", "N8443012"),
    ("spnego-krb5-carrying-ntlm", lambda s, t: request(
        s, [neg(spnego_init([KRB5_OID], NTLM_NEGOTIATE))]),
     "/protected/", 400, "module", "N8443013"),
    ("spnego-empty-mechlist", lambda s, t: request(
        s, [neg(spnego_init([], t.krb5()))]),
     "/protected/", 400, "module", "N8443013"),
    ("der-sequence-not-gss", lambda s, t: request(
        s, [neg(tlv(0x30, tlv(0x02, b"\x05")))]),
     "/protected/", 400, "module", "N8443013"),
    ("der-valid-wrong-inner", lambda s, t: request(
        s, [neg(tlv(0x60, tlv(0x06, SPNEGO_OID)
                    + tlv(0xa1, tlv(0x30, b""))))]),
     "/protected/", 400, "module", "N8443013"),
    ("single-byte", lambda s, t: request(s, [neg(b"\x60")]),
     "/protected/", 400, "module", "N8443013"),

    # --- lengths
    ("outer-length-indefinite", lambda s, t: request(
        s, [neg(_set_length(t.spnego(), 0, b"\x80"))]),
     "/protected/", 400, "module", "N8443013"),
    ("outer-length-5-octets", lambda s, t: request(
        s, [neg(_set_length(t.spnego(), 0, b"\x85\x00\x00\x00\x02\xe3"))]),
     "/protected/", 400, "module", "N8443013"),
    ("outer-length-4GiB", lambda s, t: request(
        s, [neg(_set_length(t.spnego(), 0, b"\x84\xff\xff\xff\xff"))]),
     "/protected/", 400, "module", "N8443013"),
    ("nested-length-past-parent", lambda s, t: request(
        s, [neg(_mech_token_len_plus_one(t.spnego()))]),
     "/protected/", 400, "module", "N8443013"),
    ("apreq-length-2GiB", lambda s, t: request(
        s, [neg(_apreq_len_huge(Krb5Token(t.krb5())))]),
     "/protected/", 400, "module", "N8443013"),
    ("nesting-1000-deep", lambda s, t: request(
        s, [neg(_deep_nesting(1000))]),
     "/protected/", 400, "module", "N8443013"),
    ("trailing-byte", lambda s, t: request(
        s, [neg(t.spnego() + b"\x00")]),
     "/protected/", 400, "module", "N8443013"),
    ("trailing-byte-inside-framing", lambda s, t: request(
        s, [neg(Krb5Token(t.krb5()).bytes(trailer=b"\x00"))]),
     "/protected/", 400, "module", "N8443013"),

    # --- a real AP-REQ, edited: valid DER, wrong structure
    ("tok-id-ap-rep", lambda s, t: request(
        s, [neg(Krb5Token(t.krb5()).bytes(tok_id=b"\x02\x00"))]),
     "/protected/", 400, "module", "N8443013"),
    ("pvno-4", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.seq().ctx(0), b"\x04")))]),
     "/protected/", 400, "module", "N8443013"),
    ("msg-type-ap-rep", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.seq().ctx(1), b"\x0f")))]),
     "/protected/", 400, "module", "N8443013"),
    ("ticket-vno-4", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.ticket().ctx(0), b"\x04")))]),
     "/protected/", 400, "module", "N8443013"),
    ("sname-5-parts", lambda s, t: request(s, [neg(t.edited(
        lambda k: _sname_parts(k, 5)))]),
     "/protected/", 400, "module", "N8443013"),
    ("sname-no-parts", lambda s, t: request(s, [neg(t.edited(
        lambda k: _sname_parts(k, 0)))]),
     "/protected/", 400, "module", "N8443013"),
    ("kvno-5-octets", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.ticket().ctx(3).ctx(1),
                           b"\x00\xff\xff\xff\xff")))]),
     "/protected/", 400, "module", "N8443013"),
    ("authenticator-empty", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.seq().ctx(4).ctx(2), b"")))]),
     "/protected/", 400, "module", "N8443013"),
    ("apreq-extra-field", lambda s, t: request(s, [neg(t.edited(
        _extra_field))]),
     "/protected/", 400, "module", "N8443013"),
    ("bitstring-bad-unused-bits", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.seq().ctx(2), b"\x09\x20\x00\x00\x00")))]),
     "/protected/", 400, "module", "N8443013"),

    # --- well-formed, and Kerberos says no
    ("ticket-cipher-flipped", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.ticket().ctx(3).ctx(2),
                           flip(k.ticket().ctx(3).ctx(2).value))))]),
     "/protected/", 401, "module", "N8443020"),
    ("authenticator-flipped", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.seq().ctx(4).ctx(2),
                           flip(k.seq().ctx(4).ctx(2).value))))]),
     "/protected/", 401, "module", "N8443020"),
    # The ticket's realm and sname travel in the clear: only the key
    # decides (MIT compares no names once a key of the acceptor opened the
    # ticket, for aliases' sake).  With "any" principal, and with the one
    # configured principal alike, HTTP/localhost's key opens it, and it is
    # still alice's login, with the client name from the encrypted part
    # (checked below): no one gets in as anyone else.
    ("ticket-realm-changed-any", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.ticket().ctx(1), b"EVIL.N8443")))]),
     "/protected/", 200, "module", "N8443001"),
    ("ticket-realm-changed-explicit", lambda s, t: request(s, [neg(t.edited(
        lambda k: _set_int(k.ticket().ctx(1), b"EVIL.N8443")))]),
     "/spn-explicit/", 404, "module", "N8443001"),   # in; no such page
    ("ticket-for-other-spn", lambda s, t: request(s, [neg(t.other_spn())]),
     "/protected/", 401, "module", "N8443020"),

    # --- Basic (fallback location): NULs, control bytes, sizes
    ("basic-nul-in-user", lambda s, t: request(
        s, [basic(b"ali\x00ce:" + PASSWORDS["alice"].encode())]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-nul-in-password", lambda s, t: request(
        s, [basic(b"alice:" + PASSWORDS["alice"].encode() + b"\x00x")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-del-in-user", lambda s, t: request(
        s, [basic(b"alice\x7f:pw")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-crlf-in-user", lambda s, t: request(
        s, [basic(b"alice\r\nX-Injected: 1:pw")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-empty-user", lambda s, t: request(s, [basic(b":pw")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-no-colon", lambda s, t: request(s, [basic(b"alice")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-bad-base64", lambda s, t: request(s, [authz("Basic YW-j")]),
     "/fallback/", 400, "module", "N8443082"),
    ("basic-empty", lambda s, t: request(s, [authz("Basic")]),
     "/fallback/", 400, "module", "N8443017"),
    ("basic-user-257", lambda s, t: request(
        s, [basic(b"a" * 257 + b":pw")]),
     "/fallback/", 401, "module", "N8443080"),
    ("basic-user-5000", lambda s, t: request(
        s, [basic(b"a" * 5000 + b":pw")]),
     "/fallback/", 401, "module", "N8443080"),
    ("basic-password-1025", lambda s, t: request(
        s, [basic(b"alice:" + b"p" * 1025)]),
     "/fallback/", 401, "module", "N8443080"),
    ("basic-overlong-utf8", lambda s, t: request(
        s, [basic(b"\xc0\xafalice:pw")]),
     "/fallback/", 401, "module", "N8443080"),
    ("basic-two-realms", lambda s, t: request(
        s, [basic(b"alice@TEST.N8443@EVIL.N8443:pw")]),
     "/fallback/", 401, "module", "N8443081"),
    ("basic-wrong-password", lambda s, t: request(
        s, [basic(b"alice:not-her-password")]),
     "/fallback/", 401, "module", "N8443081"),
    ("basic-right-password", lambda s, t: request(
        s, [basic(b"alice:" + PASSWORDS["alice"].encode())]),
     "/fallback/", 404, "module", "N8443083"),   # in; no such page
]


def _build(case, srv, tokens):
    cid, build, path, status, who, tag = case
    raw = build(srv, tokens)
    if path != "/protected/":
        raw = raw.replace(b"GET /protected/ ", b"GET %s " % path.encode(), 1)
    return raw


def wait_for_log(srv, mark, needles, timeout=5.0):
    """The log since mark, once one of the needles ("A|B") is in it (httpd
    writes the log line after the response went out), or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with open(srv.error_log, errors="replace") as f:
            f.seek(mark)
            text = f.read()
        if any(n in text for n in needles.split("|")) \
                or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_catalogue_is_big_enough():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(hsrv, alice, case):
    cid, _, path, expected, who, tag = case
    mark = hsrv.log_mark()
    resp = exchange(hsrv, _build(case, hsrv, Tokens(alice)))
    assert resp.status == expected, (cid, resp.raw[:300])
    if expected == 401:
        # The challenge again (both schemes where Basic is offered), and
        # nothing else about why.
        assert resp.get_all("WWW-Authenticate") == (
            ["Negotiate", 'Basic realm="n8443 hostile fallback"']
            if path == "/fallback/" else ["Negotiate"]), resp.raw[:400]
    if expected in (200, 404):
        assert resp.get_all("X-Remote-User") == ["alice@TEST.N8443"]
    if who == "module" and tag is not None:
        log = wait_for_log(hsrv, mark, tag)
        assert any(t in log for t in tag.split("|")), (cid, log[-2000:])
    if who == "httpd":
        # Refused before the module looked at it.
        log = wait_for_log(hsrv, mark, "N8443", timeout=0.3)
        assert "N8443" not in log, (cid, log[-2000:])


@pytest.mark.parametrize("cred", [b"alice:not-her-password",
                                  b"a" * 257 + b":pw"])
def test_basic_refusal_carries_the_challenge(hsrv, cred):
    """A refused Basic login is a 401 like any other: it must offer both
    schemes again, or a browser never asks the user for another try."""
    resp = exchange(hsrv, request(hsrv, [basic(cred)], path="/fallback/"))
    assert resp.status == 401
    assert resp.get_all("WWW-Authenticate") == [
        "Negotiate", 'Basic realm="n8443 hostile fallback"'], resp.raw[:400]


def _prefixes_all_400(srv, token, workers=4):
    def one(k):
        raw = request(srv, [neg(token[:k])] if k else
                      [authz("Negotiate ")])
        return k, exchange(srv, raw).status

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = dict(pool.map(one, range(len(token))))
    wrong = {k: s for k, s in results.items() if s != 400}
    return len(results), wrong


@pytest.mark.parametrize("mech", ["spnego", "krb5"])
def test_truncated_at_every_byte(hsrv, alice, mech):
    """Every proper prefix of a real token (0 .. len-1 bytes) is 400:
    no prefix of a DER value is a DER value of the same type."""
    token = alice.token(mech=KRB5 if mech == "krb5" else
                        "1.3.6.1.5.5.2")[1]
    n, wrong = _prefixes_all_400(hsrv, token)
    assert n == len(token) > 500
    assert wrong == {}, "prefix lengths with another status: %r" % wrong
    # ... and the whole token still logs in.
    resp = exchange(hsrv, request(hsrv, [neg(token)]))
    assert resp.status == 200


# ------------------------------------------------------------ slowloris

def test_stalled_partial_headers_time_out_with_408(hsrv, alice):
    """Half a request, then nothing: httpd's Timeout answers 408 (httpd's
    own limit; the module never sees a request) and frees the thread."""
    tls = tls_connect(hsrv, timeout=TIMEOUT * 4)
    try:
        tls.sendall(b"GET /protected/ HTTP/1.1\r\nHost: localhost\r\n"
                    b"Authorization: Negotiate YIIC")
        start = time.monotonic()
        resp = Response(read_all(tls))
        waited = time.monotonic() - start
    finally:
        tls.close()
    assert resp.status == 408, resp.raw[:200]
    assert TIMEOUT - 1 <= waited <= TIMEOUT * 3, waited


def test_many_stalled_connections_do_not_block_logins(hsrv, alice):
    """Twenty connections that each sent part of their headers and then
    dribble one byte a second; meanwhile logins go through, and when the
    dribblers stop, every one of them gets 408 or is closed."""
    stalled = []
    try:
        # (20: under valgrind httpd is one process of 25 threads, and each
        # connection that is still reading its headers holds one.)
        for _ in range(20):
            tls = tls_connect(hsrv, timeout=TIMEOUT * 4)
            tls.sendall(b"GET /protected/ HTTP/1.1\r\nHost: x\r\nX-Pad: ")
            stalled.append(tls)
        for i in range(3):
            for tls in stalled:
                try:
                    tls.sendall(b"a")
                except OSError:
                    pass
            resp = exchange(hsrv, request(hsrv, [neg(alice.token()[1])]),
                            timeout=10)
            assert resp.status == 200, (i, resp.raw[:200])
            time.sleep(1)
        statuses = []
        for tls in stalled:
            statuses.append(Response(read_all(tls)).status)
        assert set(statuses) <= {408, None}, statuses
    finally:
        for tls in stalled:
            tls.close()


def test_slow_but_complete_request_logs_in(hsrv, alice):
    """A complete request with a good token, sent 64 bytes at a time with
    pauses (each under Timeout): a slow client is not refused."""
    raw = request(hsrv, [neg(alice.token()[1])])
    resp = exchange(hsrv, raw, pieces=64, pause=0.05)
    assert resp.status == 200, resp.raw[:300]


def test_partial_header_then_close_leaves_no_trace(hsrv):
    """Clients that hang up half-way through the header: no response to
    give, nothing for the module to do, no child hurt."""
    for cut in (10, 40, 80):
        raw = request(hsrv, [authz("Negotiate " + "YIIC" * 30)])
        tls = tls_connect(hsrv)
        tls.sendall(raw[:cut])
        tls.close()
    resp = exchange(hsrv, request(hsrv, []))
    assert resp.status == 401


# -------------------------------------------------------------- fuzzers

def _fuzz_compiler():
    for cc in ("clang-14", "clang"):
        if shutil.which(cc):
            return cc
    return None


@pytest.mark.parametrize("runner,targets", [
    ("tests/fuzz/run-fuzzers", ["fuzz_authz_header", "fuzz_token_walk"]),
    ("tests/fuzz/run-fuzzers", ["fuzz_sealed_cookie"]),
])
def test_fuzz_targets_run_briefly(tmp_path, runner, targets):
    """Each libFuzzer target, built with ASan+UBSan, on its seed corpus
    for a few seconds: no crash, no failed property, no leak."""
    cc = _fuzz_compiler()
    if cc is None:
        pytest.skip("no clang for libFuzzer (apt-get install clang-14 "
                    "libfuzzer-14-dev)")
    script = os.path.join(TOP, runner)
    if not os.path.exists(script):
        pytest.fail("%s is missing" % runner)
    env = dict(os.environ, FUZZ_CC=cc, FUZZ_SECONDS="3",
               FUZZ_ARTIFACTS=str(tmp_path / "artifacts"), TMPDIR=str(tmp_path))
    env.pop("LD_PRELOAD", None)
    res = subprocess.run(["bash", script] + targets, env=env,
                         capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    for t in targets:
        m = re.search(r"=== %s: execs (\d+)" % t, out)
        assert m and int(m.group(1)) > 100, out[-4000:]


def test_yaml_loader_fuzzer_runs_briefly(tmp_path):
    """n8443ctl's site loader target, built by its own rule in the build
    directory, on a copy of its seed corpus for a few seconds."""
    from conftest import build_dir
    cc = _fuzz_compiler()
    if cc is None:
        pytest.skip("no clang for libFuzzer (apt-get install clang-14 "
                    "libfuzzer-14-dev)")
    bdir = build_dir()
    res = subprocess.run(["make", "-C", bdir, "FUZZ_CC=" + cc,
                          "tests/fuzz/fuzz_site_load"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    corpus = tmp_path / "corpus"
    shutil.copytree(os.path.join(TOP, "tests", "n8443ctl", "fuzz-corpus"),
                    corpus)
    assert len(os.listdir(corpus)) > 5
    res = subprocess.run(
        [os.path.join(bdir, "tests", "fuzz", "fuzz_site_load"),
         "-max_total_time=3", "-print_final_stats=1", "-timeout=10",
         "-dict=" + os.path.join(TOP, "tests", "n8443ctl",
                                 "fuzz-site.dict"),
         "-artifact_prefix=%s/" % tmp_path, str(corpus)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, UBSAN_OPTIONS="halt_on_error=1"))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    m = re.search(r"stat::number_of_executed_units: (\d+)", out)
    assert m and int(m.group(1)) > 100, out[-2000:]


# ------------------------------------------------------- after all of it

def test_no_500_and_no_child_died(hsrv):
    """Runs last in this file: nothing above got a 500 or killed a child,
    and the server still serves."""
    time.sleep(0.3)
    with open(hsrv.error_log, errors="replace") as f:
        log = f.read()
    assert "exit signal" not in log, [l for l in log.splitlines()
                                      if "exit signal" in l][:5]
    assert "AH00052" not in log      # child pid ... exit signal
    with open(os.path.join(hsrv.dir, "access.log"), errors="replace") as f:
        statuses = [line.rsplit(" ", 1)[-1].strip() for line in f]
    assert "500" not in statuses
    assert len(statuses) > len(CASES)
    assert hsrv.proc.poll() is None
    assert exchange(hsrv, request(hsrv, [])).status == 401
