/*
 * Managed containers (docs/containers.md, "Managed containers"): a tenant asks
 * gpuplexd to run an image; gpuplexd makes one lease per replica (through the
 * engine, as the tenant: its limits apply) and runs each replica with podman
 * under its lease's CDI device (gpuplex.dev/gpu=lease-<id>, in the spec the
 * CDI writer keeps current as an observer of the engine).
 *
 * A replica's podman container is named gpuplex-<container id>-<replica> and
 * labelled gpuplex.container / gpuplex.replica. A supervisor thread lists
 * podman's labelled containers every second: a replica that exited non-zero
 * under restart=on-failure is started again (`podman start`: the same
 * container, the same lease) after a backoff, at most MAX_RESTARTS times;
 * one that exited otherwise (or vanished) has its lease released. The
 * records live in the engine's store (the containers table), so a restarted
 * gpuplexd re-attaches: containers run detached under conmon and outlive it.
 *
 * Locking: `lock` guards the list and the records; podman runs without it
 * (a container being created or removed is marked busy meanwhile). The
 * engine's lock is taken inside ours, never the other way round.
 */
#define _GNU_SOURCE
#include "core/log.h"
#include "daemon/daemon.h"
#include "engine/views.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONTAINERS 256
#define MAX_REPLICAS   16
#define MAX_RESTARTS   5
#define MAX_ARGS       64
#define MAX_ENV        64
#define LOG_MAX        (256 * 1024) /* bytes of logs an answer carries (the last ones) */
#define PODMAN_TIMEOUT 120          /* seconds: a podman run may pull or copy a large image */
#define POLL_TIMEOUT   15

struct replica {
    char name[96];    /* podman container name */
    char lease[64];   /* its lease */
    char state[16];   /* creating, running, restarting, exited, missing, stopped */
    char reason[192]; /* why it is no longer running, when that is not plain (else "") */
    int exit_code;    /* -1: not known */
    unsigned restarts;
    int released;       /* its lease was released */
    int64_t restart_at; /* restarting: when (CLOCK_REALTIME ns) */
};

struct container {
    char id[32];
    char tenant[GPX_NAME_MAX];
    char image[512];
    json_t *command, *env, *lease; /* as given */
    int on_failure;
    unsigned replicas;
    int64_t created_ns;
    int busy;           /* podman is creating or removing it: the supervisor leaves it alone */
    int64_t settled_ns; /* when it last stopped being busy (gpx_now_ns) */
    struct replica rep[MAX_REPLICAS];
};

struct gpxd_containers {
    struct gpxd *d;
    pthread_mutex_t lock;
    struct container *c[MAX_CONTAINERS];
    unsigned n;
    pthread_t th;
    pthread_cond_t cond;
    int started, stopping;
};

/* The supervisor acts as this (it releases the leases of exited replicas). */
static const struct gpx_caller supervisor = {.tenant = "gpuplexd", .admin = 1};

/*
 * Set by the lease observer when a managed replica's lease is released, by
 * anyone (the supervisor's own releases too); the supervisor then looks for
 * replicas whose lease ended under them (lease_ended()). Process-wide, not in
 * gpxd_containers: the engine calls its observers until it closes, after
 * gpxd_containers_close has freed that. 1 at start: a lease released while
 * no gpuplexd ran is found by the first tick.
 */
static atomic_int managed_lease_ended = 1;

/* --- podman ----------------------------------------------------------------------------------- */

/* Appends n bytes to a buffer that keeps only the last `max` bytes. */
static void keep_tail(char **buf, size_t *len, size_t max, const char *p, size_t n)
{
    if (!*buf && !(*buf = malloc(max + 1)))
        return;
    if (n >= max) {
        memcpy(*buf, p + n - max, max);
        *len = max;
    } else {
        if (*len + n > max) {
            size_t drop = *len + n - max;
            memmove(*buf, *buf + drop, *len - drop);
            *len -= drop;
        }
        memcpy(*buf + *len, p, n);
        *len += n;
    }
    (*buf)[*len] = '\0';
}

/*
 * Runs podman (the configured binary and podman_args) with args; *out gets
 * its stdout (and stderr when merge; else *errout gets stderr), the last
 * `max` bytes, NUL-terminated. Returns its exit status, or -1 (err set) when
 * it could not run or ran past `timeout_s` (then it is killed).
 */
