// JgssToken - initiator tokens from Java's own Kerberos (OpenJDK JGSS) for
// the differential corpus: java JgssToken.java OUTDIR HOST CB_HEX
// writes real-java-{spnego,krb5}-{mutual,nomutual}-{cb,nocb}-{deleg,nodeleg}
// .tok from the ccache in KRB5CCNAME (java.security.krb5.conf: the realm).
import java.nio.file.Files;
import java.nio.file.Path;
import org.ietf.jgss.*;

public class JgssToken {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        String host = args[1];
        byte[] cb = java.util.HexFormat.of().parseHex(args[2]);
        GSSManager m = GSSManager.getInstance();
        GSSName name = m.createName("HTTP@" + host,
                                    GSSName.NT_HOSTBASED_SERVICE);
        Oid spnego = new Oid("1.3.6.1.5.5.2");
        Oid krb5 = new Oid("1.2.840.113554.1.2.2");
        for (Oid mech : new Oid[] { spnego, krb5 })
            for (boolean mutual : new boolean[] { true, false })
                for (boolean bind : new boolean[] { false, true })
                    for (boolean deleg : new boolean[] { false, true }) {
                        GSSContext c = m.createContext(
                            name, mech, null, GSSContext.DEFAULT_LIFETIME);
                        c.requestMutualAuth(mutual);
                        c.requestCredDeleg(deleg);
                        if (bind)
                            c.setChannelBinding(new ChannelBinding(cb));
                        byte[] t = c.initSecContext(new byte[0], 0, 0);
                        String n = String.format(
                            "real-java-%s-%s-%s-%s.tok",
                            mech.equals(spnego) ? "spnego" : "krb5",
                            mutual ? "mutual" : "nomutual",
                            bind ? "cb" : "nocb",
                            deleg ? "deleg" : "nodeleg");
                        Files.write(out.resolve(n), t);
                        c.dispose();
                    }
    }
}
