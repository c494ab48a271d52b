/*
 * replay_key.h - the replay-cache key of a Kerberos login.
 *
 * A replay is the same authenticator presented twice, so the key is a
 * digest of the AP-REQ's encrypted authenticator (found by the token
 * walker), never of the HTTP token: re-wrapping one authenticator in
 * another SPNEGO envelope, re-encoding its lengths or rewriting its etype
 * field must not give it a fresh key.
 *
 * Pure C and OpenSSL 3: no httpd, no APR.
 */
#ifndef N8443_REPLAY_KEY_H
#define N8443_REPLAY_KEY_H

#include "token_walk.h"

#define N8443_REPLAY_KEY_LEN 32

/*
 * key = SHA-256("mod_negotiate8443 replay key v2\0" || authenticator
 * cipher).  Only the cipher bytes: they are what Kerberos authenticates
 * (the session key's checksum covers them).  The etype field, a kvno and
 * every length encoding around them are not authenticated, and MIT
 * decrypts an authenticator whose etype says ENCTYPE_UNKNOWN (511) with
 * the session key anyway, so none of them may change the key.  Returns 0,
 * or -1 (key zeroed) when info has no authenticator or the digest fails.
 */
int n8443_replay_key(const n8443_apreq_info *info,
                     unsigned char key[N8443_REPLAY_KEY_LEN]);

/* Its text form (memcached, log lines): n8443_hex_encode (encode.h). */

#endif /* N8443_REPLAY_KEY_H */
