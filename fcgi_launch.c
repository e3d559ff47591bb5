/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_launch.c
 * @brief Starting the process manager from httpd's parent: FastCgiIpcDir,
 *        the PM's configuration from the apps, the scoreboard, the control
 *        socket, the fork, and restarting or stopping the PM.
 *
 * The PM itself is fcgi_pm.c, which knows nothing of httpd.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"

#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "unixd.h"

#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_md5.h"
#include "apr_shm.h"
#include "apr_thread_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi_config.h"
#include "fcgi_defaults.h"
#include "fcgi_ipc.h"
#include "fcgi_fcgid.h"
#include "fcgi_launch.h"
#include "fcgi_launch_keep.h"
#include "fcgi_log.h"
#include "fcgi_managed.h"
#include "fcgi_pm.h"
#include "fcgi_sb.h"
#include "fcgi_status.h"

FCGIX_USE_LOG_MODULE;

/* The applications of the running configuration, by path (the glue's
 * registry, handed over in post_config). */
static apr_hash_t *app_registry;

/* What the PM child runs, kept for restarting it. */
static fcgix_pm_config_t pm_cfg;
static server_rec *pm_server;
static pid_t pm_parent_pid;
/* The running PM, its board and sockets: the parent's own record, in the
 * process pool (it may outlive this configuration). What root signals
 * and waits for is never read from shared memory, which every process of
 * the User can write. */
static fcgix_kept_pm_t *kept;
/* The FastCgiServer apps, in the order of their board classes, and what
 * the PM runs of each (pm_cfg.apps). */
static fcgix_app_t **static_apps;
static fcgix_pm_app_t *pm_apps;
/* The virtual hosts' records in server order, as fcgix_launch_tables()
 * numbered them (pm_cfg's own table may be numbered as the running PM
 * knows them: number_tenants_as_kept()). */
static const fcgix_pm_tenant_t *tenants_in_order;
static int ntenants_in_order;
/* The same for the command registry (fcgix_fcgid_commands()). */
static const fcgix_pm_command_t *commands_in_order;
static int ncommands_in_order;

/* A running PM as this generation's httpd parent watches it
 * (apr_proc_other_child). Whether it could not start is read from
 * kept->startup_rd, a pipe on which the PM writes one byte before it
 * exits because it cannot start. Its exit status cannot tell: the MPM
 * hands over the exit code or the number of the signal that killed it
 * alike, and SIGQUIT is 3, FCGIX_PM_EXIT_STARTUP. Nothing on the board is
 * trusted for it. */
typedef struct {
    apr_proc_t proc;
} pm_child_t;

static void pm_log(void *baton, int level, int logno, const char *msg)
{
    static const int levels[] = {APLOG_ERR, APLOG_WARNING, APLOG_INFO,
                                 APLOG_DEBUG};
    server_rec *s = baton;

    /* The PM's messages name the PM or the app and the pid already; the
     * tag is what FCGIX_LOGNO() makes. */
    ap_log_error(APLOG_MARK, levels[level & 3], 0, s, "FCGIX%05d: %s", logno,
                 msg);
}

/* -initial-env NAME=value, or a bare NAME copied from httpd's
 * environment. */
static const char *const *app_env(apr_pool_t *p, const apr_array_header_t *list)
{
    const char **env =
        apr_pcalloc(p, sizeof(char *) * (size_t)((list ? list->nelts : 0) + 1));
    const char *item, *value;
    int i, n = 0;

    for (i = 0; list && i < list->nelts; i++) {
        item = APR_ARRAY_IDX(list, i, const char *);
        if (strchr(item, '=')) {
            env[n++] = item;
        }
        else if ((value = getenv(item)) != NULL) {
            env[n++] = apr_pstrcat(p, item, "=", value, NULL);
        }
    }
    return env;
}

/* The socket prefix of a FastCgiServer app (process i listens on
 * "<prefix>.<i>"): -socket under the IPC directory, or a name derived
 * from the app's path; with the configuration generation, so that the
 * PMs of two generations never share a socket during a graceful
 * restart. */
