/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ctl.c
 * @brief The control protocol between the handlers and the process
 *        manager: parsers and encoders of its lines (fcgi_ctl.h).
 *
 * The parsers run on bytes from any local process of the User, so they
 * look at each byte once, in order, never past @len, and stop at the
 * first defect. The encoders check their fields with the same functions
 * the parsers use, so that they produce only lines the parsers accept.
 */

#include <string.h>

#include "fcgi_ctl.h"

typedef struct {
    const char *name;
    size_t len;
    int code;
} word_t;

#define WORD(s, c)                                                             \
    {                                                                          \
        s, sizeof(s) - 1, c                                                    \
    }

static const word_t requests[] = {
    WORD("TICK", FCGIX_CTL_TICK),
    WORD("START", FCGIX_CTL_START),
    WORD("STARTAS", FCGIX_CTL_STARTAS),
    WORD("STARTC", FCGIX_CTL_STARTC),
};

static const word_t answers[] = {
    WORD("OK", FCGIX_CTL_OK),
    WORD("BUSY", FCGIX_CTL_BUSY),
    WORD("FAIL", FCGIX_CTL_FAIL),
};

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

/* NUL, CR and LF are never inside a line: a NUL would cut the C string
 * the PM makes of a field, a CR or LF would end it early or make two
 * lines of one. Other control characters may be in a file name; the log
 * escapes them (httpd's error log escapes every message). */
static int breaks_line(unsigned char c)
{
    return c == '\0' || c == '\r' || c == '\n';
}

/* The length of the first line with its newline; FCGIX_CTL_AGAIN while
 * none is complete. A NUL or CR, or a missing newline within @max
 * bytes, is a defect as soon as it is seen, whatever follows. */
static long find_line(const char *buf, size_t len, size_t max)
{
    size_t i, n = len < max ? len : max;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n') {
            return (long)i + 1;
        }
        if (breaks_line(c)) {
            return FCGIX_CTL_ECHAR;
        }
    }
    return len >= max ? FCGIX_CTL_ELONG : FCGIX_CTL_AGAIN;
}

/* Length of the field at @s: up to the next space or @end. */
static size_t field_len(const char *s, const char *end)
{
    const char *sp = memchr(s, ' ', (size_t)(end - s));

    return sp ? (size_t)(sp - s) : (size_t)(end - s);
}

static int lookup(const word_t *words, size_t n, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (words[i].len == len && memcmp(words[i].name, s, len) == 0) {
            return words[i].code;
        }
    }
    return 0;
}

/* The opening of one line. */
typedef struct {
    const char *end;  /* its newline */
    const char *args; /* its fields, after one space; NULL: none */
    int word;         /* its first word, looked up; 0: unknown */
} line_t;

/* Finds the line at @buf (up to @max bytes with its newline) and looks up
 * its first word in @words. Returns what find_line does. */
static long open_line(const char *buf, size_t len, size_t max,
                      const word_t *words, size_t nwords, line_t *line)
{
    long n = find_line(buf, len, max);
    size_t wlen;

    if (n <= 0) {
        return n;
    }
    line->end = buf + n - 1;
    wlen = field_len(buf, line->end);
    line->word = lookup(words, nwords, buf, wlen);
    line->args = buf + wlen == line->end ? NULL : buf + wlen + 1;
    return n;
}

static int has_line_break(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (breaks_line((unsigned char)s[i])) {
            return 1;
        }
    }
    return 0;
}

/* A non-empty field of at most @max bytes with no line break in it;
 * @too_long is the defect when it is longer. */
static int check_text(const char *s, size_t n, size_t max, int too_long)
{
    if (n == 0) {
        return FCGIX_CTL_ESYNTAX;
    }
    if (has_line_break(s, n)) {
        return FCGIX_CTL_ECHAR;
    }
    return n > max ? too_long : 0;
}

static int check_path(const char *s, size_t n)
{
    int rc = check_text(s, n, FCGIX_CTL_PATH_MAX, FCGIX_CTL_EPATHLEN);

    if ((rc == 0 || rc == FCGIX_CTL_EPATHLEN) && s[0] != '/') {
        rc = FCGIX_CTL_ERELATIVE; /* named before the length, as always */
    }
    return rc;
}

