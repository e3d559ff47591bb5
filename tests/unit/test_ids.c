/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_ids.c
 * @brief cmocka unit tests of fcgi_ids, the virtual host numbers a
 *        kept PM knows: the first numbering is the configuration's order;
 *        an unchanged list keeps its numbers; a host added anywhere gets a
 *        new number and leaves the others'; a removed host's number is
 *        never given to another; a changed host (cap, options, name,
 *        FcgidCmdOptions) is a new one; identical hosts get one number
 *        each; a copy is independent.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_pmconf.h"
#include "fcgi_ids.h"

static const char *const env_a[] = {"PATH=/usr/bin", "A=1", NULL};

/* A host named @p name with @p cap and an environment. */
static fcgix_pm_tenant_t host(const char *name, int cap)
{
    fcgix_pm_tenant_t t;

    memset(&t, 0, sizeof(t));
    t.name = name;
    t.max_processes = cap;
    t.opts.env = env_a;
    t.opts.idle_ms = 300000;
    return t;
}

/* Number @p n hosts against @p k; the numbers in @p out. */
static void number(fcgix_ids_t *k, const fcgix_pm_tenant_t *t, int n, int *out)
{
    assert_int_equal(fcgix_ids_number_tenants(k, t, n, out), 0);
}

/* Number @p n hosts against @p k and expect @p want. */
static void expect(fcgix_ids_t *k, const fcgix_pm_tenant_t *t, int n,
                   const int *want)
{
    int got[8], i;

    assert_true(n <= 8);
    number(k, t, n, got);
    for (i = 0; i < n; i++) {
        assert_int_equal(got[i], want[i]);
    }
}

static void test_first_numbering_is_the_order(void **state)
{
    fcgix_ids_t k = {0};
    fcgix_pm_tenant_t t[3] = {host("a:80", 0), host("b:80", 0),
                              host("c:80", 2)};

    (void)state;
    expect(&k, t, 3, (const int[]){0, 1, 2});
    assert_int_equal(k.n, 3);
    /* the same list again: the same numbers */
    expect(&k, t, 3, (const int[]){0, 1, 2});
    assert_int_equal(k.n, 3);
    fcgix_ids_free(&k);
    assert_int_equal(k.n, 0);
    assert_null(k.ids);
}

/* A host added before the others, then one removed from the middle, then
 * another added: nobody's number moves, none is reused. */
static void test_added_and_removed_hosts_leave_the_others(void **state)
{
    fcgix_ids_t k = {0};
    fcgix_pm_tenant_t first[3] = {host("a:80", 0), host("b:80", 0),
                                  host("c:80", 0)};
    fcgix_pm_tenant_t added[4] = {host("new:80", 0), host("a:80", 0),
                                  host("b:80", 0), host("c:80", 0)};
    fcgix_pm_tenant_t removed[3] = {host("new:80", 0), host("a:80", 0),
                                    host("c:80", 0)};
    fcgix_pm_tenant_t again[4] = {host("new:80", 0), host("a:80", 0),
                                  host("d:80", 0), host("c:80", 0)};
    int got[4];

    (void)state;
    number(&k, first, 3, got);
    expect(&k, added, 4, (const int[]){3, 0, 1, 2});
    expect(&k, removed, 3, (const int[]){3, 0, 2});
    /* d is not b: b's number 1 stays b's */
    expect(&k, again, 4, (const int[]){3, 0, 4, 2});
    assert_int_equal(k.n, 5);
    fcgix_ids_free(&k);
}

/* Anything in the record that changes makes another host. */
static void test_a_changed_host_is_a_new_one(void **state)
{
    static const char *const env_b[] = {"PATH=/usr/bin", "A=2", NULL};
    fcgix_ids_t k = {0};
    fcgix_pm_tenant_t t[1] = {host("a:80", 0)}, c;
    fcgix_pm_cmdopts_t cmd = {"/usr/bin/php-cgi", {NULL, 4, 0, 0, 0, 0}};
    int got[1], want = 1;

    (void)state;
    expect(&k, t, 1, (const int[]){0});
    c = host("a:80", 1); /* its cap */
    number(&k, &c, 1, got);
    assert_int_equal(got[0], want++);
    c = host("a:80", 0); /* its environment */
    c.opts.env = env_b;
    number(&k, &c, 1, got);
    assert_int_equal(got[0], want++);
    c = host("a:80", 0); /* its idle timeout */
    c.opts.idle_ms = 1000;
    number(&k, &c, 1, got);
    assert_int_equal(got[0], want++);
    c = host("a:81", 0); /* its name */
    number(&k, &c, 1, got);
    assert_int_equal(got[0], want++);
    c = host("a:80", 0); /* an FcgidCmdOptions entry */
    c.cmdopts = &cmd;
    c.ncmdopts = 1;
    number(&k, &c, 1, got);
    assert_int_equal(got[0], want++);
    expect(&k, t, 1, (const int[]){0}); /* and the first one is still 0 */
    fcgix_ids_free(&k);
}

