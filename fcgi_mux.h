/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_mux.h
 * @brief Multiplexed connections (-multiplex): the requests of an httpd
 *        child's threads share a few connections to an app that says
 *        FCGI_MPXS_CONNS=1, each request under a request id of its own.
 *
 * The request's side does not change: a multiplexed request gets one end
 * of a socket pair instead of a connection, and speaks FastCGI on it with
 * request id 1, as on a connection of its own. The mux thread (one per
 * httpd child) holds the other ends and the shared connections, and
 * forwards whole records both ways, putting each request's own id on the
 * shared connection and id 1 back on its pair.
 *
 * Discovery: the first connection a child makes to an app with
 * -multiplex is offered to the mux (fcgix_mux_offer()), which sends
 * FCGI_GET_VALUES before the request that connection carries. The answer
 * decides for the child's lifetime: FCGI_MPXS_CONNS=1, later requests
 * join the shared connections (fcgix_mux_join()); 0, no answer before the
 * request ended, or the connection closed, one request per connection as
 * without the option, and nothing is asked again.
 *
 * Flow control: FastCGI has none per request, and the mux must keep
 * reading a shared connection for the requests whose clients read. So
 * each request may have at most FCGIX_MUX_SLOT_BYTES of the app's output
 * waiting for its httpd thread (beyond the socket pair's own buffer);
 * past that, the request gets FCGI_ABORT_REQUEST and its pair is closed:
 * its response is cut, as when the client goes away.
 *
 * Pure C99 and POSIX threads: no httpd or APR, unit-tested on its own
 * (tests/unit/test_mux.c). It logs through a callback.
 */

#ifndef FCGIX_MUX_H
#define FCGIX_MUX_H

/** The most of the app's output one request may have waiting in the mux
 *  for its httpd thread (which waits for a slow client). */
#define FCGIX_MUX_SLOT_BYTES (1024 * 1024)

/** Shared connections per httpd child and app, at most (fewer when the
 *  app's FCGI_MAX_CONNS says so). */
#define FCGIX_MUX_MAX_CONNS 4

/** Requests in flight on one shared connection, at most (fewer when the
 *  app's FCGI_MAX_REQS says so). */
#define FCGIX_MUX_MAX_REQS 64

/** While the first request of a child asks the app, how long the others
 *  wait for the answer before each takes a connection of its own. */
#define FCGIX_MUX_ASK_WAIT_MS 1000

/** A shared connection with no request for this long is closed. */
#define FCGIX_MUX_IDLE_MS 5000

/** Log levels of the callback. */
enum { FCGIX_MUX_ERROR, FCGIX_MUX_WARN, FCGIX_MUX_INFO, FCGIX_MUX_DEBUG };

/** Where the mux logs: @p msg names the app and starts with its log tag. */
typedef void fcgix_mux_log_fn(void *baton, int level, const char *msg);

/** One httpd child's multiplexer: its apps, connections and thread. */
typedef struct fcgix_mux fcgix_mux_t;

/** What the mux knows of an app (fcgix_mux_state()). */
typedef enum {
    FCGIX_MUX_UNKNOWN = 0, /**< not asked yet */
    FCGIX_MUX_PROBING,     /**< FCGI_GET_VALUES sent, no answer yet */
    FCGIX_MUX_SHARED,      /**< it multiplexes: requests share connections */
    FCGIX_MUX_PLAIN        /**< it does not: one request per connection */
} fcgix_mux_state_t;

/**
 * Start the mux thread.
 * @return the mux, or NULL (errno set; then nothing is multiplexed)
 */
fcgix_mux_t *fcgix_mux_start(fcgix_mux_log_fn *log, void *baton);

/** Stop the thread and close every connection and pair end it holds. */
void fcgix_mux_stop(fcgix_mux_t *m);

/**
 * A place for a request on a shared connection to the app at @p key (its
 * address): the request's end of a new socket pair.
 * While another request asks the app, waits for the answer, at most
 * FCGIX_MUX_ASK_WAIT_MS.
 * @return the descriptor, or -1: the app is not known to multiplex, or
 *         every connection is full and another may be opened (connect,
 *         then fcgix_mux_offer())
 */
int fcgix_mux_join(fcgix_mux_t *m, const char *key);

/**
 * Offer @p fd, a new connection to the app at @p key, to the mux: it
 * takes it when nobody has asked the app yet and @p may_probe (the
 * request can be sent again should the app answer the question and close
 * the connection unread), or when the app multiplexes and has room
 * for another shared connection.
 * @param label    what log lines call the app (its path)
 * @param probing  out: 1 when the request goes with the question
 * @return the request's end of a socket pair (the mux owns @p fd now), or
 *         -1: @p fd is still the caller's, for one request as usual
 */
int fcgix_mux_offer(fcgix_mux_t *m, const char *key, const char *label, int fd,
                    int may_probe, int *probing);

/**
 * What the mux knows of the app at @p key; @p conns and @p inflight (may
 * be NULL): its shared connections and the requests on them.
 */
fcgix_mux_state_t fcgix_mux_state(fcgix_mux_t *m, const char *key, int *conns,
                                  int *inflight);

#endif /* FCGIX_MUX_H */
