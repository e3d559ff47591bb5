/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config.h
 * @brief Configuration structures of mod_fastcgi_x and the directive
 *        table, in mod_fastcgi's vocabulary.
 *
 * Every field starts at an explicit "unset" value (FCGIX_UNSET or NULL)
 * and is merged field by field; defaults are applied when a value is
 * read, by fcgix_app_effective(), fcgix_dynamic_effective() and
 * fcgix_spool_limit(), from the one table in fcgi_defaults.h.
 */

#ifndef FCGIX_CONFIG_H
#define FCGIX_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"
#include "apr_hash.h"
#include "apr_network_io.h"

#include "fcgi_lb.h"
#include "fcgi_fcgid_types.h"

/** The "not set in this scope" value of every integer field. */
#define FCGIX_UNSET (-1)

/** The kinds of application class. */
typedef enum {
    FCGIX_APP_STATIC = 1, /**< FastCgiServer: started by the PM at boot */
    FCGIX_APP_EXTERNAL,   /**< FastCgiExternalServer: started elsewhere */
    FCGIX_APP_DYNAMIC     /**< any fastcgi-script file, started on demand */
} fcgix_app_kind_t;

/** Options shared by FastCgiServer, FastCgiExternalServer and
 *  FastCgiConfig (the defaults of dynamic apps). */
typedef struct {
    int conn_timeout; /**< -appConnTimeout, seconds, 0 blocking */
    int idle_timeout; /**< -idle-timeout, seconds */
    int flush;        /**< -flush */
    int nph;          /**< -nph */
    apr_array_header_t *pass_headers; /**< -pass-header, const char * */
    apr_array_header_t *initial_env;  /**< -initial-env, const char * */
    int init_start_delay;             /**< -init-start-delay, seconds */
    int restart_delay;                /**< -restart-delay, seconds */
    int min_server_life;              /**< -min-server-life, seconds */
    int listen_queue_depth;           /**< -listen-queue-depth */
    int priority;                     /**< -priority, nice value */
    int keep_conn;                    /**< -keep-conn: FCGI_KEEP_CONN */
    int max_conns;        /**< -max-conns: idle kept per child; for a balanced
                               external server also the cap of requests in
                               flight per member, across children */
    int max_requests;     /**< -max-requests: replace a process after this
                               many requests (0: never); ours */
    int busy_timeout;     /**< s; the whole exchange (FcgidBusyTimeout);
                               FCGIX_UNSET: no limit */
    int pass_header_bare; /**< -pass-header also under the header's own
                               name (fcgid); FCGIX_UNSET: 0 */
    apr_off_t max_body;   /**< FcgidMaxRequestLen, bytes; FCGIX_UNSET:
                               no limit of the module's own */
    int fix_pathinfo;     /**< FcgidFixPathinfo; FCGIX_UNSET: 0 */
    int multiplex;        /**< -multiplex: share connections when the app
                               says FCGI_MPXS_CONNS=1 (fcgi_mux.h) */
} fcgix_app_opts_t;

/** How a FastCgiExternalServer with several members is balanced. */
typedef struct {
    apr_array_header_t *hosts;   /**< every -host, "host:port" */
    apr_array_header_t *sockets; /**< every -socket */
    apr_array_header_t *backups; /**< every -backup: host:port, or a socket
                                      path when the members are sockets */
    const char *method;          /**< -balance, or NULL: least-conn */
    int max_fails;               /**< -max-fails, FCGIX_UNSET */
    int fail_timeout;            /**< -fail-timeout, s, FCGIX_UNSET */
    int queue_timeout;           /**< -queue-timeout, s, FCGIX_UNSET */
    int resolve_interval;        /**< -resolve-interval, s, FCGIX_UNSET:
                                      resolve host names once */
    const char *health_check;    /**< -health-check URL path, or NULL */
    int health_interval;         /**< -health-interval, s, FCGIX_UNSET */
    int on; /**< balanced: several members, or a balancing option */
} fcgix_lb_conf_t;

/** One application class defined by FastCgiServer or
 *  FastCgiExternalServer. */
typedef struct {
    fcgix_app_kind_t kind;
    const char *path;       /**< absolute file name of the app */
    const char *defined_at; /**< "file:line" of its definition */
    fcgix_app_opts_t opts;
    const char *host;        /**< -host: address part, or NULL */
    int port;                /**< -host's port, or -port for static */
    apr_sockaddr_t *addr;    /**< -host resolved in post_config, or NULL */
    const char *socket_path; /**< -socket, or NULL */
    int processes;           /**< -processes (static) */
    int board_class;         /**< static: its class on the scoreboard */
    const char *user;        /**< -user (with a wrapper) */
    const char *group;       /**< -group (with a wrapper) */
    fcgix_lb_conf_t lb;      /**< external: its members and balancing */

    const char *stats_label; /**< its statistics row when not its path:
                                  an fcgid class's "path [host]"
                                  (fcgi_fcgid.c); else NULL */

    /** server_rec *: the main server or the virtual hosts whose
     *  configuration defines it (the status page shows it to them) */
    apr_array_header_t *servers;
} fcgix_app_t;