static const char *app_socket_base(apr_pool_t *p, const char *ipc_dir,
                                   const fcgix_app_t *app, int gen)
{
    unsigned char digest[APR_MD5_DIGESTSIZE];
    char hex[2 * APR_MD5_DIGESTSIZE + 1];
    const char *name;
    int i;

    if (app->socket_path) {
        name = app->socket_path[0] == '/'
                   ? app->socket_path
                   : apr_pstrcat(p, ipc_dir, "/", app->socket_path, NULL);
        return apr_psprintf(p, "%s.g%d", name, gen);
    }
    apr_md5(digest, app->path, strlen(app->path));
    for (i = 0; i < APR_MD5_DIGESTSIZE; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return apr_psprintf(p, "%s/%s.g%d", ipc_dir, hex, gen);
}

/* An existing FastCgiIpcDir must be ours: another user who owns it, or
 * may write in it, could plant sockets or links where httpd connects or
 * binds. NULL when it is fine, else what is wrong and how to fix it.
 * (It was opened as a directory, never through a link.) */
static const char *ipc_dir_problem(apr_pool_t *p, const char *dir,
                                   const struct stat *st, int parent_root_only)
{
    uid_t user = ap_unixd_config.user_id;
    const char *fix = apr_psprintf(p, "chown %s %s && chmod 700 %s",
                                   ap_unixd_config.user_name, dir, dir);

    if (st->st_uid != user && st->st_uid != 0) {
        return apr_psprintf(p,
                            "is owned by uid %ld, not by httpd's User "
                            "(uid %ld) or root; fix: %s",
                            (long)st->st_uid, (long)user, fix);
    }
    /* rename() keeps the owner: where others can write, a directory of
     * root's may have been moved in, and giving it to User would hand
     * root's files to the User. */
    if (st->st_uid == 0 && user != 0 && !parent_root_only && geteuid() == 0) {
        return apr_psprintf(p,
                            "is owned by root in a directory that others "
                            "can write, so it may not be the one root "
                            "made; fix: %s",
                            fix);
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        return apr_psprintf(p,
                            "has mode %04o: other users may create files "
                            "in it; fix: %s",
                            (unsigned)(st->st_mode & 07777), fix);
    }
    return NULL;
}

/* Open FastCgiIpcDir (made if missing), refuse one that others control,
 * and leave it 0700 and owned by User. *fd is its descriptor: root acts
 * on it only through that, since a second look-up of its path could lead
 * somewhere else (its parent may be the User's). */
static int make_ipc_dir(apr_pool_t *p, const char *dir, server_rec *s, int *fd)
{
    fcgix_ipc_dir_t d;
    const char *problem;
    struct stat st;

    *fd = -1;
    if (fcgix_ipc_dir_open(p, dir, &d) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00071) "FastCgiIpcDir %s: cannot create "
                                        "or open it (%s: %s)",
                     dir, d.at, d.why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *fd = d.fd;
    if (fstat(d.fd, &st) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     FCGIX_LOGNO(00403) "FastCgiIpcDir %s: cannot fstat "
                                        "it once opened",
                     dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    problem = ipc_dir_problem(p, dir, &st, d.parent_root_only);
    if (problem) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00105) "FastCgiIpcDir %s %s", dir, problem);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (geteuid() == 0
        && (fchown(d.fd, ap_unixd_config.user_id, ap_unixd_config.group_id)
            || fchmod(d.fd, S_IRWXU))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     FCGIX_LOGNO(00072) "FastCgiIpcDir %s: cannot give it "
                                        "to User with mode 0700",
                     dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* What the PM needs of one app's options. */
static void pm_app_options(apr_pool_t *p, fcgix_pm_app_t *pa,
                           const fcgix_app_opts_t *opts)
{
    fcgix_app_opts_t o = fcgix_app_effective(opts);

    pa->listen_queue_depth = o.listen_queue_depth;
    pa->env = app_env(p, o.initial_env);
    pa->restart_delay_ms = o.restart_delay * 1000;
    pa->min_server_life_ms = o.min_server_life * 1000;
    pa->init_start_delay_ms = o.init_start_delay * 1000;
    pa->max_requests = o.max_requests;
    pa->priority = o.priority;
}

/* FastCgiWrapper: the program the PM runs apps through, or NULL. *err
 * is set when it is On but httpd's suexec cannot be used. */
static const char *wrapper_program(const fcgix_srv_conf_t *sconf,
                                   const char **err)
{
    *err = NULL;
    switch (sconf->wrapper_mode) {
    case FCGIX_WRAPPER_SUEXEC:
        if (!ap_unixd_config.suexec_enabled) {
            *err = ap_unixd_config.suexec_disabled_reason
                       ? ap_unixd_config.suexec_disabled_reason
                       : "suexec is not enabled";
            return NULL;
        }
        return SUEXEC_BIN;
    case FCGIX_WRAPPER_PATH:
        return sconf->wrapper_path;
    default:
        return NULL;
    }
}

/* -user/-group only mean something with a wrapper (fcgix_check_config
 * refuses them without one). */
static void set_identity(fcgix_pm_app_t *pa, const fcgix_app_t *app,
                         const char *wrapper)
{
    if (wrapper == NULL) {
        return;
    }
    pa->wrapper = wrapper;
    pa->user = app->user ? app->user : ap_unixd_config.user_name;
    pa->group = app->group ? app->group : ap_unixd_config.group_name;
}

static int by_path(const void *a, const void *b)
{
    return strcmp((*(fcgix_app_t *const *)a)->path,
                  (*(fcgix_app_t *const *)b)->path);
}

/* The FastCgiServer apps sorted by path: the same configuration gives
 * the same board classes (the registry is a hash, whose order may differ
 * from one generation to the next), so that a graceful restart can tell
 * that it defines the same PM. */
static apr_array_header_t *sorted_static_apps(apr_pool_t *p)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(fcgix_app_t *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, app_registry); hi; hi = apr_hash_next(hi)) {
        fcgix_app_t *app = apr_hash_this_val(hi);

        if (app->kind == FCGIX_APP_STATIC) {
            APR_ARRAY_PUSH(list, fcgix_app_t *) = app;
        }
    }
    qsort(list->elts, (size_t)list->nelts, sizeof(fcgix_app_t *), by_path);
    return list;
}

/* Turn each FastCgiServer definition into what the PM runs; each gets
 * its class on the scoreboard, in the order of their paths. Their socket
 * names are set by name_sockets(). */
static void collect_static_apps(apr_pool_t *p, const char *wrapper)
{
    apr_array_header_t *list = sorted_static_apps(p);
    apr_array_header_t *apps = apr_array_make(p, 4, sizeof(fcgix_pm_app_t));
    int i;

    static_apps = (fcgix_app_t **)list->elts;
    for (i = 0; i < list->nelts; i++) {
        fcgix_app_t *app = static_apps[i];
        fcgix_pm_app_t *pa;

        pa = apr_array_push(apps);
        memset(pa, 0, sizeof(*pa));
        pa->path = app->path;
        pa->processes =
            app->processes > 0 ? app->processes : FCGIX_DEFAULT_PROCESSES;
        pm_app_options(p, pa, &app->opts);
        if (app->port) {
            /* mod_fastcgi listened on every interface; here only on
             * loopback (FastCgiExternalServer serves remote apps). */
            pa->port = app->port;
            app->host = "127.0.0.1";
        }
        set_identity(pa, app, wrapper);
        app->board_class = apps->nelts - 1;
    }
    pm_apps = (fcgix_pm_app_t *)apps->elts;
    pm_cfg.apps = pm_apps;
    pm_cfg.napps = apps->nelts;
}