static int podman(const struct gpxd *d, const char *const *args, int merge, size_t max,
                  int timeout_s, char **out, char **errout, gpx_error *err)
{
    char extra[PATH_MAX];
    snprintf(extra, sizeof extra, "%s", d->cfg.podman_args);
    char *argv[32 + MAX_ARGS + 2 * MAX_ENV + 32];
    unsigned n = 0;
    argv[n++] = (char *)d->cfg.podman;
    char *save = NULL;
    for (char *t = strtok_r(extra, " \t", &save); t && n < 32; t = strtok_r(NULL, " \t", &save))
        argv[n++] = t;
    for (unsigned i = 0; args[i] && n < sizeof argv / sizeof argv[0] - 1; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return gpx_error_set(err, GPX_E_IO, "pipe: %s", strerror(errno));
    if (pipe2(pe, O_CLOEXEC) < 0) {
        close(po[0]), close(po[1]);
        return gpx_error_set(err, GPX_E_IO, "pipe: %s", strerror(errno));
    }
    sigset_t all;
    sigfillset(&all);
    pid_t pid = fork();
    if (pid == 0) {
        /* the containers podman starts inherit this: default signals, no fds of ours */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        for (int s = 1; s < NSIG; s++)
            sigaction(s, &dfl, NULL);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(merge ? po[1] : pe[1], 2) < 0)
            _exit(127);
        close_range(3, ~0u, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(po[0]), close(pe[0]);
        return gpx_error_set(err, GPX_E_IO, "fork: %s", strerror(errno));
    }
    char *ob = NULL, *eb = NULL;
    size_t ol = 0, el = 0;
    int64_t deadline = gpx_now_ns() + (int64_t)timeout_s * 1000000000LL;
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2, timed_out = 0;
    while (open_fds > 0) {
        int64_t left = (deadline - gpx_now_ns()) / 1000000;
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (poll(pf, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char b[8192];
            ssize_t r = read(pf[i].fd, b, sizeof b);
            if (r > 0) {
                if (i == 0)
                    keep_tail(&ob, &ol, max, b, (size_t)r);
                else
                    keep_tail(&eb, &el, 4096, b, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    if (timed_out)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!ob)
        ob = strdup("");
    if (!eb)
        eb = strdup("");
    if (timed_out || !WIFEXITED(st) || WEXITSTATUS(st) == 127) {
        gpx_error_set(err, GPX_E_IO, "%s %s %s", d->cfg.podman, args[0],
                      timed_out       ? "ran too long (killed)"
                      : WIFEXITED(st) ? "could not be run (set 'podman' in gpuplexd.conf)"
                                      : "was killed");
        free(ob);
        free(eb);
        return -1;
    }
    *out = ob;
    if (errout)
        *errout = eb;
    else
        free(eb);
    return WEXITSTATUS(st);
}

/* The last line of podman's complaint, for an error message. */
static const char *last_line(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    char *p = strrchr(s, '\n');
    return p ? p + 1 : s;
}

/* Runs podman and expects exit 0; err carries its message otherwise. */
static int podman_ok(const struct gpxd *d, const char *const *args, gpx_error *err)
{
    char *o = NULL, *e = NULL;
    int st = podman(d, args, 0, 4096, PODMAN_TIMEOUT, &o, &e, err);
    if (st > 0)
        gpx_error_set(err, GPX_E_IO, "podman %s failed (exit %d): %.300s", args[0], st,
                      last_line(e));
    free(o);
    free(e);
    return st == 0 ? 0 : -1;
}

/* --- records ---------------------------------------------------------------------------------- */

static json_t *record(const struct container *c)
{
    json_t *reps = json_array();
    for (unsigned i = 0; i < c->replicas; i++) {
        const struct replica *r = &c->rep[i];
        json_array_append_new(reps,
                              json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:I,s:b,s:I}", "replica",
                                        (json_int_t)i, "name", r->name, "lease", r->lease, "state",
                                        r->state, "reason", r->reason, "exit_code", r->exit_code,
                                        "restarts", (json_int_t)r->restarts, "released",
                                        r->released, "restart_at", (json_int_t)r->restart_at));
    }
    return json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:s,s:I,s:I,s:o}", "id", c->id, "tenant", c->tenant,
                     "image", c->image, "command", c->command, "env", c->env, "lease", c->lease,
                     "restart", c->on_failure ? "on-failure" : "no", "replicas",
                     (json_int_t)c->replicas, "created_ns", (json_int_t)c->created_ns, "instances",
                     reps);
}

static void save(struct gpxd *d, const struct container *c)
{
    json_t *j = record(c);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    gpx_error e = {0};
    if (!s || gpx_engine_container_put(d->eng, c->id, c->tenant, s, &e) < 0)
        gpx_warn("container %s: saving its record failed: %s", c->id, s ? e.msg : "no memory");
    free(s);
    json_decref(j);
}

static void container_free(struct container *c)
{
    if (!c)
        return;
    json_decref(c->command);
    json_decref(c->env);
    json_decref(c->lease);
    free(c);
}

static void copy_str(char *dst, size_t len, json_t *v)
{
    snprintf(dst, len, "%s", json_string_value(v) ? json_string_value(v) : "");
}

static int load_one(const char *id, const char *tenant, const char *text, void *arg)
{
    struct gpxd_containers *m = arg;
    json_t *j = json_loads(text, 0, NULL);
    struct container *c = calloc(1, sizeof *c);
    json_t *reps = json_object_get(j, "instances");
    if (!j || !c || !json_is_array(reps) || json_array_size(reps) > MAX_REPLICAS ||
        m->n >= MAX_CONTAINERS) {
        gpx_warn("container %s: its record is unreadable; skipped", id);
        json_decref(j);
        free(c);
        return 0;
    }
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->tenant, sizeof c->tenant, "%s", tenant);
    copy_str(c->image, sizeof c->image, json_object_get(j, "image"));
    c->command = json_incref(json_object_get(j, "command"));
    c->env = json_incref(json_object_get(j, "env"));
    c->lease = json_incref(json_object_get(j, "lease"));
    const char *restart = json_string_value(json_object_get(j, "restart"));
    c->on_failure = restart && !strcmp(restart, "on-failure");
    c->created_ns = json_integer_value(json_object_get(j, "created_ns"));
    c->replicas = (unsigned)json_array_size(reps);
    for (unsigned i = 0; i < c->replicas; i++) {
        json_t *r = json_array_get(reps, i);
        struct replica *p = &c->rep[i];
        copy_str(p->name, sizeof p->name, json_object_get(r, "name"));
        copy_str(p->lease, sizeof p->lease, json_object_get(r, "lease"));
        copy_str(p->state, sizeof p->state, json_object_get(r, "state"));
        copy_str(p->reason, sizeof p->reason, json_object_get(r, "reason"));
        p->exit_code = (int)json_integer_value(json_object_get(r, "exit_code"));
        p->restarts = (unsigned)json_integer_value(json_object_get(r, "restarts"));
        p->released = json_is_true(json_object_get(r, "released"));
        p->restart_at = json_integer_value(json_object_get(r, "restart_at"));
    }
    json_decref(j);
    m->c[m->n++] = c;
    return 0;
}

