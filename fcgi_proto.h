/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_proto.h
 * @brief FastCGI 1.0 wire format: encoders, a resumable push decoder for the
 *        application-to-server direction, a name-value codec and a CGI
 *        header-end scanner.
 *
 * Pure C99: no APR, no httpd, no allocation, no I/O, no mutable globals.
 * Every function is reentrant; all state lives in caller-owned structs.
 * Multi-byte fields are written and read with explicit byte arithmetic
 * (big-endian, as the specification says), never by overlaying structs.
 */

#ifndef FCGIX_PROTO_H
#define FCGIX_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Constants of the FastCGI 1.0 specification, section 8. Prefixed FCGIX_
 * so that this header can sit beside libfcgi's fastcgi.h. */
#define FCGIX_LISTENSOCK_FILENO 0
#define FCGIX_HEADER_LEN 8
#define FCGIX_VERSION_1 1
#define FCGIX_MAX_CONTENT_LEN 65535
#define FCGIX_MAX_PADDING_LEN 255
/** Largest content length that still fits 8-byte padding within 65535. */
#define FCGIX_MAX_PADDED_CONTENT_LEN 65528
/** Largest name or value length a name-value pair can carry (2^31 - 1). */
#define FCGIX_MAX_NV_LEN 0x7fffffffUL

#define FCGIX_BEGIN_REQUEST 1
#define FCGIX_ABORT_REQUEST 2
#define FCGIX_END_REQUEST 3
#define FCGIX_PARAMS 4
#define FCGIX_STDIN 5
#define FCGIX_STDOUT 6
#define FCGIX_STDERR 7
#define FCGIX_DATA 8
#define FCGIX_GET_VALUES 9
#define FCGIX_GET_VALUES_RESULT 10
#define FCGIX_UNKNOWN_TYPE 11
#define FCGIX_MAXTYPE FCGIX_UNKNOWN_TYPE

#define FCGIX_NULL_REQUEST_ID 0

#define FCGIX_KEEP_CONN 1

#define FCGIX_RESPONDER 1
#define FCGIX_AUTHORIZER 2
#define FCGIX_FILTER 3

#define FCGIX_REQUEST_COMPLETE 0
#define FCGIX_CANT_MPX_CONN 1
#define FCGIX_OVERLOADED 2
#define FCGIX_UNKNOWN_ROLE 3

#define FCGIX_MAX_CONNS "FCGI_MAX_CONNS"
#define FCGIX_MAX_REQS "FCGI_MAX_REQS"
#define FCGIX_MPXS_CONNS "FCGI_MPXS_CONNS"

/** Size of a BEGIN_REQUEST record: header plus its 8-byte body. */
#define FCGIX_BEGIN_REQUEST_LEN 16
/** Size of an END_REQUEST or UNKNOWN_TYPE body. */
#define FCGIX_FIXED_BODY_LEN 8

/** Return codes. Zero or positive is success; each defect has its own code,
 *  and "need more input" (FCGIX_AGAIN) is not an error. */
enum {
    FCGIX_OK = 0,            /**< an event was produced */
    FCGIX_AGAIN = -1,        /**< all input consumed, need more */
    FCGIX_EVERSION = -2,     /**< record version is not 1 */
    FCGIX_ETYPE = -3,        /**< a server-to-app type sent by the app */
    FCGIX_EUNKNOWNTYPE = -4, /**< type 0 or above FCGIX_MAXTYPE */
    FCGIX_EREQID = -5,       /**< request id not the expected one */
    FCGIX_EBODYLEN = -6,     /**< fixed-size body of the wrong length */
    FCGIX_ESTATE = -7,       /**< bytes after END_REQUEST */
    FCGIX_ENOSPC = -8,       /**< encoder: output buffer too small */
    FCGIX_ETOOLONG = -9,     /**< a length the format cannot carry */
    FCGIX_ETRUNC = -10,      /**< name-value pair runs past its buffer */
    FCGIX_EINVAL = -11       /**< caller passed an invalid argument */
};

/** Decoder states (internal; exposed only so the struct can live on the
 *  caller's stack). */