/* The names of the PM's sockets in @ipc_dir, with the generation @gen
 * that starts it: the PMs of two generations never share a socket. */
static void name_sockets(apr_pool_t *p, const char *ipc_dir, int gen)
{
    int i;

    for (i = 0; i < pm_cfg.napps; i++) {
        pm_apps[i].socket_base =
            app_socket_base(p, ipc_dir, static_apps[i], gen);
    }
    pm_cfg.control_path = apr_psprintf(p, "%s/g%d-pm.sock", ipc_dir, gen);
    pm_cfg.dynamic_base = apr_psprintf(p, "%s/g%d-dyn", ipc_dir, gen);
}

/* Dynamic apps: FastCgiConfig's limits and options, and the app template
 * requests use. */
static fcgix_app_t *configure_dynamic(apr_pool_t *p, server_rec *s,
                                      const char *wrapper)
{
    fcgix_srv_conf_t *sconf = fcgix_srv_conf(s);
    fcgix_dynamic_conf_t d = fcgix_dynamic_effective(sconf->dynamic);
    fcgix_app_t *tmpl = apr_pcalloc(p, sizeof(*tmpl));

    tmpl->kind = FCGIX_APP_DYNAMIC;
    tmpl->defined_at = d.defined_at ? d.defined_at : "dynamic (FastCgiConfig)";
    tmpl->opts = d.opts;
    tmpl->board_class = -1;
    pm_cfg.dynamic.processes = d.max_class_processes;
    pm_app_options(p, &pm_cfg.dynamic, &d.opts);
    pm_cfg.dynamic.init_start_delay_ms = 0; /* started on demand */
    pm_cfg.dynamic.wrapper = wrapper;
    pm_cfg.dynamic.user = ap_unixd_config.user_name;
    pm_cfg.dynamic.group = ap_unixd_config.group_name;
    pm_cfg.max_processes = d.max_processes;
    pm_cfg.min_processes = d.min_processes;
    pm_cfg.kill_interval_ms = d.kill_interval * 1000;
    pm_cfg.start_wait_ms = d.start_timeout * 1000;
    pm_cfg.drain_ms = (int)apr_time_as_msec(s->timeout);
    return tmpl;
}

/* Holder records on the board: one per httpd worker thread, from the
 * MPM's hard limits (fcgix_sb_size() caps the count). */
int fcgix_launch_holder_records(void)
{
    int daemons = 0, threads = 0;

    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS
        || daemons < 1) {
        daemons = 1;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads) != APR_SUCCESS
        || threads < 1) {
        threads = 1;
    }
    return (long)daemons * threads < FCGIX_SB_MAX_HOLDERS
               ? daemons * threads
               : FCGIX_SB_MAX_HOLDERS;
}

/* The scoreboard, in anonymous shared memory that httpd's children and
 * the PM inherit; a new one for each PM, which lives as long as the PM
 * (in the process pool: a graceful restart may keep both). */
static int create_board(server_rec *s)
{
    int nclasses, nslots = fcgix_pm_board_slots(&pm_cfg, &nclasses);
    int nholders = fcgix_launch_holder_records();
    int ntenants = fcgix_pm_board_tenants(&pm_cfg);
    size_t size = fcgix_sb_size(nclasses, nslots, nholders, ntenants);
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, size, NULL, s->process->pool);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     FCGIX_LOGNO(00087) "cannot create the FastCGI "
                                        "scoreboard (%" APR_SIZE_T_FMT
                                        " bytes)",
                     size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    kept->shm = shm;
    pm_cfg.sb = fcgix_sb_init(&kept->board, apr_shm_baseaddr_get(shm), nclasses,
                              nslots, nholders, ntenants);
    return OK;
}

static const char *in_ipc_dir(apr_pool_t *p, const char *ipc_dir,
                              const char *path)
{
    return path[0] == '/' ? path : apr_pstrcat(p, ipc_dir, "/", path, NULL);
}

static void place_in_ipc_dir(apr_pool_t *p, const char *ipc_dir,
                             apr_array_header_t *paths)
{
    int i;

    for (i = 0; paths && i < paths->nelts; i++) {
        APR_ARRAY_IDX(paths, i, const char *) =
            in_ipc_dir(p, ipc_dir, APR_ARRAY_IDX(paths, i, const char *));
    }
}

/* A relative FastCgiExternalServer -socket (each of them, and each
 * -backup of a server whose members are sockets) is in FastCgiIpcDir, as
 * with mod_fastcgi (its configs say "-socket php.sock"). */
static void place_external_sockets(apr_pool_t *p, const char *ipc_dir)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, app_registry); hi; hi = apr_hash_next(hi)) {
        fcgix_app_t *app = apr_hash_this_val(hi);

        if (app->kind != FCGIX_APP_EXTERNAL || app->socket_path == NULL) {
            continue;
        }
        app->socket_path = in_ipc_dir(p, ipc_dir, app->socket_path);
        place_in_ipc_dir(p, ipc_dir, app->lb.sockets);
        if (app->lb.sockets) {
            place_in_ipc_dir(p, ipc_dir, app->lb.backups);
        }
    }
}

/* Resolve each -host once, here, rather than on every request. A name
 * that does not resolve now is tried again per request. */
