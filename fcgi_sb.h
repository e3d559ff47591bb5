/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_sb.h
 * @brief The FastCGI scoreboard: the one place where the state of every
 *        application class and process lives, in memory shared by
 *        httpd's parent, its children and the process manager.
 *
 * Ownership: the PM writes everything except three fields per slot that
 * the request handlers update atomically: the "lease" word (how many
 * requests use the slot), the request counters and the last-use time.
 * Readers (handlers, a status page) read without locks; every field that
 * crosses processes is a naturally aligned word read and written with
 * __atomic built-ins.
 *
 * Each process of a class has its own slot and its own listening socket,
 * so that the module knows which process is busy, can stop only idle
 * ones (scaling down, recycling, graceful restart) and can count
 * requests per process.
 *
 * No httpd or APR dependency: the PM tests use it directly.
 */

#ifndef FCGIX_SB_H
#define FCGIX_SB_H

#include <stddef.h>
#include <stdint.h>

/** Longest application path a class can hold, with its NUL. */
#define FCGIX_SB_PATH_MAX 1024
/** sizeof(sockaddr_un.sun_path) on Linux. */
#define FCGIX_SB_SOCK_MAX 108

/** Class kinds. */
enum { FCGIX_SB_STATIC = 1, FCGIX_SB_DYNAMIC = 2 };

/** A key's uid or gid when the class does not run through suexec. */
#define FCGIX_SB_NO_ID 0xffffffffu

/** A key's vocabulary: which module's meaning started the class (the
 *  same values as FCGIX_CTL_VOCAB_*). */
enum { FCGIX_SB_VOCAB_FASTCGI = 1, FCGIX_SB_VOCAB_FCGID = 2 };

/** What tells two classes apart, besides the path
 *  (docs/design/fcgid.md 3.3). Only 32-bit fields, no padding: keys are
 *  compared with memcmp. */
typedef struct {
    uint32_t vocab;   /**< FCGIX_SB_VOCAB_* */
    uint32_t tenant;  /**< 0: none; else the server index + 1 */
    uint32_t cmd;     /**< 0: the file itself; else command index + 1 */
    uint32_t uid;     /**< FCGIX_SB_NO_ID: not run through suexec */
    uint32_t gid;     /**< FCGIX_SB_NO_ID: not run through suexec */
    uint32_t userdir; /**< 1: a mod_userdir identity (~uid) */
} fcgix_sb_key_t;

/** Which cap stopped the last growth of a class (class.capped). */
enum {
    FCGIX_SB_CAP_NONE = 0,
    FCGIX_SB_CAP_CLASS, /**< its max_class_processes */
    FCGIX_SB_CAP_HOST,  /**< its virtual host's cap */
    FCGIX_SB_CAP_USER,  /**< its identity's cap */
    FCGIX_SB_CAP_ALL    /**< every dynamic process (-maxProcesses) */
};

/** fcgix_sb_acquire(): open slots exist, but each has max_users
 *  requests already. */
#define FCGIX_SB_FULL (-2)

/** Slot states, for status and for the PM's own bookkeeping. */
enum {
    FCGIX_SB_EMPTY = 0, /**< no process, none wanted */
    FCGIX_SB_RUNNING,   /**< process started, socket open to requests */
    FCGIX_SB_BACKOFF,   /**< process died; restart scheduled */
    FCGIX_SB_STOPPING   /**< closed to requests, being stopped */
};

/** One process of a class. */
/** Slot.hung: a request got no answer within -idle-timeout. */
#define FCGIX_SB_HUNG 1
/** Slot.hung: nobody accepts on the socket (gone, or its file removed). */
#define FCGIX_SB_UNREACHABLE 2

