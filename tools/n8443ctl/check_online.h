/*
 * n8443ctl check --online - what its files share: the state of one
 * site's online run and the helpers below the steps.
 *
 * check_online.c runs the steps; check_online_client.c gets the client's
 * tickets, check_online_kvno.c compares the KDC's keys with the keytab's
 * and check_online_spnego.c logs in once and replays; all of them use
 * check_online_common.c.
 */
#ifndef N8443CTL_CHECK_ONLINE_H
#define N8443CTL_CHECK_ONLINE_H

#include <time.h>

#include "check.h"
#include "rc_table.h"

/* Buckets of the replay table of one run: a few logins. */
#define N8443_ONLINE_RC_BUCKETS 4

/* The state of one site's online checks. */
struct online {
    struct n8443_check_ctx *ctx;
    char dir[512];
    char ccache_name[512 + 16];
    char rcache_name[512 + 16];
    krb5_ccache cc; /* the private ccache */
    krb5_keytab kt;
    krb5_principal client;
    char *client_name;
    const char *client_how;
    const char *ldap_uri; /* the KDC is AD: its LDAP, or NULL */
    long offset;          /* KDC time - local time, seconds */
    int have_offset;
    int clock_reported;
    char acceptor_buf[512]; /* the acceptor principal, as rendered */
    /* The module's replay table (core/rc_table.c), for this run. */
    n8443_rc_slot rc_slots[N8443_ONLINE_RC_BUCKETS * N8443_RC_TABLE_SLOTS];
};

/* --------------------------------------------- check_online_common.c */

/* The text of CODE into BUF. */
const char *n8443_online_kerr(struct online *on, krb5_error_code code,
                              char *buf, size_t len);
int n8443_online_kdc_unreachable(krb5_error_code code);
void n8443_online_note_kdc_time(struct online *on, krb5_timestamp t,
                                time_t before, time_t after);
void n8443_online_report_clock(struct online *on);

/* ----------------------------------------------------------- the steps */

/* The client for everything that follows; records online.client.
 * N8443_OK, -1 when there is none (recorded), N8443_IO. */
int n8443_online_get_client(struct online *on);
/* online.kvno and online.decrypt for PRINCIPAL (check_online_kvno.c). */
void n8443_online_check_spn(struct online *on, const char *principal);
/* online.spnego and online.replay (check_online_spnego.c). */
void n8443_online_check_spnego(struct online *on);
/* online.ad-*: the SPNs' accounts in Active Directory, over LDAP
 * (check_online_ad.c), when opts->ldap_uri names it. */
void n8443_online_check_ad(struct online *on);

#endif /* N8443CTL_CHECK_ONLINE_H */