static void resolve_hosts(apr_pool_t *p, server_rec *s)
{
    apr_hash_index_t *hi;
    apr_status_t rv;

    for (hi = apr_hash_first(p, app_registry); hi; hi = apr_hash_next(hi)) {
        fcgix_app_t *app = apr_hash_this_val(hi);

        if (app->host == NULL) {
            continue;
        }
        rv = apr_sockaddr_info_get(&app->addr, app->host, APR_UNSPEC,
                                   (apr_port_t)app->port, 0, p);
        if (rv != APR_SUCCESS) {
            app->addr = NULL;
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, rv, s,
                FCGIX_LOGNO(
                    00079) "FastCgiExternalServer %s (%s): "
                           "cannot resolve %s now; trying again per request",
                app->path, app->defined_at, app->host);
        }
    }
}

/* @path's name if it is directly in @dir, else NULL. */
static const char *name_in(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    if (path == NULL || strncmp(path, dir, n) != 0 || path[n] != '/'
        || strchr(path + n + 1, '/') != NULL) {
        return NULL;
    }
    return path + n + 1;
}

/* The names the new PM binds its static apps' sockets at in the IPC
 * directory ("<base>.<i>", as its bind_slot() makes them); a socket
 * elsewhere (an absolute -socket) is not in a directory root sets up. */
static apr_hash_t *static_socket_names(apr_pool_t *p, const char *ipc_dir)
{
    apr_hash_t *names = apr_hash_make(p);
    const char *base;
    int i, j;

    for (i = 0; i < pm_cfg.napps; i++) {
        const fcgix_pm_app_t *pa = &pm_cfg.apps[i];

        base = pa->port > 0 ? NULL : name_in(ipc_dir, pa->socket_base);
        for (j = 0; base && j < pa->processes; j++) {
            apr_hash_set(names, apr_psprintf(p, "%s.%d", base, j),
                         APR_HASH_KEY_STRING, "");
        }
    }
    return names;
}

/* A new PM lays its pools out in their order: class j for app j. */
static void remember_classes_in_order(apr_pool_t *p)
{
    int *classes = apr_palloc(p, sizeof(int) * (apr_size_t)(pm_cfg.napps + 1));
    int j;

    for (j = 0; j < pm_cfg.napps; j++) {
        classes[j] = j;
    }
    fcgix_kept_pm_set_classes(kept, classes, pm_cfg.napps);
}

/* The PM's control socket, held by httpd's parent as long as the PM
 * runs: it exists before any child serves a request, and a PM restarted
 * after a crash inherits it with the requests queued on it. Root neither
 * creates nor chowns it by path: a User's process could rename a link
 * over the socket between bind() and chown(), and fchown() on a socket's
 * descriptor does not change its file. A child that has become the User
 * binds it (the file is then the User's, mode 0600) through the
 * directory's descriptor, after clearing this generation's socket names,
 * and hands the listening descriptor back. */
static int open_control(apr_pool_t *pconf, server_rec *s, const char *ipc_dir,
                        int ipc_fd)
{
    fcgix_ipc_names_t names;
    const char *name = NULL, *what = "bind";

    names.dir_fd = ipc_fd;
    names.dir = ipc_dir;
    names.control = name_in(ipc_dir, pm_cfg.control_path);
    names.dynamic = name_in(ipc_dir, pm_cfg.dynamic_base);
    names.statics = static_socket_names(pconf, ipc_dir);
    errno = EINVAL;
    pm_cfg.control_fd =
        names.control ? fcgix_ipc_open_control(pconf, &names, s, &name, &what)
                      : -1;
    if (pm_cfg.control_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     FCGIX_LOGNO(00091) "cannot %s the FastCGI process "
                                        "manager's socket %s",
                     what, pm_cfg.control_path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    pm_cfg.control_path = apr_pstrcat(pconf, ipc_dir, "/", name, NULL);
    kept->control_fd = pm_cfg.control_fd;
    kept->control_path = strdup(pm_cfg.control_path);
    return OK;
}

static void pm_maint(int reason, void *data, apr_wait_t status);

/* In the PM: tell httpd's parent that it cannot start, then exit. */
static void pm_exit_startup(int startup_wr)
{
    if (write(startup_wr, "!", 1) != 1) {
        /* the parent then restarts it, once per death */
    }
    _exit(FCGIX_PM_EXIT_STARTUP);
}

/* In the PM, just forked: never returns. */
/* Whether the PM may start processes as other users (suexec, or a
 * FastCgiWrapper program): it then needs the root signal helper to stop
 * them (fcgi_pm_signal.c). */
static int runs_other_users(void)
{
    int i;

    if (pm_cfg.dynamic.wrapper) {
        return 1;
    }
    for (i = 0; i < pm_cfg.napps; i++) {
        if (pm_cfg.apps[i].wrapper) {
            return 1;
        }
    }
    return pm_cfg.suexec != NULL && fcgix_vocab_loaded(FCGIX_VOCAB_FCGID)
           && (ap_find_linked_module("mod_suexec.c")
               || ap_find_linked_module("mod_userdir.c"));
}

static void run_pm_child(apr_pool_t *pconf, server_rec *s, int startup_wr)
{
    apr_pool_t *p;
    int rc;

    apr_pool_create(&p, pconf);
    fcgix_kept_pm_close_parent_ends(kept);
    /* Its own process group: prefork signals a restart with SIGHUP to
     * httpd's whole group, which would kill the PM and every app
     * process at once; httpd's parent tells the PM itself. */
    setpgid(0, 0);
    ap_close_listeners();
    pm_cfg.signal_fd = -1;
    if (runs_other_users()
        && (pm_cfg.signal_fd = fcgix_pm_signal_helper_start()) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                     FCGIX_LOGNO(00108) "FastCGI process manager: cannot "
                                        "start its root signal helper; "
                                        "processes run as other users "
                                        "(suexec, FastCgiWrapper) cannot be "
                                        "stopped before httpd stops");
    }
    if (ap_run_drop_privileges(p, s) != OK) {
        pm_exit_startup(startup_wr);
    }
    pm_cfg.log = pm_log;
    pm_cfg.baton = s;
    pm_cfg.reopen_log = fcgix_kept_pm_reopen_log;
    rc = fcgix_pm_run(&pm_cfg);
    if (rc == FCGIX_PM_EXIT_STARTUP) {
        pm_exit_startup(startup_wr);
    }
    _exit(rc);
}