typedef struct {
    /** Lease word: high 32 bits an epoch the PM bumps when it reopens the
     *  slot, low 32 bits (signed) the number of requests using it, or -1
     *  while the slot takes no requests. */
    uint64_t lease;
    int32_t pid;
    uint32_t state;           /**< FCGIX_SB_* */
    uint32_t retiring;        /**< PM or handler: avoid for new requests */
    uint32_t hung;            /**< handler: FCGIX_SB_HUNG or
                                   FCGIX_SB_UNREACHABLE; no new request
                                   takes the slot, and the PM kills and
                                   replaces the process */
    uint32_t restarts;        /**< starts after the first one */
    uint32_t answered;        /**< handler: the current process has begun
                                   to answer a request (its first byte
                                   came); set even once the PM closed the
                                   slot, until it reopens it. What tells
                                   the PM that a process which exits
                                   right after answering started well,
                                   though the request is not counted
                                   yet */
    uint32_t keeper;          /**< handler: the httpd child that keeps an
                                   idle connection to the process (its
                                   waker id, fcgix_sb_waker_claim()); 0:
                                   none. A hint: see fcgix_sb_keeper_*() */
    int64_t started_ms;       /**< wall clock, ms */
    int64_t last_used_ms;     /**< wall clock, ms, set at each release */
    int64_t backoff_until_ms; /**< wall clock, ms; BACKOFF only */
    uint64_t requests;        /**< served by the current process */
    uint64_t total_requests;  /**< served by this slot since boot */
    char socket_path[FCGIX_SB_SOCK_MAX];
} fcgix_sb_slot_t;

/** One application class: a FastCgiServer or a dynamic app. The PM
 *  frees a dynamic class once it has no process left and may give its
 *  index (and slots) to another app: "gen" tells the two apart. */
typedef struct {
    uint32_t ready;         /**< 0 free; 1 in use (set last by the PM) */
    uint32_t gen;           /**< PM: odd while the class is free or being
                                 set up, even while in use; a new value for
                                 each app the index holds */
    uint32_t kind;          /**< FCGIX_SB_STATIC or FCGIX_SB_DYNAMIC */
    uint32_t nslots;        /**< capacity: -processes or maxClassProcesses */
    uint32_t first_slot;    /**< index of its first slot */
    uint32_t more_wanted;   /**< handler: every process was busy */
    uint32_t update_wanted; /**< handler: the file changed (-autoUpdate) */
    uint32_t freed;         /**< handler: bumped when a process of an
                                 exclusive class is given back; requests
                                 waiting for one sleep on it (a futex
                                 word; it fills what was padding) */
    int64_t more_tick_ms;   /**< handler: when it last woke the PM for
                                 more_wanted (wall clock, ms) */
    int64_t mtime_s;        /**< the file's mtime when it was started */
    uint64_t failed_starts; /**< total, for status */
    uint64_t max_requests;  /**< a process takes no request beyond this
                                 many (served + in flight); 0: no limit */
    uint32_t waiting;       /**< handler: requests waiting now for the PM
                                 to start a process, or for a process of
                                 an exclusive class to become free (status
                                 page; the PM's scale_up() takes it as a
                                 hint, bounded by the caps) */
    uint32_t capped;        /**< PM: FCGIX_SB_CAP_*, the cap that stopped
                                 the last growth (status page) */
    uint32_t handoff_ms;    /**< handler: when a give-back last woke a
                                 request waiting for an exclusive class
                                 (CLOCK_MONOTONIC ms, low 32 bits; see
                                 fcgix_sb_class_note_given_back()) */
    fcgix_sb_key_t key;     /**< PM: with path, what the class is */
    uint64_t inode;         /**< PM: the file's inode when it was
                                 started (a handler compares its request's
                                 to ask for an update) */
    char path[FCGIX_SB_PATH_MAX];
} fcgix_sb_class_t;

/** A virtual host's processes (docs/design/fcgid.md 4): one per
 *  server (httpd's server record), by its index. */
typedef struct {
    uint32_t live;    /**< PM: its dynamic processes now */
    uint32_t max;     /**< PM: its cap; 0: none */
    uint32_t waiting; /**< handler: its requests waiting for a process */
    uint32_t refused; /**< handler: requests refused at its cap, in all */
} fcgix_sb_tenant_t;

/** An identity's processes, written by the PM: as many records as
 *  classes (no more identities can run than classes). */
typedef struct {
    uint32_t uid;  /**< FCGIX_SB_NO_ID: record unused */
    uint32_t live; /**< its dynamic processes now */
    uint32_t max;  /**< the per-user cap; 0: none */
    uint32_t pad;
} fcgix_sb_user_t;

/** The head of the shared board; classes then slots follow it. Like
 *  everything in shared memory, any process of the User can write it:
 *  its capacities are a copy for readers such as the status page, never
 *  what a process indexes with (fcgix_sb_t holds those). */
