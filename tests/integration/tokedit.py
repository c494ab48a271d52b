"""Take a real Negotiate token apart and put it back together with one
field changed: the hostile tokens of the fast-path regression tests and
the mutations of the differential corpus (tests/diff).

Only what is not encrypted can be edited here: framing (GSS header,
SPNEGO, length encodings), the AP-REQ's clear fields (ap-options, the
ticket's and the authenticator's etype and kvno).  What is inside the
authenticator is edited by the differential driver itself, which has the
service key (tests/diff/n8443_diff.c).
"""

SPNEGO_OID = bytes.fromhex("2b0601050502")
KRB5_OID = bytes.fromhex("2a864886f712010202")
KRB5_MS_OID = bytes.fromhex("2a864882f712010202")
KRB5_OLD_OID = bytes.fromhex("2b05010502")
NTLM_OID = bytes.fromhex("2b06010401823702020a")


def der_len(n, width=0):
    """Length octets: minimal DER, or (width > 0) the long form with
    `width` octets, leading zeros included (BER only)."""
    if width == 0:
        if n < 0x80:
            return bytes([n])
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(b)]) + b
    return bytes([0x80 | width]) + n.to_bytes(width, "big")


def tlv(tag, content, width=0):
    return bytes([tag]) + der_len(len(content), width) + content


def read_tlv(buf, i):
    """(tag, content, end) of the TLV at i."""
    tag, first = buf[i], buf[i + 1]
    if first < 0x80:
        n, h = first, 2
    else:
        k = first & 0x7f
        n, h = int.from_bytes(buf[i + 2:i + 2 + k], "big"), 2 + k
    if i + h + n > len(buf):
        raise ValueError("TLV at %d overruns" % i)
    return tag, buf[i + h:i + h + n], i + h + n


class Node:
    """A DER value: constructed ones have kids, primitive ones a value.
    width: the length form to write it with (see der_len)."""

    def __init__(self, tag, kids=None, value=None, width=0):
        self.tag, self.kids, self.value, self.width = tag, kids, value, width

    def enc(self, width=None):
        """Encode; width (if given) applies to this node and every node
        below it that has no width of its own."""
        w = self.width or (width or 0)
        if self.kids is None:
            return tlv(self.tag, self.value, w)
        return tlv(self.tag, b"".join(k.enc(width) for k in self.kids), w)

    def field(self, n):
        """The [n] wrapper of this SEQUENCE, or None."""
        return next((k for k in self.kids if k.tag == 0xa0 | n), None)

    def ctx(self, n):
        """The value inside explicit tag [n] of this SEQUENCE."""
        return self.field(n).kids[0]


def parse(buf):
    nodes, i = [], 0
    while i < len(buf):
        tag, content, i = read_tlv(buf, i)
        if tag & 0x20:
            nodes.append(Node(tag, kids=parse(content)))
        else:
            nodes.append(Node(tag, value=content))
    return nodes


def int_bytes(v):
    """INTEGER contents of v, minimal two's complement."""
    n = 1
    while True:
        try:
            return v.to_bytes(n, "big", signed=True)
        except OverflowError:
            n += 1


# ------------------------------------------------------------ krb5 tokens

class ApReq:
    """The AP-REQ ([APPLICATION 14]) of a token, as a Node tree."""

    def __init__(self, der):
        (self.node,) = parse(der)
        assert self.node.tag == 0x6e

    def seq(self):
        return self.node.kids[0]

    def ticket(self):
        return self.seq().ctx(3).kids[0]       # Ticket's SEQUENCE

    def authenticator(self):
        return self.seq().ctx(4)               # EncryptedData SEQUENCE

    def set_auth_etype(self, etype):
        self.authenticator().ctx(0).value = int_bytes(etype)

    def set_auth_kvno(self, kvno):
        enc = self.authenticator()
        f = enc.field(1)
        if f is None:
            enc.kids.insert(1, Node(0xa1, kids=[Node(0x02, value=b"")]))
            f = enc.field(1)
        f.kids[0].value = int_bytes(kvno)

    def set_ticket_kvno(self, kvno):
        enc = self.ticket().ctx(3)
        f = enc.field(1)
        if f is None:
            enc.kids.insert(1, Node(0xa1, kids=[Node(0x02, value=b"")]))
            f = enc.field(1)
        f.kids[0].value = int_bytes(kvno)

    def set_ap_options(self, bits):
        self.seq().ctx(2).value = bits

    def enc(self, width=None):
        return self.node.enc(width)


