/*
 * refusal.c - the words and sentences of refusal.h.
 */
#include <stddef.h>
#include <string.h>

#include "refusal.h"

/* One reason a request is not logged in: the word the environment gets
 * and the sentence for the user.  The words are a contract (README,
 * mod_negotiate8443(8)): never renamed, only added to. */
typedef struct {
    const char *word;
    const char *text;
} refusal;

static const refusal refusals[] = {
    {"no_token", "Your browser did not send a Kerberos login for this "
                 "site: it has no Kerberos ticket, or it is not set up to use "
                 "single sign-on (Negotiate) with this site."},
    {"ntlm",
     "Your computer could not get a Kerberos ticket for this site "
     "and fell back to NTLM, which this site does not accept. It may not "
     "be joined to the domain, or this site's name is not registered for "
     "Kerberos."},
    {"no_ticket", "Your browser offered Kerberos but had no ticket for "
                  "this site's name."},
    {"other_mech", "Your browser offered a login method other than "
                   "Kerberos, which this site does not accept."},
    {"wrong_principal",
     "Your Kerberos ticket does not fit this site's "
     "keys (a name or key version mismatch on the server side): please "
     "tell the help desk."},
    {"skew", "Your computer's clock differs too much from the server's: "
             "correct the date, time and time zone, then try again."},
    {"replay", "This login was already used once: reload the page to log "
               "in again."},
    {"expired",
     "Your Kerberos ticket has expired or is not valid yet: "
     "lock and unlock your computer (or run kinit) to get a new one."},
    {"bad_bindings",
     "Your login was not bound to this secure connection; "
     "a proxy or TLS inspection between you and the site may be the "
     "cause."},
    {"malformed", "Your browser sent a login this site cannot read."},
    {"etype", "Your login used an encryption type that does not fit its "
              "ticket."},
    {"anonymous", "Anonymous Kerberos tickets are not accepted here."},
    {"bad_password", "The user name or password was not accepted."},
    {"unsupported_scheme", "Your browser used a login method this site "
                           "does not offer."},
    {"not_authorized", "You are logged in, but your account may not see "
                       "this page."},
    {"other", "The login was refused."},
    {NULL, NULL},
};

const char *n8443_refusal_text(const char *word)
{
    const refusal *f;

    for (f = refusals; f->word != NULL; f++)
        if (strcmp(f->word, word) == 0)
            return f->text;
    return NULL;
}

const char *n8443_refusal_word(unsigned int i)
{
    if (i >= sizeof(refusals) / sizeof(refusals[0]))
        return NULL;
    return refusals[i].word;
}
