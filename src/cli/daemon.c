/*
 * The CLI's side of gpuplexd: open a client for --server / GPUPLEX_SERVER /
 * the default socket, make a JSON call, print JSON. Commands that go
 * through the daemon (status, usage, tenant, and lease/run when a daemon is
 * configured) share these so they report errors and exit statuses alike.
 */
#include "cli/cli.h"
#include "gpuplex/client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gpx_cli_client(const char *server, struct gpx_client **out, gpx_error *err)
{
    return gpx_client_new(server, NULL, out, err);
}

int gpx_cli_call(struct gpx_client *c, const char *method, const char *path, struct json_t *body,
                 struct json_t **out, gpx_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return gpx_error_set(err, GPX_E_NOMEM, "request");
    int status;
    char *resp = NULL;
    int rc = gpx_client_request(c, method, path, text, &status, &resp, err);
    free(text);
    if (rc < 0)
        return -1;
    json_error_t je;
    json_t *j = json_loads(resp, JSON_DECODE_ANY, &je);
    free(resp);
    if (!j)
        return gpx_error_set(err, GPX_E_IO, "gpuplexd at %s sent invalid JSON: %s",
                             gpx_client_server(c), je.text);
    if (out)
        *out = j;
    else
        json_decref(j);
    return 0;
}

void gpx_cli_print_json(struct json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (s)
        puts(s);
    free(s);
}

void gpx_cli_query_append(char *buf, size_t len, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (!value || n + 1 >= len)
        return;
    n += (size_t)snprintf(buf + n, len - n, "%c%s=", strchr(buf, '?') ? '&' : '?', name);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            buf[n++] = (char)*p;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[*p >> 4];
            buf[n++] = hex[*p & 15];
        }
    }
    buf[n < len ? n : len - 1] = '\0';
}