/* --- the view --------------------------------------------------------------------------------- */

static int visible(const struct gpx_caller *who, const struct container *c)
{
    return who->admin || strcmp(who->tenant, c->tenant) == 0;
}

static json_t *view(struct gpxd *d, const struct container *c)
{
    json_t *j = record(c);
    json_object_del(j, "created_ns");
    json_object_set_new(j, "created", gpx_view_time(c->created_ns));
    json_t *reps = json_object_get(j, "instances");
    struct gpx_lease *l = malloc(sizeof *l);
    for (unsigned i = 0; i < c->replicas && l; i++) {
        json_t *r = json_array_get(reps, i);
        json_object_del(r, "restart_at");
        if (c->rep[i].exit_code < 0)
            json_object_set_new(r, "exit_code", json_null());
        if (!c->rep[i].reason[0])
            json_object_set_new(r, "reason", json_null());
        gpx_error e = {0};
        json_t *u = json_null();
        if (c->rep[i].lease[0] &&
            gpx_engine_lease_get(d->eng, &supervisor, c->rep[i].lease, 0, l, &e) == 0) {
            json_object_set_new(r, "lease_state", json_string(gpx_lease_state_name(l->rec.state)));
            u = json_pack("{s:I,s:I,s:f}", "used_bytes", (json_int_t)l->used_bytes, "peak_bytes",
                          (json_int_t)l->peak_bytes, "gpu_seconds", (double)l->gpu_ns / 1e9);
        }
        json_object_set_new(r, "usage", u);
    }
    free(l);
    return j;
}

/* --- the request ------------------------------------------------------------------------------ */

int gpxd_image_allowed(const char *list, const char *image)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (!n)
            continue;
        if (t[n - 1] == '*' ? strncmp(image, t, n - 1) == 0 : strcmp(image, t) == 0)
            return 1;
    }
    return 0;
}

