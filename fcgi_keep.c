/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_keep.c
 * @brief Kept connections to PM-run processes; see fcgi_keep.h.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall(), for fcgi_futex.h */
#endif

#include <poll.h>
#include <unistd.h>

#include "apr_thread_proc.h"
#include "apr_time.h"

#include "httpd.h"
#include "http_log.h"

#include "fcgi_futex.h"
#include "fcgi_keep.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* Per child, one entry per board slot: 0, or the slot's epoch (high 32
 * bits) and the descriptor + 1 (low 32 bits) of the idle connection kept
 * to its process. Whoever swaps an entry out owns the descriptor and
 * closes it (or uses it): no descriptor is closed twice. */
static uint64_t *kept;
static int64_t *idle_since_ms; /* when each entry went idle */
static int nkept;
static fcgix_sb_t *board;
static uint32_t me; /* this child's waker id; 0: keeping is off */
static pid_t keeper_pid;
static volatile int stopping;

static uint64_t entry_make(uint32_t epoch, int fd)
{
    return ((uint64_t)epoch << 32) | (uint32_t)(fd + 1);
}

static int entry_fd(uint64_t v)
{
    return (int)(uint32_t)(v & 0xffffffffu) - 1;
}

static uint32_t entry_epoch(uint64_t v)
{
    return (uint32_t)(v >> 32);
}

static int64_t now_ms(void)
{
    return (int64_t)apr_time_as_msec(apr_time_now());
}

uint32_t fcgix_keep_me(void)
{
    return me;
}

/* An idle connection has nothing to read: a readable one is at EOF (the
 * process closed it, or is gone) or carries bytes nobody asked for. */
static int looks_open(int fd)
{
    struct pollfd pfd;

    pfd.fd = fd;
    pfd.events = POLLIN;
    return poll(&pfd, 1, 0) == 0;
}

int fcgix_keep_take(int slot, uint32_t epoch)
{
    uint64_t v;
    int fd;

    if (me == 0 || slot < 0 || slot >= nkept
        || __atomic_load_n(&kept[slot], __ATOMIC_ACQUIRE) == 0) {
        return -1;
    }
    v = __atomic_exchange_n(&kept[slot], 0, __ATOMIC_ACQ_REL);
    if (v == 0) {
        return -1;
    }
    fd = entry_fd(v);
    if (entry_epoch(v) != epoch || !looks_open(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

void fcgix_keep_put(int slot, uint32_t epoch, int fd)
{
    uint64_t old;

    if (me == 0 || slot < 0 || slot >= nkept) {
        close(fd);
        return;
    }
    fcgix_sb_keeper_set(board, slot, me);
    __atomic_store_n(&idle_since_ms[slot], now_ms(), __ATOMIC_RELAXED);
    old = __atomic_exchange_n(&kept[slot], entry_make(epoch, fd),
                              __ATOMIC_ACQ_REL);
    if (old != 0) {
        /* another request of this child kept one to the same process (a
         * pool shared by two requests); one is enough */
        close(entry_fd(old));
    }
}

void fcgix_keep_drop(int slot, uint32_t epoch, int fd)
{
    uint64_t mine = entry_make(epoch, fd);

    if (me == 0 || slot < 0 || slot >= nkept) {
        return;
    }
    if (__atomic_compare_exchange_n(&kept[slot], &mine, 0, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        close(fd);
    }
    fcgix_sb_keeper_clear(board, slot, me);
}

void fcgix_keep_forget(int slot)
{
    if (me != 0) {
        fcgix_sb_keeper_clear(board, slot, me);
    }
}

/* Whether the connection kept in entry @v to slot @slot must go: another
 * child took the process (it cleared the keeper), the process is not the
 * one connected to any more, or it has been idle too long. */
static int must_close(int slot, uint64_t v, int64_t now)
{
    return fcgix_sb_keeper(board, slot) != me
           || !fcgix_sb_slot_is(board, slot, entry_epoch(v))
           || now - __atomic_load_n(&idle_since_ms[slot], __ATOMIC_RELAXED)
                  >= FCGIX_KEEP_IDLE_MS;
}

static void close_entry(int slot, uint64_t v)
{
    if (__atomic_compare_exchange_n(&kept[slot], &v, 0, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        close(entry_fd(v));
        fcgix_sb_keeper_clear(board, slot, me);
    }
}

static void close_unwanted(int all)
{
    int64_t now = now_ms();
    int i;

    for (i = 0; i < nkept; i++) {
        uint64_t v = __atomic_load_n(&kept[i], __ATOMIC_ACQUIRE);

        if (v != 0 && (all || must_close(i, v, now))) {
            close_entry(i, v);
        }
    }
}

/* Sleeps on the waker word, woken by an eviction (or forged values: then
 * it looks and finds nothing to do), and at least once a second. It
 * returns rather than calling apr_thread_exit(): pthread_exit() would
 * unwind this frame without unpoisoning its sanitizer redzones (the
 * futex wait's timespec), which the thread's own teardown then trips. */
static void *APR_THREAD_FUNC keeper_thread(apr_thread_t *thd, void *data)
{
    uint32_t *word = fcgix_sb_waker_word(board, me);

    (void)thd;
    (void)data;
    while (!stopping) {
        uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);

        close_unwanted(0);
        fcgix_futex_wait_ms(word, seen, FCGIX_KEEP_IDLE_MS);
    }
    return NULL;
}

static apr_status_t stop_keeping(void *data)
{
    apr_thread_t *thd = data;
    uint32_t *word = fcgix_sb_waker_word(board, me);
    apr_status_t rv;

    stopping = 1;
    __atomic_add_fetch(word, 1u, __ATOMIC_ACQ_REL);
    fcgix_futex_wake(word, 1);
    apr_thread_join(&rv, thd);
    close_unwanted(1);
    fcgix_sb_waker_release(board, me, keeper_pid);
    me = 0;
    return APR_SUCCESS;
}

void fcgix_keep_child_init(apr_pool_t *pchild, fcgix_sb_t *sb, server_rec *s)
{
    apr_thread_t *thd;
    apr_status_t rv;
    uint32_t id;

    if (sb == NULL || sb->nslots <= 0) {
        return;
    }
    keeper_pid = getpid();
    id = fcgix_sb_waker_claim(sb, (unsigned)keeper_pid, keeper_pid);
    if (id == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     FCGIX_LOGNO(00940) "no free holder record on the "
                                        "scoreboard; this httpd process "
                                        "keeps no connection to app "
                                        "processes");
        return;
    }
    board = sb;
    nkept = sb->nslots;
    kept = apr_pcalloc(pchild, sizeof(*kept) * (apr_size_t)nkept);
    idle_since_ms =
        apr_pcalloc(pchild, sizeof(*idle_since_ms) * (apr_size_t)nkept);
    me = id;
    stopping = 0;
    rv = apr_thread_create(&thd, NULL, keeper_thread, NULL, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     FCGIX_LOGNO(00941) "cannot start the thread that closes "
                                        "kept connections to app processes; "
                                        "this httpd process keeps none");
        fcgix_sb_waker_release(sb, id, keeper_pid);
        me = 0;
        return;
    }
    apr_pool_cleanup_register(pchild, thd, stop_keeping, apr_pool_cleanup_null);
}
