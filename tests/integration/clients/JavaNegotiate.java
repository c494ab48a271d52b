// JavaNegotiate - OpenJDK's own Kerberos as an HTTP client, for the
// channel-binding tests (issue 17).  Reads the ccache in KRB5CCNAME
// (java.security.krb5.conf: the realm).
//
//   java JavaNegotiate.java token HOST CB_HEX
//       one SPNEGO token for HTTP@HOST bound with JGSS's public
//       ChannelBinding(CB_HEX) (no addresses: GSS_C_AF_NULLADDR), base64
//       on stdout;
//   java -Djdk.https.negotiate.cbt=always JavaNegotiate.java get URL
//       HttpURLConnection with Negotiate (the JDK derives the
//       tls-server-end-point binding itself); prints the status, then
//       the response's X-Channel-Bound and X-Remote-User headers.
import java.net.HttpURLConnection;
import java.net.URL;
import java.util.Base64;
import org.ietf.jgss.*;

public class JavaNegotiate {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("token")) {
            GSSManager m = GSSManager.getInstance();
            GSSName name = m.createName("HTTP@" + args[1],
                                        GSSName.NT_HOSTBASED_SERVICE);
            GSSContext c = m.createContext(name,
                                           new Oid("1.3.6.1.5.5.2"), null,
                                           GSSContext.DEFAULT_LIFETIME);
            c.requestMutualAuth(true);
            c.setChannelBinding(new ChannelBinding(
                java.util.HexFormat.of().parseHex(args[2])));
            byte[] t = c.initSecContext(new byte[0], 0, 0);
            System.out.println(Base64.getEncoder().encodeToString(t));
            c.dispose();
            return;
        }
        HttpURLConnection c =
            (HttpURLConnection) new URL(args[1]).openConnection();
        int status = c.getResponseCode();
        System.out.println(status);
        System.out.println("X-Channel-Bound: "
                           + c.getHeaderField("X-Channel-Bound"));
        System.out.println("X-Remote-User: "
                           + c.getHeaderField("X-Remote-User"));
    }
}