typedef struct {
    uint32_t magic;
    uint32_t nclasses; /**< capacity (a copy; see fcgix_sb_t) */
    uint32_t nslots;   /**< capacity (a copy; see fcgix_sb_t) */
    uint32_t pm_pid;   /**< for display and liveness checks only: the
                            parent signals the pid it keeps itself */
    int64_t pm_started_ms;
    uint32_t waiting_new; /**< handler: requests waiting now for the PM to
                               start an app that has no class yet (a
                               dynamic app's first start; status page) */
    uint32_t nholders;    /**< capacity (a copy; see fcgix_sb_t) */
    uint32_t ntenants;    /**< capacity (a copy; see fcgix_sb_t) */
    uint32_t nusers;      /**< capacity (a copy; see fcgix_sb_t) */
} fcgix_sb_head_t;

/** Who holds a lease: one record per request in flight, taken by the
 *  handler with its lease and cleared when it gives the lease back, so
 *  that the PM can give back the leases of an httpd child that died
 *  mid-request. Input from any process of the User, like the rest. */
typedef struct {
    int32_t pid;    /**< the holder (an httpd child); 0: record free */
    uint32_t wake;  /**< a waker record's futex word (the record of an
                         httpd child's keeper thread, which holds no
                         lease: fcgix_sb_waker_claim()) */
    uint64_t what;  /**< the lease: epoch << 32 | (slot + 1); 0: none */
    uint64_t waits; /**< what a waiting request counts (see
                         fcgix_sb_waits_make()); 0: none */
} fcgix_sb_holder_t;

/** Most holder records a board has (see fcgix_sb_size()). */
#define FCGIX_SB_MAX_HOLDERS 65536

/**
 * A process's own handle on the board: where it is mapped and how many
 * classes and slots it has, in the process's private memory (set once by
 * fcgix_sb_init() in httpd's parent, inherited by fork). Every index into
 * the board is checked against these, never against the shared copies.
 */
typedef struct {
    fcgix_sb_head_t *head;
    fcgix_sb_class_t *classes;
    fcgix_sb_slot_t *slots;
    fcgix_sb_holder_t *holders;
    fcgix_sb_tenant_t *tenants;
    fcgix_sb_user_t *users;
    int nclasses;
    int nslots;
    int nholders;
    int ntenants;
    int nusers; /**< nclasses */
} fcgix_sb_t;

/** Bytes needed for a board with these capacities; @p nholders is
 *  clamped to 1..FCGIX_SB_MAX_HOLDERS (so is the board's); @p ntenants
 *  (virtual hosts; 0: none) below 0 counts as 0. The user area has
 *  @p nclasses records. */
size_t fcgix_sb_size(int nclasses, int nslots, int nholders, int ntenants);

/**
 * Format a board in @p mem of fcgix_sb_size() bytes and fill the handle
 * @p sb for it. Every class starts with the FastCgi vocabulary's key
 * without tenant, command or identity (fcgix_sb_key_fastcgi()), every
 * user record unused.
 * @return @p sb
 */
fcgix_sb_t *fcgix_sb_init(fcgix_sb_t *sb, void *mem, int nclasses, int nslots,
                          int nholders, int ntenants);

/** Fill @p key (every byte, so that memcmp compares it). */
void fcgix_sb_key_set(fcgix_sb_key_t *key, uint32_t vocab, uint32_t tenant,
                      uint32_t cmd, uint32_t uid, uint32_t gid,
                      uint32_t userdir);

/** The key of static classes and of FastCgi dynamic apps without
 *  tenant or identity: {FASTCGI, 0, 0, NO_ID, NO_ID, 0}. */
void fcgix_sb_key_fastcgi(fcgix_sb_key_t *key);

/** Virtual host @p t's record (its server index, the key's tenant - 1);
 *  NULL unless 0 <= t < sb->ntenants (the handle's count). */
fcgix_sb_tenant_t *fcgix_sb_tenant(const fcgix_sb_t *sb, int t);

/** User record @p i; NULL unless 0 <= i < sb->nusers. */
fcgix_sb_user_t *fcgix_sb_user(const fcgix_sb_t *sb, int i);

/** The class at @p i; NULL unless 0 <= i < sb->nclasses. */
fcgix_sb_class_t *fcgix_sb_class(const fcgix_sb_t *sb, int i);

/** The slot at @p i; NULL unless 0 <= i < sb->nslots. */
fcgix_sb_slot_t *fcgix_sb_slot(const fcgix_sb_t *sb, int i);

/**
 * The slots of class @p c as the board says, checked: 0 with @p first
 * and @p n set when they lie inside the board, else -1 (a corrupted
 * board: the class has no usable slot).
 */
int fcgix_sb_class_slots(const fcgix_sb_t *sb, int c, int *first, int *n);

