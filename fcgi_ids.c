/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ids.c
 * @brief Stable virtual host and command numbers for a kept PM
 *        (fcgi_ids.h).
 */

#include <stdlib.h>
#include <string.h>

#include "fcgi_pmconf.h"
#include "fcgi_ids.h"

/* FNV-1a: to skip most of the byte comparisons when there are many
 * virtual hosts. */
static uint64_t hash_of(const unsigned char *b, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

/* Room for one more number; -1 out of memory. */
static int grow(fcgix_ids_t *k)
{
    size_t n = (size_t)k->n + 1;
    unsigned char **ids = realloc(k->ids, n * sizeof(*ids));
    size_t *lens;
    uint64_t *hashes;

    if (ids == NULL) {
        return -1;
    }
    k->ids = ids;
    lens = realloc(k->lens, n * sizeof(*lens));
    if (lens == NULL) {
        return -1;
    }
    k->lens = lens;
    hashes = realloc(k->hashes, n * sizeof(*hashes));
    if (hashes == NULL) {
        return -1;
    }
    k->hashes = hashes;
    return 0;
}

static int append(fcgix_ids_t *k, unsigned char *id, size_t len, uint64_t hash)
{
    if (grow(k) != 0) {
        return -1;
    }
    k->ids[k->n] = id;
    k->lens[k->n] = len;
    k->hashes[k->n] = hash;
    return k->n++;
}

/* The first number not yet @p taken whose record is @p id; -1: none. */
static int find(const fcgix_ids_t *k, const char *taken,
                const unsigned char *id, size_t len, uint64_t hash)
{
    int i;

    for (i = 0; i < k->n; i++) {
        if (!taken[i] && k->hashes[i] == hash && k->lens[i] == len
            && memcmp(k->ids[i], id, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* The identity of item @p i of @p items, malloc'd (NULL out of memory),
 * its length in @p *len. */
typedef unsigned char *encode_fn(const void *items, int i, size_t *len);

static unsigned char *encode_tenant(const void *items, int i, size_t *len)
{
    const fcgix_pm_tenant_t *t = (const fcgix_pm_tenant_t *)items + i;
    unsigned char *id;

    *len = fcgix_pmconf_encode_tenant(t, NULL, 0);
    id = malloc(*len + 1);
    if (id != NULL) {
        fcgix_pmconf_encode_tenant(t, id, *len);
    }
    return id;
}

/* A command's words, each ended by a NUL (a word holds none). */
static unsigned char *encode_command(const void *items, int i, size_t *len)
{
    const char *const *argv = ((const fcgix_pm_command_t *)items)[i].argv;
    unsigned char *id;
    size_t at = 0;
    int k;

    *len = 0;
    for (k = 0; argv && argv[k]; k++) {
        *len += strlen(argv[k]) + 1;
    }
    id = malloc(*len + 1);
    for (k = 0; id && argv && argv[k]; k++) {
        size_t n = strlen(argv[k]) + 1;

        memcpy(id + at, argv[k], n);
        at += n;
    }
    return id;
}

/* Number @p n items against @p known (fcgix_ids_number_tenants()). */
static int number_all(fcgix_ids_t *known, const void *items, int n,
                      encode_fn *encode, int *numbers)
{
    char *taken = calloc((size_t)known->n + (size_t)(n > 0 ? n : 0) + 1, 1);
    int i, rc = 0;

    if (taken == NULL) {
        return -1;
    }
    for (i = 0; i < n && rc == 0; i++) {
        size_t len;
        unsigned char *id = encode(items, i, &len);
        uint64_t hash = id ? hash_of(id, len) : 0;
        int num = id ? find(known, taken, id, len, hash) : -1;

        if (id == NULL) {
            rc = -1;
        }
        else if (num >= 0) {
            free(id);
        }
        else if ((num = append(known, id, len, hash)) < 0) {
            free(id);
            rc = -1;
        }
        if (rc == 0) {
            taken[num] = 1;
            numbers[i] = num;
        }
    }
    free(taken);
    return rc;
}

int fcgix_ids_number_tenants(fcgix_ids_t *known,
                             const fcgix_pm_tenant_t *tenants, int n,
                             int *numbers)
{
    return number_all(known, tenants, n, encode_tenant, numbers);
}

int fcgix_ids_number_commands(fcgix_ids_t *known,
                              const fcgix_pm_command_t *commands, int n,
                              int *numbers)
{
    return number_all(known, commands, n, encode_command, numbers);
}

int fcgix_ids_copy(fcgix_ids_t *to, const fcgix_ids_t *from)
{
    int i;

    memset(to, 0, sizeof(*to));
    for (i = 0; i < from->n; i++) {
        unsigned char *id = malloc(from->lens[i] + 1);

        if (id == NULL) {
            fcgix_ids_free(to);
            return -1;
        }
        memcpy(id, from->ids[i], from->lens[i]);
        if (append(to, id, from->lens[i], from->hashes[i]) < 0) {
            free(id);
            fcgix_ids_free(to);
            return -1;
        }
    }
    return 0;
}

void fcgix_ids_free(fcgix_ids_t *ids)
{
    int i;

    for (i = 0; i < ids->n; i++) {
        free(ids->ids[i]);
    }
    free(ids->ids);
    free(ids->lens);
    free(ids->hashes);
    memset(ids, 0, sizeof(*ids));
}