/* A portable user or group name, or a number; never an option. */
static int check_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > FCGIX_CTL_NAME_MAX || s[0] == '-') {
        return FCGIX_CTL_ENAME;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return FCGIX_CTL_ENAME;
        }
    }
    return 0;
}

static int check_why(const char *s, size_t n)
{
    return check_text(s, n, FCGIX_CTL_WHY_MAX, FCGIX_CTL_EWHY);
}

/* Decimal without sign or leading zero, 0..@max (@max below 10^6);
 * @bad is the defect otherwise. */
static int parse_decimal(const char *s, size_t n, long max, int bad, long *out)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 6 || (n > 1 && s[0] == '0')) {
        return bad;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return bad;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) {
        return bad;
    }
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, size_t n, int *out)
{
    long v;
    int rc = parse_decimal(s, n, FCGIX_CTL_BUSY_MAX_S, FCGIX_CTL_ENUMBER, &v);

    if (rc == 0) {
        *out = (int)v;
    }
    return rc;
}

static int parse_index(const char *s, size_t n, unsigned *out)
{
    long v;
    int rc = parse_decimal(s, n, FCGIX_CTL_INDEX_MAX, FCGIX_CTL_EINDEX, &v);

    if (rc == 0) {
        *out = (unsigned)v;
    }
    return rc;
}

/* "x" or "f" */
static int parse_vocab(const char *s, size_t n, int *out)
{
    if (n != 1 || (s[0] != 'x' && s[0] != 'f')) {
        return FCGIX_CTL_EINDEX;
    }
    *out = s[0] == 'x' ? FCGIX_CTL_VOCAB_FASTCGI : FCGIX_CTL_VOCAB_FCGID;
    return 0;
}

