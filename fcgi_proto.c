/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_proto.c
 * @brief FastCGI 1.0 wire format, written from the specification.
 *
 * Scope: one request per connection or sequential requests on a kept
 * connection (fcgix_dec_init between them); no multiplexing, so the
 * decoder expects exactly one request id.
 */

#include <string.h>

#include "fcgi_proto.h"

/* ------------------------------------------------------------------ */
/* Encoders                                                            */
/* ------------------------------------------------------------------ */

void fcgix_rec_header(unsigned char out[FCGIX_HEADER_LEN], uint8_t type,
                      uint16_t request_id, uint16_t content_len,
                      uint8_t padding_len)
{
    out[0] = FCGIX_VERSION_1;
    out[1] = type;
    out[2] = (unsigned char)(request_id >> 8);
    out[3] = (unsigned char)(request_id & 0xff);
    out[4] = (unsigned char)(content_len >> 8);
    out[5] = (unsigned char)(content_len & 0xff);
    out[6] = padding_len;
    out[7] = 0;
}

void fcgix_rec_begin_request(unsigned char out[FCGIX_BEGIN_REQUEST_LEN],
                             uint16_t request_id, uint16_t role, uint8_t flags)
{
    fcgix_rec_header(out, FCGIX_BEGIN_REQUEST, request_id, 8, 0);
    out[8] = (unsigned char)(role >> 8);
    out[9] = (unsigned char)(role & 0xff);
    out[10] = flags;
    memset(out + 11, 0, 5);
}

void fcgix_rec_abort_request(unsigned char out[FCGIX_HEADER_LEN],
                             uint16_t request_id)
{
    fcgix_rec_header(out, FCGIX_ABORT_REQUEST, request_id, 0, 0);
}

uint8_t fcgix_padding_for(size_t content_len)
{
    return (uint8_t)((8 - (content_len & 7)) & 7);
}

static int is_stream_type(uint8_t type)
{
    return type == FCGIX_PARAMS || type == FCGIX_STDIN || type == FCGIX_DATA;
}

int fcgix_stream_header(unsigned char out[FCGIX_HEADER_LEN], uint8_t type,
                        uint16_t request_id, size_t content_len, int pad8)
{
    uint8_t padding = pad8 ? fcgix_padding_for(content_len) : 0;

    if (!is_stream_type(type)) {
        return FCGIX_EINVAL;
    }
    /* PHP-FPM refuses a record whose content plus padding exceeds 65535,
     * although the header could encode it. The first test keeps the sum
     * from wrapping around. */
    if (content_len > FCGIX_MAX_CONTENT_LEN
        || content_len + padding > FCGIX_MAX_CONTENT_LEN) {
        return FCGIX_ETOOLONG;
    }
    fcgix_rec_header(out, type, request_id, (uint16_t)content_len, padding);
    return padding;
}

long fcgix_stream_record(unsigned char *out, size_t out_len, uint8_t type,
                         uint16_t request_id, const void *data, size_t len,
                         int pad8)
{
    size_t padding = pad8 ? fcgix_padding_for(len) : 0;
    size_t total = FCGIX_HEADER_LEN + len + padding;
    int rc;

    if (len > 0 && data == NULL) {
        return FCGIX_EINVAL;
    }
    if (is_stream_type(type) && len <= FCGIX_MAX_CONTENT_LEN
        && len + padding <= FCGIX_MAX_CONTENT_LEN && out_len < total) {
        return FCGIX_ENOSPC;
    }
    rc = fcgix_stream_header(out, type, request_id, len, pad8);
    if (rc < 0) {
        return rc;
    }
    if (len > 0) {
        memcpy(out + FCGIX_HEADER_LEN, data, len);
    }
    memset(out + FCGIX_HEADER_LEN + len, 0, padding);
    return (long)total;
}

/* ------------------------------------------------------------------ */
/* Name-value pairs                                                    */
/* ------------------------------------------------------------------ */

static size_t nv_len_size(size_t len)
{
    return len < 128 ? 1 : 4;
}

size_t fcgix_nv_size(size_t name_len, size_t value_len)
{
    if (name_len > FCGIX_MAX_NV_LEN || value_len > FCGIX_MAX_NV_LEN) {
        return 0;
    }
    return nv_len_size(name_len) + nv_len_size(value_len) + name_len
           + value_len;
}