/* Two identical hosts (the same name and options twice) are two numbers;
 * one of them removed, the other keeps the first. */
static void test_identical_hosts_get_a_number_each(void **state)
{
    fcgix_ids_t k = {0};
    fcgix_pm_tenant_t t[3] = {host("a:80", 0), host("a:80", 0),
                              host("b:80", 0)};

    (void)state;
    expect(&k, t, 3, (const int[]){0, 1, 2});
    expect(&k, t + 1, 2, (const int[]){0, 2});
    fcgix_ids_free(&k);
}

/* A copy numbers as the original did and grows on its own. */
static void test_copy_is_independent(void **state)
{
    fcgix_ids_t k = {0}, c, empty = {0}, none;
    fcgix_pm_tenant_t t[2] = {host("a:80", 0), host("b:80", 0)};
    fcgix_pm_tenant_t more[3] = {host("z:80", 0), host("b:80", 0),
                                 host("a:80", 0)};
    int got[3];

    (void)state;
    number(&k, t, 2, got);
    assert_int_equal(fcgix_ids_copy(&c, &k), 0);
    expect(&c, more, 3, (const int[]){2, 1, 0});
    assert_int_equal(c.n, 3);
    assert_int_equal(k.n, 2);
    fcgix_ids_free(&k);
    /* the copy outlives its original */
    expect(&c, t, 2, (const int[]){0, 1});
    fcgix_ids_free(&c);
    assert_int_equal(fcgix_ids_copy(&none, &empty), 0);
    assert_int_equal(none.n, 0);
    fcgix_ids_free(&none);
}

/* Commands by their words: one added in front leaves the others' numbers;
 * another argument, or the same letters split into other words, is
 * another command; a removed one's number is not reused. */
static void test_commands_keep_their_numbers(void **state)
{
    static const char *const php[] = {"/usr/bin/php-cgi", NULL};
    static const char *const wrap_x[] = {"/w/wrap", "-x", NULL};
    static const char *const wrap_y[] = {"/w/wrap", "-y", NULL};
    static const char *const ab_c[] = {"/w/ab", "c", NULL};
    static const char *const a_bc[] = {"/w/a", "bc", NULL};
    static const char *const abc[] = {"/w/abc", NULL};
    fcgix_ids_t k = {0};
    fcgix_pm_command_t first[2] = {{php}, {wrap_x}};
    fcgix_pm_command_t added[3] = {{wrap_y}, {php}, {wrap_x}};
    fcgix_pm_command_t removed[2] = {{wrap_y}, {wrap_x}};
    fcgix_pm_command_t words[3] = {{ab_c}, {a_bc}, {abc}};
    int got[3], i;

    (void)state;
    assert_int_equal(fcgix_ids_number_commands(&k, first, 2, got), 0);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 1);
    assert_int_equal(fcgix_ids_number_commands(&k, added, 3, got), 0);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 0);
    assert_int_equal(got[2], 1);
    assert_int_equal(fcgix_ids_number_commands(&k, removed, 2, got), 0);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 1);
    assert_int_equal(fcgix_ids_number_commands(&k, words, 3, got), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(got[i], 3 + i);
    }
    fcgix_ids_free(&k);
}

/* No hosts at all: nothing numbered, nothing known. */
static void test_no_hosts(void **state)
{
    fcgix_ids_t k = {0};
    int got[1] = {-7};

    (void)state;
    assert_int_equal(fcgix_ids_number_tenants(&k, NULL, 0, got), 0);
    assert_int_equal(got[0], -7);
    assert_int_equal(k.n, 0);
    fcgix_ids_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_numbering_is_the_order),
        cmocka_unit_test(test_added_and_removed_hosts_leave_the_others),
        cmocka_unit_test(test_a_changed_host_is_a_new_one),
        cmocka_unit_test(test_identical_hosts_get_a_number_each),
        cmocka_unit_test(test_copy_is_independent),
        cmocka_unit_test(test_commands_keep_their_numbers),
        cmocka_unit_test(test_no_hosts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
