/*
 * Tenants and callers. A caller is identified, in this order, by
 *   1. an "Authorization: Bearer TOKEN" header (any transport): the SHA-256 of
 *      the token is compared, in constant time, with every tenant's stored
 *      digest; the token itself is never stored;
 *   2. on the unix socket, its SO_PEERCRED uid: the built-in tenant "admin"
 *      for uid 0 and the daemon's own uid, always (no tenant may take those
 *      uids, so root can never be locked out), else a tenant registered with
 *      that uid.
 * Anything else is 401 (who are you?); an identified caller doing what its
 * role does not allow is 403 (you may not).
 *
 * A tenant's name is reused only by a new tenant that starts clean: removing
 * a tenant files its leases and usage under "NAME~CREATED_NS" (a name no
 * tenant can take; admins still read it), and a caller authenticated as an
 * earlier tenant of that name can no longer lease (tenant_created_ns).
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "core/sha256.h"
#include "engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static int load_one(const struct gpx_tenant *t, void *arg)
{
    struct gpx_engine *d = arg;
    struct gpx_tenant *n = realloc(d->tenants, (d->n_tenants + 1) * sizeof *n);
    if (!n)
        return 1;
    d->tenants = n;
    d->tenants[d->n_tenants++] = *t;
    return 0;
}

int gpx__tenants_load(struct gpx_engine *d, gpx_error *err)
{
    free(d->tenants);
    d->tenants = NULL;
    d->n_tenants = 0;
    return gpx_store_tenant_each(d->store, load_one, d, err);
}

static void fill_from_tenant(struct gpx_caller *c, const struct gpx_tenant *t)
{
    snprintf(c->tenant, sizeof c->tenant, "%s", t->name);
    c->admin = t->admin;
    c->max_gpus = t->max_gpus;
    c->max_memory = t->max_memory;
    c->max_leases = t->max_leases;
    c->tenant_created_ns = t->created_ns;
}

/* uid 0 and the engine's own uid are the built-in admin's, whatever the tenant table says. */
static int admin_uid(const struct gpx_engine *d, uint32_t uid)
{
    return uid == 0 || uid == (uint32_t)d->self_uid;
}

int gpx_engine_authenticate(struct gpx_engine *d, const char *authorization, int via_unix,
                            int have_cred, uint32_t uid, int32_t pid, struct gpx_caller *c,
                            gpx_error *err)
{
    memset(c, 0, sizeof *c);
    c->via_unix = via_unix;
    c->uid = via_unix && have_cred ? uid : 0;
    c->pid = via_unix && have_cred ? pid : 0;
    if (authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0 || !authorization[7])
            return gpx_error_set(err, GPX_E_UNAUTH,
                                 "the Authorization header must be 'Bearer TOKEN'");
        char hex[2 * GPX_SHA256_LEN + 1];
        gpx_sha256_hex(authorization + 7, hex);
        int found = -1;
        pthread_mutex_lock(&d->lock);
        /* every digest is compared in full: the time does not say which, or where, it differs */
        for (unsigned i = 0; i < d->n_tenants; i++)
            if (gpx_ct_equal(hex, d->tenants[i].token_sha256, (size_t)2 * GPX_SHA256_LEN) &
                (found < 0))
                found = (int)i;
        if (found >= 0) {
            fill_from_tenant(c, &d->tenants[found]);
            if (!(via_unix && have_cred))
                c->uid = d->tenants[found].has_uid ? d->tenants[found].uid : 0;
        }
        pthread_mutex_unlock(&d->lock);
        if (found < 0)
            return gpx_error_set(err, GPX_E_UNAUTH, "invalid token");
        return 0;
    }
    if (via_unix && have_cred && admin_uid(d, uid)) {
        snprintf(c->tenant, sizeof c->tenant, "%s", GPX_BUILTIN_ADMIN);
        c->admin = 1;
        return 0;
    }
    if (via_unix && have_cred) {
        int found = 0;
        pthread_mutex_lock(&d->lock);
        for (unsigned i = 0; i < d->n_tenants && !found; i++)
            if (d->tenants[i].has_uid && d->tenants[i].uid == uid) {
                fill_from_tenant(c, &d->tenants[i]);
                found = 1;
            }
        pthread_mutex_unlock(&d->lock);
        if (found)
            return 0;
        return gpx_error_set(err, GPX_E_UNAUTH,
                             "uid %u is not a tenant of this gpuplexd: ask an admin for a token "
                             "(gpuplex tenant add NAME --uid %u) and set GPUPLEX_TOKEN",
                             uid, uid);
    }
    return gpx_error_set(err, GPX_E_UNAUTH,
                         "authentication required: send 'Authorization: Bearer TOKEN' "
                         "(GPUPLEX_TOKEN)");
}

/* "gpx_" + 64 hex digits of 32 random bytes. */
static int new_token(char out[72], gpx_error *err)
{
    unsigned char r[32];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0)
            return gpx_error_errno(err, GPX_E_INTERNAL, errno, "getrandom");
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "gpx_", 4);
    for (int i = 0; i < 32; i++) {
        out[4 + 2 * i] = hex[r[i] >> 4];
        out[5 + 2 * i] = hex[r[i] & 15];
    }
    out[68] = '\0';
    return 0;
}

static const struct gpx_tenant *find_tenant(struct gpx_engine *d, const char *name)
{
    for (unsigned i = 0; i < d->n_tenants; i++)
        if (strcmp(d->tenants[i].name, name) == 0)
            return &d->tenants[i];
    return NULL;
}

