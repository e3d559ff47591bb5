/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fuzz_common.h
 * @brief What the libFuzzer targets share: the invariant check, exactly
 *        sized copies of the input, and the seeded chunk schedule.
 */

#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Abort (a libFuzzer crash) when @p c is false, naming it and its line. */
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fuzz_fail(#c, __FILE__, __LINE__);                                 \
        }                                                                      \
    } while (0)

/**
 * Report a violated invariant and abort(); run.sh looks for the words
 * "invariant violated" in the log.
 */
static inline void fuzz_fail(const char *what, const char *file, int line)
{
    const char *base = strrchr(file, '/');

    fprintf(stderr, "%s:%d: invariant violated: %s\n", base ? base + 1 : file,
            line, what);
    abort();
}

/**
 * Copy @p n bytes into an allocation of exactly @p n bytes (malloc(0) for
 * none), so that AddressSanitizer reports any access past them.
 * @return the copy, to free()
 */
static inline unsigned char *fuzz_copy_exact(const void *s, size_t n)
{
    unsigned char *b = malloc(n);

    CHECK(b != NULL);
    if (n > 0) {
        memcpy(b, s, n);
    }
    return b;
}

/** A chunk schedule: a small xorshift generator and the target's kind. */
typedef struct {
    uint32_t x;
    int kind;
} fuzz_sched_t;

/** Start a schedule of @p kind, seeded by one input byte. */
static inline void fuzz_sched_init(fuzz_sched_t *s, int kind, uint8_t seed)
{
    s->kind = kind;
    s->x = 0x9e3779b9u ^ ((uint32_t)seed * 0x01000193u);
}

/** The next number of the schedule (xorshift32). */
static inline uint32_t fuzz_sched_rand(fuzz_sched_t *s)
{
    s->x ^= s->x << 13;
    s->x ^= s->x >> 17;
    s->x ^= s->x << 5;
    return s->x;
}

/** A chunk length cut to the @p left bytes of the input. */
static inline size_t fuzz_clip(size_t c, size_t left)
{
    return c > left ? left : c;
}

#endif /* FUZZ_COMMON_H */