static int env_name_ok(const char *s)
{
    if (!*s || isdigit((unsigned char)*s) || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* POST /v1/containers's body into c (its lease checked as POST /v1/leases checks it). */
static int parse(const char *body, size_t len, struct container *c, gpx_error *err)
{
    json_error_t je;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return gpx_error_set(err, GPX_E_INVALID, "request body must be a JSON object");
    }
    int rc = -1;
    const char *k;
    json_t *v;
    c->replicas = 1;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "image")) {
            if (!json_is_string(v) ||
                !gpxd_image_name_ok(json_string_value(v), json_string_length(v))) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'image' must be an image name (1-255 of A-Z a-z 0-9 . _ - / "
                              ": @)");
                goto out;
            }
            snprintf(c->image, sizeof c->image, "%s", json_string_value(v));
        } else if (!strcmp(k, "command")) {
            size_t i;
            json_t *a;
            int ok = json_is_array(v) && json_array_size(v) <= MAX_ARGS;
            json_array_foreach(v, i, a) ok =
                ok && json_is_string(a) && strlen(json_string_value(a)) == json_string_length(a);
            if (!ok) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'command' must be an array of at most %d strings (argv)",
                              MAX_ARGS);
                goto out;
            }
            c->command = json_incref(v);
        } else if (!strcmp(k, "env")) {
            const char *ek;
            json_t *ev;
            if (!json_is_object(v) || json_object_size(v) > MAX_ENV) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'env' must be an object of at most %d NAME: \"value\"",
                              MAX_ENV);
                goto out;
            }
            json_object_foreach(v, ek, ev)
            {
                if (!env_name_ok(ek) || !json_is_string(ev) ||
                    strlen(json_string_value(ev)) != json_string_length(ev)) {
                    gpx_error_set(err, GPX_E_INVALID,
                                  "env '%.64s': names are A-Z a-z 0-9 _ (not starting with a "
                                  "digit), values strings without NUL",
                                  ek);
                    goto out;
                }
            }
            c->env = json_incref(v);
        } else if (!strcmp(k, "lease")) {
            /* the one parser and check of POST /v1/leases */
            char *s = json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
            struct gpx_lease_spec sp;
            int r = s ? gpxd_lease_spec_parse(s, strlen(s), &sp, err) : -1;
            free(s);
            if (!json_is_object(v)) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'lease' must be an object as POST /v1/leases takes");
                goto out;
            }
            if (r < 0) {
                gpx_error_wrap(err, "field 'lease'");
                goto out;
            }
            gpx_lease_spec_clear(&sp);
            if (json_object_get(v, "owner_pids")) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'lease': owner_pids is not for containers (their leases "
                              "live until the container exits)");
                goto out;
            }
            c->lease = json_incref(v);
        } else if (!strcmp(k, "restart")) {
            const char *s = json_string_value(v);
            if (!s || (strcmp(s, "no") && strcmp(s, "on-failure"))) {
                gpx_error_set(err, GPX_E_INVALID,
                              "field 'restart' must be \"no\" or \"on-failure\"");
                goto out;
            }
            c->on_failure = !strcmp(s, "on-failure");
        } else if (!strcmp(k, "replicas")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > MAX_REPLICAS) {
                gpx_error_set(err, GPX_E_INVALID, "field 'replicas' must be from 1 to %d",
                              MAX_REPLICAS);
                goto out;
            }
            c->replicas = (unsigned)json_integer_value(v);
        } else {
            gpx_error_set(err, GPX_E_INVALID,
                          "unknown field '%.64s' (known: image, command, env, lease, restart, "
                          "replicas)",
                          k);
            goto out;
        }
    }
    if (!c->image[0]) {
        gpx_error_set(err, GPX_E_INVALID, "field 'image' is required");
        goto out;
    }
    if (!c->lease) {
        gpx_error_set(err, GPX_E_INVALID,
                      "field 'lease' is required (an object as POST /v1/leases takes: mode, "
                      "memory, ...)");
        goto out;
    }
    if (!c->command)
        c->command = json_array();
    if (!c->env)
        c->env = json_object();
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/*
 * Makes replica i's lease, labelled gpuplex.managed=<container id> and
 * gpuplex.replica=<i>. Not gpuplex.container (src/cdi): that one asks for CDI
 * hooks that release the lease when its container stops, and a replica's lease
 * outlives its container's restarts; here the supervisor releases it.
 */
static int make_lease(struct gpxd *d, const struct gpx_caller *who, struct container *c, unsigned i,
                      gpx_error *err)
{
    char *s = json_dumps(c->lease, JSON_COMPACT);
    struct gpx_lease_spec sp;
    char num[16];
    snprintf(num, sizeof num, "%u", i);
    int rc = s ? gpxd_lease_spec_parse(s, strlen(s), &sp, err)
               : gpx_error_set(err, GPX_E_NOMEM, "lease");
    free(s);
    if (rc < 0)
        return -1;
    struct gpx_lease *l = malloc(sizeof *l);
    if (!l)
        rc = gpx_error_set(err, GPX_E_NOMEM, "lease");
    if (rc == 0)
        rc = gpx_lease_spec_label(&sp, "gpuplex.managed", c->id, GPX_NAMING_API, err);
    if (rc == 0)
        rc = gpx_lease_spec_label(&sp, "gpuplex.replica", num, GPX_NAMING_API, err);
    if (rc == 0)
        rc = gpx_engine_lease_create(d->eng, who, &sp, l, err);
    if (rc == 0)
        snprintf(c->rep[i].lease, sizeof c->rep[i].lease, "%s", l->rec.id);
    free(l);
    gpx_lease_spec_clear(&sp);
    return rc;
}

static void release_lease(struct gpxd *d, struct container *c, struct replica *r)
{
    if (r->released || !r->lease[0])
        return;
    struct gpx_lease *l = malloc(sizeof *l);
    gpx_error e = {0};
    if (l && gpx_engine_lease_release(d->eng, &supervisor, r->lease, l, &e) < 0 &&
        e.code != GPX_E_NOT_FOUND)
        gpx_warn("container %s: releasing lease %s failed: %s", c->id, r->lease, e.msg);
    else
        r->released = 1;
    free(l);
}