/** FastCgiConfig: defaults for dynamic apps and the PM's tuning. */
typedef struct {
    fcgix_app_opts_t opts;
    int max_processes;       /**< -maxProcesses */
    int max_class_processes; /**< -maxClassProcesses */
    int min_processes;       /**< -minProcesses */
    int kill_interval;       /**< -killInterval, seconds */
    int update_interval;     /**< -updateInterval, seconds */
    int single_threshold;    /**< -singleThreshold, percent */
    int multi_threshold;     /**< -multiThreshold, percent */
    int start_delay;         /**< -startDelay, seconds */
    int process_slack;       /**< -processSlack */
    int auto_update;         /**< -autoUpdate */
    int restart;             /**< -restart */
    double gain_value;       /**< -gainValue, 0..1; < 0 when unset */
    int start_timeout;       /**< -startTimeout: how long a request waits
                                  for a dynamic app to start, seconds */
    const char *defined_at;  /**< where FastCgiConfig was, or NULL */
} fcgix_dynamic_conf_t;

/** FastCgiWrapper settings. */
typedef enum {
    FCGIX_WRAPPER_UNSET = 0,
    FCGIX_WRAPPER_OFF,
    FCGIX_WRAPPER_SUEXEC, /**< On: httpd's own suexec */
    FCGIX_WRAPPER_PATH    /**< a wrapper program */
} fcgix_wrapper_mode_t;

/** Per-server configuration. */
typedef struct {
    int stderr_level;              /**< FastCgiStderrLogLevel, FCGIX_UNSET */
    fcgix_dynamic_conf_t *dynamic; /**< FastCgiConfig, or NULL */
    const char *ipc_dir;           /**< FastCgiIpcDir, or NULL */
    fcgix_wrapper_mode_t wrapper_mode;
    const char *wrapper_path; /**< FastCgiWrapper path, or NULL */
    int status_show_all;      /**< FastCgiStatusShowAll, FCGIX_UNSET */
    int keep_conns;           /**< FastCgiKeepConnections (main server),
                                   FCGIX_UNSET: on */
    const char *ipc_dir_at;   /**< "file:line" of the directive that set
                                   ipc_dir (FastCgiIpcDir or FcgidIPCDir) */
    int ipc_dir_vocab;        /**< FCGIX_VOCAB_* of that directive */
    int tenant;               /**< this server_rec's index among all of
                                   them (0: the main server), set by
                                   fcgix_fcgid_post_config() */
    int max_host_processes;   /**< FastCgiMaxHostProcesses =
                                   FcgidMaxProcessesPerVhost; 0: none;
                                   FCGIX_UNSET */
    int max_user_processes;   /**< FastCgiMaxUserProcesses =
                                   FcgidMaxProcessesPerUser (main server);
                                   0: none; FCGIX_UNSET */
    fcgix_fcgid_srv_t fcgid;  /**< the Fcgid* server settings */
    apr_table_t *filters;     /**< FastCgiFilter: filter name (lower
                                   case) -> app path; NULL: none */
    apr_table_t *filters_at;  /**< filter name -> "file:line" */
} fcgix_srv_conf_t;

/** One of the three authorizer phases. */
typedef struct {
    const char *path;  /**< the auth app, or NULL when unset */
    int compat;        /**< -compat: spec-only behaviour */
    int authoritative; /**< ...Authoritative, FCGIX_UNSET */
    int from_htaccess; /**< set in .htaccess: may only name a defined app */
    int provider_only; /**< -provider: used only through the provider API
                            (AuthBasicProvider fastcgi, Require
                            fastcgi-authorizer), not as a phase hook */
    int vocab;         /**< FCGIX_VOCAB_*: whose meaning the directive had
                            (0 when unset) */
    const fcgix_command_t *command; /**< fcgid: the command it runs (from
                                         the registry), else NULL */
    const void *set_by; /**< the ap_directive_t that set it: with both
                             records loaded httpd runs a FastCgi* auth
                             directive twice; the second run is a no-op */
} fcgix_auth_conf_t;

/** FastCgiChunkedBody: what to do with a chunked request body. */
typedef enum {
    FCGIX_CHUNKED_UNSET = 0,
    FCGIX_CHUNKED_SPOOL,  /**< read it whole, send CONTENT_LENGTH */
    FCGIX_CHUNKED_STREAM, /**< stream it, no CONTENT_LENGTH */
    FCGIX_CHUNKED_REFUSE  /**< answer 411 Length Required */
} fcgix_chunked_mode_t;

