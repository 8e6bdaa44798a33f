/*
 * What the client makes of an answer once libcurl has it (client.c) and
 * before the views decode it (conn_http.c): the HTTP status and the body
 * become the body or the daemon's gpx_error, and the body becomes JSON. No
 * libcurl here, so that tests/fuzz/fuzz_client_response.c runs the very code
 * the client runs on any bytes a server may send.
 * Invariants: an error answer is never GPX_E_OK and always has a message;
 * whatever the body holds (no JSON, NULs, another shape), nothing is trusted.
 */
#define _GNU_SOURCE
#include "client/http.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static enum gpx_code code_by_name(const char *name, long status)
{
    for (int i = 1; i < GPX_E__COUNT; i++) /* never OK: this is a failed request */
        if (name && strcmp(gpx_error_name((enum gpx_code)i), name) == 0)
            return (enum gpx_code)i;
    switch (status) {
    case 400:
        return GPX_E_INVALID;
    case 401:
        return GPX_E_UNAUTH;
    case 403:
        return GPX_E_PERM;
    case 404:
        return GPX_E_NOT_FOUND;
    case 405:
        return GPX_E_METHOD;
    case 409:
        return GPX_E_BUSY;
    case 413:
        return GPX_E_TOO_LARGE;
    default:
        return GPX_E_INTERNAL;
    }
}

/* The daemon's message is printed on a terminal: no control characters from a server. */
static void printable(gpx_error *err)
{
    for (char *p = err ? err->msg : NULL; p && *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
}

int gpx__client_answer(long status, char *body, size_t len, char **resp, gpx_error *err)
{
    if (resp)
        *resp = NULL;
    if (status >= 200 && status < 300) {
        if (!resp)
            free(body);
        else if (!(*resp = body ? body : strdup("")))
            return gpx_error_set(err, GPX_E_NOMEM, "answer");
        return 0;
    }
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(json_object_get(j, "error"), "code");
    json_t *m = json_object_get(json_object_get(j, "error"), "message");
    enum gpx_code code = code_by_name(json_string_value(e), status);
    const char *msg = json_string_value(m);
    if (msg && *msg) {
        gpx_error_set(err, code, "%s", msg);
        printable(err);
    } else {
        gpx_error_set(err, code, "gpuplexd answered HTTP %ld", status);
    }
    json_decref(j);
    free(body);
    return -1;
}

int gpx__client_json(const char *server, char *resp, json_t **out, gpx_error *err)
{
    json_error_t je;
    json_t *j = json_loads(resp ? resp : "null", JSON_DECODE_ANY, &je);
    free(resp);
    if (!j)
        return gpx_error_set(err, GPX_E_IO, "gpuplexd at %s sent invalid JSON: %s", server,
                             je.text);
    if (out)
        *out = j;
    else
        json_decref(j);
    return 0;
}
