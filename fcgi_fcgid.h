/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid.h
 * @brief mod_fcgid's vocabulary on the module's core: the fcgid_module
 *        record's directive table, the command registry, the effective
 *        values the request side reads and the fcgid-script request.
 *        Its types are in fcgi_fcgid_types.h. docs/design/fcgid.md,
 *        sections 1.4.3, 2 and 6.
 */

#ifndef FCGIX_FCGID_H
#define FCGIX_FCGID_H

#include "httpd.h"
#include "http_config.h"

#include "fcgi_config.h"

/** mod_fcgid 2.3.9's directives and their old names (fcgid_module). */
extern const command_rec fcgix_fcgid_cmds[];

/** Whether @a m is one of this copy's two module records. */
int fcgix_is_our_record(const module *m);

/** The file this copy of the module was loaded from (for messages). */
const char *fcgix_own_file(void);

/**
 * The command registry's entry for a command line, after post_config
 * (children inherit it read-only). The line is compared by its words,
 * argv[0] resolved against ServerRoot, so quoting and blanks do not
 * matter.
 * @param line  a command line as a directive gives it
 * @return the entry, or NULL when no server-configuration directive (nor
 *         FcgidHtaccessCommand) named that line
 */
const fcgix_command_t *fcgix_fcgid_command_find(const char *line);

/**
 * Every command of the configuration, in registry order (element i is a
 * const fcgix_command_t *; its index is i, or the number a kept PM knows
 * it by: fcgix_fcgid_command_number()): the PM's command table. Valid
 * after post_config; NULL before.
 */
const apr_array_header_t *fcgix_fcgid_commands(void);

/** Give the registry's command @p i the number @p number: the index its
 *  requests name it by (STARTC), and its place in the PM's table. */
void fcgix_fcgid_command_number(int i, int number);

/**
 * post_config: freeze the command registry (array and hash, kept with
 * @a pconf), number every server_rec (sconf->tenant = 0 for the main
 * server, then each virtual host in order), and hand FcgidMaxProcesses to
 * the PM's limit (FastCgiConfig -maxProcesses). Call it before anything
 * that reads those (the launch of the PM).
 * @return OK
 */
int fcgix_fcgid_post_config(apr_pool_t *pconf, server_rec *s);

/**
 * check_config: the cross-directive checks of the fcgid vocabulary
 * (FcgidMaxProcesses against FastCgiConfig -maxProcesses, FCGIX00118)
 * and the one line that lists the directives with no effect here
 * (FCGIX00117, warn; once per start, restart and `apachectl -t`).
 * @return the number of errors logged
 */
int fcgix_fcgid_check_config(apr_pool_t *pconf, server_rec *s);

/**
 * The options of an fcgid class whose path is @a path, for requests of
 * server @a s: its FcgidCmdOptions if it has one (options left out take
 * mod_fcgid's defaults, not the server's), else the server's Fcgid*
 * values (unset ones: the defaults, FCGIX_FCGID_DEFAULT_*). Every integer
 * is set; initial_env may be NULL.
 * @param path  the class's path: the wrapper's argv[0], or the script
 */
fcgix_fcgid_opts_t fcgix_fcgid_effective(const fcgix_srv_conf_t *s,
                                         const char *path);

/**
 * The FcgidWrapper for a file: the entry of the suffix
 * strrchr(filename, '.') (exact, case-sensitive), else the one without a
 * suffix.
 * @param d  the request's merged directory configuration
 * @return the wrapper, or NULL when none applies
 */
const fcgix_fcgid_wrapper_t *fcgix_fcgid_wrapper_for(const fcgix_dir_conf_t *d,
                                                     const char *filename);

/**
 * The request options of an fcgid class, for fcgix_serve(): into @a o
 * (first made all-unset and defaulted by fcgix_app_effective()):
 * conn_timeout and idle_timeout (= IOTimeout) from
 * fcgix_fcgid_effective(), busy_timeout, pass_headers (FcgidPassHeader)
 * with pass_header_bare = 1, flush when FcgidOutputBufferSize is 0,
 * max_body (FcgidMaxRequestLen) and fix_pathinfo.
 */
void fcgix_fcgid_app_opts(apr_pool_t *p, const fcgix_srv_conf_t *s,
                          const char *path, fcgix_app_opts_t *o);

/**
 * The fcgid-script handler's request (fcgi_fcgid.c): mod_fcgid's checks
 * (ExecCGI, AcceptPathInfo, the file), its wrapper, the class (script or
 * command, virtual host, suexec identity), then a process of that class.
 * docs/design/fcgid.md, section 6.
 */
int fcgix_fcgid_serve(request_rec *r);

struct fcgix_auth_call_s;
struct fcgix_auth_reply_s;

/**
 * Ask a mod_fcgid authorizer (FcgidAuthenticator & co.): command @a cmd
 * runs as an fcgid class of the request's virtual host and identity, in
 * the role @a call says (fcgix_authorize()).
 */
int fcgix_fcgid_authorize(request_rec *r, const fcgix_command_t *cmd,
                          struct fcgix_auth_call_s *call,
                          struct fcgix_auth_reply_s *reply);

/** FcgidQueueTimeout of @a s, seconds (default 60). */
int fcgix_fcgid_queue_timeout(const fcgix_srv_conf_t *s);

/** FcgidBusyTimeout of @a s, seconds (default 300). */
int fcgix_fcgid_busy_timeout(const fcgix_srv_conf_t *s);

/** FcgidMaxRequestLen of @a s, bytes (default 131072). */
apr_off_t fcgix_fcgid_max_request_len(const fcgix_srv_conf_t *s);

/** Whether FcgidOutputBufferSize is 0 (flush every read) in @a s. */
int fcgix_fcgid_flush(const fcgix_srv_conf_t *s);

/** FcgidFixPathinfo of @a s (0 or 1; default 0). */
int fcgix_fcgid_fix_pathinfo(const fcgix_srv_conf_t *s);

/** FcgidMaxProcessesPerVhost = FastCgiMaxHostProcesses of @a s; 0: none. */
int fcgix_fcgid_max_host_processes(const fcgix_srv_conf_t *s);

/** FcgidMaxProcessesPerUser = FastCgiMaxUserProcesses (read it from the
 *  main server's configuration); 0: none. */
int fcgix_fcgid_max_user_processes(const fcgix_srv_conf_t *s);

#endif /* FCGIX_FCGID_H */