/** Per-directory configuration. */
typedef struct {
    fcgix_chunked_mode_t chunked_body; /**< FastCgiChunkedBody */
    apr_off_t spool_limit;             /**< FastCgiSpoolLimit, bytes (0:
                                            none of its own); FCGIX_UNSET */
    fcgix_auth_conf_t authenticator;
    fcgix_auth_conf_t authorizer;
    fcgix_auth_conf_t access_checker;
    fcgix_fcgid_dir_t fcgid;           /**< FcgidWrapper entries */
    apr_array_header_t *sendfile_dirs; /**< FastCgiSendfilePath (char *,
                                            resolved), inherited ones
                                            included; NULL: none */
} fcgix_dir_conf_t;

/* The module's configuration lives under one of its two records (the
 * first loaded in a generation: fastcgi_x_module or fcgid_module); no
 * file but mod_fastcgi_x.c names a record. These reach it. */

/** The core's configuration of server @a s. */
fcgix_srv_conf_t *fcgix_srv_conf(const server_rec *s);

/** The core's (merged) per-directory configuration in @a per_dir. */
fcgix_dir_conf_t *fcgix_dir_conf(ap_conf_vector_t *per_dir);

/** For directive handlers: the server being configured. httpd creates a
 *  virtual host's configuration only for the records whose directives
 *  ran in it; this creates the owner's when a directive of the other
 *  record runs first. Every handler uses this, never fcgix_srv_conf(). */
fcgix_srv_conf_t *fcgix_cfg_srv(cmd_parms *cmd);

/** For directive handlers: the section being configured, created in the
 *  owner record's slot if no directive of ours ran there yet (httpd
 *  hands a handler its own record's slot, which is NULL for the other
 *  record). Every handler uses this, never its mconfig argument. */
fcgix_dir_conf_t *fcgix_cfg_dir(cmd_parms *cmd);

/** Whether a directive runs in .htaccess (not the server config, a
 *  virtual host or a directory section). */
int fcgix_cfg_in_htaccess(const cmd_parms *cmd);

/** Which vocabulary: its record's directives, handler, defaults. */
enum { FCGIX_VOCAB_FASTCGI = 1, FCGIX_VOCAB_FCGID = 2 };

/** Whether the record of vocabulary @a vocab is loaded in this
 *  generation. */
int fcgix_vocab_loaded(int vocab);

/** The module's directive table. */
extern const command_rec fcgix_cmds[];

/**
 * The applications defined by FastCgiServer and FastCgiExternalServer in
 * this configuration, by path (fcgix_app_t *), kept with @a pconf.
 */
apr_hash_t *fcgix_registry(apr_pool_t *pconf);

/**
 * Create a per-server configuration with every field unset.
 */
void *fcgix_srv_conf_create(apr_pool_t *p, server_rec *s);

/**
 * Merge a virtual host's configuration over the main server's.
 */
void *fcgix_srv_conf_merge(apr_pool_t *p, void *base, void *add);

/**
 * Create a per-directory configuration with every field unset.
 */
void *fcgix_dir_conf_create(apr_pool_t *p, char *dir);

/**
 * Merge a per-directory configuration field by field.
 */
void *fcgix_dir_conf_merge(apr_pool_t *p, void *base, void *add);

/**
 * Fill the unset fields of @a opts with the documented defaults
 * (mod_fastcgi's; the timeouts stay unset and mean httpd's Timeout).
 * @param opts  options as configured
 * @return a copy with every other field set
 */
fcgix_app_opts_t fcgix_app_effective(const fcgix_app_opts_t *opts);

/**
 * The effective FastCgiSpoolLimit of a directory.
 * @param d  the directory's configuration
 * @return the most bytes a spooled chunked body may have; 0: no limit
 *         of the module's own (LimitRequestBody still applies)
 */
apr_off_t fcgix_spool_limit(const fcgix_dir_conf_t *d);

/**
 * FastCgiConfig with mod_fastcgi's defaults in every unset field.
 * @param d  the configuration, or NULL when there is no FastCgiConfig
 * @return a copy with every field set (opts through fcgix_app_effective)
 */
fcgix_dynamic_conf_t fcgix_dynamic_effective(const fcgix_dynamic_conf_t *d);

/**
 * The -balance method of a balanced external server (least-conn when
 * none was given).
 */
fcgix_lb_method_t fcgix_lb_conf_method(const fcgix_lb_conf_t *lb);

#endif /* FCGIX_CONFIG_H */