/* Watch the PM @pid for this generation: httpd's parent reaps it and
 * calls pm_maint(). */
static void watch_pm(apr_pool_t *pconf, pid_t pid)
{
    pm_child_t *pc = apr_pcalloc(pconf, sizeof(*pc));

    pc->proc.pid = pid;
    apr_proc_other_child_register(&pc->proc, pm_maint, pc, NULL, pconf);
}

/* The pipe on which a PM that cannot start says so, and the socket pair
 * on which httpd's parent talks to it (both close-on-exec). */
static int open_pm_channels(int startup[2], int chan[2])
{
    if (pipe2(startup, O_CLOEXEC) != 0) {
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) != 0) {
        close(startup[0]);
        close(startup[1]);
        return -1;
    }
    return 0;
}

/* Fork the PM: a direct child of httpd's parent, which restarts it if it
 * dies (apr_proc_other_child). */
static int start_pm(apr_pool_t *pconf, server_rec *s)
{
    apr_proc_t proc;
    apr_status_t rv;
    int startup[2], chan[2];

    fcgix_kept_pm_close_parent_ends(kept); /* a dead predecessor's */
    if (open_pm_channels(startup, chan) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     FCGIX_LOGNO(00430) "cannot make a pipe for the FastCGI "
                                        "process manager; not starting it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    kept->chan_fd = chan[0];
    pm_cfg.parent_fd = chan[1];
    rv = apr_proc_fork(&proc, pconf);
    if (rv == APR_INCHILD) {
        close(startup[0]);
        run_pm_child(pconf, s, startup[1]);
    }
    close(startup[1]);
    close(chan[1]);
    pm_cfg.parent_fd = -1;
    if (rv != APR_INPARENT) {
        close(startup[0]);
        fcgix_kept_pm_close_parent_ends(kept);
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     FCGIX_LOGNO(00074) "cannot fork the FastCGI process "
                                        "manager");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    fcntl(startup[0], F_SETFL, O_NONBLOCK);
    kept->startup_rd = startup[0];
    fcgix_kept_pm_set_pid(kept, proc.pid);
    watch_pm(pconf, proc.pid);
    pm_cfg.sb->head->pm_pid = (uint32_t)proc.pid; /* for display only */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 FCGIX_LOGNO(00075) "FastCGI process manager started "
                                    "(pid %d, %d static application%s)",
                 (int)proc.pid, pm_cfg.napps, pm_cfg.napps == 1 ? "" : "s");
    return OK;
}

/* Wait for the PM to exit, at most APR's 3 s for a subprocess, then
 * SIGKILL it. */
static void wait_for_pm(pid_t pid)
{
    apr_proc_t proc;
    int waited;

    proc.pid = pid;
    for (waited = 0; waited < 3000; waited += 10) {
        if (apr_proc_wait(&proc, NULL, NULL, APR_NOWAIT) == APR_CHILD_DONE) {
            return;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    kill(pid, SIGKILL);
}

/* Whether httpd's parent is restarting gracefully (apachectl graceful,
 * SIGUSR1), as the MPM was told. The MPM's own cleanup of pconf, which
 * runs before ours (it is registered later, when the MPM starts), has
 * moved that from is_ungraceful to was_graceful. An MPM that does not use
 * these records leaves was_graceful 0: every restart is then hard. */
static int graceful_restart(void)
{
    ap_unixd_mpm_retained_data *r = ap_unixd_mpm_get_retained_data();

    return r && r->was_graceful && !r->is_ungraceful;
}

/* The running PM drains: each process stops once no request uses it,
 * while the next generation's PM serves new requests (SIGUSR1, not
 * awaited). Then httpd's parent forgets it. */
static void drain_pm(void)
{
    if (fcgix_kept_pm_alive(kept)) {
        kill(kept->pid, SIGUSR1);
    }
    fcgix_kept_pm_forget(kept);
}

/* The configuration goes away. When httpd stops, the PM stops
 * everything now and we wait for it, as APR would for a subprocess. On a
 * graceful restart it is told to wait: the next configuration keeps it
 * if it defines the same PM (fcgix_launch_post_config), else drains it.
 * On a hard restart it drains now. */
static apr_status_t stop_pm(void *data)
{
    pid_t pid = kept->pid;

    (void)data;
    if (getpid() != pm_parent_pid || pid <= 0) {
        return APR_SUCCESS;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        kill(pid, SIGTERM);
        wait_for_pm(pid);
        fcgix_kept_pm_forget(kept);
        return APR_SUCCESS;
    }
    if (graceful_restart() && fcgix_kept_pm_hold(kept) == 0) {
        kept->held = 1;
        return APR_SUCCESS;
    }
    drain_pm();
    return APR_SUCCESS;
}

/* Whether the PM said it cannot start (its byte is in the pipe before
 * it exits); the pipe is closed either way. */
static int pm_said_startup_failed(void)
{
    char c;
    int said = kept->startup_rd >= 0 && read(kept->startup_rd, &c, 1) == 1;

    fcgix_kept_pm_close_parent_ends(kept);
    return said;
}

/* httpd's parent learns that the PM died: start it again, unless httpd
 * is stopping or the PM said it cannot work at all. */
static void pm_maint(int reason, void *data, apr_wait_t status)
{
    pm_child_t *pc = data;
    int stopping, startup_failed;

    (void)status; /* an exit code and a signal number look alike */
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        return;
    }
    apr_proc_other_child_unregister(data);
    if (kept->pid != pc->proc.pid) {
        return; /* not the running PM (one that was draining) */
    }
    startup_failed = pm_said_startup_failed();
    fcgix_kept_pm_set_pid(kept, 0); /* reaped: its pid may be anyone's */
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &stopping) == APR_SUCCESS
        && stopping == AP_MPMQ_STOPPING) {
        return;
    }
    if (startup_failed) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, pm_server,
                     FCGIX_LOGNO(00076) "FastCGI process manager (pid %d) "
                                        "could not start; not restarting it",
                     (int)pc->proc.pid);
        pm_cfg.sb->head->pm_pid = 0;
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, pm_server,
                 FCGIX_LOGNO(00077) "FastCGI process manager (pid %d) died; "
                                    "starting a new one",
                 (int)pc->proc.pid);
    remember_classes_in_order(pm_server->process->pconf);
    start_pm(pm_server->process->pconf, pm_server);
}