enum {
    FCGIX_DEC_HEADER = 0,
    FCGIX_DEC_CONTENT,
    FCGIX_DEC_FIXED_BODY,
    FCGIX_DEC_PADDING,
    FCGIX_DEC_DONE,
    FCGIX_DEC_FAILED
};

/** Resumable decoder for records sent by an application to the server.
 *  Zero-initialise it through fcgix_dec_init(); treat the fields as
 *  private. */
typedef struct {
    int state;
    int error;           /**< sticky error once FAILED */
    uint16_t request_id; /**< the request id we expect */
    unsigned char hdr[FCGIX_HEADER_LEN];
    unsigned char body[FCGIX_FIXED_BODY_LEN];
    size_t have;  /**< header or fixed-body bytes collected */
    uint8_t type; /**< type of the record being decoded */
    size_t content_left;
    size_t padding_left;
} fcgix_dec_t;

/** One decoded event. */
typedef struct {
    /** FCGIX_STDOUT, FCGIX_STDERR, FCGIX_GET_VALUES_RESULT,
     *  FCGIX_END_REQUEST or FCGIX_UNKNOWN_TYPE. */
    uint8_t type;
    /** STDOUT, STDERR, GET_VALUES_RESULT: a slice of the caller's input
     *  (part or all of one record's content). len == 0 only for a record
     *  with empty content, which for STDOUT/STDERR means end of stream. */
    const unsigned char *data;
    size_t len;
    /** Non-zero when this slice ends its record's content. */
    int record_end;
    uint32_t app_status;     /**< END_REQUEST only */
    uint8_t protocol_status; /**< END_REQUEST only */
    uint8_t unknown_type;    /**< UNKNOWN_TYPE only */
} fcgix_event_t;

/**
 * Start (or restart, for the next request on a kept connection) a decoder.
 * @param d           the decoder
 * @param request_id  the id used in BEGIN_REQUEST; STDOUT, STDERR and
 *                    END_REQUEST must carry it, management records id 0
 */
void fcgix_dec_init(fcgix_dec_t *d, uint16_t request_id);

/**
 * Decode input until one event is ready or the input is used up.
 * @param d         the decoder
 * @param in        input bytes (may be NULL when len is 0)
 * @param len       number of input bytes; any split is accepted
 * @param consumed  out: bytes of @a in used; always <= len
 * @param ev        out: the event, valid when FCGIX_OK is returned; its
 *                  data points into @a in
 * @return FCGIX_OK (event in @a ev; call again with the rest of the input),
 *         FCGIX_AGAIN (all input consumed, no event), or a negative error
 *         code. Errors are sticky: later calls return the same code.
 * @note Padding is skipped. END_REQUEST and UNKNOWN_TYPE are reported
 *       after their padding, so the record is fully consumed at the event.
 *       After END_REQUEST any further byte is FCGIX_ESTATE.
 */
int fcgix_dec_step(fcgix_dec_t *d, const unsigned char *in, size_t len,
                   size_t *consumed, fcgix_event_t *ev);

/**
 * @return non-zero once END_REQUEST has been decoded.
 */
int fcgix_dec_done(const fcgix_dec_t *d);

/**
 * @return a short English description of a return code, never NULL.
 */
const char *fcgix_strerror(int rc);

/**
 * @return the specification's name of a record type ("FCGI_STDOUT"), or
 *         "unknown" for a type outside 1..11.
 */
const char *fcgix_type_name(int type);

/**
 * Write a record header.
 * @param out          8 bytes of output
 * @param type         record type
 * @param request_id   request id
 * @param content_len  content length
 * @param padding_len  padding length
 */
void fcgix_rec_header(unsigned char out[FCGIX_HEADER_LEN], uint8_t type,
                      uint16_t request_id, uint16_t content_len,
                      uint8_t padding_len);

/**
 * Write a whole BEGIN_REQUEST record (header and body).
 * @param out         16 bytes of output
 * @param request_id  request id (not 0)
 * @param role        FCGIX_RESPONDER, FCGIX_AUTHORIZER or FCGIX_FILTER
 * @param flags       0 or FCGIX_KEEP_CONN
 */
void fcgix_rec_begin_request(unsigned char out[FCGIX_BEGIN_REQUEST_LEN],
                             uint16_t request_id, uint16_t role, uint8_t flags);