int gpx_engine_tenant_add(struct gpx_engine *d, const struct gpx_tenant_req *r,
                          struct gpx_tenant *out, char token[72], gpx_error *err)
{
    if (strcmp(r->name, GPX_BUILTIN_ADMIN) == 0)
        return gpx_error_set(err, GPX_E_EXISTS, "tenant name '%s' is reserved", r->name);
    if (r->has_uid && admin_uid(d, r->uid))
        return gpx_error_set(err, GPX_E_INVALID,
                             "uid %u is %s, always the built-in admin on the unix socket: no "
                             "tenant may have it (give tenant '%s' another uid, or none and let "
                             "it use its token)",
                             r->uid, r->uid == 0 ? "root" : "the uid gpuplex runs as", r->name);
    struct gpx_tenant t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", r->name);
    t.admin = r->admin;
    t.has_uid = r->has_uid;
    t.uid = r->uid;
    t.max_gpus = r->max_gpus;
    t.max_memory = r->max_memory;
    t.max_leases = r->max_leases;
    t.created_ns = gpx_now_ns();
    if (new_token(token, err) < 0)
        return -1;
    gpx_sha256_hex(token, t.token_sha256);
    pthread_mutex_lock(&d->lock);
    int rc = gpx_store_tenant_insert(d->store, &t, err);
    if (rc == 0)
        rc = gpx__tenants_load(d, err);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0)
        return -1;
    gpx_info("tenant %s added (role %s)", t.name, t.admin ? "admin" : "tenant");
    *out = t;
    return 0;
}

int gpx_engine_tenant_new_token(struct gpx_engine *d, const char *name, struct gpx_tenant *out,
                                char token[72], gpx_error *err)
{
    char hex[2 * GPX_SHA256_LEN + 1];
    if (new_token(token, err) < 0)
        return -1;
    gpx_sha256_hex(token, hex);
    pthread_mutex_lock(&d->lock);
    int rc = gpx_store_tenant_set_token(d->store, name, hex, err);
    if (rc == 0)
        rc = gpx__tenants_load(d, err);
    const struct gpx_tenant *t = rc == 0 ? find_tenant(d, name) : NULL;
    if (t)
        *out = *t;
    pthread_mutex_unlock(&d->lock);
    if (rc < 0)
        return -1;
    if (!t)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
    gpx_info("tenant %s: new token (the old one no longer works)", name);
    return 0;
}

/*
 * The name a removed tenant's history goes by: NAME~CREATED_NS (the name cut to
 * fit), which no tenant can take ('~' is not in a name) and which tells two
 * past tenants of one name apart.
 */
static void past_name(const struct gpx_tenant *t, char out[GPX_NAME_MAX])
{
    char gen[24];
    int n = snprintf(gen, sizeof gen, "~%lld", (long long)t->created_ns);
    snprintf(out, GPX_NAME_MAX, "%.*s%s", GPX_NAME_MAX - 1 - n, t->name, gen);
}

int gpx_engine_tenant_remove(struct gpx_engine *d, const char *name, struct gpx_tenant *out,
                             gpx_error *err)
{
    char past[GPX_NAME_MAX];
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    unsigned held = 0;
    for (unsigned i = 0; i < d->n_leases; i++)
        held += strcmp(d->leases[i]->rec.tenant, name) == 0;
    const struct gpx_tenant *t = find_tenant(d, name);
    if (!t)
        gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
    else if (held)
        gpx_error_set(err, GPX_E_BUSY, "tenant '%s' holds %u active lease%s; release them first",
                      name, held, held == 1 ? "" : "s");
    else {
        *out = *t;
        past_name(t, past);
        rc = gpx_store_tenant_retire(d->store, name, past, err);
        if (rc == 0)
            rc = gpx__tenants_load(d, err);
    }
    pthread_mutex_unlock(&d->lock);
    if (rc == 0)
        gpx_info("tenant %s removed; its lease and usage history is kept as tenant '%s'", name,
                 past);
    return rc;
}

int gpx_engine_tenant_list(struct gpx_engine *d, struct gpx_tenant **out, unsigned *n,
                           gpx_error *err)
{
    pthread_mutex_lock(&d->lock);
    struct gpx_tenant *a = malloc((d->n_tenants ? d->n_tenants : 1) * sizeof *a);
    if (a) {
        if (d->n_tenants) /* tenants is NULL while there are none */
            memcpy(a, d->tenants, d->n_tenants * sizeof *a);
        *n = d->n_tenants;
    }
    pthread_mutex_unlock(&d->lock);
    if (!a)
        return gpx_error_set(err, GPX_E_NOMEM, "tenant list");
    *out = a;
    return 0;
}

int gpx_engine_tenant_get(struct gpx_engine *d, const struct gpx_caller *c, const char *name,
                          struct gpx_tenant *out, gpx_error *err)
{
    if (!c->admin && strcmp(c->tenant, name) != 0)
        return gpx_error_set(err, GPX_E_PERM, "tenant '%s' may read only its own record",
                             c->tenant);
    pthread_mutex_lock(&d->lock);
    const struct gpx_tenant *t = find_tenant(d, name);
    if (t)
        *out = *t;
    pthread_mutex_unlock(&d->lock);
    if (!t)
        return gpx_error_set(err, GPX_E_NOT_FOUND, "no tenant '%s'", name);
    return 0;
}