/* Whether a virtual host (or the main server) has a process cap. */
static int any_host_cap(server_rec *s)
{
    for (; s; s = s->next) {
        if (fcgix_fcgid_max_host_processes(fcgix_srv_conf(s)) > 0) {
            return 1;
        }
    }
    return 0;
}

/* How long a kept restart waits for the old generation's idle children
 * to exit (fcgix_kept_pm_wait_old_children()). */
#define OLD_CHILDREN_WAIT_MS 300

/* Each virtual host's number is its place in the server list, each
 * command's its place in the registry: the tables as built. */
static void number_in_order(server_rec *s)
{
    int i = 0;

    pm_cfg.tenants = tenants_in_order;
    pm_cfg.ntenants = ntenants_in_order;
    for (; s; s = s->next) {
        fcgix_srv_conf(s)->tenant = i++;
    }
    pm_cfg.commands = commands_in_order;
    pm_cfg.ncommands = ncommands_in_order;
    for (i = 0; i < ncommands_in_order; i++) {
        fcgix_fcgid_command_number(i, i);
    }
}

/* Number the commands as the running PM knows them (@p known, then
 * @p work), as number_tenants_as_kept() does the virtual hosts; a
 * command that is gone leaves a hole (no argv). @return 0, or -1 out of
 * memory (nothing changed). */
static int number_commands_as_kept(apr_pool_t *pconf, const fcgix_ids_t *known,
                                   fcgix_ids_t *work)
{
    int *numbers = apr_pcalloc(
        pconf, sizeof(*numbers) * (apr_size_t)(ncommands_in_order + 1));
    fcgix_pm_command_t *table;
    int i;

    if (fcgix_ids_copy(work, known) != 0
        || fcgix_ids_number_commands(work, commands_in_order,
                                     ncommands_in_order, numbers)
               != 0) {
        fcgix_ids_free(work);
        return -1;
    }
    table = apr_pcalloc(pconf, sizeof(*table) * (apr_size_t)(work->n + 1));
    for (i = 0; i < ncommands_in_order; i++) {
        table[numbers[i]] = commands_in_order[i];
        fcgix_fcgid_command_number(i, numbers[i]);
    }
    pm_cfg.commands = work->n > 0 ? table : NULL;
    pm_cfg.ncommands = work->n;
    return 0;
}

/* Number the virtual hosts as the running PM knows them (@p known, then
 * @p work: fcgi_ids.h), so that a host added or removed leaves the
 * others' numbers, and the dynamic classes keyed by them, as they were.
 * pm_cfg's table then has an entry for every number the PM knows, a
 * nameless one for a host that is gone, and each host's tenant is its
 * number. @return 0, or -1 out of memory (nothing changed). */
static int number_tenants_as_kept(apr_pool_t *pconf, server_rec *s,
                                  const fcgix_ids_t *known, fcgix_ids_t *work)
{
    int *numbers = apr_pcalloc(
        pconf, sizeof(*numbers) * (apr_size_t)(ntenants_in_order + 1));
    fcgix_pm_tenant_t *table;
    int i = 0;

    if (fcgix_ids_copy(work, known) != 0
        || fcgix_ids_number_tenants(work, tenants_in_order, ntenants_in_order,
                                    numbers)
               != 0) {
        fcgix_ids_free(work);
        return -1;
    }
    table = apr_pcalloc(pconf, sizeof(*table) * (apr_size_t)(work->n + 1));
    for (i = 0; i < ntenants_in_order; i++) {
        table[numbers[i]] = tenants_in_order[i];
    }
    pm_cfg.tenants = table;
    pm_cfg.ntenants = work->n;
    for (i = 0; s; s = s->next) {
        fcgix_srv_conf(s)->tenant = numbers[i++];
    }
    return 0;
}

/* Number the virtual hosts and the commands as the PM @p k knows them,
 * into @p tenants and @p commands (its own, or new ones). @return 0, or
 * -1 out of memory (then both in order, and nothing to free). */
static int number_as_kept(apr_pool_t *pconf, server_rec *s,
                          const fcgix_kept_pm_t *k, fcgix_ids_t *tenants,
                          fcgix_ids_t *commands)
{
    if (number_tenants_as_kept(pconf, s, &k->tenant_ids, tenants) != 0) {
        return -1;
    }
    if (number_commands_as_kept(pconf, &k->command_ids, commands) != 0) {
        fcgix_ids_free(tenants);
        number_in_order(s);
        return -1;
    }
    return 0;
}

