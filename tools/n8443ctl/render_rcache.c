/*
 * n8443ctl - the replay cache in a rendered file: NegotiateReplayCache
 * and, for Redis, its NegotiateReplayCacheRedis* settings in the vhost;
 * the instance-wide NegotiateReplayCacheFile and
 * NegotiateReplayCacheMargin at the top level.
 *
 * Pure, as render.c: a function of the loaded site file only.
 */
#include <stdio.h>

#include "site.h"

#define INDENT1 "    "

/* The Redis settings of the vhost's NegotiateReplayCache redis line;
 * left out, the module's defaults (no AUTH, plain TCP, 500 ms, no WAIT). */
static void render_redis(const struct n8443_redis *r, struct n8443_buf *out)
{
    if (r->auth_file.set) {
        n8443_buf_printf(out,
                         INDENT1 "# Read by httpd's parent (root) at start-up; "
                                 "mode 0600.\n" INDENT1
                                 "NegotiateReplayCacheRedisAuth \"%s\"\n",
                         r->auth_file.v);
    }
    if (r->tls_ca.set) {
        n8443_buf_printf(out,
                         INDENT1 "NegotiateReplayCacheRedisTLS \"%s\"%s%s\n",
                         r->tls_ca.v, r->tls_name.set ? " " : "",
                         r->tls_name.set ? r->tls_name.v : "");
    }
    if (r->timeout.set) {
        n8443_buf_printf(out, INDENT1 "NegotiateReplayCacheRedisTimeout %ld\n",
                         r->timeout.v);
    }
    if (r->wait_replicas.set) {
        n8443_buf_printf(out, INDENT1 "NegotiateReplayCacheRedisWait %ld",
                         r->wait_replicas.v);
        if (r->wait_timeout.set) {
            n8443_buf_printf(out, " %ld", r->wait_timeout.v);
        }
        n8443_buf_puts(out, "\n");
    }
}

void n8443_render_replay_cache(const struct n8443_kerberos *krb,
                               struct n8443_buf *out)
{
    const struct n8443_replay *rc = &krb->replay_cache;

    switch (rc->kind) {
    case N8443_RC_NONE:
        n8443_buf_puts(out,
                       INDENT1 "# replay_cache none: a captured login token "
                               "can be replayed.\n" INDENT1
                               "NegotiateReplayCache none\n");
        break;
    case N8443_RC_MEMCACHE:
        n8443_buf_printf(out, INDENT1 "NegotiateReplayCache memcache %s\n",
                         rc->arg);
        break;
    case N8443_RC_REDIS:
        if (rc->master != NULL) {
            n8443_buf_printf(
                out, INDENT1 "NegotiateReplayCache redis-sentinel %s %s\n",
                rc->arg, rc->master);
        }
        else {
            n8443_buf_printf(out, INDENT1 "NegotiateReplayCache redis %s\n",
                             rc->arg);
        }
        render_redis(&krb->redis, out);
        break;
    case N8443_RC_KRB5:
        n8443_buf_printf(out, INDENT1 "NegotiateReplayCache krb5 %s\n",
                         rc->arg);
        break;
    default: n8443_buf_puts(out, INDENT1 "NegotiateReplayCache shm\n"); break;
    }
}

void n8443_render_replay_globals(const struct n8443_config *cfg,
                                 struct n8443_buf *out)
{
    if (cfg->replay_cache_file == NULL && cfg->replay_cache_margin < 0) {
        return;
    }
    n8443_buf_puts(out, "\n# The instance's replay cache table and its "
                        "margin after a memory loss:\n"
                        "# httpd takes both only at the top level.\n");
    if (cfg->replay_cache_file != NULL) {
        n8443_buf_printf(out, "NegotiateReplayCacheFile \"%s\"\n",
                         cfg->replay_cache_file);
    }
    if (cfg->replay_cache_margin >= 0) {
        n8443_buf_printf(out, "NegotiateReplayCacheMargin %ld\n",
                         cfg->replay_cache_margin);
    }
}
