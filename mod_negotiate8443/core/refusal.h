/*
 * refusal.h - why a request is not logged in, in words a 401 page can
 * show: a stable word (NEGOTIATE_ERROR) and a sentence for the user
 * (NEGOTIATE_ERROR_TEXT).  Pure C: the module sets the variables, the
 * unit tests check the table, and n8443ctl's 401 page names the words.
 */
#ifndef N8443_REFUSAL_H
#define N8443_REFUSAL_H

/* The sentence for a word (no_token, ntlm, no_ticket, other_mech, the
 * cause names of acceptor.h, bad_password, unsupported_scheme,
 * not_authorized), or NULL for an unknown word.  Nothing in a sentence
 * is secret: no key versions, keytab paths or principal names. */
const char *n8443_refusal_text(const char *word);

/* The i-th word of the table (for tests and documentation), or NULL
 * past the end. */
const char *n8443_refusal_word(unsigned int i);

#endif /* N8443_REFUSAL_H */
