/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_pmconf.c
 * @brief libFuzzer target for the PM's definitions as bytes
 *        (fcgi_pmconf): the decoder on any bytes, as a configuration
 *        handed to a running PM could be if its sender were not who it
 *        claims.
 *
 * Input: any bytes.
 * (a) The decoder answers OK, MALFORMED or NO_ROOM, and given an arena
 *     of 4 times the input plus 4 KiB it never answers NO_ROOM (the
 *     bound fcgi_pmconf.h promises).
 * (b) What decodes is canonical: encoding it gives back exactly the
 *     input.
 * (c) Every decoded app is the same as itself (fcgix_pmconf_same_app).
 *
 * The input and the arena live in exactly sized allocations, so ASan
 * reports an access past them. Violations call abort().
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_pmconf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *in = fuzz_copy_exact(data, size);
    size_t arena_size = size * 4 + 4096;
    void *arena = malloc(arena_size);
    fcgix_pm_config_t c;
    int rc;

    CHECK(arena != NULL);
    memset(&c, 0, sizeof(c));
    rc = fcgix_pmconf_decode(in, size, &c, arena, arena_size);
    CHECK(rc == FCGIX_PMCONF_OK || rc == FCGIX_PMCONF_MALFORMED);
    if (rc == FCGIX_PMCONF_OK) {
        size_t n = fcgix_pmconf_encode(&c, NULL, 0);
        unsigned char *out = malloc(n ? n : 1);

        CHECK(out != NULL);
        CHECK(n == size);
        CHECK(fcgix_pmconf_encode(&c, out, n) == n);
        CHECK(memcmp(out, in, n) == 0);
        for (int i = 0; i < c.napps; i++) {
            CHECK(fcgix_pmconf_same_app(&c.apps[i], &c.apps[i]));
        }
        free(out);
    }
    free(arena);
    free(in);
    return 0;
}