/**
 * Copy slot @p i's socket path into @p buf (always NUL-terminated, even
 * when the board's copy is not). @return @p buf, "" for a bad index
 */
const char *fcgix_sb_slot_socket(const fcgix_sb_t *sb, int i, char *buf,
                                 size_t size);

/** The ready class whose path is @p path with the key
 *  fcgix_sb_key_fastcgi(), or -1. */
int fcgix_sb_find_class(fcgix_sb_t *sb, const char *path);

/**
 * As fcgix_sb_find_class(), and set @p gen to the class's generation,
 * read so that the path compared belongs to it: a lease taken on the
 * class afterwards is on this app's process if fcgix_sb_class_is() still
 * holds once the lease is taken.
 */
int fcgix_sb_find_class_gen(fcgix_sb_t *sb, const char *path, uint32_t *gen);

/**
 * Whether class @p c is ready and holds the FastCgi app @p path (no
 * tenant, no identity: a FastCgiServer pool); @p gen as
 * fcgix_sb_find_class_gen(). A pool's class index is only a hint: a
 * graceful restart that changed pools frees the old one's index, and a
 * later one may give it to another pool while an httpd child of an
 * older generation still serves requests.
 */
int fcgix_sb_class_holds(fcgix_sb_t *sb, int c, const char *path,
                         uint32_t *gen);

/**
 * The ready class whose key is @p key and path @p path, or -1; @p gen as
 * fcgix_sb_find_class_gen() (key and path are read under the same
 * generation).
 */
int fcgix_sb_find_class_key(fcgix_sb_t *sb, const fcgix_sb_key_t *key,
                            const char *path, uint32_t *gen);

/** The generation of class @p c now (0 for a bad index). */
uint32_t fcgix_sb_class_gen(const fcgix_sb_t *sb, int c);

/** Whether class @p c is ready and still has generation @p gen: the PM
 *  has not freed it (nor given it to another app) since @p gen was
 *  read. */
int fcgix_sb_class_is(const fcgix_sb_t *sb, int c, uint32_t gen);

/** PM: class @p c is about to change hands: not ready, odd generation. */
void fcgix_sb_class_begin(fcgix_sb_class_t *k);

/** PM: class @p c is set up: even generation, then ready. */
void fcgix_sb_class_end(fcgix_sb_class_t *k);

/** What a request holds while it uses a slot. */
typedef struct {
    int slot;       /**< index, -1 when none */
    uint32_t epoch; /**< the slot's epoch when it was taken */
    int busy;       /**< every open slot had a request already */
} fcgix_sb_lease_t;

/**
 * Take the least used open slot of class @p c, preferring slots that are
 * not retiring, and never one whose process has served or is serving its
 * class's max_requests.
 * @param max_users  most requests a slot may have, this one included: 1
 *                   for an exclusive (fcgid) class, which takes only an
 *                   idle slot; 0: no limit. The caller's own setting,
 *                   never read from the board.
 * @return 0 with @p lease filled; FCGIX_SB_FULL when slots take requests
 *         but each has @p max_users already; -1 when no slot takes
 *         requests
 */
int fcgix_sb_acquire(fcgix_sb_t *sb, int c, int max_users,
                     fcgix_sb_lease_t *lease);

/**
 * fcgix_sb_acquire(), preferring among equally used slots one that the
 * httpd child with waker id @p me keeps a connection to, then one that
 * nobody keeps a connection to (another child's would have to be
 * closed first). @p me 0: no preference.
 */
int fcgix_sb_acquire_near(fcgix_sb_t *sb, int c, int max_users, uint32_t me,
                          fcgix_sb_lease_t *lease);

/**
 * A process of class @p c was started (or is free again for another
 * reason than a give-back): wake one request waiting in
 * fcgix_sb_class_wait_freed(), if any waits (the class's "waiting").
 */
void fcgix_sb_class_note_freed(fcgix_sb_t *sb, int c);

/** Least time between two give-backs of a class that wake a waiting
 *  request, while another process of the class is still busy. */
#define FCGIX_SB_HANDOFF_MS 2