static int run_replica(struct gpxd *d, const struct container *c, unsigned i, gpx_error *err)
{
    const struct replica *r = &c->rep[i];
    char dev[128], lab_c[64], lab_r[48];
    snprintf(dev, sizeof dev, "gpuplex.dev/gpu=lease-%s", r->lease);
    snprintf(lab_c, sizeof lab_c, "gpuplex.container=%s", c->id);
    snprintf(lab_r, sizeof lab_r, "gpuplex.replica=%u", i);
    const char *args[MAX_ARGS + 2 * MAX_ENV + 24];
    char *envs[MAX_ENV];
    unsigned n = 0, ne = 0;
    args[n++] = "run";
    args[n++] = "-d";
    args[n++] = "--name";
    args[n++] = r->name;
    args[n++] = "--label";
    args[n++] = lab_c;
    args[n++] = "--label";
    args[n++] = lab_r;
    args[n++] = "--device";
    args[n++] = dev;
    const char *k;
    json_t *v;
    json_object_foreach(c->env, k, v)
    {
        if (ne >= MAX_ENV || asprintf(&envs[ne], "%s=%s", k, json_string_value(v)) < 0)
            break;
        args[n++] = "--env";
        args[n++] = envs[ne++];
    }
    args[n++] = "--";
    args[n++] = c->image;
    size_t ai;
    json_array_foreach(c->command, ai, v) args[n++] = json_string_value(v);
    args[n] = NULL;
    int rc = podman_ok(d, args, err);
    for (unsigned e = 0; e < ne; e++)
        free(envs[e]);
    return rc;
}

static void remove_replica(struct gpxd *d, const struct replica *r)
{
    const char *args[] = {"rm", "-f", "-t", "2", r->name, NULL};
    gpx_error e = {0};
    if (podman_ok(d, args, &e) < 0 && !strstr(e.msg, "no such container"))
        gpx_warn("podman rm %s: %s", r->name, e.msg);
}

static struct container *find(struct gpxd_containers *m, const char *id, unsigned *pos)
{
    for (unsigned i = 0; i < m->n; i++)
        if (!strcmp(m->c[i]->id, id)) {
            if (pos)
                *pos = i;
            return m->c[i];
        }
    return NULL;
}

static void drop(struct gpxd_containers *m, struct container *c)
{
    unsigned pos;
    if (find(m, c->id, &pos)) {
        memmove(&m->c[pos], &m->c[pos + 1], (m->n - pos - 1) * sizeof m->c[0]);
        m->n--;
    }
}

int gpxd_container_create(struct gpxd *d, const struct gpx_caller *who, const char *body,
                          size_t len, json_t **out, gpx_error *err)
{
    struct gpxd_containers *m = d->mc;
    if (!d->cfg.container_images[0])
        return gpx_error_set(err, GPX_E_PERM,
                             "managed containers are off on this node: gpuplexd's "
                             "container_images is empty");
    struct container *c = calloc(1, sizeof *c);
    if (!c)
        return gpx_error_set(err, GPX_E_NOMEM, "container");
    if (parse(body, len, c, err) < 0)
        goto fail;
    if (!gpxd_image_allowed(d->cfg.container_images, c->image)) {
        gpx_error_set(err, GPX_E_PERM, "image '%s' is not in this node's container_images (%.400s)",
                      c->image, d->cfg.container_images);
        goto fail;
    }
    uint8_t rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
        gpx_error_set(err, GPX_E_IO, "getrandom: %s", strerror(errno));
        goto fail;
    }
    snprintf(c->id, sizeof c->id, "c-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    snprintf(c->tenant, sizeof c->tenant, "%s", who->tenant);
    c->created_ns = gpx_now_ns();
    c->busy = 1;
    char id[sizeof c->id];
    memcpy(id, c->id, sizeof id);
    for (unsigned i = 0; i < c->replicas; i++) {
        snprintf(c->rep[i].name, sizeof c->rep[i].name, "gpuplex-%s-%u", id, i);
        snprintf(c->rep[i].state, sizeof c->rep[i].state, "creating");
        c->rep[i].exit_code = -1;
    }
    /* the leases first, all or none (no one sees c yet) */
    unsigned made = 0;
    int rc = 0;
    for (; made < c->replicas; made++)
        if ((rc = make_lease(d, who, c, made, err)) < 0)
            break;
    /* listed (busy: the supervisor and DELETE leave it alone) and durable before podman runs */
    pthread_mutex_lock(&m->lock);
    if (rc == 0 && m->n >= MAX_CONTAINERS)
        rc = gpx_error_set(err, GPX_E_NO_SPACE, "gpuplexd manages %d containers already",
                           MAX_CONTAINERS);
    if (rc == 0)
        m->c[m->n++] = c;
    pthread_mutex_unlock(&m->lock);
    if (rc == 0) {
        save(d, c);
        for (unsigned i = 0; i < c->replicas && rc == 0; i++)
            if ((rc = run_replica(d, c, i, err)) < 0)
                gpx_error_wrap(err, "replica %u", i);
    }
    pthread_mutex_lock(&m->lock);
    if (rc < 0) {
        drop(m, c);
        pthread_mutex_unlock(&m->lock);
        for (unsigned i = 0; i < c->replicas; i++) {
            if (made == c->replicas)
                remove_replica(d, &c->rep[i]);
            release_lease(d, c, &c->rep[i]);
        }
        gpx_error e = {0};
        gpx_engine_container_delete(d->eng, c->id, &e);
        goto fail;
    }
    for (unsigned i = 0; i < c->replicas; i++)
        snprintf(c->rep[i].state, sizeof c->rep[i].state, "running");
    c->busy = 0;
    c->settled_ns = gpx_now_ns();
    save(d, c);
    *out = view(d, c);
    pthread_mutex_unlock(&m->lock);
    gpx_info("container %s: %s runs %s, %u replica(s)", c->id, c->tenant, c->image, c->replicas);
    return 0;
fail:
    container_free(c);
    return -1;
}

