/*
 * gpx_error: the one error type of gpuplex.
 *
 * Every function that can fail takes a `gpx_error *err` as its last argument,
 * returns a negative value on failure and fills `err` with a code and a
 * message. Callers add context on the way up with gpx_error_wrap(); the
 * error is reported once, at the top (the CLI prints one line and exits with
 * the code's exit status; the daemon answers HTTP status + JSON).
 *
 * GPX_ERRORS is the single table: code, name, CLI exit status, HTTP status,
 * default message. Everything else is generated from it so they cannot drift.
 */
#ifndef GPUPLEX_ERROR_H
#define GPUPLEX_ERROR_H

#include <stddef.h>

/*      name          exit http default message */
#define GPX_ERRORS(X)                                                                              \
    X(OK, 0, 200, "success")                                                                       \
    X(INTERNAL, 1, 500, "internal error")                                                          \
    X(USAGE, 2, 400, "invalid usage")                                                              \
    X(INVALID, 2, 400, "invalid argument")                                                         \
    X(NO_DRIVER, 3, 503, "GPU driver library not found")                                           \
    X(NO_GPU, 3, 503, "no GPU found")                                                              \
    X(DRIVER, 4, 502, "GPU driver call failed")                                                    \
    X(NOT_FOUND, 5, 404, "not found")                                                              \
    X(EXISTS, 6, 409, "already exists")                                                            \
    X(BUSY, 6, 409, "resource busy")                                                               \
    X(NO_SPACE, 7, 409, "does not fit")                                                            \
    X(STATE, 8, 500, "state file invalid")                                                         \
    X(IO, 9, 500, "input/output error")                                                            \
    X(PERM, 10, 403, "permission denied")                                                          \
    X(UNAUTH, 10, 401, "authentication required")                                                  \
    X(NOMEM, 1, 500, "out of memory")                                                              \
    X(TOO_LARGE, 2, 413, "request too large")                                                      \
    X(METHOD, 2, 405, "method not allowed")

enum gpx_code {
#define GPX__ENUM(name, exit, http, msg) GPX_E_##name,
    GPX_ERRORS(GPX__ENUM)
#undef GPX__ENUM
        GPX_E__COUNT
};

#define GPX_ERROR_MSG_MAX 512

typedef struct gpx_error {
    enum gpx_code code;
    char msg[GPX_ERROR_MSG_MAX];
} gpx_error;

/* Sets `err` (may be NULL) to `code` and a printf-formatted message; returns -1. */
int gpx_error_set(gpx_error *err, enum gpx_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like gpx_error_set, appending ": strerror(errnum)". */
int gpx_error_errno(gpx_error *err, enum gpx_code code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepends "context: " to the message, keeps the code; returns -1. */
int gpx_error_wrap(gpx_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gpx_error_clear(gpx_error *err);

const char *gpx_error_name(enum gpx_code code);    /* "NOT_FOUND" */
const char *gpx_error_default(enum gpx_code code); /* "not found" */
int gpx_error_exit_status(enum gpx_code code);     /* CLI exit status */
int gpx_error_http_status(enum gpx_code code);     /* HTTP status */

#endif
