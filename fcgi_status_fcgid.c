/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_fcgid.c
 * @brief What mod_fcgid's vocabulary adds to the status page's snapshot
 *        (docs/design/fcgid.md, section 4): each fcgid class's virtual
 *        host, identity and command; the virtual hosts' and the
 *        identities' processes and caps.
 *
 * Hosts are numbered as fcgix_fcgid_post_config() numbered the
 * server_recs (the board's tenant - 1) and named "name:port", as the
 * process manager names its tenants. Like the rest of the snapshot,
 * every board word is read through an atomic load, and nothing the board
 * says is trusted as an index.
 */

#include <string.h>

#include "httpd.h"
#include "http_main.h"

#include "apr_strings.h"
#include "apr_user.h"

#include "fcgi_config.h"
#include "fcgi_fcgid.h"
#include "fcgi_stats.h"
#include "fcgi_status_int.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

int fcgix_status_own_host(const server_rec *s)
{
    return fcgix_srv_conf(s)->tenant;
}

const char *fcgix_status_host_name(apr_pool_t *p, int t)
{
    const server_rec *v;

    for (v = ap_server_conf; v; v = v->next) {
        if (fcgix_srv_conf(v)->tenant == t) {
            return fcgix_stats_host_name(p, v);
        }
    }
    return apr_psprintf(p, "#%d", t);
}

const char *fcgix_status_cap_name(uint32_t capped)
{
    switch (capped) {
    case FCGIX_SB_CAP_CLASS:
        return "class";
    case FCGIX_SB_CAP_HOST:
        return "host";
    case FCGIX_SB_CAP_USER:
        return "user";
    case FCGIX_SB_CAP_ALL:
        return "all";
    default:
        return NULL;
    }
}

/* The user name of @uid, or the uid in decimal when it has none. */
static const char *user_name(apr_pool_t *p, uint32_t uid)
{
    char *name = NULL;

    if (apr_uid_name_get(&name, (apr_uid_t)uid, p) == APR_SUCCESS && name) {
        return name;
    }
    return apr_psprintf(p, "%u", (unsigned)uid);
}

/* Command @cmd of the board (index + 1) as its line, NULL for 0 or an
 * index the registry does not have. */
static const char *command_line(uint32_t cmd)
{
    const apr_array_header_t *all = fcgix_fcgid_commands();

    if (cmd == 0 || all == NULL || cmd > (uint32_t)all->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(all, (int)cmd - 1, const fcgix_command_t *)->line;
}

unsigned fcgix_status_snap_key(apr_pool_t *p, const fcgix_sb_class_t *k,
                               class_snap_t *cs)
{
    uint32_t tenant = LOAD(&k->key.tenant), uid = LOAD(&k->key.uid);

    cs->uid = -1;
    cs->label = cs->path;
    cs->capped = fcgix_status_cap_name(LOAD(&k->capped));
    if (uid != FCGIX_SB_NO_ID) {
        cs->uid = (long)uid;
        cs->user = user_name(p, uid);
    }
    if (LOAD(&k->key.vocab) != FCGIX_SB_VOCAB_FCGID || tenant == 0) {
        return 0;
    }
    cs->fcgid = 1;
    cs->host = fcgix_status_host_name(p, (int)tenant - 1);
    cs->command = command_line(LOAD(&k->key.cmd));
    cs->label = fcgix_stats_label(p, cs->path, cs->host, cs->uid);
    return tenant;
}

const char *fcgix_status_label_host(apr_pool_t *p, const char *label)
{
    size_t len = strlen(label);
    const char *open, *end;

    if (len < 4 || label[len - 1] != ']') {
        return NULL;
    }
    for (open = label + len - 1; open > label; open--) {
        if (open[0] == '[' && open[-1] == ' ') {
            break;
        }
    }
    if (open == label) {
        return NULL;
    }
    end = strstr(open, ", ~");
    return apr_pstrndup(p, open + 1,
                        (size_t)((end ? end : label + len - 1) - open - 1));
}

static void snap_tenant_rows(apr_pool_t *p, const fcgix_sb_t *sb, int all,
                             int own, snap_t *sn)
{
    int t;

    sn->tenants =
        apr_pcalloc(p, sizeof(tenant_snap_t) * (size_t)(sb->ntenants + 1));
    for (t = 0; t < sb->ntenants; t++) {
        const fcgix_sb_tenant_t *rec = fcgix_sb_tenant(sb, t);
        tenant_snap_t *ts = &sn->tenants[sn->ntenants];

        if (!all && t != own) {
            continue;
        }
        ts->live = LOAD(&rec->live);
        ts->max = LOAD(&rec->max);
        ts->waiting = LOAD(&rec->waiting);
        ts->refused = LOAD(&rec->refused);
        if (ts->live || ts->max || ts->waiting || ts->refused) {
            ts->host = fcgix_status_host_name(p, t);
            sn->ntenants++;
        }
    }
}

/* Whether one of @sn's classes runs as @uid. */
static int uid_in_view(const snap_t *sn, uint32_t uid)
{
    int c;

    for (c = 0; c < sn->nclasses; c++) {
        if (sn->classes[c].uid == (long)uid) {
            return 1;
        }
    }
    return 0;
}

static void snap_user_rows(apr_pool_t *p, const fcgix_sb_t *sb, int all,
                           snap_t *sn)
{
    int i;

    sn->users = apr_pcalloc(p, sizeof(user_snap_t) * (size_t)(sb->nusers + 1));
    for (i = 0; i < sb->nusers; i++) {
        const fcgix_sb_user_t *rec = fcgix_sb_user(sb, i);
        user_snap_t *us = &sn->users[sn->nusers];

        us->uid = LOAD(&rec->uid);
        if (us->uid == FCGIX_SB_NO_ID || (!all && !uid_in_view(sn, us->uid))) {
            continue;
        }
        us->live = LOAD(&rec->live);
        us->max = LOAD(&rec->max);
        us->name = user_name(p, us->uid);
        sn->nusers++;
    }
}

void fcgix_status_snap_tenants(apr_pool_t *p, const fcgix_sb_t *sb, int all,
                               int own, snap_t *sn)
{
    if (sb == NULL) {
        return;
    }
    snap_tenant_rows(p, sb, all, own, sn);
    snap_user_rows(p, sb, all, sn);
}