int gpxd_container_list(struct gpxd *d, const struct gpx_caller *who, json_t **out, gpx_error *err)
{
    (void)err;
    struct gpxd_containers *m = d->mc;
    *out = json_array();
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        if (visible(who, m->c[i]))
            json_array_append_new(*out, view(d, m->c[i]));
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int not_found(const char *id, gpx_error *err)
{
    return gpx_error_set(err, GPX_E_NOT_FOUND, "no container %.64s (see 'gpuplex container ls')",
                         id);
}

int gpxd_container_get(struct gpxd *d, const struct gpx_caller *who, const char *id, json_t **out,
                       gpx_error *err)
{
    struct gpxd_containers *m = d->mc;
    pthread_mutex_lock(&m->lock);
    struct container *c = find(m, id, NULL);
    int rc = c && visible(who, c) ? 0 : not_found(id, err);
    if (rc == 0)
        *out = view(d, c);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int gpxd_container_logs(struct gpxd *d, const struct gpx_caller *who, const char *id,
                        unsigned replica, unsigned tail, json_t **out, gpx_error *err)
{
    struct gpxd_containers *m = d->mc;
    char name[96];
    pthread_mutex_lock(&m->lock);
    struct container *c = find(m, id, NULL);
    int rc = c && visible(who, c) ? 0 : not_found(id, err);
    if (rc == 0 && replica >= c->replicas)
        rc = gpx_error_set(err, GPX_E_INVALID, "query 'replica': container %s has replicas 0 to %u",
                           id, c->replicas - 1);
    if (rc == 0)
        snprintf(name, sizeof name, "%s", c->rep[replica].name);
    pthread_mutex_unlock(&m->lock);
    if (rc < 0)
        return -1;
    char t[16];
    snprintf(t, sizeof t, "%u", tail);
    const char *args[] = {"logs", "--tail", t, name, NULL};
    char *text = NULL;
    int st = podman(d, args, 1, LOG_MAX, POLL_TIMEOUT, &text, NULL, err);
    if (st < 0)
        return -1;
    if (st > 0) {
        gpx_error_set(err, GPX_E_IO, "podman logs failed (exit %d): %.300s", st, last_line(text));
        free(text);
        return -1;
    }
    *out = json_pack("{s:s,s:I,s:s%}", "id", id, "replica", (json_int_t)replica, "logs", text,
                     strlen(text));
    free(text);
    return 0;
}

int gpxd_container_remove(struct gpxd *d, const struct gpx_caller *who, const char *id,
                          json_t **out, gpx_error *err)
{
    struct gpxd_containers *m = d->mc;
    pthread_mutex_lock(&m->lock);
    struct container *c = find(m, id, NULL);
    int rc = c && visible(who, c) ? 0 : not_found(id, err);
    if (rc == 0 && c->busy)
        rc = gpx_error_set(err, GPX_E_BUSY, "container %s is being created or removed", id);
    if (rc == 0)
        c->busy = 1;
    pthread_mutex_unlock(&m->lock);
    if (rc < 0)
        return -1;
    for (unsigned i = 0; i < c->replicas; i++)
        remove_replica(d, &c->rep[i]);
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < c->replicas; i++) {
        release_lease(d, c, &c->rep[i]);
        snprintf(c->rep[i].state, sizeof c->rep[i].state, "removed");
    }
    *out = view(d, c);
    drop(m, c);
    pthread_mutex_unlock(&m->lock);
    gpx_error e = {0};
    if (gpx_engine_container_delete(d->eng, c->id, &e) < 0)
        gpx_warn("container %s: deleting its record failed: %s", c->id, e.msg);
    gpx_info("container %s removed by %s", c->id, who->tenant);
    container_free(c);
    return 0;
}

/* --- the supervisor --------------------------------------------------------------------------- */

/* podman ps's entry for a container name, or NULL. */
static json_t *ps_entry(json_t *ps, const char *name)
{
    size_t i, k;
    json_t *e, *n;
    json_array_foreach(ps, i, e)
    {
        json_array_foreach(json_object_get(e, "Names"), k,
                           n) if (json_is_string(n) &&
                                  !strcmp(json_string_value(n), name)) return e;
    }
    return NULL;
}

/* One replica against podman's view; returns 1 when it is to be started again. */
static int supervise(struct gpxd *d, struct container *c, struct replica *r, json_t *ps,
                     int64_t now, int *changed)
{
    json_t *e = ps_entry(ps, r->name);
    const char *st = e ? json_string_value(json_object_get(e, "State")) : NULL;
    char was[16];
    snprintf(was, sizeof was, "%s", r->state);
    if (st && (!strcmp(st, "running") || !strcmp(st, "created") || !strcmp(st, "paused") ||
               !strcmp(st, "stopping"))) {
        if (strcmp(r->state, "restarting") != 0 || !strcmp(st, "running"))
            snprintf(r->state, sizeof r->state, "running");
        *changed |= strcmp(was, r->state) != 0;
        return 0;
    }
    int code = e ? (int)json_integer_value(json_object_get(e, "ExitCode")) : -1;
    if (e && c->on_failure && code != 0 && r->restarts < MAX_RESTARTS) {
        if (strcmp(r->state, "restarting") != 0 || r->restart_at == 0) {
            /* backoff: 1 s, 2 s, 4 s, ... after each failure */
            r->restart_at = now + (1000000000LL << r->restarts);
            r->exit_code = code;
            snprintf(r->state, sizeof r->state, "restarting");
            *changed = 1;
            gpx_info("container %s: %s exited with %d; restart %u in %llu s", c->id, r->name, code,
                     r->restarts + 1, 1ull << r->restarts);
            return 0;
        }
        if (now < r->restart_at)
            return 0;
        r->restarts++;
        r->restart_at = 0;
        *changed = 1;
        return 1;
    }
    snprintf(r->state, sizeof r->state, "%s", e ? "exited" : "missing");
    r->exit_code = code;
    if (!e)
        snprintf(r->reason, sizeof r->reason, "gone from podman (removed outside gpuplexd)");
    else if (c->on_failure && code != 0)
        snprintf(r->reason, sizeof r->reason,
                 "exited %d after %u restarts, the most restart on-failure makes", code,
                 r->restarts);
    release_lease(d, c, r);
    gpx_info("container %s: %s %s (exit %d); lease %s released", c->id, r->name,
             e ? "exited" : "is gone from podman", code, r->lease);
    *changed = 1;
    return 0;
}

static void on_lease(void *arg, enum gpx_lease_event ev, const struct gpx_lease_rec *l)
{
    (void)arg;
    if (ev == GPX_EV_RELEASED && strstr(l->labels, "\"gpuplex.managed\""))
        atomic_store(&managed_lease_ended, 1);
}

/*
 * Replicas whose lease ended under them: a tenant's `gpuplex lease rm` of a
 * replica's lease, an expiry, an admin. The container must not run on with the
 * device of a lease that is gone (its quota no longer counted, its GPU given to
 * others), so it is stopped and its record says why; its lease is not started
 * again. Fills stop[] with the podman names to stop; returns how many.
 */
static unsigned lease_ended(struct gpxd *d, char (*stop)[96], unsigned max)
{
    struct gpxd_containers *m = d->mc;
    if (!atomic_exchange(&managed_lease_ended, 0))
        return 0;
    struct gpx_lease *l = malloc(sizeof *l);
    unsigned n = 0;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n && l; i++) {
        struct container *c = m->c[i];
        int changed = 0;
        if (c->busy) { /* being created or removed: looked at again next tick */
            atomic_store(&managed_lease_ended, 1);
            continue;
        }
        for (unsigned k = 0; k < c->replicas; k++) {
            struct replica *r = &c->rep[k];
            gpx_error e = {0};
            if (r->released || !r->lease[0])
                continue;
            int rc = gpx_engine_lease_get(d->eng, &supervisor, r->lease, 0, l, &e);
            if ((rc == 0 && l->rec.state == GPX_LS_ACTIVE) || (rc < 0 && e.code != GPX_E_NOT_FOUND))
                continue;
            r->released = 1;
            snprintf(r->state, sizeof r->state, "stopped");
            char why[sizeof r->reason]; /* not straight into r: gcc's -Wrestrict sees c */
            snprintf(why, sizeof why, "its lease %.63s ended (%.63s); gpuplexd stopped it",
                     r->lease, rc == 0 && l->rec.reason[0] ? l->rec.reason : "no such lease");
            memcpy(r->reason, why, sizeof why);
            gpx_warn("container %s: %s: %s", c->id, r->name, r->reason);
            if (n < max)
                snprintf(stop[n++], sizeof stop[0], "%s", r->name);
            changed = 1;
        }
        if (changed)
            save(d, c);
    }
    pthread_mutex_unlock(&m->lock);
    if (!l)
        atomic_store(&managed_lease_ended, 1);
    free(l);
    return n;
}