/* The same pools as the running PM's: each keeps the class it has (the
 * running PM may have given it another index than its place in the
 * list, at a restart that changed pools). */
static void keep_classes(void)
{
    int j;

    for (j = 0; j < pm_cfg.napps && kept->nclasses == pm_cfg.napps; j++) {
        static_apps[j]->board_class = kept->classes[j];
    }
}

/* Only the FastCgiServer pools changed: hand them to the running PM,
 * named with this generation @gen (a changed pool's new processes never
 * share a socket name with its old ones). Unchanged pools keep their
 * processes; each app learns its class from the PM's answer. @return
 * NULL when the PM took them, else why not. */
static const char *reconcile_running_pm(apr_pool_t *pconf, server_rec *s,
                                        const char *ipc_dir, int gen)
{
    fcgix_pm_config_t next = pm_cfg;
    fcgix_pm_app_t *apps;
    int *map, j;
    const char *why;

    if (!fcgix_kept_pm_alive(kept)) {
        return "it has exited";
    }
    apps = apr_pmemdup(pconf, pm_cfg.apps,
                       sizeof(*apps) * (apr_size_t)(pm_cfg.napps + 1));
    for (j = 0; j < pm_cfg.napps; j++) {
        apps[j].socket_base =
            app_socket_base(pconf, ipc_dir, static_apps[j], gen);
    }
    next.apps = apps;
    map = apr_pcalloc(pconf, sizeof(*map) * (apr_size_t)(pm_cfg.napps + 1));
    why = fcgix_kept_pm_reconcile(kept, s, &next, map);
    if (why) {
        return why;
    }
    for (j = 0; j < pm_cfg.napps; j++) {
        static_apps[j]->board_class = map[j];
    }
    fcgix_kept_pm_set_classes(kept, map, pm_cfg.napps);
    /* As the next restart will name them, to compare. */
    fcgix_kept_pm_set_key(kept, &pm_cfg, fcgix_launch_holder_records());
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 FCGIX_LOGNO(00062) "graceful restart: only FastCgiServer "
                                    "pools, virtual hosts or settings of "
                                    "dynamic apps changed; the FastCGI "
                                    "process manager (pid %d) is kept: "
                                    "unchanged pools keep their processes, "
                                    "changed and new ones start, changed "
                                    "and removed ones drain",
                 (int)kept->pid);
    return NULL;
}

static void log_not_kept(server_rec *s, const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 FCGIX_LOGNO(00052) "graceful restart: the FastCGI process "
                                    "manager (pid %d) cannot be kept (%s); "
                                    "starting a new one",
                 (int)kept->pid, why);
}

/* The new configuration needs a new PM: @what changed. */
static const char *new_definitions(server_rec *s, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 FCGIX_LOGNO(00049) "graceful restart: the FastCGI "
                                    "definitions changed (%s); a new process "
                                    "manager starts and the old one (pid %d) "
                                    "drains",
                 what, (int)kept->pid);
    return "its definitions changed";
}

/* Whether the running PM takes this configuration: the same definitions
 * (KEEP), or the same but for its FastCgiServer pools, virtual hosts,
 * commands and settings of dynamic apps, within its board's room
 * (RECONCILE). @return NULL when it does, else why not (logged). */
static const char *offer_to_running_pm(apr_pool_t *pconf, server_rec *s,
                                       const char *ipc_dir, int gen)
{
    int nholders = fcgix_launch_holder_records();
    char room[256];
    const char *why;

    if (fcgix_kept_pm_same(kept, &pm_cfg, nholders)) {
        why = fcgix_kept_pm_alive(kept) ? fcgix_kept_pm_keep(kept, s)
                                        : "it has exited";
        if (why == NULL) {
            keep_classes();
        }
    }
    else if (!fcgix_kept_pm_same_rest(kept, &pm_cfg, nholders)) {
        return new_definitions(s, "User, ChrootDir, the IPC directory, "
                                  "suexec, FastCgiWrapper, the MPM's "
                                  "limits or the module records loaded");
    }
    else if (!fcgix_kept_pm_room_fits(kept, &pm_cfg, room, sizeof(room))) {
        return new_definitions(s, room);
    }
    else {
        why = reconcile_running_pm(pconf, s, ipc_dir, gen);
    }
    if (why) {
        log_not_kept(s, why);
    }
    return why;
}

/* The running PM is kept across this graceful restart when this
 * configuration defines the same PM (its socket names are the ones it
 * was started with), or the same but for its FastCgiServer pools,
 * virtual hosts and commands (then it takes the new ones): its board,
 * sockets and processes stay. The virtual hosts and commands are
 * numbered as it knows them; when it is not kept, in order again, for a
 * new PM. @return 1 when kept. */
static int keep_running_pm(apr_pool_t *pconf, server_rec *s,
                           const char *ipc_dir, int gen)
{
    fcgix_ids_t tenants, commands;

    if (!kept->held) {
        return 0;
    }
    kept->held = 0;
    if (number_as_kept(pconf, s, kept, &tenants, &commands) != 0) {
        log_not_kept(s, "out of memory");
        return 0;
    }
    if (offer_to_running_pm(pconf, s, ipc_dir, gen) != NULL) {
        fcgix_ids_free(&tenants);
        fcgix_ids_free(&commands);
        number_in_order(s);
        return 0;
    }
    fcgix_ids_free(&kept->tenant_ids);
    fcgix_ids_free(&kept->command_ids);
    kept->tenant_ids = tenants;
    kept->command_ids = commands;
    pm_cfg.sb = &kept->board;
    pm_cfg.control_fd = kept->control_fd;
    pm_cfg.control_path = apr_pstrdup(pconf, kept->control_path);
    watch_pm(pconf, kept->pid);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 FCGIX_LOGNO(00051) "graceful restart: the FastCGI process "
                                    "manager (pid %d) and its processes are "
                                    "kept",
                 (int)kept->pid);
    fcgix_kept_pm_wait_old_children(OLD_CHILDREN_WAIT_MS);
    return 1;
}

