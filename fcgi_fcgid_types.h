/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid_types.h
 * @brief mod_fcgid's configuration types, kept in the core's structs of
 *        fcgi_config.h (which includes this file). docs/design/fcgid.md,
 *        section 1.4.3.
 */

#ifndef FCGIX_FCGID_TYPES_H
#define FCGIX_FCGID_TYPES_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"
#include "apr_hash.h"

/** One command line named in the server configuration (FcgidWrapper,
 *  FcgidAuthenticator & co., FcgidCmdOptions, FcgidHtaccessCommand),
 *  kept once per distinct line. */
typedef struct {
    int index;               /**< in the registry; the PM's table index */
    const char *line;        /**< as first written (quotes removed) */
    const char *key;         /**< the registry's key: path and the other
                                  words, one blank between */
    const char *path;        /**< argv[0], ServerRoot-relative resolved */
    const char *const *argv; /**< the line split like a shell line, argv[0]
                                  replaced by path; NULL-terminated */
    int argc;
    const char *defined_at; /**< "file:line" of its first use */
} fcgix_command_t;

/** Per-class options (FcgidCmdOptions, or a server's Fcgid* values).
 *  Every integer FCGIX_UNSET (-1) when not given. */
typedef struct {
    int connect_timeout;      /**< s (FcgidConnectTimeout, ConnectTimeout) */
    int io_timeout;           /**< s (FcgidIOTimeout, IOTimeout) */
    int idle_timeout;         /**< s, 0: never (FcgidIdleTimeout) */
    int lifetime;             /**< s, 0: never (FcgidProcessLifeTime,
                                   MaxProcessLifetime) */
    int max_class_processes;  /**< FcgidMaxProcessesPerClass, MaxProcesses */
    int min_class_processes;  /**< FcgidMinProcessesPerClass, MinProcesses */
    int max_requests;         /**< 0: never (FcgidMaxRequestsPerProcess) */
    apr_table_t *initial_env; /**< NAME -> value (FcgidInitialEnv,
                                   InitialEnv), or NULL */
    const char *defined_at;   /**< FcgidCmdOptions: its "file:line" */
} fcgix_fcgid_opts_t;

/** The Fcgid* settings of one server, merged field by field. */
typedef struct {
    fcgix_fcgid_opts_t opts;          /**< FcgidIOTimeout, FcgidIdleTimeout,
                                           FcgidInitialEnv ... */
    apr_array_header_t *pass_headers; /**< FcgidPassHeader, const char *;
                                           a vhost's are appended to the
                                           main server's; NULL: none */
    apr_hash_t *cmd_options;          /**< resolved command path ->
                                           fcgix_fcgid_opts_t *; a vhost's
                                           overlay the main server's */
    int busy_timeout;                 /**< s (FcgidBusyTimeout) */
    apr_off_t max_request_len;        /**< bytes (FcgidMaxRequestLen) */
    int output_buffer_size;           /**< bytes (FcgidOutputBufferSize) */
    int queue_timeout;                /**< s (FcgidQueueTimeout) */
    int max_processes;                /**< main server: FcgidMaxProcesses */
    const char *max_processes_at;     /**< its "file:line" */
    int fix_pathinfo;                 /**< main server: FcgidFixPathinfo */
} fcgix_fcgid_srv_t;

/** One FcgidWrapper. */
typedef struct {
    const fcgix_command_t *command; /**< the registry's entry */
    int is_virtual;                 /**< "virtual": no file checks */
    const char *suffix;             /**< ".php", or "" for every file */
    const char *defined_at;         /**< "file:line" (the .htaccess one
                                         when set there) */
} fcgix_fcgid_wrapper_t;

/** The Fcgid* settings of one directory section. */
typedef struct {
    apr_hash_t *wrappers; /**< suffix (".php", or "" for none) ->
                               fcgix_fcgid_wrapper_t *; a section's entry
                               wins per suffix; NULL: none */
} fcgix_fcgid_dir_t;

#endif /* FCGIX_FCGID_TYPES_H */