/* Stops a replica whose lease ended (kept for its logs until DELETE); records its exit code. */
static void stop_replica(struct gpxd *d, const char *name)
{
    struct gpxd_containers *m = d->mc;
    const char *sa[] = {"stop", "-t", "2", name, NULL};
    const char *ia[] = {"inspect", "--format", "{{.State.ExitCode}}", name, NULL};
    char *o = NULL;
    gpx_error e = {0};
    if (podman_ok(d, sa, &e) < 0) {
        gpx_warn("managed containers: stopping %s: %s", name, e.msg);
        return;
    }
    if (podman(d, ia, 0, 64, POLL_TIMEOUT, &o, NULL, &e) != 0) {
        free(o);
        return;
    }
    int code = atoi(o);
    free(o);
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++)
        for (unsigned k = 0; k < m->c[i]->replicas; k++)
            if (!strcmp(m->c[i]->rep[k].name, name) && !m->c[i]->busy) {
                m->c[i]->rep[k].exit_code = code;
                save(d, m->c[i]);
            }
    pthread_mutex_unlock(&m->lock);
}

static void tick(struct gpxd *d)
{
    struct gpxd_containers *m = d->mc;
    char stop[MAX_CONTAINERS][96];
    unsigned n_stop = lease_ended(d, stop, MAX_CONTAINERS);
    for (unsigned i = 0; i < n_stop; i++)
        stop_replica(d, stop[i]);
    pthread_mutex_lock(&m->lock);
    int any = 0;
    for (unsigned i = 0; i < m->n && !any; i++)
        for (unsigned k = 0; k < m->c[i]->replicas; k++)
            any |= !m->c[i]->rep[k].released && !m->c[i]->busy;
    pthread_mutex_unlock(&m->lock);
    if (!any)
        return;
    /*
     * podman ps lists what existed when it looked: a container whose creation
     * ended while ps ran is not in the list yet, and is not "gone from podman".
     */
    int64_t listed_ns = gpx_now_ns();
    const char *args[] = {"ps",       "-a",   "--filter", "label=gpuplex.container",
                          "--format", "json", NULL};
    char *o = NULL;
    gpx_error e = {0};
    int st = podman(d, args, 0, 16u << 20, POLL_TIMEOUT, &o, NULL, &e);
    json_t *ps = st == 0 ? json_loads(o, 0, NULL) : NULL;
    free(o);
    if (!json_is_array(ps)) {
        if (st != 0)
            gpx_warn("managed containers: podman ps: %s", st < 0 ? e.msg : "failed");
        json_decref(ps);
        return;
    }
    char start[MAX_CONTAINERS][96];
    unsigned n_start = 0;
    int64_t now = gpx_now_ns();
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n; i++) {
        struct container *c = m->c[i];
        if (c->busy || c->settled_ns >= listed_ns)
            continue;
        int changed = 0;
        for (unsigned k = 0; k < c->replicas; k++)
            if (!c->rep[k].released && supervise(d, c, &c->rep[k], ps, now, &changed) &&
                n_start < MAX_CONTAINERS)
                snprintf(start[n_start++], sizeof start[0], "%s", c->rep[k].name);
        if (changed)
            save(d, c);
    }
    pthread_mutex_unlock(&m->lock);
    json_decref(ps);
    for (unsigned i = 0; i < n_start; i++) {
        const char *sa[] = {"start", start[i], NULL};
        if (podman_ok(d, sa, &e) < 0)
            gpx_warn("managed containers: %s", e.msg);
        else
            gpx_info("managed containers: %s started again", start[i]);
    }
}