static unsigned char *put_nv_len(unsigned char *out, size_t len)
{
    if (len < 128) {
        *out++ = (unsigned char)len;
        return out;
    }
    *out++ = (unsigned char)(((len >> 24) & 0x7f) | 0x80);
    *out++ = (unsigned char)((len >> 16) & 0xff);
    *out++ = (unsigned char)((len >> 8) & 0xff);
    *out++ = (unsigned char)(len & 0xff);
    return out;
}

size_t fcgix_nv_put(unsigned char *out, size_t out_len, const char *name,
                    size_t name_len, const char *value, size_t value_len)
{
    size_t size = fcgix_nv_size(name_len, value_len);
    unsigned char *p;

    if (size == 0 || size > out_len) {
        return 0;
    }
    p = put_nv_len(out, name_len);
    p = put_nv_len(p, value_len);
    if (name_len > 0) {
        memcpy(p, name, name_len);
    }
    if (value_len > 0) {
        memcpy(p + name_len, value, value_len);
    }
    return size;
}

/* Read one length field; returns 0 when it runs past end. */
static int get_nv_len(const unsigned char **p, const unsigned char *end,
                      size_t *len)
{
    const unsigned char *q = *p;

    if (q >= end) {
        return 0;
    }
    if (!(q[0] & 0x80)) {
        *len = q[0];
        *p = q + 1;
        return 1;
    }
    if (end - q < 4) {
        return 0;
    }
    *len = ((size_t)(q[0] & 0x7f) << 24) | ((size_t)q[1] << 16)
           | ((size_t)q[2] << 8) | (size_t)q[3];
    *p = q + 4;
    return 1;
}

int fcgix_nv_next(const unsigned char **p, const unsigned char *end,
                  fcgix_nv_t *nv)
{
    const unsigned char *q = *p;
    size_t name_len, value_len;

    if (q >= end) {
        return 0;
    }
    if (!get_nv_len(&q, end, &name_len) || !get_nv_len(&q, end, &value_len)) {
        return FCGIX_ETRUNC;
    }
    /* Compare against what is left, never add to the pointer first: the
     * lengths come from the wire and may be close to 2^31. */
    if (name_len > (size_t)(end - q)
        || value_len > (size_t)(end - q) - name_len) {
        return FCGIX_ETRUNC;
    }
    nv->name = q;
    nv->name_len = name_len;
    nv->value = q + name_len;
    nv->value_len = value_len;
    *p = q + name_len + value_len;
    return 1;
}

long fcgix_rec_get_values(unsigned char *out, size_t out_len,
                          const char *const *names, size_t count)
{
    size_t content = 0;
    size_t i, n;

    for (i = 0; i < count; i++) {
        n = fcgix_nv_size(strlen(names[i]), 0);
        if (n == 0 || n > FCGIX_MAX_CONTENT_LEN - content) {
            return FCGIX_ETOOLONG;
        }
        content += n;
    }
    if (out_len < FCGIX_HEADER_LEN + content) {
        return FCGIX_ENOSPC;
    }
    fcgix_rec_header(out, FCGIX_GET_VALUES, FCGIX_NULL_REQUEST_ID,
                     (uint16_t)content, 0);
    n = FCGIX_HEADER_LEN;
    for (i = 0; i < count; i++) {
        n += fcgix_nv_put(out + n, out_len - n, names[i], strlen(names[i]), "",
                          0);
    }
    return (long)n;
}

/* Values larger than this say "no practical limit". */
#define VALUES_MAX 1000000L

/* A GET_VALUES_RESULT value: decimal digits only, else -1. */
static long values_number(const unsigned char *p, size_t len)
{
    long n = 0;
    size_t i;

    if (len == 0) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        if (n < VALUES_MAX) {
            n = n * 10 + (p[i] - '0');
        }
    }
    return n < VALUES_MAX ? n : VALUES_MAX;
}

static int nv_is(const fcgix_nv_t *nv, const char *name)
{
    return nv->name_len == strlen(name)
           && memcmp(nv->name, name, nv->name_len) == 0;
}

