/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ctl.h
 * @brief The process manager's control protocol: the one definition of
 *        every message, its encoder and its parser.
 *
 * One line per connection, from the handler (or any local client of the
 * User, so every byte is untrusted input) to the PM:
 *
 *   "TICK\n"                           look at the board now; no answer
 *   "START <path>\n"                   answered when a process is ready
 *   "STARTAS <user> <group> <path>\n"  the same, run by the wrapper as
 *                                      that user and group
 *   "STARTC <vocab> <tenant> <cmd> <user> <group> <path>\n"
 *                                      the same for the class keyed by
 *                                      all of them (docs/design/fcgid.md
 *                                      3.3, 3.4)
 *
 * and one answer line from the PM:
 *
 *   "OK\n"                  a process takes requests
 *   "BUSY <seconds> <why>\n" none can now; ask again after <seconds>
 *   "FAIL <why>\n"          the app cannot be started
 *
 * No line holds a NUL or a CR, nor a LF but at its end. A path is
 * absolute; it may contain spaces (it runs to the end of the line) and
 * other control characters (the log escapes them). A user or group is
 * 1..FCGIX_CTL_NAME_MAX of [A-Za-z0-9._-], not starting with '-' (the
 * wrapper gets it as an argument). Seconds are 0..FCGIX_CTL_BUSY_MAX_S in
 * decimal without sign or leading zero. A reason is non-empty text.
 *
 * STARTC's fields: <vocab> is "x" (the FastCgi vocabulary) or "f"
 * (mod_fcgid's); <tenant> and <cmd> are indexes 0..FCGIX_CTL_INDEX_MAX
 * in decimal without sign or leading zero (0: none; else the virtual
 * host's or the command's index + 1, checked by the PM against its own
 * tables); <user> and <group> are both "-" (no identity) or both names as
 * for STARTAS, the user optionally after one "~" (a mod_userdir
 * identity). START is STARTC x 0 0 - - <path>, STARTAS is
 * STARTC x 0 0 <user> <group> <path>: both parse to the same request
 * fields, with their own verb, so that each encodes back to itself.
 * Every line the parsers accept is canonical: the
 * encoders give back exactly its bytes.
 *
 * Pure C99: no APR, no httpd, no allocation, no I/O, no globals. The
 * parsers are stateless and may be called again on the same buffer as
 * more bytes arrive; a defect found in a prefix is the same defect in
 * any longer input, so the result never depends on how the bytes were
 * split.
 */

#ifndef FCGIX_CTL_H
#define FCGIX_CTL_H

#include <stddef.h>

/** Longest path, in bytes (the board keeps it with its NUL). */
#define FCGIX_CTL_PATH_MAX 1023
/** Longest user or group name of STARTAS. */
#define FCGIX_CTL_NAME_MAX 32
/** Longest reason of BUSY or FAIL (room for a path and an error). */
#define FCGIX_CTL_WHY_MAX (FCGIX_CTL_PATH_MAX + 128)
/** Largest BUSY delay, in seconds. */
#define FCGIX_CTL_BUSY_MAX_S 86400
/** Largest tenant or command index of STARTC. */
#define FCGIX_CTL_INDEX_MAX 65535
/** Longest request line, with its newline: STARTC with a "~" user and
 *  five-digit indexes ("STARTC x 65535 65535 ~u g /p\n"). */
#define FCGIX_CTL_REQUEST_MAX                                                  \
    (6 + 2 + 2 * 6 + 2 + 2 * (FCGIX_CTL_NAME_MAX + 1) + FCGIX_CTL_PATH_MAX + 1)
/** Longest answer line, with its newline. */
#define FCGIX_CTL_ANSWER_MAX (11 + FCGIX_CTL_WHY_MAX + 1)

/** Requests. */
enum {
    FCGIX_CTL_TICK = 1,
    FCGIX_CTL_START,
    FCGIX_CTL_STARTAS,
    FCGIX_CTL_STARTC
};

/** STARTC's vocabularies ("x" and "f" on the wire). */
enum { FCGIX_CTL_VOCAB_FASTCGI = 1, FCGIX_CTL_VOCAB_FCGID = 2 };

/** Answers. */
enum { FCGIX_CTL_OK = 1, FCGIX_CTL_BUSY, FCGIX_CTL_FAIL };

/** Results of the parsers and encoders besides a length (> 0). */
enum {
    FCGIX_CTL_AGAIN = 0,      /**< no complete line yet: need more bytes */
    FCGIX_CTL_ELONG = -1,     /**< no newline within the longest line */
    FCGIX_CTL_ECHAR = -2,     /**< a NUL, CR or LF inside the line */
    FCGIX_CTL_EVERB = -3,     /**< unknown verb */
    FCGIX_CTL_ESYNTAX = -4,   /**< missing, empty or extra field */
    FCGIX_CTL_ERELATIVE = -5, /**< a path that is not absolute */
    FCGIX_CTL_EPATHLEN = -6,  /**< a path longer than FCGIX_CTL_PATH_MAX */
    FCGIX_CTL_ENAME = -7,     /**< a bad user or group name */
    FCGIX_CTL_ENUMBER = -8,   /**< a bad number of seconds */
    FCGIX_CTL_EWHY = -9,      /**< a reason too long */
    FCGIX_CTL_ESPACE = -10,   /**< encoders: the buffer is too small */
    FCGIX_CTL_EINDEX = -11    /**< STARTC: a bad vocabulary, tenant or
                                   command field */
};

/** A parsed request; the strings are NUL-terminated copies. */
typedef struct {
    int verb;                           /**< FCGIX_CTL_TICK, ... */
    int vocab;                          /**< FCGIX_CTL_VOCAB_*; START and
                                             STARTAS: FASTCGI; TICK: 0 */
    unsigned tenant;                    /**< 0: none; START, STARTAS: 0 */
    unsigned cmd;                       /**< 0: none; START, STARTAS: 0 */
    int userdir;                        /**< 1: user had a "~" (STARTC) */
    char path[FCGIX_CTL_PATH_MAX + 1];  /**< START, STARTAS, STARTC */
    char user[FCGIX_CTL_NAME_MAX + 1];  /**< without its "~"; "": none */
    char group[FCGIX_CTL_NAME_MAX + 1]; /**< "": none */
} fcgix_ctl_request_t;

/** A parsed answer. */
typedef struct {
    int kind;                        /**< FCGIX_CTL_OK, ... */
    int seconds;                     /**< BUSY */
    char why[FCGIX_CTL_WHY_MAX + 1]; /**< BUSY, FAIL */
} fcgix_ctl_answer_t;

/**
 * Parse the request at the start of @p buf.
 * @param buf  the bytes received so far (not NUL-terminated)
 * @param len  their number
 * @param req  filled when a line is returned
 * @return the length of the line with its newline (> 0); FCGIX_CTL_AGAIN
 *         when the line is not complete yet; else the defect (< 0). Bytes
 *         after the line are not looked at.
 */
long fcgix_ctl_parse_request(const char *buf, size_t len,
                             fcgix_ctl_request_t *req);

/**
 * Parse the answer at the start of @p buf; as fcgix_ctl_parse_request().
 */
long fcgix_ctl_parse_answer(const char *buf, size_t len,
                            fcgix_ctl_answer_t *ans);

/**
 * Encode "TICK\n".
 * @return its length, or FCGIX_CTL_ESPACE. No NUL is written.
 */
long fcgix_ctl_put_tick(char *buf, size_t cap);

/**
 * Encode "START <path>\n".
 * @return its length, or the defect of @p path (FCGIX_CTL_ERELATIVE, ...),
 *         or FCGIX_CTL_ESPACE. No NUL is written.
 */
long fcgix_ctl_put_start(char *buf, size_t cap, const char *path);

/**
 * Encode "STARTAS <user> <group> <path>\n"; as fcgix_ctl_put_start().
 */
long fcgix_ctl_put_startas(char *buf, size_t cap, const char *user,
                           const char *group, const char *path);

/**
 * Encode "STARTC <vocab> <tenant> <cmd> <user> <group> <path>\n".
 * @param vocab   FCGIX_CTL_VOCAB_FASTCGI or FCGIX_CTL_VOCAB_FCGID
 * @param tenant  0..FCGIX_CTL_INDEX_MAX
 * @param cmd     0..FCGIX_CTL_INDEX_MAX
 * @param user    NULL (no identity, sent as "-"), or a name, optionally
 *                after one "~" (a mod_userdir identity)
 * @param group   NULL exactly when @p user is, else a name
 * @return as fcgix_ctl_put_start(); FCGIX_CTL_EINDEX for a bad @p vocab,
 *         @p tenant or @p cmd, FCGIX_CTL_ENAME for a bad name or one of
 *         @p user and @p group NULL without the other
 */
long fcgix_ctl_put_startc(char *buf, size_t cap, int vocab, unsigned tenant,
                          unsigned cmd, const char *user, const char *group,
                          const char *path);

/**
 * Encode @p req (any verb); as fcgix_ctl_put_start(). For STARTC, an
 * empty user and group mean no identity.
 */
long fcgix_ctl_put_request(char *buf, size_t cap,
                           const fcgix_ctl_request_t *req);

/** Encode "OK\n"; as fcgix_ctl_put_tick(). */
long fcgix_ctl_put_ok(char *buf, size_t cap);

/**
 * Encode "BUSY <seconds> <why>\n".
 * @return its length, FCGIX_CTL_ENUMBER, FCGIX_CTL_ECHAR or
 *         FCGIX_CTL_ESYNTAX (bad or empty @p why), FCGIX_CTL_EWHY or
 *         FCGIX_CTL_ESPACE. No NUL is written.
 */
long fcgix_ctl_put_busy(char *buf, size_t cap, int seconds, const char *why);

/** Encode "FAIL <why>\n"; as fcgix_ctl_put_busy(). */
long fcgix_ctl_put_fail(char *buf, size_t cap, const char *why);

/**
 * Encode @p ans (any kind); as fcgix_ctl_put_busy().
 */
long fcgix_ctl_put_answer(char *buf, size_t cap, const fcgix_ctl_answer_t *ans);

/**
 * @return a short English phrase for a result code (never NULL).
 */
const char *fcgix_ctl_strerror(long code);

/**
 * Whether a client of the control socket may talk to the PM: root (httpd's
 * parent) or the PM's own user (httpd's User, whose children send the
 * requests). Any other user is a stranger.
 * @param peer_uid  the client's uid (SO_PEERCRED)
 * @param own_uid   the PM's effective uid
 */
int fcgix_ctl_peer_allowed(unsigned long peer_uid, unsigned long own_uid);

#endif /* FCGIX_CTL_H */
