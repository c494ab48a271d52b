#!/bin/sh
# The page a browser or a script sees after a Kerberos login: the identity
# that mod_negotiate8443 handed to the application, as HTML.  Each value is
# in an element with an id, so that tests can read it back.
esc() {
    printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' \
        -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}
printf 'Content-Type: text/html; charset=utf-8\r\n'
printf 'Cache-Control: no-store\r\n\r\n'
cat <<EOF
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>n8443 whoami</title>
<style>
 body { font-family: sans-serif; margin: 2em; background: #f4f7fb; }
 .card { background: #fff; border: 1px solid #c9d4e3; border-radius: 8px;
         padding: 1.5em 2em; max-width: 40em; }
 h1 { color: #1d5f2c; font-size: 1.6em; margin-top: 0; }
 #user { font-size: 1.3em; color: #0b3d91; }
 td { padding: .2em 1em .2em 0; } td:first-child { color: #555; }
</style></head>
<body><div class="card">
<h1>Signed in with Kerberos</h1>
<p>Logged in as <strong id="user">$(esc "$REMOTE_USER")</strong></p>
<table>
<tr><td>AUTH_TYPE</td><td id="auth-type">$(esc "$AUTH_TYPE")</td></tr>
<tr><td>NEGOTIATE_PRINCIPAL</td><td id="principal">$(esc "$NEGOTIATE_PRINCIPAL")</td></tr>
<tr><td>NEGOTIATE_MECH</td><td id="mech">$(esc "$NEGOTIATE_MECH")</td></tr>
<tr><td>NEGOTIATE_CHANNEL_BOUND</td><td id="channel-bound">$(esc "$NEGOTIATE_CHANNEL_BOUND")</td></tr>
<tr><td>KRB5CCNAME</td><td id="krb5ccname">$(esc "${KRB5CCNAME:-}")</td></tr>
<tr><td>SERVER_PORT</td><td id="port">$(esc "$SERVER_PORT")</td></tr>
</table>
</div></body></html>
EOF