int fcgix_values_parse(const unsigned char *content, size_t len,
                       fcgix_values_t *v)
{
    const unsigned char *p = content, *end;
    fcgix_nv_t nv;
    int rc;

    v->max_conns = v->max_reqs = v->mpxs = -1;
    if (len == 0) {
        return FCGIX_OK; /* content may be NULL */
    }
    end = content + len;
    while ((rc = fcgix_nv_next(&p, end, &nv)) == 1) {
        long n = values_number(nv.value, nv.value_len);

        if (nv_is(&nv, FCGIX_MAX_CONNS)) {
            v->max_conns = n;
        }
        else if (nv_is(&nv, FCGIX_MAX_REQS)) {
            v->max_reqs = n;
        }
        else if (nv_is(&nv, FCGIX_MPXS_CONNS)) {
            v->mpxs = n;
        }
    }
    return rc == 0 ? FCGIX_OK : rc;
}

/* ------------------------------------------------------------------ */
/* PARAMS packer                                                       */
/* ------------------------------------------------------------------ */

void fcgix_params_init(fcgix_params_t *p, unsigned char *buf, size_t cap,
                       uint16_t request_id, size_t max_content)
{
    p->buf = buf;
    p->cap = cap;
    p->used = 0;
    p->rec_start = 0;
    p->rec_open = 0;
    if (max_content < 1) {
        max_content = 1;
    }
    if (max_content > FCGIX_MAX_CONTENT_LEN) {
        max_content = FCGIX_MAX_CONTENT_LEN;
    }
    p->max_content = max_content;
    p->request_id = request_id;
}

static void close_record(fcgix_params_t *p)
{
    size_t content = p->used - p->rec_start - FCGIX_HEADER_LEN;

    fcgix_rec_header(p->buf + p->rec_start, FCGIX_PARAMS, p->request_id,
                     (uint16_t)content, 0);
    p->rec_open = 0;
}

int fcgix_params_add(fcgix_params_t *p, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
    size_t size = fcgix_nv_size(name_len, value_len);
    size_t need;

    /* A pair that cannot fit one record, or even an empty buffer, would
     * make the caller's flush-and-retry loop spin forever. */
    if (size == 0 || size > p->max_content
        || size + 2 * FCGIX_HEADER_LEN > p->cap) {
        return FCGIX_ETOOLONG;
    }
    if (p->rec_open
        && p->used - p->rec_start - FCGIX_HEADER_LEN + size > p->max_content) {
        close_record(p);
    }
    /* Keep room for the closing empty record so that close(final) cannot
     * fail. */
    need = size + FCGIX_HEADER_LEN + (p->rec_open ? 0 : FCGIX_HEADER_LEN);
    if (p->cap < p->used || need > p->cap - p->used) {
        return FCGIX_ENOSPC;
    }
    if (!p->rec_open) {
        p->rec_start = p->used;
        p->used += FCGIX_HEADER_LEN;
        p->rec_open = 1;
    }
    p->used += fcgix_nv_put(p->buf + p->used, p->cap - p->used, name, name_len,
                            value, value_len);
    return FCGIX_OK;
}

size_t fcgix_params_close(fcgix_params_t *p, int final)
{
    if (p->rec_open) {
        close_record(p);
    }
    if (final && p->cap >= p->used + FCGIX_HEADER_LEN) {
        fcgix_rec_header(p->buf + p->used, FCGIX_PARAMS, p->request_id, 0, 0);
        p->used += FCGIX_HEADER_LEN;
    }
    return p->used;
}

