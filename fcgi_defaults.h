/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_defaults.h
 * @brief The defaults of the directives, in one table: what an unset
 *        option becomes (fcgi_config.c, fcgix_app_effective() and
 *        fcgix_dynamic_effective()) and what the process manager falls
 *        back to for a field <= 0 (fcgi_pm.h).
 *
 * Plain C, no httpd or APR (`make check-deps`), so that the PM and its
 * tests can include it. Values are in the directives' units (seconds,
 * counts) unless the name ends in _MS. They are mod_fastcgi's documented
 * defaults unless a comment says otherwise; docs/directives.md lists them.
 */

#ifndef FCGIX_DEFAULTS_H
#define FCGIX_DEFAULTS_H

/* ---- FastCgiServer options (and FastCgiConfig's, for dynamic apps) ---- */

/** -processes */
#define FCGIX_DEFAULT_PROCESSES 1
/** -flush (off) */
#define FCGIX_DEFAULT_FLUSH 0
/** -nph (off) */
#define FCGIX_DEFAULT_NPH 0
/** -init-start-delay, seconds */
#define FCGIX_DEFAULT_INIT_START_DELAY 1
/** -restart-delay, seconds */
#define FCGIX_DEFAULT_RESTART_DELAY 5
/** -min-server-life, seconds */
#define FCGIX_DEFAULT_MIN_SERVER_LIFE 30
/** What -min-server-life 0 means: 1 s (documented). This is not the
 *  default: an unset -min-server-life is FCGIX_DEFAULT_MIN_SERVER_LIFE. */
#define FCGIX_MIN_SERVER_LIFE_ZERO_MS 1000
/** -listen-queue-depth */
#define FCGIX_DEFAULT_LISTEN_QUEUE_DEPTH 100
/** -priority */
#define FCGIX_DEFAULT_PRIORITY 0
/** -keep-conn (off; ours) */
#define FCGIX_DEFAULT_KEEP_CONN 0
/** -max-conns: idle kept connections per httpd child and app (ours) */
#define FCGIX_DEFAULT_MAX_CONNS 4
/** -max-fails: failures in a row that take a member down (balanced
 *  FastCgiExternalServer) */
#define FCGIX_DEFAULT_MAX_FAILS 1
/** -fail-timeout: how long a member stays down, seconds */
#define FCGIX_DEFAULT_FAIL_TIMEOUT 10
/** -appConnTimeout of a balanced FastCgiExternalServer, seconds: a member
 *  that drops connections should cost little before the next one is
 *  tried (a single server keeps httpd's Timeout, as mod_fastcgi did) */
#define FCGIX_DEFAULT_BALANCED_CONN_TIMEOUT 5
/** -queue-timeout: how long a request waits for a member with room under
 *  -max-conns, seconds */
#define FCGIX_DEFAULT_QUEUE_TIMEOUT 5
/** -max-requests (0: never replace a process; ours) */
#define FCGIX_DEFAULT_MAX_REQUESTS 0

/* ---- FastCgiConfig: dynamic apps and the PM's tuning ---- */

/** -maxProcesses */
#define FCGIX_DEFAULT_MAX_PROCESSES 50
/** -maxClassProcesses */
#define FCGIX_DEFAULT_MAX_CLASS_PROCESSES 10
/** -minProcesses */
#define FCGIX_DEFAULT_MIN_PROCESSES 5
/** -killInterval, seconds */
#define FCGIX_DEFAULT_KILL_INTERVAL 300
/** -updateInterval, seconds */
#define FCGIX_DEFAULT_UPDATE_INTERVAL 10
/** -singleThreshold */
#define FCGIX_DEFAULT_SINGLE_THRESHOLD 0
/** -multiThreshold */
#define FCGIX_DEFAULT_MULTI_THRESHOLD 50
/** -startDelay, seconds */
#define FCGIX_DEFAULT_START_DELAY 3
/** -processSlack */
#define FCGIX_DEFAULT_PROCESS_SLACK 5
/** -gainValue */
#define FCGIX_DEFAULT_GAIN_VALUE 0.5
/** -autoUpdate (off) */
#define FCGIX_DEFAULT_AUTO_UPDATE 0
/** -restart (off) */
#define FCGIX_DEFAULT_RESTART 0
/** -startTimeout: seconds a request waits for a process to start (ours) */
#define FCGIX_DEFAULT_START_TIMEOUT 10

/* ---- Per directory ---- */

/** FastCgiSpoolLimit, bytes: the most a spooled chunked request body may
 *  have. 1 GiB, httpd's own LimitRequestBody default, so that no body
 *  httpd takes by default is refused; the cap matters where
 *  LimitRequestBody is raised for bodies with a length (which stream,
 *  never touching the disk) or is 0. */
#define FCGIX_DEFAULT_SPOOL_LIMIT (1LL << 30)

/* ---- mod_fcgid's vocabulary: mod_fcgid 2.3.9's defaults ---- */

/** FcgidConnectTimeout, seconds */
#define FCGIX_FCGID_DEFAULT_CONNECT_TIMEOUT 3
/** FcgidIOTimeout, seconds */
#define FCGIX_FCGID_DEFAULT_IO_TIMEOUT 40
/** FcgidIdleTimeout, seconds */
#define FCGIX_FCGID_DEFAULT_IDLE_TIMEOUT 300
/** FcgidProcessLifeTime, seconds */
#define FCGIX_FCGID_DEFAULT_LIFETIME 3600
/** FcgidMaxProcessesPerClass */
#define FCGIX_FCGID_DEFAULT_MAX_CLASS_PROCESSES 100
/** FcgidMinProcessesPerClass */
#define FCGIX_FCGID_DEFAULT_MIN_CLASS_PROCESSES 3
/** FcgidMaxRequestsPerProcess (0: never) */
#define FCGIX_FCGID_DEFAULT_MAX_REQUESTS 0
/** FcgidBusyTimeout, seconds */
#define FCGIX_FCGID_DEFAULT_BUSY_TIMEOUT 300
/** FcgidMaxRequestLen, bytes */
#define FCGIX_FCGID_DEFAULT_MAX_REQUEST_LEN 131072
/** FcgidOutputBufferSize, bytes (only 0 has an effect here) */
#define FCGIX_FCGID_DEFAULT_OUTPUT_BUFFER_SIZE 65536
/** FcgidQueueTimeout, seconds (ours) */
#define FCGIX_FCGID_DEFAULT_QUEUE_TIMEOUT 60
/** FcgidMaxProcesses: the PM's limit when fcgid_module is loaded */
#define FCGIX_FCGID_DEFAULT_MAX_PROCESSES 1000
/** FcgidFixPathinfo (off) */
#define FCGIX_FCGID_DEFAULT_FIX_PATHINFO 0

#endif /* FCGIX_DEFAULTS_H */
