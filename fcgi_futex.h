/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_futex.h
 * @brief Sleeping on a word of the shared boards until another process
 *        bumps it: the waits of balanced servers (fcgi_balance.c) and of
 *        exclusive classes (fcgi_sb.c). The words are in memory every
 *        httpd child maps, so the operations are the shared (not
 *        FUTEX_PRIVATE) ones. A forged value only wakes a waiter early or
 *        lets it sleep to its timeout. Linux only; the including file
 *        defines _GNU_SOURCE (syscall()).
 */

#ifndef FCGIX_FUTEX_H
#define FCGIX_FUTEX_H

#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

/** Wake up to @p n processes sleeping on @p word. */
static inline void fcgix_futex_wake(uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/** Sleep while @p word is @p seen, at most @p ms milliseconds (at once
 *  when it is not @p seen any more). */
static inline void fcgix_futex_wait_ms(uint32_t *word, uint32_t seen, int ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

#endif /* FCGIX_FUTEX_H */
