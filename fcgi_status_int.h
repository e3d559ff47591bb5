/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_int.h
 * @brief Private to the status page's files: the snapshot (fcgi_status.c)
 *        that the renderers (fcgi_status_html.c, fcgi_status_json.c,
 *        fcgi_status_text.c) write out, and the words and numbers they
 *        share.
 */

#ifndef FCGIX_STATUS_INT_H
#define FCGIX_STATUS_INT_H

#include <stdint.h>

#include "httpd.h"
#include "apr_pools.h"

#include "fcgi_config.h"
#include "fcgi_lb.h"
#include "fcgi_sb.h"
#include "fcgi_stats.h"

/** Sums over processes, for a class and for everything. */
typedef struct {
    int processes;          /* slots with a live process */
    int busy;               /* processes serving a request now */
    uint32_t waiting;       /* requests waiting for the PM to start one */
    uint64_t requests;      /* served since the board was made */
    uint64_t failed_starts; /* starts that failed (backed off) */
    uint64_t restarts;      /* starts after a slot's first */
    int kept;               /* idle kept connections in this httpd child;
                               -1: nothing keeps any */
} counts_t;

/** One slot of a board class that is not empty. */
typedef struct {
    int slot;              /* index within its class */
    int pid;               /* 0 when no process runs */
    uint32_t state;        /* FCGIX_SB_* */
    int users;             /* requests in it now; -1: closed to requests */
    int retiring;          /* avoided by new requests */
    uint32_t hung;         /* 0, FCGIX_SB_HUNG or FCGIX_SB_UNREACHABLE */
    uint32_t restarts;     /* starts after its first */
    int first_start;       /* BACKOFF before its first start */
    int64_t age_ms;        /* since its process started; -1: none */
    int64_t idle_ms;       /* since its last request; -1: busy or none */
    int64_t backoff_ms;    /* until its next start; -1: not backing off */
    uint64_t requests;     /* served by the current process */
    uint64_t all_requests; /* served by the slot since the board was made */
    char socket[FCGIX_SB_SOCK_MAX];
} proc_snap_t;

/** One member of a balanced external server. */
typedef struct {
    char address[FCGIX_LB_ADDR_MAX];
    fcgix_lb_state_t state;
    int backup;
    int in_flight;
    uint64_t served;
    uint64_t failures;
    int64_t since_ms; /* since its state last changed; -1: never */
    char last_error[FCGIX_LB_ERROR_MAX]; /* "" when none */
    char name[FCGIX_LB_ADDR_MAX];        /* the host name it came from, "" */
    int64_t resolved_ms; /* since that name last resolved; -1: no name */
} member_snap_t;

/** One application class. */
typedef struct {
    fcgix_app_kind_t kind;
    const char *path;
    const char *address; /* external: socket path or host:port; -port:
                            the TCP address its processes share */
    int slots;           /* board capacity; 0 for an external server */
    int nprocs;          /* entries in procs */
    proc_snap_t *procs;
    uint64_t max_requests; /* per process; 0: no limit */
    counts_t sum;
    int balanced;           /* a balanced external server */
    int nmembers;           /* entries in members */
    member_snap_t *members; /* in the order configured */
    int has_stats;          /* stats holds its record (0: none) */
    fcgix_stats_view_t stats;
    const char *label;   /* its record's name (fcgix_stats_label()):
                            the path, or for an fcgid class with its
                            host and identity; ?metrics' app="" */
    int fcgid;           /* started in mod_fcgid's vocabulary */
    const char *host;    /* fcgid: its virtual host; else NULL */
    const char *user;    /* its suexec identity's name, or NULL */
    long uid;            /* that identity's uid; -1: none */
    const char *command; /* fcgid: the command line it runs; NULL:
                            the script itself */
    const char *capped;  /* the cap that stopped its growth, or NULL */
} class_snap_t;

/** A virtual host with processes, a cap, or requests waiting or refused
 *  (the board's tenant records). */
typedef struct {
    const char *host; /* "name:port" */
    uint32_t live, max, waiting, refused;
} tenant_snap_t;

/** An identity whose processes the PM counts (the board's user
 *  records). */
typedef struct {
    const char *name; /* from the password database, else the uid */
    uint32_t uid, live, max;
} user_snap_t;

typedef struct {
    int all;              /* every host's apps, or the request's host's */
    int pm_running;       /* its PM process exists now */
    int pm_pid;           /* 0 when none */
    int64_t pm_uptime_ms; /* -1 when not running */
    int generation;       /* configuration generation of this child */
    uint32_t waiting_new; /* waiting for an app that has no class yet */
    int nclasses;
    class_snap_t *classes;
    counts_t total;
    /* ?metrics only: the dynamic apps in the view that have a record but
     * no class now (stopped while idle), kind, path and stats set. */
    int nrecords;
    class_snap_t *records;
    int ntenants; /* the virtual hosts in the view */
    tenant_snap_t *tenants;
    int nusers; /* the identities in the view */
    user_snap_t *users;
} snap_t;

