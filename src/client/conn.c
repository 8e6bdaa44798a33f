/*
 * The typed client's front: which implementation a connection uses (the rule
 * in include/gpuplex/client.h, the same for every command), and the public
 * calls, each one line through the connection's table. Never a fallback: once
 * the rule names a daemon, a daemon that does not answer is an error.
 */
#define _GNU_SOURCE
#include "client/conn.h"
#include "client/http.h"
#include "daemon/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Whether a daemon accepts connections on the unix socket at `path` now. */
static int socket_answers(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return 0;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok;
    do
        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    while (!ok && errno == EINTR);
    close(fd);
    return ok;
}

const char *gpx_state_dir(void)
{
    static char buf[PATH_MAX];
    static struct gpxd_config cfg;
    const char *e = getenv("GPUPLEX_STATE_DIR");
    if (e && *e)
        return e;
    /* gpuplexd.conf's state_dir, where the node's config sets one */
    const char *path = getenv("GPUPLEX_CONFIG");
    gpxd_config_defaults(&cfg);
    if (gpxd_config_load(&cfg, path && *path ? path : GPXD_DEFAULT_CONFIG, 0, NULL) == 0 &&
        strcmp(cfg.state_dir, GPXD_DEFAULT_STATE) != 0)
        return cfg.state_dir;
    /* the system's state when it is ours to write, or a daemon owns it */
    int pid = 0;
    if (geteuid() == 0 || access(GPXD_DEFAULT_STATE, W_OK) == 0 ||
        gpx_engine_daemon_owner(GPXD_DEFAULT_STATE, &pid, NULL, 0, NULL) == 1)
        return GPXD_DEFAULT_STATE;
    /* a user without a daemon: a state of their own, as rootless podman keeps */
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/gpuplex", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/state/gpuplex", home);
    else
        snprintf(buf, sizeof buf, "/tmp/gpuplex-state-%u", (unsigned)getuid());
    return buf;
}

