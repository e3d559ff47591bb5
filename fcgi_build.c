/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_build.c
 * @brief This build's identity, for the keys of records kept across
 *        restarts; see fcgi_build.h.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr() */
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <sys/stat.h>

#include "apr_strings.h"

#include "fcgi_build.h"

/* Computed once per load of the module (each restart loads it anew). */
static char build_id[128];

static const char *this_build(void)
{
    Dl_info info;
    struct stat st;

    if (build_id[0]) {
        return build_id;
    }
    if (dladdr((void *)this_build, &info) == 0 || info.dli_fname == NULL
        || stat(info.dli_fname, &st) != 0) {
        /* Linked in, or the file is gone: the same name every time, as
         * before builds were told apart. */
        snprintf(build_id, sizeof(build_id), "unknown");
        return build_id;
    }
    snprintf(build_id, sizeof(build_id), "%lx:%lu:%lld:%lld.%09ld",
             (unsigned long)st.st_dev, (unsigned long)st.st_ino,
             (long long)st.st_size, (long long)st.st_mtim.tv_sec,
             (long)st.st_mtim.tv_nsec);
    return build_id;
}

const char *fcgix_build_key(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, name, "@", this_build(), NULL);
}
