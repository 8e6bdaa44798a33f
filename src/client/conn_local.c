/*
 * The typed client in-process: the lease engine opened on the state
 * directory for the life of the connection (one CLI command). It reads the
 * same configuration file gpuplexd does (placement, oversubscription, run
 * directory), so that a lease is placed by the same policy either way. The
 * caller is who runs the command: its uid (the state directory's owner is an
 * admin), or the tenant of $GPUPLEX_TOKEN.
 */
#define _GNU_SOURCE
#include "client/conn.h"
#include "daemon/config.h"
#include "engine/views.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void local_close(gpx_conn *c)
{
    gpx_engine_close(c->eng);
    c->eng = NULL;
}

static int lease_create(gpx_conn *c, const struct gpx_lease_spec *s, struct gpx_lease *out,
                        gpx_error *err)
{
    return gpx_engine_lease_create(c->eng, &c->caller, s, out, err);
}

static int lease_get(gpx_conn *c, const char *id, int turns, struct gpx_lease *out, gpx_error *err)
{
    return gpx_engine_lease_get(c->eng, &c->caller, id, turns, out, err);
}

static int lease_list(gpx_conn *c, const struct gpx_lease_query *q, struct gpx_lease **out,
                      unsigned *n, gpx_error *err)
{
    return gpx_engine_lease_list(c->eng, &c->caller, q, out, n, err);
}

static int lease_release(gpx_conn *c, const char *id, struct gpx_lease *out, gpx_error *err)
{
    struct gpx_lease *tmp = out ? out : malloc(sizeof *tmp);
    if (!tmp)
        return gpx_error_set(err, GPX_E_NOMEM, "lease");
    int rc = gpx_engine_lease_release(c->eng, &c->caller, id, tmp, err);
    if (!out)
        free(tmp);
    return rc;
}

static int gpus(gpx_conn *c, struct gpx_node *out, gpx_error *err)
{
    return gpx_engine_gpus(c->eng, &c->caller, out, err);
}

static int usage(gpx_conn *c, const char *tenant, const char *label, const char *from,
                 const char *to, struct gpx_usage *out, gpx_error *err)
{
    int64_t f = 0, t = 0;
    if (from && gpx_parse_time(from, &f, err) < 0)
        return gpx_error_wrap(err, "--from");
    if (to && gpx_parse_time(to, &t, err) < 0)
        return gpx_error_wrap(err, "--to");
    return gpx_engine_usage_labeled(c->eng, &c->caller, tenant, label, f, t, out, err);
}

static int whoami(gpx_conn *c, struct gpx_caller *out, gpx_error *err)
{
    (void)err;
    *out = c->caller;
    return 0;
}

static int health(gpx_conn *c, struct gpx_health *out, gpx_error *err)
{
    (void)err;
    gpx_engine_health(c->eng, c->caller.admin, out);
    return 0;
}

static int need_admin(gpx_conn *c, gpx_error *err)
{
    if (c->caller.admin)
        return 0;
    return gpx_error_set(err, GPX_E_PERM, "managing tenants needs the admin role (you are '%s')",
                         c->caller.tenant);
}

static int tenant_add(gpx_conn *c, const struct gpx_tenant_req *r, struct gpx_tenant *out,
                      char token[72], gpx_error *err)
{
    if (need_admin(c, err) < 0)
        return -1;
    return gpx_engine_tenant_add(c->eng, r, out, token, err);
}

static int tenant_remove(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    if (need_admin(c, err) < 0)
        return -1;
    return gpx_engine_tenant_remove(c->eng, name, out, err);
}

static int tenant_token(gpx_conn *c, const char *name, struct gpx_tenant *out, char token[72],
                        gpx_error *err)
{
    if (need_admin(c, err) < 0)
        return -1;
    return gpx_engine_tenant_new_token(c->eng, name, out, token, err);
}

static int tenant_list(gpx_conn *c, struct gpx_tenant **out, unsigned *n, gpx_error *err)
{
    if (need_admin(c, err) < 0)
        return -1;
    return gpx_engine_tenant_list(c->eng, out, n, err);
}

static int tenant_get(gpx_conn *c, const char *name, struct gpx_tenant *out, gpx_error *err)
{
    return gpx_engine_tenant_get(c->eng, &c->caller, name, out, err);
}

