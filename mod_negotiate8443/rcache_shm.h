/*
 * rcache_shm.h - the layout of the shm replay cache's file (rcache_shm.c):
 * its header and the per-principal quota planes.
 *
 * Layout of the segment:
 *
 *   +-------------------------------+
 *   | rc_header                     |  magic, geometry, shared counters,
 *   |                               |  name key, quota log
 *   +-------------------------------+
 *   | rc_quota                      |  per-principal counts: a count-min
 *   |   epoch[8]                    |  sketch (4 rows x 2048 cells) per
 *   |   cell[8][4][2048]            |  time window, 8 windows covering the
 *   |                               |  retention
 *   +-------------------------------+
 *   | bucket 0: rc_slot[8]          |  rc_slot = { key[16], expires }
 *   | bucket 1: rc_slot[8]          |  expires == 0: never used
 *   | ...                           |  expires <= now: free for reuse
 *   | bucket nbuckets-1             |
 *   +-------------------------------+
 */
#ifndef N8443_RCACHE_SHM_H
#define N8443_RCACHE_SHM_H

#include "apr.h"
#include "rc_table.h"
#include "stats.h"

#define RC_MAGIC  0x4e384447u /* "N8DG": the file's first word */
#define RC_LAYOUT 2           /* bumped with any layout change */
#define RC_SLOTS  N8443_RC_TABLE_SLOTS

#define RC_QWINDOWS      8
#define RC_QROWS         4
#define RC_QWIDTH        2048 /* 11 bits of the digest per row */
#define RC_QLOG          64   /* quota log lines remembered */
#define RC_QLOG_INTERVAL 60   /* s between two lines per principal */

typedef struct {
    apr_int64_t epoch[RC_QWINDOWS]; /* window number a plane counts */
    apr_uint32_t cell[RC_QWINDOWS][RC_QROWS][RC_QWIDTH];
} rc_quota;

typedef struct {
    apr_uint64_t tag;
    apr_int64_t logged; /* seconds */
} rc_quota_log;

typedef struct {
    apr_uint32_t magic;        /* written last: a complete header */
    apr_uint32_t layout;       /* RC_LAYOUT */
    apr_uint64_t bytes;        /* of the whole file */
    apr_uint32_t header_bytes; /* sizeof(rc_header) */
    apr_uint32_t nbuckets;
    apr_uint64_t capacity;
    apr_int64_t born;      /* the watermark (apr_time_t) */
    char boot_id[40];      /* the host's boot it was made in */
    apr_uint32_t errors;   /* lock failures, this run */
    apr_int64_t retention; /* entries' lifetime (latest run) */
    apr_int64_t last_seen; /* the clock's latest reading */
    apr_uint64_t stores;   /* n8443_rc_stores_sig() */
    n8443_stats stats;
    unsigned char who_key[32]; /* keys the principal digest */
    rc_quota_log qlog[RC_QLOG];
} rc_header;

#endif