void fcgix_params_reset(fcgix_params_t *p)
{
    p->used = 0;
    p->rec_start = 0;
    p->rec_open = 0;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

void fcgix_dec_init(fcgix_dec_t *d, uint16_t request_id)
{
    memset(d, 0, sizeof(*d));
    d->state = FCGIX_DEC_HEADER;
    d->request_id = request_id;
}

int fcgix_dec_done(const fcgix_dec_t *d)
{
    return d->state == FCGIX_DEC_DONE;
}

static int fail(fcgix_dec_t *d, int rc)
{
    d->state = FCGIX_DEC_FAILED;
    d->error = rc;
    return rc;
}

/* Is this type one an application may send, and with which request id? */
static int check_type_and_id(const fcgix_dec_t *d, uint8_t type, uint16_t id)
{
    switch (type) {
    case FCGIX_STDOUT:
    case FCGIX_STDERR:
    case FCGIX_END_REQUEST:
        if (id == FCGIX_NULL_REQUEST_ID || id != d->request_id) {
            return FCGIX_EREQID;
        }
        return FCGIX_OK;
    case FCGIX_GET_VALUES_RESULT:
    case FCGIX_UNKNOWN_TYPE:
        /* Management records always carry the null request id. */
        return id == FCGIX_NULL_REQUEST_ID ? FCGIX_OK : FCGIX_EREQID;
    case FCGIX_BEGIN_REQUEST:
    case FCGIX_ABORT_REQUEST:
    case FCGIX_PARAMS:
    case FCGIX_STDIN:
    case FCGIX_DATA:
    case FCGIX_GET_VALUES:
        return FCGIX_ETYPE;
    default:
        return FCGIX_EUNKNOWNTYPE;
    }
}

/* A complete header is in d->hdr: validate it and choose the next state.
 * Returns FCGIX_OK, a negative error, or 1 when a record with empty
 * content must be reported at once. */
static int start_record(fcgix_dec_t *d)
{
    uint16_t id = (uint16_t)((d->hdr[2] << 8) | d->hdr[3]);
    size_t content = ((size_t)d->hdr[4] << 8) | d->hdr[5];
    int rc;

    if (d->hdr[0] != FCGIX_VERSION_1) {
        return fail(d, FCGIX_EVERSION);
    }
    d->type = d->hdr[1];
    rc = check_type_and_id(d, d->type, id);
    if (rc != FCGIX_OK) {
        return fail(d, rc);
    }
    d->content_left = content;
    d->padding_left = d->hdr[6];
    d->have = 0;
    if (d->type == FCGIX_END_REQUEST || d->type == FCGIX_UNKNOWN_TYPE) {
        if (content != FCGIX_FIXED_BODY_LEN) {
            return fail(d, FCGIX_EBODYLEN);
        }
        d->state = FCGIX_DEC_FIXED_BODY;
        return FCGIX_OK;
    }
    d->state = FCGIX_DEC_CONTENT;
    return content == 0 ? 1 : FCGIX_OK;
}

static void clear_event(fcgix_event_t *ev, uint8_t type)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
}

/* Report the fixed-body record that just finished (padding included). */
static void finish_fixed_record(fcgix_dec_t *d, fcgix_event_t *ev)
{
    clear_event(ev, d->type);
    ev->record_end = 1;
    if (d->type == FCGIX_END_REQUEST) {
        ev->app_status = ((uint32_t)d->body[0] << 24)
                         | ((uint32_t)d->body[1] << 16)
                         | ((uint32_t)d->body[2] << 8) | (uint32_t)d->body[3];
        ev->protocol_status = d->body[4];
        d->state = FCGIX_DEC_DONE;
    }
    else {
        ev->unknown_type = d->body[0];
        d->state = FCGIX_DEC_HEADER;
    }
    d->have = 0;
}

/* Emit a slice of stream content; the caller advanced nothing yet. */
static size_t take_content(fcgix_dec_t *d, const unsigned char *in, size_t len,
                           fcgix_event_t *ev)
{
    size_t n = len < d->content_left ? len : d->content_left;

    clear_event(ev, d->type);
    ev->data = in;
    ev->len = n;
    d->content_left -= n;
    ev->record_end = d->content_left == 0;
    if (d->content_left == 0) {
        d->state = FCGIX_DEC_PADDING;
    }
    return n;
}

/* After padding: the next record, or the event of a fixed-body record. */
static int end_padding(fcgix_dec_t *d, fcgix_event_t *ev)
{
    if (d->type == FCGIX_END_REQUEST || d->type == FCGIX_UNKNOWN_TYPE) {
        finish_fixed_record(d, ev);
        return 1;
    }
    d->state = FCGIX_DEC_HEADER;
    d->have = 0;
    return 0;
}

/* Gather a fixed-size part (header or fixed body) that may arrive split:
 * copy what is missing from in[*pos..len). Returns non-zero once all
 * @want bytes are there. */
static int collect(unsigned char *buf, size_t want, size_t *have,
                   const unsigned char *in, size_t len, size_t *pos)
{
    size_t n = want - *have;

    if (n > len - *pos) {
        n = len - *pos;
    }
    if (n > 0) {
        /* in may be NULL when len is 0 */
        memcpy(buf + *have, in + *pos, n);
    }
    *have += n;
    *pos += n;
    return *have == want;
}