/**
 * A handler gave a process of exclusive class @p c back at @p now_ms
 * (CLOCK_MONOTONIC ms): whether it is to wake a waiting request, and if
 * so noted as the class's last hand-off. Yes when a request waits and
 * either the last hand-off is FCGIX_SB_HANDOFF_MS old or no other
 * process of the class is busy (no other give-back is coming).
 *
 * Why not always: a woken request costs a sleep and a wake-up on the CPU
 * that also runs httpd and the apps, and a class whose processes come
 * back faster than that serves a request already running (one just
 * arrived) as well, without either. At most one hand-off per
 * FCGIX_SB_HANDOFF_MS keeps the waiters moving (in the order they came,
 * futex order) and lets a fast class run at mod_fcgid's rate without its
 * 1 s sleeps. A class whose requests take longer than that (most PHP
 * pages) wakes a waiter on every give-back.
 */
int fcgix_sb_class_handoff_due(fcgix_sb_t *sb, int c, uint32_t now_ms);

/**
 * A handler gave a process of exclusive class @p c back: bump the
 * class's "freed" count, and wake one waiting request when
 * fcgix_sb_class_handoff_due() says so.
 */
void fcgix_sb_class_note_given_back(fcgix_sb_t *sb, int c);

/**
 * A handler gave back a process of class @p c whose requests wait in
 * turn (a FastCgiServer pool with -max-conns): bump the class's
 * "freed" count and wake the request that has waited longest, if any
 * waits (futex order). Unlike fcgix_sb_class_note_given_back(), every
 * give-back wakes one: requests that come while others wait queue
 * behind them, so the process is there for the one woken.
 */
void fcgix_sb_class_hand_off(fcgix_sb_t *sb, int c);

/** How many requests wait on class @p c now (0 for a bad index). */
uint32_t fcgix_sb_class_waiting(const fcgix_sb_t *sb, int c);

/** The class's "freed" count now, to pass to fcgix_sb_class_wait_freed(). */
uint32_t fcgix_sb_class_freed(fcgix_sb_t *sb, int c);

/**
 * Sleep until a process of class @p c is given back after @p seen (its
 * "freed" count then), at most @p ms milliseconds; at once if one was.
 */
void fcgix_sb_class_wait_freed(fcgix_sb_t *sb, int c, uint32_t seen, int ms);

/**
 * The process that accepted the connection of @p lease has begun to
 * answer (fcgix_sb_slot_t's answered): the lease's own process, or a
 * later one of the slot (the PM restarts a process that had served on
 * the same socket, and the next one accepts what was queued there).
 */
void fcgix_sb_note_answer(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease);

/**
 * Give a slot back; counts the request and returns how many requests
 * the slot's current process has served. Does nothing (returns 0) when
 * the slot was reopened since it was taken (a restarted PM).
 */
uint64_t fcgix_sb_release(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease,
                          int64_t now_ms);

/** fcgix_sb_release(), and *@p last: 1 when no other request used the
 *  slot at the moment it was given back. */
uint64_t fcgix_sb_release_last(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease,
                               int64_t now_ms, int *last);

/*
 * Kept connections to a slot's process (fcgi_keep.c). An httpd child
 * that keeps an idle connection to a process says so in the slot's
 * "keeper" before it gives the slot back. A request of another child
 * that takes the slot then must have the connection closed (a process
 * serves one connection at a time): fcgix_sb_keeper_evict() clears the
 * keeper and wakes that child's keeper thread, which closes it. Any
 * process of the User can write these words: a forged keeper or wake
 * only makes a child close its own idle connections, or sleep on.
 */

/**
 * Claim a waker record for an httpd child's keeper thread: a holder
 * record (from @p hint on) with no lease, whose "wake" word the thread
 * sleeps on. The PM frees it when @p pid dies, as any holder record.
 * @return the waker id (record + 1), or 0: none free.
 */
uint32_t fcgix_sb_waker_claim(fcgix_sb_t *sb, unsigned hint, int32_t pid);

/** Free waker @p id, claimed by @p pid. */
void fcgix_sb_waker_release(fcgix_sb_t *sb, uint32_t id, int32_t pid);

/** The futex word of waker @p id, or NULL for a bad id. */
uint32_t *fcgix_sb_waker_word(fcgix_sb_t *sb, uint32_t id);

/** Slot @p i's keeper (a waker id), 0: none or a bad index. */
uint32_t fcgix_sb_keeper(fcgix_sb_t *sb, int i);

/** Child @p me keeps a connection to slot @p i's process. */
void fcgix_sb_keeper_set(fcgix_sb_t *sb, int i, uint32_t me);

/** Child @p me keeps none any more (left alone if another keeps one). */
void fcgix_sb_keeper_clear(fcgix_sb_t *sb, int i, uint32_t me);

