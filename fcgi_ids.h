/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ids.h
 * @brief Virtual host ("tenant") and command numbers that stay the same
 *        across the graceful restarts a running PM is kept through. A
 *        dynamic class's key names its virtual host and its command
 *        (an FcgidWrapper or authorizer line) by number; numbered by their
 *        place in the configuration, one host or command added or removed
 *        would renumber every one after it, and a kept PM could hand one
 *        host's processes to another. Here a host or command keeps its
 *        number as long as its record (a host's name, cap and options; a
 *        command's words) is the same, a changed or new one gets a number
 *        never used before by that PM, and a removed one's number is never
 *        given to another. Pure C99 (malloc, no I/O, no httpd).
 */

#ifndef FCGIX_IDS_H
#define FCGIX_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "fcgi_pm.h"

/** What each number a running PM knows stands for: the encoded record
 *  (fcgix_pmconf_encode_tenant(); a command's words, each ended by a
 *  NUL), by number. Numbers go 0..n-1. One of these per table. */
typedef struct {
    unsigned char **ids; /**< malloc'd, each malloc'd */
    size_t *lens;
    uint64_t *hashes;
    int n;
} fcgix_ids_t;

/**
 * Number @p n tenant records (in the configuration's order) against
 * @p known: each takes the number of an identical record that no earlier
 * one took, else the next new number, whose record is appended to
 * @p known.
 * @param known    the numbers so far; grows
 * @param tenants  the records
 * @param n        their count
 * @param numbers  out: numbers[i] is record i's number
 * @return 0, or -1 out of memory (then @p known may have grown by some
 *         records; free it)
 */
int fcgix_ids_number_tenants(fcgix_ids_t *known,
                             const fcgix_pm_tenant_t *tenants, int n,
                             int *numbers);

/** The same for @p n command lines (their argv). */
int fcgix_ids_number_commands(fcgix_ids_t *known,
                              const fcgix_pm_command_t *commands, int n,
                              int *numbers);

/** A copy of @p from in @p to (empty when @p from is); -1 out of memory,
 *  @p to then empty. */
int fcgix_ids_copy(fcgix_ids_t *to, const fcgix_ids_t *from);

/** Free what @p ids holds; it is then empty. */
void fcgix_ids_free(fcgix_ids_t *ids);

#endif /* FCGIX_IDS_H */