def krb5_inner(tok):
    """The raw krb5 token inside tok (itself if it is one)."""
    tag, content, end = read_tlv(tok, 0)
    if tag == 0x60:
        _, oid, j = read_tlv(content, 0)
        if oid != SPNEGO_OID:
            return tok
        return spnego_mech_token(tok)
    if tag == 0xa1:
        seq = parse(content)[0]
        return seq.ctx(2).value
    raise ValueError("not a GSS token")


def krb5_parts(raw):
    """(oid, tok_id, ApReq) of a raw krb5 token."""
    tag, content, end = read_tlv(raw, 0)
    assert tag == 0x60 and end == len(raw)
    _, oid, j = read_tlv(content, 0)
    return oid, content[j:j + 2], ApReq(content[j + 2:])


def build_krb5(apreq, oid=KRB5_OID, tok_id=b"\x01\x00", outer_width=0,
               oid_width=0, apreq_width=None, trailer=b""):
    """[APPLICATION 0] { OID, TOK_ID, AP-REQ }."""
    body = tlv(0x06, oid, oid_width) + tok_id + apreq.enc(apreq_width) \
        + trailer
    return tlv(0x60, body, outer_width)


# ----------------------------------------------------------------- SPNEGO

def spnego_fields(tok):
    """NegTokenInit's SEQUENCE Node of an [APPLICATION 0] SPNEGO token."""
    tag, content, _ = read_tlv(tok, 0)
    assert tag == 0x60
    _, oid, j = read_tlv(content, 0)
    assert oid == SPNEGO_OID
    (init,) = parse(content[j:])
    return init.kids[0]


def spnego_mech_token(tok):
    return spnego_fields(tok).ctx(2).value


def spnego_init(mechs, token=None, req_flags=None, mic=None, width=0,
                oid_width=0, mech_oid_width=0, outer_width=0):
    """NegTokenInit in GSS framing.  req_flags: the raw bytes of the whole
    [1] field (so that any encoding can be sent), or None.  width: length
    form of every SPNEGO value; oid_width: of the SPNEGO OID in the
    header; mech_oid_width: of the OIDs in mechTypes."""
    body = tlv(0xa0, tlv(0x30, b"".join(tlv(0x06, m, mech_oid_width)
                                         for m in mechs), width), width)
    if req_flags is not None:
        body += req_flags
    if token is not None:
        body += tlv(0xa2, tlv(0x04, token, width), width)
    if mic is not None:
        body += tlv(0xa3, tlv(0x04, mic, width), width)
    return tlv(0x60, tlv(0x06, SPNEGO_OID, oid_width)
               + tlv(0xa0, tlv(0x30, body, width), width), outer_width)


def spnego_resp(neg_state=None, mech=None, token=None, mic=None):
    body = b""
    if neg_state is not None:
        body += tlv(0xa0, tlv(0x0a, bytes([neg_state])))
    if mech is not None:
        body += tlv(0xa1, tlv(0x06, mech))
    if token is not None:
        body += tlv(0xa2, tlv(0x04, token))
    if mic is not None:
        body += tlv(0xa3, tlv(0x04, mic))
    return tlv(0xa1, tlv(0x30, body))


def rewrap_like(original, raw_krb5):
    """raw_krb5 in the envelope original came in (SPNEGO with krb5 first,
    or raw)."""
    tag, content, _ = read_tlv(original, 0)
    _, oid, _ = read_tlv(content, 0)
    if oid == SPNEGO_OID:
        return spnego_init([KRB5_OID], raw_krb5)
    return raw_krb5


def with_auth_etype(tok, etype):
    """tok (SPNEGO or raw krb5) with the authenticator's etype field
    rewritten, nothing else changed."""
    oid, tok_id, apreq = krb5_parts(krb5_inner(tok))
    apreq.set_auth_etype(etype)
    return rewrap_like(tok, build_krb5(apreq, oid, tok_id))