int fcgix_dec_step(fcgix_dec_t *d, const unsigned char *in, size_t len,
                   size_t *consumed, fcgix_event_t *ev)
{
    size_t pos = 0, n;
    int rc;

    *consumed = 0;
    for (;;) {
        switch (d->state) {
        case FCGIX_DEC_FAILED:
            return d->error;
        case FCGIX_DEC_DONE:
            if (pos < len) {
                return fail(d, FCGIX_ESTATE);
            }
            return FCGIX_AGAIN;
        case FCGIX_DEC_HEADER:
            if (!collect(d->hdr, FCGIX_HEADER_LEN, &d->have, in, len, &pos)) {
                *consumed = pos;
                return FCGIX_AGAIN;
            }
            *consumed = pos;
            rc = start_record(d);
            if (rc < 0) {
                return rc;
            }
            if (rc == 1) {
                /* Empty content: end of a stream (or an empty
                 * GET_VALUES_RESULT). */
                take_content(d, in + pos, 0, ev);
                return FCGIX_OK;
            }
            break;
        case FCGIX_DEC_CONTENT:
            if (pos == len) {
                return FCGIX_AGAIN;
            }
            pos += take_content(d, in + pos, len - pos, ev);
            *consumed = pos;
            return FCGIX_OK;
        case FCGIX_DEC_FIXED_BODY:
            if (!collect(d->body, FCGIX_FIXED_BODY_LEN, &d->have, in, len,
                         &pos)) {
                *consumed = pos;
                return FCGIX_AGAIN;
            }
            *consumed = pos;
            d->state = FCGIX_DEC_PADDING;
            break;
        case FCGIX_DEC_PADDING:
            n = d->padding_left < len - pos ? d->padding_left : len - pos;
            d->padding_left -= n;
            pos += n;
            *consumed = pos;
            if (d->padding_left > 0) {
                return FCGIX_AGAIN;
            }
            if (end_padding(d, ev)) {
                return FCGIX_OK;
            }
            break;
        default:
            return fail(d, FCGIX_EINVAL);
        }
    }
}

const char *fcgix_strerror(int rc)
{
    static const char *const text[] = {
        [-FCGIX_OK] = "success",
        [-FCGIX_AGAIN] = "need more input",
        [-FCGIX_EVERSION] = "record version is not 1",
        [-FCGIX_ETYPE] = "record type not valid from an application",
        [-FCGIX_EUNKNOWNTYPE] = "unknown record type",
        [-FCGIX_EREQID] = "unexpected request id",
        [-FCGIX_EBODYLEN] = "fixed-size record body has the wrong length",
        [-FCGIX_ESTATE] = "data after FCGI_END_REQUEST",
        [-FCGIX_ENOSPC] = "output buffer too small",
        [-FCGIX_ETOOLONG] = "length too large for the FastCGI format",
        [-FCGIX_ETRUNC] = "name-value pair runs past the end of its record",
        [-FCGIX_EINVAL] = "invalid argument",
    };

    if (rc > 0 || rc <= -(int)(sizeof(text) / sizeof(text[0]))) {
        return "unknown error";
    }
    return text[-rc];
}

const char *fcgix_type_name(int type)
{
    static const char *const names[] = {"unknown",
                                        "FCGI_BEGIN_REQUEST",
                                        "FCGI_ABORT_REQUEST",
                                        "FCGI_END_REQUEST",
                                        "FCGI_PARAMS",
                                        "FCGI_STDIN",
                                        "FCGI_STDOUT",
                                        "FCGI_STDERR",
                                        "FCGI_DATA",
                                        "FCGI_GET_VALUES",
                                        "FCGI_GET_VALUES_RESULT",
                                        "FCGI_UNKNOWN_TYPE"};

    if (type < 1 || type > FCGIX_MAXTYPE) {
        return names[0];
    }
    return names[type];
}

/* ------------------------------------------------------------------ */
/* CGI header-end scanner                                              */
/* ------------------------------------------------------------------ */

/* States: at the start of a line, after a CR there, in a header name,
 * in a value, after a CR in a value, past the blank line, refused. The
 * start of a line is 0 so that a zeroed scanner, which the header allows,
 * is at the start of the response. */
enum {
    HS_LINE_START = 0,
    HS_LINE_START_CR,
    HS_NAME,
    HS_VALUE,
    HS_VALUE_CR,
    HS_FOUND,
    HS_BAD
};

