/*
 * The client's VM calls (include/gpuplex/client.h): /v1/vms through the
 * connection's one request function. A VM outlives any one command, so only
 * gpuplexd serves them (the in-process connection answers INVALID).
 */
#include "gpuplex/client.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* An id as one path segment, or INVALID. */
static int vm_path(const char *id, char *path, size_t len, gpx_error *err)
{
    size_t n = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    if (n == 0 || n >= 64 || id[n] != '\0')
        return gpx_error_set(err, GPX_E_INVALID,
                             "invalid VM ID '%.64s' (vm-... from 'gpuplex vm ls')", id);
    snprintf(path, len, "/v1/vms/%s", id);
    return 0;
}

int gpx_vm_create(gpx_conn *c, json_t *request, json_t **out, gpx_error *err)
{
    int rc = gpx_conn_request(c, "POST", "/v1/vms", request, out, err);
    json_decref(request);
    return rc;
}

int gpx_vm_list(gpx_conn *c, json_t **out, gpx_error *err)
{
    return gpx_conn_request(c, "GET", "/v1/vms", NULL, out, err);
}

int gpx_vm_get(gpx_conn *c, const char *id, json_t **out, gpx_error *err)
{
    char path[96];
    if (vm_path(id, path, sizeof path, err) < 0)
        return -1;
    return gpx_conn_request(c, "GET", path, NULL, out, err);
}

int gpx_vm_remove(gpx_conn *c, const char *id, json_t **out, gpx_error *err)
{
    char path[96];
    if (vm_path(id, path, sizeof path, err) < 0)
        return -1;
    return gpx_conn_request(c, "DELETE", path, NULL, out, err);
}