static void copy_field(char *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* The first @n space-separated fields of [s, end) in @f and @flen, and
 * the rest (the path, to the end of the line) in *@rest; FCGIX_CTL_ESYNTAX
 * when the line ends before. */
static int split_fields(const char *s, const char *end, int n, const char **f,
                        size_t *flen, const char **rest)
{
    int i;

    for (i = 0; i < n; i++) {
        f[i] = s;
        flen[i] = field_len(s, end);
        if (s + flen[i] == end) {
            return FCGIX_CTL_ESYNTAX;
        }
        s += flen[i] + 1;
    }
    *rest = s;
    return 0;
}

/* "<user> <group> <path>" of STARTAS, in [s, end). */
static int parse_startas(const char *s, const char *end,
                         fcgix_ctl_request_t *req)
{
    const char *f[2], *p;
    size_t flen[2];
    int rc;

    if ((rc = split_fields(s, end, 2, f, flen, &p)) != 0
        || (rc = check_name(f[0], flen[0])) != 0
        || (rc = check_name(f[1], flen[1])) != 0
        || (rc = check_path(p, (size_t)(end - p))) != 0) {
        return rc;
    }
    copy_field(req->user, f[0], flen[0]);
    copy_field(req->group, f[1], flen[1]);
    copy_field(req->path, p, (size_t)(end - p));
    return 0;
}

static int is_none(const char *s, size_t n)
{
    return n == 1 && s[0] == '-';
}

/* STARTC's "<user> <group>": both "-", or a name (after an optional "~")
 * and a name. */
static int parse_identity(const char *u, size_t ulen, const char *g,
                          size_t glen, fcgix_ctl_request_t *req)
{
    int rc;

    if (is_none(u, ulen) || is_none(g, glen)) {
        return is_none(u, ulen) && is_none(g, glen) ? 0 : FCGIX_CTL_ENAME;
    }
    if (ulen > 0 && u[0] == '~') {
        req->userdir = 1;
        u++;
        ulen--;
    }
    if ((rc = check_name(u, ulen)) != 0 || (rc = check_name(g, glen)) != 0) {
        return rc;
    }
    copy_field(req->user, u, ulen);
    copy_field(req->group, g, glen);
    return 0;
}

/* "<vocab> <tenant> <cmd> <user> <group> <path>" of STARTC, in
 * [s, end); the fields are checked in their order. */
static int parse_startc(const char *s, const char *end,
                        fcgix_ctl_request_t *req)
{
    const char *f[5], *p;
    size_t flen[5];
    int rc;

    if ((rc = split_fields(s, end, 5, f, flen, &p)) != 0
        || (rc = parse_vocab(f[0], flen[0], &req->vocab)) != 0
        || (rc = parse_index(f[1], flen[1], &req->tenant)) != 0
        || (rc = parse_index(f[2], flen[2], &req->cmd)) != 0
        || (rc = parse_identity(f[3], flen[3], f[4], flen[4], req)) != 0
        || (rc = check_path(p, (size_t)(end - p))) != 0) {
        return rc;
    }
    copy_field(req->path, p, (size_t)(end - p));
    return 0;
}

/* The fields after the verb, in [s, end); @s is end when there are
 * none. */
static int parse_request_args(int verb, const char *s, const char *end,
                              fcgix_ctl_request_t *req)
{
    int rc;

    switch (verb) {
    case FCGIX_CTL_TICK:
        return s == end ? 0 : FCGIX_CTL_ESYNTAX;
    case FCGIX_CTL_START:
        if ((rc = check_path(s, (size_t)(end - s))) != 0) {
            return rc;
        }
        copy_field(req->path, s, (size_t)(end - s));
        return 0;
    case FCGIX_CTL_STARTAS:
        return parse_startas(s, end, req);
    default:
        return parse_startc(s, end, req);
    }
}

long fcgix_ctl_parse_request(const char *buf, size_t len,
                             fcgix_ctl_request_t *req)
{
    line_t line;
    long n = open_line(buf, len, FCGIX_CTL_REQUEST_MAX, requests,
                       NWORDS(requests), &line);
    int rc;

    if (n <= 0) {
        return n;
    }
    req->verb = line.word;
    req->path[0] = req->user[0] = req->group[0] = '\0';
    req->tenant = req->cmd = 0;
    req->userdir = 0;
    /* START and STARTAS are STARTC in the FastCgi vocabulary. */
    req->vocab = req->verb == FCGIX_CTL_TICK ? 0 : FCGIX_CTL_VOCAB_FASTCGI;
    if (req->verb == 0) {
        return FCGIX_CTL_EVERB;
    }
    /* TICK ends the line; every other verb has fields (and they decide
     * what follows). */
    if ((line.args == NULL) != (req->verb == FCGIX_CTL_TICK)) {
        return FCGIX_CTL_ESYNTAX;
    }
    rc = parse_request_args(req->verb, line.args ? line.args : line.end,
                            line.end, req);
    return rc != 0 ? rc : n;
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */
/* ------------------------------------------------------------------ */

static int parse_answer_args(int kind, const char *s, const char *end,
                             fcgix_ctl_answer_t *ans)
{
    size_t slen;
    int rc;

    if (kind == FCGIX_CTL_BUSY) {
        slen = field_len(s, end);
        if (s + slen == end) {
            return FCGIX_CTL_ESYNTAX; /* no reason */
        }
        if ((rc = parse_seconds(s, slen, &ans->seconds)) != 0) {
            return rc;
        }
        s += slen + 1;
    }
    if ((rc = check_why(s, (size_t)(end - s))) != 0) {
        return rc;
    }
    copy_field(ans->why, s, (size_t)(end - s));
    return 0;
}

long fcgix_ctl_parse_answer(const char *buf, size_t len,
                            fcgix_ctl_answer_t *ans)
{
    line_t line;
    long n = open_line(buf, len, FCGIX_CTL_ANSWER_MAX, answers, NWORDS(answers),
                       &line);
    int rc;

    if (n <= 0) {
        return n;
    }
    ans->kind = line.word;
    ans->seconds = 0;
    ans->why[0] = '\0';
    if (ans->kind == 0) {
        return FCGIX_CTL_EVERB;
    }
    /* OK ends the line; every other answer has fields. */
    if ((line.args == NULL) != (ans->kind == FCGIX_CTL_OK)) {
        return FCGIX_CTL_ESYNTAX;
    }
    if (ans->kind == FCGIX_CTL_OK) {
        return n;
    }
    rc = parse_answer_args(ans->kind, line.args, line.end, ans);
    return rc != 0 ? rc : n;
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */
/* ------------------------------------------------------------------ */

/* Append @n bytes of @s at *@pos if they fit. */
static int put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (n > cap - *pos) {
        return -1;
    }
    memcpy(buf + *pos, s, n);
    *pos += n;
    return 0;
}

/* Fields joined by single spaces, then the newline. */
static long put_line(char *buf, size_t cap, const char *const *fields,
                     int nfields)
{
    size_t pos = 0;
    int i;

    for (i = 0; i < nfields; i++) {
        if ((i > 0 && put(buf, cap, &pos, " ", 1) != 0)
            || put(buf, cap, &pos, fields[i], strlen(fields[i])) != 0) {
            return FCGIX_CTL_ESPACE;
        }
    }
    if (put(buf, cap, &pos, "\n", 1) != 0) {
        return FCGIX_CTL_ESPACE;
    }
    return (long)pos;
}

/* Canonical decimal of @v in @digits (8 bytes), written backwards: no
 * locale, no printf. @return where it starts. */
static const char *put_decimal(char *digits, unsigned long v)
{
    int i = 7;

    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && i > 0);
    return digits + i;
}

long fcgix_ctl_put_tick(char *buf, size_t cap)
{
    const char *f[] = {"TICK"};

    return put_line(buf, cap, f, 1);
}

long fcgix_ctl_put_start(char *buf, size_t cap, const char *path)
{
    const char *f[] = {"START", path};
    int rc = check_path(path, strlen(path));

    return rc != 0 ? rc : put_line(buf, cap, f, 2);
}

long fcgix_ctl_put_startas(char *buf, size_t cap, const char *user,
                           const char *group, const char *path)
{
    const char *f[] = {"STARTAS", user, group, path};
    int rc;

    if ((rc = check_name(user, strlen(user))) != 0
        || (rc = check_name(group, strlen(group))) != 0
        || (rc = check_path(path, strlen(path))) != 0) {
        return rc;
    }
    return put_line(buf, cap, f, 4);
}

/* STARTC's user: a name, or "~" and a name. */
static int check_user(const char *user)
{
    if (user[0] == '~') {
        user++;
    }
    return check_name(user, strlen(user));
}

long fcgix_ctl_put_startc(char *buf, size_t cap, int vocab, unsigned tenant,
                          unsigned cmd, const char *user, const char *group,
                          const char *path)
{
    char t[8], c[8];
    const char *f[] = {"STARTC",
                       vocab == FCGIX_CTL_VOCAB_FCGID ? "f" : "x",
                       put_decimal(t, tenant),
                       put_decimal(c, cmd),
                       user ? user : "-",
                       group ? group : "-",
                       path};
    int rc;

    if ((vocab != FCGIX_CTL_VOCAB_FASTCGI && vocab != FCGIX_CTL_VOCAB_FCGID)
        || tenant > FCGIX_CTL_INDEX_MAX || cmd > FCGIX_CTL_INDEX_MAX) {
        return FCGIX_CTL_EINDEX;
    }
    if ((user == NULL) != (group == NULL)) {
        return FCGIX_CTL_ENAME;
    }
    if ((user
         && ((rc = check_user(user)) != 0
             || (rc = check_name(group, strlen(group))) != 0))
        || (rc = check_path(path, strlen(path))) != 0) {
        return rc;
    }
    return put_line(buf, cap, f, 7);
}

/* STARTC from parsed fields: "" for none, the "~" put back. */
static long put_startc_request(char *buf, size_t cap,
                               const fcgix_ctl_request_t *req)
{
    char user[FCGIX_CTL_NAME_MAX + 2];
    int none = req->user[0] == '\0' && req->group[0] == '\0';

    if ((none && req->userdir) || strlen(req->user) > FCGIX_CTL_NAME_MAX) {
        return FCGIX_CTL_ENAME;
    }
    user[0] = '~';
    strcpy(user + 1, req->user);
    return fcgix_ctl_put_startc(buf, cap, req->vocab, req->tenant, req->cmd,
                                none ? NULL : user + !req->userdir,
                                none ? NULL : req->group, req->path);
}

long fcgix_ctl_put_request(char *buf, size_t cap,
                           const fcgix_ctl_request_t *req)
{
    switch (req->verb) {
    case FCGIX_CTL_TICK:
        return fcgix_ctl_put_tick(buf, cap);
    case FCGIX_CTL_START:
        return fcgix_ctl_put_start(buf, cap, req->path);
    case FCGIX_CTL_STARTAS:
        return fcgix_ctl_put_startas(buf, cap, req->user, req->group,
                                     req->path);
    case FCGIX_CTL_STARTC:
        return put_startc_request(buf, cap, req);
    default:
        return FCGIX_CTL_EVERB;
    }
}

long fcgix_ctl_put_ok(char *buf, size_t cap)
{
    const char *f[] = {"OK"};

    return put_line(buf, cap, f, 1);
}

long fcgix_ctl_put_busy(char *buf, size_t cap, int seconds, const char *why)
{
    char digits[8];
    const char *f[] = {"BUSY", NULL, why};
    int rc = check_why(why, strlen(why));

    if (seconds < 0 || seconds > FCGIX_CTL_BUSY_MAX_S) {
        return FCGIX_CTL_ENUMBER;
    }
    if (rc != 0) {
        return rc;
    }
    f[1] = put_decimal(digits, (unsigned long)seconds);
    return put_line(buf, cap, f, 3);
}

long fcgix_ctl_put_fail(char *buf, size_t cap, const char *why)
{
    const char *f[] = {"FAIL", why};
    int rc = check_why(why, strlen(why));

    return rc != 0 ? rc : put_line(buf, cap, f, 2);
}

long fcgix_ctl_put_answer(char *buf, size_t cap, const fcgix_ctl_answer_t *ans)
{
    switch (ans->kind) {
    case FCGIX_CTL_OK:
        return fcgix_ctl_put_ok(buf, cap);
    case FCGIX_CTL_BUSY:
        return fcgix_ctl_put_busy(buf, cap, ans->seconds, ans->why);
    case FCGIX_CTL_FAIL:
        return fcgix_ctl_put_fail(buf, cap, ans->why);
    default:
        return FCGIX_CTL_EVERB;
    }
}

/* ------------------------------------------------------------------ */
/* Misc                                                                */
/* ------------------------------------------------------------------ */

const char *fcgix_ctl_strerror(long code)
{
    static const char *const text[] = {
        [-FCGIX_CTL_AGAIN] = "incomplete line",
        [-FCGIX_CTL_ELONG] = "line too long",
        [-FCGIX_CTL_ECHAR] = "NUL, CR or LF inside the line",
        [-FCGIX_CTL_EVERB] = "unknown verb",
        [-FCGIX_CTL_ESYNTAX] = "malformed line",
        [-FCGIX_CTL_ERELATIVE] = "not an absolute path",
        [-FCGIX_CTL_EPATHLEN] = "path too long",
        [-FCGIX_CTL_ENAME] = "bad user or group name",
        [-FCGIX_CTL_ENUMBER] = "bad number of seconds",
        [-FCGIX_CTL_EWHY] = "reason too long",
        [-FCGIX_CTL_ESPACE] = "buffer too small",
        [-FCGIX_CTL_EINDEX] = "bad vocabulary, tenant or command",
    };

    if (code > 0) {
        return "no error";
    }
    if (code <= -(long)(sizeof(text) / sizeof(text[0]))) {
        return "unknown error";
    }
    return text[-code];
}

int fcgix_ctl_peer_allowed(unsigned long peer_uid, unsigned long own_uid)
{
    return peer_uid == 0 || peer_uid == own_uid;
}
