/*
 * gpx_error implementation: formatting and the tables generated from
 * GPX_ERRORS. Messages are truncated, never overflowed; a NULL `err` is
 * accepted everywhere so that callers that do not care can pass NULL.
 */
#include "gpuplex/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int exit_status;
    int http_status;
    const char *msg;
} table[] = {
#define GPX__ROW(name, exit, http, msg) {#name, exit, http, msg},
    GPX_ERRORS(GPX__ROW)
#undef GPX__ROW
};

static int valid(enum gpx_code code)
{
    return (unsigned)code < (unsigned)GPX_E__COUNT;
}

int gpx_error_set(gpx_error *err, enum gpx_code code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int gpx_error_errno(gpx_error *err, enum gpx_code code, int errnum, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
    return -1;
}

int gpx_error_wrap(gpx_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char ctx[GPX_ERROR_MSG_MAX];
    char old[GPX_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* truncation is intended: the message is cut, never overflowed */
    size_t n = strnlen(ctx, sizeof ctx - 1);
    memcpy(err->msg, ctx, n);
    if (n + 2 < sizeof err->msg) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        size_t rest = strnlen(old, sizeof old - 1);
        if (rest > sizeof err->msg - 1 - n)
            rest = sizeof err->msg - 1 - n;
        memcpy(err->msg + n, old, rest);
        n += rest;
    }
    err->msg[n] = '\0';
    return -1;
}

void gpx_error_clear(gpx_error *err)
{
    if (!err)
        return;
    err->code = GPX_E_OK;
    err->msg[0] = '\0';
}

const char *gpx_error_name(enum gpx_code code)
{
    return valid(code) ? table[code].name : "UNKNOWN";
}

const char *gpx_error_default(enum gpx_code code)
{
    return valid(code) ? table[code].msg : "unknown error";
}

int gpx_error_exit_status(enum gpx_code code)
{
    return valid(code) ? table[code].exit_status : 1;
}

int gpx_error_http_status(enum gpx_code code)
{
    return valid(code) ? table[code].http_status : 500;
}