static int mig_get(gpx_conn *c, const char *gpu, json_t **out, gpx_error *err)
{
    struct gpx_mig_view v;
    if (gpx_engine_mig_get(c->eng, &c->caller, gpu, &v, err) < 0)
        return -1;
    *out = gpx_view_mig(&v);
    gpx_mig_view_free(&v);
    return 0;
}

static int mig_apply(gpx_conn *c, const char *gpu, const struct gpx_mig_req *r, json_t **out,
                     gpx_error *err)
{
    if (!c->caller.admin)
        return gpx_error_set(err, GPX_E_PERM,
                             "changing MIG partitions needs the admin role (you are '%s')",
                             c->caller.tenant);
    struct gpx_mig_applied a;
    if (gpx_engine_mig_apply(c->eng, gpu, r, &a, err) < 0)
        return -1;
    *out = gpx_view_mig_applied(&a);
    gpx_mig_applied_free(&a);
    return 0;
}

const struct gpx_conn_ops gpx__conn_local = {
    .name = "local",
    .lease_create = lease_create,
    .lease_get = lease_get,
    .lease_list = lease_list,
    .lease_release = lease_release,
    .gpus = gpus,
    .usage = usage,
    .whoami = whoami,
    .health = health,
    .tenant_add = tenant_add,
    .tenant_remove = tenant_remove,
    .tenant_token = tenant_token,
    .tenant_list = tenant_list,
    .tenant_get = tenant_get,
    .mig_get = mig_get,
    .mig_apply = mig_apply,
    .close = local_close,
};

int gpx__conn_local_open(gpx_conn *c, const struct gpx_conn_opts *o, gpx_error *err)
{
    /*
     * Settings, later wins: defaults; the state's own (<state>/engine.conf: the run
     * directory and policy of the last engine, e.g. a daemon's flags); the node's
     * gpuplexd.conf; GPUPLEX_RUN_DIR when no config file names a run_dir.
     */
    static struct gpxd_config cfg; /* large; one connection per command */
    static char recorded_run[PATH_MAX];
    char conf[PATH_MAX + 16];
    gpxd_config_defaults(&cfg);
    snprintf(conf, sizeof conf, "%s/engine.conf", c->state_dir);
    gpx_error ignore = {0};
    if (gpxd_config_load(&cfg, conf, 0, &ignore) < 0)
        gpxd_config_defaults(&cfg); /* unreadable: as if there were none */
    snprintf(recorded_run, sizeof recorded_run, "%s", cfg.run_dir);
    cfg.run_dir[0] = '\0';
    const char *path = getenv("GPUPLEX_CONFIG");
    if (gpxd_config_load(&cfg, path && *path ? path : GPXD_DEFAULT_CONFIG, path && *path, err) < 0)
        return -1;
    const char *env_run = getenv("GPUPLEX_RUN_DIR");
    struct gpx_engine_opts eo = {
        .state_dir = c->state_dir,
        .run_dir = cfg.run_dir[0]           ? cfg.run_dir
                   : env_run && *env_run    ? env_run
                   : recorded_run[0] == '/' ? recorded_run
                                            : gpx_run_dir(),
        .interposer = o->interposer,
        .placement = cfg.placement,
        .oversubscription = cfg.oversubscription,
        .grace_ms = cfg.grace_ms,
        .max_leases_per_tenant = cfg.max_leases_per_tenant,
        .daemon = 0,
    };
    if (gpx_engine_open(&eo, &c->eng, err) < 0)
        return -1;
    c->ops = &gpx__conn_local;
    c->daemon = 0;
    snprintf(c->where, sizeof c->where, "local engine on %s", c->state_dir);
    const char *token = o->token ? o->token : getenv("GPUPLEX_TOKEN");
    char auth[256];
    if (token && *token)
        snprintf(auth, sizeof auth, "Bearer %s", token);
    if (gpx_engine_authenticate(c->eng, token && *token ? auth : NULL, 1, 1, (uint32_t)getuid(),
                                (int32_t)getpid(), &c->caller, err) < 0)
        return -1;
    c->caller.in_process = 1;
    c->caller.via_unix = 1;
    c->caller.uid = (uint32_t)getuid();
    return 0;
}
