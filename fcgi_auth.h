/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_auth.h
 * @brief Private to the request path: what the pump calls for an exchange
 *        in the AUTHORIZER role. The role's entry point, fcgix_authorize(),
 *        and its types are in fcgi_handler.h with the RESPONDER's.
 */

#ifndef FCGIX_AUTH_H
#define FCGIX_AUTH_H

#include "fcgi_req.h"

/**
 * Keep STDOUT bytes of an authorizer's response (req->auth.bb) for
 * fcgix_authorize() to judge, instead of sending them; the header block
 * is checked on the way (req->scan), and the whole is capped.
 * @param req   the exchange, in the AUTHORIZER role
 * @param data  the bytes
 * @param len   their length
 * @return FCGIX_STEP_CONTINUE, or FCGIX_STEP_FAILED (502, logged)
 */
fcgix_step_t fcgix_auth_capture(fcgix_req_t *req, const unsigned char *data,
                                size_t len);

#endif /* FCGIX_AUTH_H */