/**
 * Write an ABORT_REQUEST record (a header with empty content).
 * @param out         8 bytes of output
 * @param request_id  request id
 */
void fcgix_rec_abort_request(unsigned char out[FCGIX_HEADER_LEN],
                             uint16_t request_id);

/**
 * Padding that rounds a content length up to a multiple of 8.
 * @param content_len  content length
 * @return 0..7
 */
uint8_t fcgix_padding_for(size_t content_len);

/**
 * Write the header of a stream record (PARAMS, STDIN or DATA) for
 * zero-copy output: the caller then sends the content and the returned
 * number of zero padding bytes.
 * @param out          8 bytes of output
 * @param type         FCGIX_PARAMS, FCGIX_STDIN or FCGIX_DATA
 * @param request_id   request id
 * @param content_len  content length; 0 ends the stream
 * @param pad8         non-zero to pad the record to a multiple of 8
 * @return the padding length (0..7), FCGIX_EINVAL for another type, or
 *         FCGIX_ETOOLONG when content plus padding would exceed 65535
 *         (PHP-FPM rejects such records)
 */
int fcgix_stream_header(unsigned char out[FCGIX_HEADER_LEN], uint8_t type,
                        uint16_t request_id, size_t content_len, int pad8);

/**
 * Write a whole stream record (header, copied content, zero padding).
 * @param out, out_len  output buffer
 * @param type, request_id, pad8  as for fcgix_stream_header()
 * @param data, len      content
 * @return bytes written, or FCGIX_ENOSPC, FCGIX_EINVAL, FCGIX_ETOOLONG
 */
long fcgix_stream_record(unsigned char *out, size_t out_len, uint8_t type,
                         uint16_t request_id, const void *data, size_t len,
                         int pad8);

/**
 * Size of one encoded name-value pair.
 * @return the size, or 0 when a length exceeds FCGIX_MAX_NV_LEN
 */
size_t fcgix_nv_size(size_t name_len, size_t value_len);

/**
 * Encode one name-value pair (1-byte lengths below 128, else 4 bytes).
 * @return bytes written, or 0 when it does not fit or is too long
 */
size_t fcgix_nv_put(unsigned char *out, size_t out_len, const char *name,
                    size_t name_len, const char *value, size_t value_len);

/** One decoded name-value pair; pointers into the caller's buffer. */
typedef struct {
    const unsigned char *name;
    size_t name_len;
    const unsigned char *value;
    size_t value_len;
} fcgix_nv_t;

/**
 * Decode the next name-value pair, bounds-checked against @a end.
 * @param p    in/out: cursor; advanced past the pair on success
 * @param end  one past the last byte of the buffer
 * @param nv   out: the pair
 * @return 1 for a pair, 0 at the end of the buffer, FCGIX_ETRUNC when the
 *         pair runs past @a end (the cursor is then not moved)
 */
int fcgix_nv_next(const unsigned char **p, const unsigned char *end,
                  fcgix_nv_t *nv);

/**
 * Write a GET_VALUES record asking for the given names (empty values).
 * @param out, out_len  output buffer
 * @param names         variable names, e.g. FCGIX_MAX_CONNS
 * @param count         number of names
 * @return bytes written, FCGIX_ENOSPC, or FCGIX_ETOOLONG when the names do
 *         not fit one record
 */
long fcgix_rec_get_values(unsigned char *out, size_t out_len,
                          const char *const *names, size_t count);

/** What an app said of its limits in FCGI_GET_VALUES_RESULT; -1 for a
 *  name it did not answer, or whose value is not a decimal number. */
typedef struct {
    long max_conns; /**< FCGI_MAX_CONNS */
    long max_reqs;  /**< FCGI_MAX_REQS */
    long mpxs;      /**< FCGI_MPXS_CONNS: 1 multiplexes, 0 does not */
} fcgix_values_t;

/**
 * Read the content of a GET_VALUES_RESULT record. Unknown names are
 * skipped; a value above 1000000 counts as 1000000.
 * @return FCGIX_OK, or FCGIX_ETRUNC when a pair runs past the end (the
 *         pairs before it are kept)
 */
int fcgix_values_parse(const unsigned char *content, size_t len,
                       fcgix_values_t *v);