int gpx_conn_open(const struct gpx_conn_opts *o, gpx_conn **out, gpx_error *err)
{
    struct gpx_conn_opts none = {0};
    if (!o)
        o = &none;
    gpx_conn *c = calloc(1, sizeof *c);
    if (!c)
        return gpx_error_set(err, GPX_E_NOMEM, "client");
    const char *server = o->server ? o->server : getenv("GPUPLEX_SERVER");
    if (server && !*server)
        server = NULL;
    int forced_local = server && strcmp(server, "none") == 0;
    const char *state = o->state_dir ? o->state_dir : gpx_state_dir();
    snprintf(c->state_dir, sizeof c->state_dir, "%s", state);
    int rc;
    if (server && !forced_local) {
        snprintf(c->why, sizeof c->why, "%s names it", o->server ? "--server" : "GPUPLEX_SERVER");
        rc = gpx__conn_http_open(c, server, o->token, err);
    } else {
        int pid = 0;
        char sock[PATH_MAX] = "";
        int owned = gpx_engine_daemon_owner(state, &pid, sock, sizeof sock, err);
        /* a daemon that has the state but does not listen yet is starting: wait for it */
        for (int i = 0; owned == 1 && !sock[0] && !forced_local && i < 200; i++) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            owned = gpx_engine_daemon_owner(state, &pid, sock, sizeof sock, err);
        }
        if (owned < 0) {
            rc = -1;
        } else if (owned && forced_local) {
            rc = gpx_error_set(err, GPX_E_BUSY,
                               "GPUPLEX_SERVER=none asks for no daemon, but gpuplexd (pid %d) owns "
                               "the state directory %s: unset GPUPLEX_SERVER to use it, or stop it",
                               pid, state);
        } else if (owned) {
            snprintf(c->why, sizeof c->why, "gpuplexd (pid %d) owns the state directory %s", pid,
                     state);
            rc = sock[0] ? gpx__conn_http_open(c, sock, o->token, err)
                         : gpx_error_set(err, GPX_E_IO,
                                         "gpuplexd (pid %d) owns the state directory %s but does "
                                         "not listen yet (starting? hung?)",
                                         pid, state);
        } else if (!forced_local && !getenv("GPUPLEX_STATE_DIR") && !o->state_dir &&
                   socket_answers(GPX_CLIENT_DEFAULT_SOCKET)) {
            snprintf(c->why, sizeof c->why, "gpuplexd answers on the default socket %s",
                     GPX_CLIENT_DEFAULT_SOCKET);
            rc = gpx__conn_http_open(c, GPX_CLIENT_DEFAULT_SOCKET, o->token, err);
        } else {
            snprintf(c->why, sizeof c->why, "%s",
                     forced_local ? "GPUPLEX_SERVER=none" : "no gpuplexd owns the state directory");
            rc = gpx__conn_local_open(c, o, err);
        }
    }
    if (rc < 0) {
        gpx_conn_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void gpx_conn_close(gpx_conn *c)
{
    if (!c)
        return;
    if (c->ops && c->ops->close)
        c->ops->close(c);
    free(c);
}

int gpx_conn_is_daemon(const gpx_conn *c)
{
    return c->daemon;
}

const char *gpx_conn_where(const gpx_conn *c)
{
    return c->where;
}

const char *gpx_conn_why(const gpx_conn *c)
{
    return c->why;
}

const char *gpx_conn_state_dir(const gpx_conn *c)
{
    return c->state_dir;
}

int gpx_lease_create(gpx_conn *c, const struct gpx_lease_spec *s, struct gpx_lease *out,
                     gpx_error *err)
{
    return c->ops->lease_create(c, s, out, err);
}

int gpx_lease_get(gpx_conn *c, const char *id, int turns, struct gpx_lease *out, gpx_error *err)
{
    return c->ops->lease_get(c, id, turns, out, err);
}

int gpx_lease_list(gpx_conn *c, const struct gpx_lease_query *q, struct gpx_lease **out,
                   unsigned *n, gpx_error *err)
{
    return c->ops->lease_list(c, q, out, n, err);
}

int gpx_lease_release(gpx_conn *c, const char *id, struct gpx_lease *out, gpx_error *err)
{
    return c->ops->lease_release(c, id, out, err);
}

int gpx_gpus_list(gpx_conn *c, struct gpx_node *out, gpx_error *err)
{
    return c->ops->gpus(c, out, err);
}

int gpx_usage(gpx_conn *c, const char *tenant, const char *from, const char *to,
              struct gpx_usage *out, gpx_error *err)
{
    return c->ops->usage(c, tenant, NULL, from, to, out, err);
}

int gpx_usage_labeled(gpx_conn *c, const char *tenant, const char *label, const char *from,
                      const char *to, struct gpx_usage *out, gpx_error *err)
{
    return c->ops->usage(c, tenant, label, from, to, out, err);
}

int gpx_whoami(gpx_conn *c, struct gpx_caller *out, gpx_error *err)
{
    return c->ops->whoami(c, out, err);
}

int gpx_health(gpx_conn *c, struct gpx_health *out, gpx_error *err)
{
    return c->ops->health(c, out, err);
}

int gpx_tenant_add(gpx_conn *c, const struct gpx_tenant_req *r, struct gpx_tenant *out,
                   char token[72], gpx_error *err)
{
    return c->ops->tenant_add(c, r, out, token, err);
}

int gpx_tenant_remove(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    return c->ops->tenant_remove(c, name, out, err);
}

int gpx_tenant_token(gpx_conn *c, const char *name, struct gpx_tenant *out, char token[72],
                     gpx_error *err)
{
    return c->ops->tenant_token(c, name, out, token, err);
}

int gpx_tenant_list(gpx_conn *c, struct gpx_tenant **out, unsigned *n, gpx_error *err)
{
    return c->ops->tenant_list(c, out, n, err);
}

int gpx_tenant_get(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    return c->ops->tenant_get(c, name, out, err);
}

int gpx_mig_get(gpx_conn *c, const char *gpu, struct json_t **out, gpx_error *err)
{
    return c->ops->mig_get(c, gpu, out, err);
}

int gpx_mig_set(gpx_conn *c, const char *gpu, const struct gpx_mig_req *r, struct json_t **out,
                gpx_error *err)
{
    return c->ops->mig_apply(c, gpu, r, out, err);
}

int gpx_conn_request(gpx_conn *c, const char *method, const char *path, json_t *body, json_t **out,
                     gpx_error *err)
{
    if (!c->daemon || !c->http)
        return gpx_error_set(err, GPX_E_INVALID,
                             "%s is served by gpuplexd only, and this command uses the %s (%s)",
                             path, c->where, c->why);
    return gpx__conn_http_call(c, method, path, body, out, err);
}
