/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pmconf.h
 * @brief The PM's definitions as bytes: what a configuration generation
 *        asks the PM to run (apps, the dynamic template, limits, tenants,
 *        commands), encoded so that a running PM can be handed a new
 *        configuration over its control socket instead of being replaced
 *        (docs/design/issue16.md, item 1). Pure C99: no allocation (the
 *        caller gives the buffers), no I/O, no httpd.
 *
 * Not encoded: what belongs to the process that runs the PM rather than
 * to the configuration (the board, file descriptors, the log callback).
 * A decoded configuration points into the arena it was decoded into.
 */

#ifndef FCGIX_PMCONF_H
#define FCGIX_PMCONF_H

#include <stddef.h>

#include "fcgi_pm.h"

/** The format's version; a decoder refuses any other. */
#define FCGIX_PMCONF_VERSION 1

/** Limits a decoder holds the bytes to (a count or length beyond them is
 *  malformed): they bound the arena a hostile buffer can ask for. */
#define FCGIX_PMCONF_MAX_COUNT 65536
#define FCGIX_PMCONF_MAX_STRING (64 * 1024)

/** fcgix_pmconf_decode() results. */
#define FCGIX_PMCONF_OK 0
#define FCGIX_PMCONF_MALFORMED (-1)
#define FCGIX_PMCONF_NO_ROOM (-2)

/**
 * Encode the definitions of @a c.
 * @param c     the configuration
 * @param buf   where the bytes go; may be NULL when @a size is 0
 * @param size  its size
 * @return the bytes the encoding takes: when more than @a size, nothing
 *         past @a size was written, and the call can be repeated with a
 *         buffer that large
 */
size_t fcgix_pmconf_encode(const fcgix_pm_config_t *c, unsigned char *buf,
                           size_t size);

/**
 * Encode one virtual host's record alone, as fcgix_pmconf_encode() does
 * within the whole: two records are the same when their bytes are
 * (fcgi_ids.h). Returns and writes as fcgix_pmconf_encode().
 */
size_t fcgix_pmconf_encode_tenant(const fcgix_pm_tenant_t *t,
                                  unsigned char *buf, size_t size);

/**
 * Decode @a len bytes into @a out, its arrays and strings placed in
 * @a arena. Fields that are not encoded are left as they were in @a out.
 * @param buf         the bytes
 * @param len         their number: all of them must be used
 * @param out         the configuration
 * @param arena       memory for what @a out points to (any alignment)
 * @param arena_size  its size; the encoded size times 4 plus 4 KiB is
 *                    always enough
 * @return FCGIX_PMCONF_OK, FCGIX_PMCONF_MALFORMED (wrong magic or
 *         version, a count or length past the limits or the end, bytes
 *         left over) or FCGIX_PMCONF_NO_ROOM
 */
int fcgix_pmconf_decode(const unsigned char *buf, size_t len,
                        fcgix_pm_config_t *out, void *arena, size_t arena_size);

/**
 * Whether two app definitions are the same in every encoded field: a
 * process started for one serves the other.
 * @return 1 or 0
 */
int fcgix_pmconf_same_app(const fcgix_pm_app_t *a, const fcgix_pm_app_t *b);

#endif /* FCGIX_PMCONF_H */
