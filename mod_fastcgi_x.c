/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  mod_fastcgi_x.c
 * @brief Module glue: the module record, hook registration and the
 *        fastcgi-script handler entry point.
 *
 * Directives and configuration live in fcgi_config.c, the wire format in
 * fcgi_proto.c.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "fcgi_config.h"

/* AP_DECLARE_MODULE below also declares APLOG_USE_MODULE(fastcgi_x). */


/** Our own log tags; never httpd's AH numbers. */
#define FCGIX_LOGNO(n) "FCGIX" #n ": "

/** The handler name, mod_fastcgi's. */
#define FCGIX_HANDLER "fastcgi-script"

static int fcgix_handler(request_rec *r)
{
    if (strcmp(r->handler, FCGIX_HANDLER)) {
        return DECLINED;
    }
    /* The responder (issue "Responder") is not written yet: say so
     * plainly instead of serving the script's source. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  FCGIX_LOGNO(00001) "%s: the FastCGI responder is not "
                  "implemented in this build of mod_fastcgi_x",
                  r->filename ? r->filename : r->uri);
    apr_table_setn(r->err_headers_out, "Retry-After", "60");
    return HTTP_SERVICE_UNAVAILABLE;
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(fcgix_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(fastcgi_x) = {
    STANDARD20_MODULE_STUFF,
    fcgix_dir_conf_create,
    fcgix_dir_conf_merge,
    fcgix_srv_conf_create,
    fcgix_srv_conf_merge,
    fcgix_cmds,
    fcgix_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