/**
 * A request of child @p me took slot @p i: when another child keeps a
 * connection to its process, clear the keeper and wake that child's
 * keeper thread, which closes the connection.
 * @return 1 when another child was told, else 0
 */
int fcgix_sb_keeper_evict(fcgix_sb_t *sb, int i, uint32_t me);

/** Whether slot @p i is open with epoch @p epoch (its process is the one
 *  a connection was made to when the slot had that epoch). */
int fcgix_sb_slot_is(fcgix_sb_t *sb, int i, uint32_t epoch);

/** Give a slot back without counting a request: the request never
 *  reached the process. */
void fcgix_sb_return(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease);

/** Whether @p lease is on the process that holds the slot now, not on
 *  one the PM has replaced since. */
int fcgix_sb_lease_current(fcgix_sb_t *sb, const fcgix_sb_lease_t *lease);

/** Whether slot @p i of class @p c would take a request now (open, not
 *  used up by max_requests, not waiting to be replaced). */
int fcgix_sb_slot_available(fcgix_sb_t *sb, int c, int i);

/** PM: close an idle slot to new requests. @return 1 when it was idle
 *  and is now closed, 0 when requests use it. */
int fcgix_sb_close_if_idle(fcgix_sb_slot_t *s);

/** PM: open a slot to requests with a new epoch (leases of the old one
 *  are ignored when they are released). */
void fcgix_sb_open(fcgix_sb_slot_t *s);

/** PM: close a slot whatever uses it (a dying PM, a forced stop). */
void fcgix_sb_close(fcgix_sb_slot_t *s);

/** Requests using the slot now; -1 when it is closed. */
int fcgix_sb_users(const fcgix_sb_slot_t *s);

/**
 * Handler: record that process @p pid holds @p lease, in the first free
 * holder record from @p hint on (a few are tried; the hint is the
 * caller's position among httpd's threads, so records rarely clash).
 * @return the record's index, -1 when none was free (the lease then
 *         cannot be given back if @p pid dies)
 */
int fcgix_sb_hold(fcgix_sb_t *sb, unsigned hint, const fcgix_sb_lease_t *lease,
                  int32_t pid);

/**
 * Handler: clear record @p rec taken by fcgix_sb_hold() for @p lease.
 * @return 1 when the record still named the lease (the caller gives it
 *         back), 0 when the PM has given it back already
 */
int fcgix_sb_unhold(fcgix_sb_t *sb, int rec, const fcgix_sb_lease_t *lease);

/**
 * What a request waiting for a process counts on the board: the
 * "waiting" of class @p c (-1: the board's waiting_new, for an app not
 * there yet) and of tenant @p t (-1: none), as a holder record keeps it.
 */
uint64_t fcgix_sb_waits_make(int c, int t);

/**
 * Add @p delta (1 or -1) to each count @p waits names; a count never goes
 * below 0 (records are input from any process of the User). Indexes out
 * of the board's range are ignored.
 */
void fcgix_sb_waits_add(fcgix_sb_t *sb, uint64_t waits, int delta);

/**
 * Handler: record that a request of process @p pid waits as @p waits, in
 * a free holder record from @p hint on, so that the PM takes the counts
 * back down if @p pid dies while it waits.
 * @return the record's index, -1 when none was free
 */
int fcgix_sb_hold_waits(fcgix_sb_t *sb, unsigned hint, uint64_t waits,
                        int32_t pid);

/**
 * Handler: clear record @p rec taken by fcgix_sb_hold_waits().
 * @return 1 when the caller is to take the counts down, 0 when the PM
 *         has done so already
 */
int fcgix_sb_unhold_waits(fcgix_sb_t *sb, int rec, uint64_t waits);

/** The holder pid of record @p rec (0: free or bad index). */
int32_t fcgix_sb_holder_pid(const fcgix_sb_t *sb, int rec);

/**
 * PM: take over record @p rec, whose holder @p pid has died: the record
 * is freed, @p lease set to the lease it held (slot -1: none) and
 * @p waits to what its waiting request counted (0: none).
 * @return 1 when it held either (the lease's slot unchecked: the caller
 *         checks it against its own counts), 0 when it held neither or
 *         was no longer @p pid's
 */
int fcgix_sb_holder_take(fcgix_sb_t *sb, int rec, int32_t pid,
                         fcgix_sb_lease_t *lease, uint64_t *waits);

#endif /* FCGIX_SB_H */