/* A new PM for this configuration: its control socket in the IPC
 * directory (@ipc_fd), its board, and the fork. */
static int launch_new_pm(apr_pool_t *pconf, server_rec *s, const char *ipc_dir,
                         int ipc_fd)
{
    static const fcgix_kept_pm_t knows_none;
    int rc;

    /* It knows the virtual hosts and commands by their places. */
    fcgix_ids_free(&kept->tenant_ids);
    fcgix_ids_free(&kept->command_ids);
    if (number_as_kept(pconf, s, &knows_none, &kept->tenant_ids,
                       &kept->command_ids)
        != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00063) "out of memory numbering the virtual "
                                        "hosts and commands for the FastCGI "
                                        "process manager");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* As named here: open_control() may bind the control socket under
     * another name if this one is taken, and the next restart compares
     * with the names it makes itself. */
    fcgix_kept_pm_set_key(kept, &pm_cfg, fcgix_launch_holder_records());
    fcgix_kept_pm_set_room(kept, &pm_cfg);
    remember_classes_in_order(pconf);
    rc = open_control(pconf, s, ipc_dir, ipc_fd);
    if (rc == OK) {
        rc = create_board(s);
    }
    if (rc == OK) {
        rc = start_pm(pconf, s);
    }
    return rc;
}

/* Build the PM's configuration with the socket names of generation
 * @gen. */
static fcgix_app_t *build_pm_config(apr_pool_t *pconf, server_rec *s,
                                    const char *ipc_dir, const char *wrapper,
                                    int gen)
{
    fcgix_app_t *tmpl;

    memset(&pm_cfg, 0, sizeof(pm_cfg));
    pm_cfg.parent_fd = -1;
    collect_static_apps(pconf, wrapper);
    tmpl = configure_dynamic(pconf, s, wrapper);
    fcgix_launch_tables(pconf, s, &pm_cfg);
    tenants_in_order = pm_cfg.tenants;
    ntenants_in_order = pm_cfg.ntenants;
    commands_in_order = pm_cfg.commands;
    ncommands_in_order = pm_cfg.ncommands;
    name_sockets(pconf, ipc_dir, gen);
    return tmpl;
}

int fcgix_launch_post_config(apr_pool_t *pconf, server_rec *s,
                             apr_hash_t *registry)
{
    fcgix_srv_conf_t *sconf = fcgix_srv_conf(s);
    fcgix_managed_t managed;
    fcgix_dynamic_conf_t d = fcgix_dynamic_effective(sconf->dynamic);
    const char *ipc_dir, *wrapper, *err;
    int rc, ipc_fd, gen = ap_state_query(AP_SQ_CONFIG_GEN);

    app_registry = registry;
    memset(&pm_cfg, 0, sizeof(pm_cfg));
    /* The first configuration pass only checks; start nothing. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    kept = fcgix_kept_pm(s);
    ipc_dir = sconf->ipc_dir ? sconf->ipc_dir
                             : ap_runtime_dir_relative(pconf, "fastcgi");
    wrapper = wrapper_program(sconf, &err);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00090) "FastCgiWrapper On: httpd's suexec "
                                        "(%s) cannot be used: %s",
                     SUEXEC_BIN, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    place_external_sockets(pconf, ipc_dir);
    resolve_hosts(pconf, s);
    memset(&managed, 0, sizeof(managed));
    /* Named as the held PM's, to compare; renamed if it is not kept. */
    managed.dynamic = build_pm_config(pconf, s, ipc_dir, wrapper,
                                      kept->held ? kept->gen : gen);
    pm_server = s;
    pm_parent_pid = getpid();
    /* Checked at every restart, also when the PM is kept. Socket path
     * lengths were checked by fcgix_check_config(). */
    rc = make_ipc_dir(pconf, ipc_dir, s, &ipc_fd);
    if (rc == OK && !keep_running_pm(pconf, s, ipc_dir, gen)) {
        drain_pm(); /* if there is one */
        name_sockets(pconf, ipc_dir, gen);
        kept->gen = gen;
        rc = launch_new_pm(pconf, s, ipc_dir, ipc_fd);
    }
    if (ipc_fd >= 0) {
        close(ipc_fd); /* the PM must not inherit it */
    }
    if (rc != OK) {
        return rc;
    }
    managed.wrapper = wrapper != NULL;
    managed.host_caps = any_host_cap(s);
    managed.keep_conns = fcgix_srv_conf(s)->keep_conns != 0;
    managed.sb = pm_cfg.sb;
    managed.control_path = pm_cfg.control_path;
    managed.start_timeout = d.start_timeout;
    managed.auto_update = d.auto_update;
    fcgix_managed_init(&managed);
    fcgix_status_init(pconf, pm_cfg.sb, app_registry);
    apr_pool_cleanup_register(pconf, NULL, stop_pm, apr_pool_cleanup_null);
    return OK;
}

void fcgix_launch_child_init(void)
{
    /* Only the PM accepts on the control socket; only httpd's parent
     * talks to the PM over their socket pair. */
    if (kept == NULL) {
        return;
    }
    if (kept->control_fd >= 0) {
        close(kept->control_fd);
        kept->control_fd = -1;
    }
    fcgix_kept_pm_close_parent_ends(kept);
}
