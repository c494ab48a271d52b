"""Print one base64 initiator token for HTTP@HOST from the ccache in
KRB5CCNAME: run under faketime to make a client whose clock is off.
Usage: mktoken.py HOST [spnego|krb5]"""

import base64
import sys

import gssapi

MECHS = {"spnego": "1.3.6.1.5.5.2", "krb5": "1.2.840.113554.1.2.2"}

name = gssapi.Name("HTTP@" + sys.argv[1], gssapi.NameType.hostbased_service)
mech = gssapi.OID.from_int_seq(MECHS[sys.argv[2] if len(sys.argv) > 2
                                     else "spnego"])
ctx = gssapi.SecurityContext(name=name, usage="initiate", mech=mech)
print(base64.b64encode(ctx.step()).decode())