static void *supervisor_main(void *arg)
{
    struct gpxd *d = arg;
    struct gpxd_containers *m = d->mc;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        tick(d);
        int64_t next = gpx_now_ns() + 1000000000LL;
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000), .tv_nsec = next % 1000000000};
        pthread_mutex_lock(&m->lock);
        if (!m->stopping)
            pthread_cond_timedwait(&m->cond, &m->lock, &ts);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

/* --- life ------------------------------------------------------------------------------------- */

int gpxd_containers_open(struct gpxd *d, gpx_error *err)
{
    struct gpxd_containers *m = calloc(1, sizeof *m);
    if (!m)
        return gpx_error_set(err, GPX_E_NOMEM, "containers");
    m->d = d;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_REALTIME);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->mc = m;
    if (gpx_engine_container_each(d->eng, load_one, m, err) < 0)
        return -1;
    struct gpx_observer o = {.name = "containers", .on_event = on_lease, .arg = NULL};
    if (gpx_engine_observe(d->eng, &o, err) < 0)
        return -1;
    if (m->n)
        gpx_info("managed containers: %u re-attached from the store", m->n);
    return 0;
}

int gpxd_containers_start(struct gpxd *d, gpx_error *err)
{
    struct gpxd_containers *m = d->mc;
    if (!m || (!d->cfg.container_images[0] && m->n == 0))
        return 0; /* off, and nothing left to watch */
    if (pthread_create(&m->th, NULL, supervisor_main, d) != 0)
        return gpx_error_set(err, GPX_E_INTERNAL, "starting the container supervisor failed");
    m->started = 1;
    return 0;
}

/* Stops watching; the containers keep running (a restarted gpuplexd re-attaches). */
void gpxd_containers_close(struct gpxd *d)
{
    struct gpxd_containers *m = d->mc;
    if (!m)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        m->stopping = 1;
        pthread_cond_signal(&m->cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->th, NULL);
    }
    for (unsigned i = 0; i < m->n; i++)
        container_free(m->c[i]);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
    d->mc = NULL;
}