/* fcgi_status_fcgid.c: what mod_fcgid's vocabulary adds to a snapshot. */

/** The name of virtual host @a t (its server_rec's index; the board's
 *  tenant - 1), "name:port"; "#t" for an index no server has. */
const char *fcgix_status_host_name(apr_pool_t *p, int t);

/** The host index of the request's server (fcgix_srv_conf()->tenant). */
int fcgix_status_own_host(const server_rec *s);

/**
 * Fill @a cs's label and, for an fcgid class, its host, identity,
 * command and cap from board class @a k (kind and path set).
 * @return the class's host index + 1 when it is an fcgid class, else 0
 */
unsigned fcgix_status_snap_key(apr_pool_t *p, const fcgix_sb_class_t *k,
                               class_snap_t *cs);

/**
 * The virtual host named in an fcgid record's label (fcgix_stats_label()),
 * or NULL when @a label is not one.
 */
const char *fcgix_status_label_host(apr_pool_t *p, const char *label);

/**
 * The tenant and user rows of @a sn: every host with something to show
 * (or only @a own's unless @a all), every identity in use (or only those
 * of @a sn's classes unless @a all). Call it once the classes are in.
 */
void fcgix_status_snap_tenants(apr_pool_t *p, const fcgix_sb_t *sb, int all,
                               int own, snap_t *sn);

/** The name of a cap (FCGIX_SB_CAP_*), NULL for none. */
const char *fcgix_status_cap_name(uint32_t capped);

/* The counts every format shows, in the order they show them, with each
 * one's name in the HTML table, the JSON object and the ?auto lines. */
enum {
    COUNT_PROCESSES,
    COUNT_BUSY,
    COUNT_IDLE,
    COUNT_REQUESTS,
    COUNT_WAITING,
    COUNT_FAILED_STARTS,
    COUNT_RESTARTS,
    COUNT_KEPT,
    NCOUNTS
};

/** Each count's name in the HTML table, the JSON object and ?auto. */
typedef struct {
    const char *html, *json, *line;
} fcgix_status_count_name_t;

/** The names of the counts, in the order every format shows them. */
extern const fcgix_status_count_name_t fcgix_status_count_names[NCOUNTS];

/**
 * @a c's counts as text, in fcgix_status_count_names' order.
 * @param no_kept  what stands for the kept connections when nothing keeps
 *                 any
 */
void fcgix_status_count_texts(apr_pool_t *p, const counts_t *c,
                              const char *no_kept, const char *out[NCOUNTS]);

/** Add @a c to @a total. */
void fcgix_status_add_counts(counts_t *total, const counts_t *c);

/** Whether a process runs in the slot @a ps. */
int fcgix_status_has_process(const proc_snap_t *ps);

/** "static", "dynamic" or "external". */
const char *fcgix_status_kind_name(fcgix_app_kind_t kind);

/** A slot's machine-readable state (JSON, ?auto). */
const char *fcgix_status_state_name(const proc_snap_t *ps);

/** "up", "down" or "trial". */
const char *fcgix_status_member_state(fcgix_lb_state_t state);

/** Each error kind's name (JSON, ?auto, ?metrics), by fcgix_err_kind_t. */
extern const char *const fcgix_status_error_names[FCGIX_NERR];

/** Microseconds as seconds (6 decimals), or @a none when @a us < 0. */
const char *fcgix_status_usec(apr_pool_t *p, int64_t us, const char *none);

/**
 * Length of the well-formed UTF-8 sequence at @a s (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 when there
 * is none. A NUL fails the continuation test, so nothing past it is read.
 */
size_t fcgix_status_utf8_len(const unsigned char *s);

/** "not answering", "unreachable", or NULL. */
const char *fcgix_status_problem_name(uint32_t hung);

/** Seconds with millisecond precision, or @a none when @a ms < 0. */
const char *fcgix_status_seconds(apr_pool_t *p, int64_t ms, const char *none);

/** @a v in decimal. */
const char *fcgix_status_u64(apr_pool_t *p, uint64_t v);

/** The process manager's line (HTML; also mod_status's ?notable). */
void fcgix_status_html_pm(request_rec *r, const snap_t *sn);

/** Everything below the page's title; also mod_status's section. */
void fcgix_status_html_sections(request_rec *r, const snap_t *sn);

/** The HTML page; with a refresh every @a refresh seconds unless 0. */
void fcgix_status_html_page(request_rec *r, const snap_t *sn, int refresh);

/** ?json */
void fcgix_status_json_page(request_rec *r, const snap_t *sn);

/** The summary lines of ?auto; all that server-status?auto gets. */
void fcgix_status_auto_summary(request_rec *r, const snap_t *sn);

/** ?auto */
void fcgix_status_auto_page(request_rec *r, const snap_t *sn);

/** ?metrics: Prometheus' text exposition format 0.0.4. */
void fcgix_status_metrics_page(request_rec *r, const snap_t *sn);

#endif /* FCGIX_STATUS_INT_H */