void fcgix_hdrscan_init(fcgix_hdrscan_t *s)
{
    /* The response starts at the start of a line: an empty first line
     * means no headers at all. */
    s->state = HS_LINE_START;
    s->line = 0;
    s->why = NULL;
}

/* RFC 9110 token characters: what a header name may hold. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Any byte but a control character, except HTAB. Bytes above 0x7f
 * (obs-text) pass: apps send Latin-1 file names in Content-Disposition. */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int refuse(fcgix_hdrscan_t *s, const char *why)
{
    s->why = why;
    return HS_BAD;
}

/* One byte of the header block; returns the next state. A CR must be
 * followed by LF: a lone CR is how a header is split for the clients
 * that take it as a line end (response splitting). */
static int hdrscan_next(fcgix_hdrscan_t *s, unsigned char c)
{
    switch (s->state) {
    case HS_LINE_START:
        if (c == '\n') {
            return HS_FOUND;
        }
        if (c == '\r') {
            return HS_LINE_START_CR;
        }
        if (c == ' ' || c == '\t') {
            return refuse(s, "a folded header line (starts with a space)");
        }
        return is_tchar(c) ? HS_NAME
                           : refuse(s, "an empty or invalid header "
                                       "name");
    case HS_LINE_START_CR:
        return c == '\n' ? HS_FOUND : refuse(s, "a CR not followed by LF");
    case HS_NAME:
        if (c == ':') {
            return HS_VALUE;
        }
        if (c == '\n' || c == '\r') {
            return refuse(s, "a header line without a colon");
        }
        return is_tchar(c) ? HS_NAME
                           : refuse(s, "an invalid character in a "
                                       "header name");
    case HS_VALUE:
        if (c == '\n') {
            return HS_LINE_START;
        }
        if (c == '\r') {
            return HS_VALUE_CR;
        }
        return is_value_char(c) ? HS_VALUE
                                : refuse(s, "a control character in a header "
                                            "value");
    default: /* HS_VALUE_CR */
        return c == '\n' ? HS_LINE_START : refuse(s, "a CR not followed by LF");
    }
}

int fcgix_hdrscan(fcgix_hdrscan_t *s, const char *buf, size_t len, size_t *used)
{
    size_t i;

    if (s->state == HS_FOUND || s->state == HS_BAD) {
        *used = 0;
        return s->state == HS_FOUND ? 1 : -1;
    }
    for (i = 0; i < len; i++) {
        if (s->state == HS_LINE_START) {
            s->line++;
        }
        s->state = hdrscan_next(s, (unsigned char)buf[i]);
        if (s->state == HS_FOUND) {
            *used = i + 1;
            return 1;
        }
        if (s->state == HS_BAD) {
            *used = i;
            return -1;
        }
    }
    *used = len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header lines                                                        */
/* ------------------------------------------------------------------ */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int fcgix_header_next(const char *buf, size_t len, size_t *used,
                      fcgix_header_t *h)
{
    const char *nl = memchr(buf, '\n', len);
    const char *end, *colon, *v;
    size_t i;

    if (nl == NULL) {
        return -1;
    }
    *used = (size_t)(nl - buf) + 1;
    end = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
    if (end == buf) {
        return 0;
    }
    colon = memchr(buf, ':', (size_t)(end - buf));
    if (colon == NULL || colon == buf) {
        return -1;
    }
    for (i = 0; buf + i < colon; i++) {
        if (!is_tchar((unsigned char)buf[i])) {
            return -1;
        }
    }
    for (v = colon + 1; v < end && is_blank(*v); v++) {
    }
    while (end > v && is_blank(end[-1])) {
        end--;
    }
    for (i = 0; v + i < end; i++) {
        if (!is_value_char((unsigned char)v[i])) {
            return -1;
        }
    }
    h->name = buf;
    h->name_len = (size_t)(colon - buf);
    h->value = v;
    h->value_len = (size_t)(end - v);
    return 1;
}

int fcgix_status_code(const char *value, size_t len)
{
    int code = 0;
    size_t i;

    if (len < 3 || (len > 3 && !is_blank(value[3]))) {
        return -1;
    }
    for (i = 0; i < 3; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return -1;
        }
        code = code * 10 + (value[i] - '0');
    }
    return code >= 100 && code <= 599 ? code : -1;
}