/** PARAMS packer: whole pairs per record, each record's content at most
 *  max_content bytes (PHP-FPM parses each PARAMS record on its own), no
 *  padding. Treat the fields as private. */
typedef struct {
    unsigned char *buf;
    size_t cap;
    size_t used;
    size_t rec_start; /**< header offset of the open record */
    int rec_open;
    size_t max_content;
    uint16_t request_id;
} fcgix_params_t;

/**
 * Start packing PARAMS records into @a buf.
 * @param p            the packer
 * @param buf, cap     output buffer; at least 16 bytes
 * @param request_id   request id
 * @param max_content  largest record content, 1..65535 (a parameter so that
 *                     tests can force splitting)
 */
void fcgix_params_init(fcgix_params_t *p, unsigned char *buf, size_t cap,
                       uint16_t request_id, size_t max_content);

/**
 * Add one pair, opening a new record when the open one cannot take it.
 * @return FCGIX_OK; FCGIX_ENOSPC when the buffer is full (send what
 *         fcgix_params_close() returns, call fcgix_params_reset(), retry:
 *         the retry then succeeds); FCGIX_ETOOLONG when the pair can never
 *         fit one record or the empty buffer (skip it and say so in the
 *         log). A buffer of max_content + 16 bytes takes any pair that
 *         fits a record.
 * @note Room for the closing empty PARAMS record is always kept.
 */
int fcgix_params_add(fcgix_params_t *p, const char *name, size_t name_len,
                     const char *value, size_t value_len);

/**
 * Close the open record; with @a final also append the empty PARAMS
 * record that ends the stream.
 * @return number of bytes ready in the buffer
 */
size_t fcgix_params_close(fcgix_params_t *p, int final);

/**
 * Empty the buffer after its bytes were sent.
 */
void fcgix_params_reset(fcgix_params_t *p);

/** CGI header scanner state; zero-initialise or fcgix_hdrscan_init. */
typedef struct {
    int state;
    unsigned line;   /**< line of the header block being read, from 1 */
    const char *why; /**< when refused: what is wrong, for a log line */
} fcgix_hdrscan_t;

/**
 * Start scanning a new response.
 */
void fcgix_hdrscan_init(fcgix_hdrscan_t *s);

/**
 * Find the blank line that ends CGI response headers, and refuse a header
 * block that is not well-formed. Lines may end in "\n" or "\r\n", mixed;
 * the input may be split anywhere. An empty first line means a response
 * without headers. Every other line must be NAME ":" VALUE: NAME a token
 * (RFC 9110), VALUE without control characters but HTAB, and no CR except
 * right before LF, so that an app cannot split a response for clients
 * that end lines at a CR. Folded (obsolete) lines are refused.
 * @param s     scanner state, carried between calls
 * @param buf   next bytes of the response
 * @param len   their number
 * @param used  out: when found, bytes of @a buf up to and including the
 *              blank line; when refused, the offset of the bad byte in
 *              @a buf; otherwise @a len
 * @return 1 when the end of the headers was found, 0 when not yet, -1
 *         when refused (s->why says why, s->line where); once 1 or -1,
 *         later calls return the same with *used 0
 */
int fcgix_hdrscan(fcgix_hdrscan_t *s, const char *buf, size_t len,
                  size_t *used);

/** One line of a CGI header block, pointing into the caller's buffer. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /**< without the blanks around it */
    size_t value_len;
} fcgix_header_t;

/**
 * Take the next line of a header block, one that fcgix_hdrscan() accepted
 * (other input is refused, never read past @a len).
 * @param buf   the rest of the block
 * @param len   its length
 * @param used  out: bytes of the line, its "\n" or "\r\n" included
 * @param h     out: when 1 is returned, the line's name and value
 * @return 1 for a header line, 0 for the blank line that ends the block,
 *         -1 for an incomplete or malformed line
 */
int fcgix_header_next(const char *buf, size_t len, size_t *used,
                      fcgix_header_t *h);

/**
 * The code of a CGI "Status:" value: three digits from 100 to 599, alone
 * or followed by a blank and a reason phrase.
 * @return the code, or -1
 */
int fcgix_status_code(const char *value, size_t len);

#endif /* FCGIX_PROTO_H */
