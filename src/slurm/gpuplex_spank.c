/*
 * gpuplex_spank.so: a Slurm SPANK plugin that gives each step a gpuplex lease
 * on every node it runs on (docs/slurm.md).
 *
 * Options (--gpuplex-mode, -memory, -weight, -cap, -mig) are registered with
 * spank_option_register in slurm_spank_init, so srun, sbatch and salloc take
 * them and list them in --help; each value is checked when it is given (the
 * engine's own spec parser, gpx_lease_spec_set, with the options' names) and
 * the whole request once all are read (gpx_lease_spec_check), so a bad request
 * is refused at submission, before any node runs it.
 *
 * On a node (slurmstepd, remote context) the lease is asked for in
 * slurm_spank_user_init: slurmstepd calls it with its effective uid dropped to
 * the job's user, so gpuplexd identifies the caller by that uid on its unix
 * socket (SO_PEERCRED), exactly as it would the user's own `gpuplex lease
 * create`: the tenant registered with the uid, its quotas, and a lease whose
 * region that uid's processes may use. The plugin never claims a tenant of
 * its own choosing. It is released in slurm_spank_exit, as root (an admin for
 * gpuplexd), which slurmstepd runs when the step ends for any reason: tasks
 * exited or were killed, scancel, time limit.
 *
 * The safety net for a slurmstepd that is itself killed: the lease's owner is a
 * keeper, a child that runs as the user (an owner must be a process of the
 * tenant's uid) and dies with slurmstepd (PR_SET_PDEATHSIG); gpuplexd's
 * reconciler then releases the lease once no process uses it (docs/daemon.md,
 * "Reconciler").
 *
 * Everything goes through the typed client (include/gpuplex/client.h).
 * A lease is on one GPU (the engine's spec has one gpu), so a step Slurm gave
 * several GPUs of a node gets one lease per GPU, made and released together
 * (all or none), held in this slurmstepd's memory (one slurmstepd per step
 * per node) from user_init to exit. Only exclusive and mig leases can be
 * several: the interposer enforces one vgpu/timeslice lease per process.
 */
#define _GNU_SOURCE
#include "gpuplex/client.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

SPANK_PLUGIN(gpuplex, 1);

/* option ids (the `val` of each spank_option) are the engine's fields */
static const enum gpx_field opt_field[] = {GPX_F_MODE, GPX_F_MEMORY, GPX_F_WEIGHT, GPX_F_CAP,
                                           GPX_F_MIG_PROFILE};
#define N_OPTS   (sizeof opt_field / sizeof opt_field[0])
#define MAX_GPUS 64 /* leases one step may hold on a node: GPUs Slurm gave it there */

static int opt_cb(int val, const char *arg, int remote);

static struct spank_option options[] = {
    {"gpuplex-mode", "MODE",
     "gpuplex lease mode: exclusive|mig|vgpu|timeslice (default: the plugin's default_mode, "
     "else inferred from the other --gpuplex-* options)",
     1, 0, opt_cb},
    {"gpuplex-memory", "SIZE", "gpuplex device-memory quota per node, e.g. 8G (vgpu, timeslice)", 1,
     1, opt_cb},
    {"gpuplex-weight", "N", "gpuplex time-slice weight 1-10000 (timeslice, vgpu)", 1, 2, opt_cb},
    {"gpuplex-cap", "PCT", "gpuplex compute cap, percent of the GPU 1-100 (timeslice, vgpu)", 1, 3,
     opt_cb},
    {"gpuplex-mig", "PROFILE", "gpuplex MIG profile, e.g. 1g.10gb (mig)", 1, 4, opt_cb},
};

/* what this process knows: the options, the plugstack.conf arguments, the lease */
static struct {
    char value[N_OPTS][64]; /* as given; "" = not given */
    unsigned given;
    char server[PATH_MAX];
    char server_here[PATH_MAX]; /* this node's: %n replaced */
    char default_mode[16];
    int required;
    /* remote context: the lease, or why there is none */
    int asked;
    unsigned n_leases;
    char lease[MAX_GPUS][64]; /* lease[0]: GPUPLEX_LEASE */
    char env_devices[MAX_GPUS * 97];
    char env_preload[GPX_ENV_PATH_MAX];
    char env_run_dir[GPX_ENV_PATH_MAX];
    char failure[GPX_ERROR_MSG_MAX + 320];
    pid_t keeper; /* the lease's owner process; 0 = none */
} st = {.server = GPX_CLIENT_DEFAULT_SOCKET};

static int opt_cb(int val, const char *arg, int remote)
{
    (void)remote;
    if (val < 0 || (unsigned)val >= N_OPTS)
        return -1;
    struct gpx_lease_spec s;
    gpx_lease_spec_init(&s);
    gpx_error err = {0};
    int rc = gpx_lease_spec_set(&s, opt_field[val], arg, GPX_NAMING_SLURM, &err);
    gpx_lease_spec_clear(&s);
    if (rc < 0) {
        slurm_error("gpuplex: %s", err.msg);
        return -1;
    }
    snprintf(st.value[val], sizeof st.value[val], "%s", arg ? arg : "");
    st.given |= 1u << val;
    return 0;
}

/* plugstack.conf: `optional gpuplex_spank.so server=PATH default_mode=MODE required=yes|no` */
static int parse_args(int ac, char **av)
{
    for (int i = 0; i < ac; i++) {
        const char *a = av[i];
        if (strncmp(a, "server=", 7) == 0 && a[7] && strlen(a + 7) < sizeof st.server) {
            snprintf(st.server, sizeof st.server, "%s", a + 7);
        } else if (strncmp(a, "default_mode=", 13) == 0) {
            if (gpx_lease_mode_parse(a + 13) < 0) {
                slurm_error("gpuplex: plugstack.conf: default_mode must be one of exclusive, mig, "
                            "vgpu, timeslice, not '%s'",
                            a + 13);
                return -1;
            }
            snprintf(st.default_mode, sizeof st.default_mode, "%s", a + 13);
        } else if (strcmp(a, "required=yes") == 0 || strcmp(a, "required=no") == 0) {
            st.required = a[9] == 'y';
        } else {
            slurm_error("gpuplex: plugstack.conf: unknown argument '%s' (valid: server=PATH, "
                        "default_mode=exclusive|mig|vgpu|timeslice, required=yes|no)",
                        a);
            return -1;
        }
    }
    return 0;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    if (parse_args(ac, av) < 0)
        return -1;
    spank_context_t ctx = spank_context();
    if (ctx != S_CTX_LOCAL && ctx != S_CTX_ALLOCATOR && ctx != S_CTX_REMOTE)
        return 0;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (spank_option_register(sp, &options[i]) != ESPANK_SUCCESS) {
            slurm_error("gpuplex: cannot register --%s", options[i].name);
            return -1;
        }
    return 0;
}

/* The step's spec from the options: the one check every path applies. */
static int build_spec(struct gpx_lease_spec *s, gpx_error *err)
{
    gpx_lease_spec_init(s);
    for (unsigned i = 0; i < N_OPTS; i++)
        if (st.given & 1u << i &&
            gpx_lease_spec_set(s, opt_field[i], st.value[i], GPX_NAMING_SLURM, err) < 0)
            return -1;
    if (s->mode < 0 && st.default_mode[0])
        s->mode = gpx_lease_mode_parse(st.default_mode);
    return gpx_lease_spec_check(s, 1, GPX_NAMING_SLURM, err);
}

/* Whether this step asks for a lease: any --gpuplex-* option, or GPUs and a default_mode. */
static int wanted(spank_t sp)
{
    char buf[256];
    if (st.given)
        return 1;
    return st.default_mode[0] &&
           (spank_getenv(sp, "SLURM_STEP_GPUS", buf, sizeof buf) == ESPANK_SUCCESS ||
            spank_getenv(sp, "SLURM_JOB_GPUS", buf, sizeof buf) == ESPANK_SUCCESS);
}

/* After the options: refuse a request that can never be granted, before it is submitted. */
int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    spank_context_t ctx = spank_context();
    if ((ctx != S_CTX_LOCAL && ctx != S_CTX_ALLOCATOR) || !st.given)
        return 0;
    (void)sp;
    struct gpx_lease_spec s;
    gpx_error err = {0};
    int rc = build_spec(&s, &err);
    gpx_lease_spec_clear(&s);
    if (rc < 0)
        slurm_error("gpuplex: %s", err.msg);
    return rc < 0 ? -1 : 0;
}

/* "0,1,3" -> {0, 1, 3}; the count, or 0 when it is not such a list (a UUID, "NoDevFiles") */
static unsigned parse_indices(const char *list, int *out)
{
    unsigned n = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= 1024 || (*end != '\0' && *end != ',') || n == MAX_GPUS)
            return 0;
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/*
 * The GPUs Slurm allocated to the step on this node: the indices of
 * SLURM_STEP_GPUS / SLURM_JOB_GPUS, else of CUDA_VISIBLE_DEVICES (gres.conf
 * from `gpuplex slurm gres-conf` lists /dev/nvidiaN in NVML order, so Slurm's
 * GPU indices are gpuplex's). 0: Slurm allocated none; placement picks one.
 */
static unsigned allocated_gpus(spank_t sp, int *out)
{
    static const char *const vars[] = {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"};
    char buf[256];
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (spank_getenv(sp, vars[i], buf, sizeof buf) != ESPANK_SUCCESS || !buf[0])
            continue;
        unsigned n = parse_indices(buf, out);
        if (n)
            return n;
    }
    return 0;
}

static void step_name(uint32_t step, char *buf, size_t len)
{
    if (step == SLURM_BATCH_SCRIPT)
        snprintf(buf, len, "batch");
    else if (step == SLURM_INTERACTIVE_STEP)
        snprintf(buf, len, "interactive");
    else
        snprintf(buf, len, "%u", step);
}

static int labels(spank_t sp, struct gpx_lease_spec *s, gpx_error *err)
{
    uint32_t job = 0, step = 0;
    uid_t uid = 0;
    if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS)
        return gpx_error_set(err, GPX_E_INTERNAL, "Slurm did not give the job's id, step or user");
    char jb[16], sb[16], ub[64], pwbuf[1024];
    struct passwd pw, *pp = NULL;
    snprintf(jb, sizeof jb, "%u", job);
    step_name(step, sb, sizeof sb);
    if (getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &pp) == 0 && pp)
        snprintf(ub, sizeof ub, "%s", pp->pw_name);
    else
        snprintf(ub, sizeof ub, "%u", (unsigned)uid);
    if (gpx_lease_spec_label(s, "slurm_job", jb, GPX_NAMING_SLURM, err) < 0 ||
        gpx_lease_spec_label(s, "slurm_step", sb, GPX_NAMING_SLURM, err) < 0 ||
        gpx_lease_spec_label(s, "slurm_user", ub, GPX_NAMING_SLURM, err) < 0)
        return -1;
    return 0;
}

/* This node's name in Slurm: the step's node list at this node's relative id. */
static int node_name(spank_t sp, char *out, size_t len)
{
    static const char *const vars[] = {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST",
                                       "SLURM_NODELIST"};
    char list[4096];
    uint32_t id = 0;
    if (spank_get_item(sp, S_JOB_NODEID, &id) != ESPANK_SUCCESS)
        return 0;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (spank_getenv(sp, vars[i], list, sizeof list) != ESPANK_SUCCESS || !list[0])
            continue;
        hostlist_t hl = slurm_hostlist_create(list);
        char *h = NULL;
        for (uint32_t k = 0; hl && k <= id; k++) {
            free(h);
            h = slurm_hostlist_shift(hl);
        }
        if (hl)
            slurm_hostlist_destroy(hl);
        if (h)
            snprintf(out, len, "%s", h);
        free(h);
        return h != NULL;
    }
    return 0;
}

/*
 * server= with "%n" replaced by the node's name (SLURMD_NODENAME), as slurm.conf's
 * SlurmdSpoolDir takes it: nodes that share a file system (and tests running several
 * slurmd on one machine) each reach their own gpuplexd.
 */
static void node_server(spank_t sp, char *out, size_t len)
{
    const char *pct = strstr(st.server, "%n");
    char node[256] = "";
    if (!pct) {
        snprintf(out, len, "%s", st.server);
        return;
    }
    if (!node_name(sp, node, sizeof node))
        gethostname(node, sizeof node - 1);
    snprintf(out, len, "%.*s%s%s", (int)(pct - st.server), st.server, node, pct + 2);
}

/*
 * The keeper: a child that becomes the job's user for good (slurmstepd's effective ids
 * are the user's here, so setres[ug]id to them needs no privilege) and waits to be
 * killed, by slurm_spank_exit or by the kernel when slurmstepd dies. Only system calls
 * between fork and pause: slurmstepd has threads.
 */
static pid_t keeper_start(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    pid_t parent = getpid();
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        char ok = 1;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
            setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
            write(ready[1], &ok, 1) != 1)
            _exit(1);
        for (int fd = 0; fd < 1024; fd++)
            close(fd); /* slurmstepd's sockets and pipes are not the keeper's to hold */
        for (;;)
            pause();
    }
    close(ready[1]);
    /* named as the owner only once it is the user's: gpuplexd checks the uid at once */
    char ok = 0;
    ssize_t n;
    while ((n = read(ready[0], &ok, 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    if (pid > 0 && n != 1) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return 0;
    }
    return pid < 0 ? 0 : pid;
}

static void keeper_stop(void)
{
    if (st.keeper <= 0)
        return;
    kill(st.keeper, SIGKILL);
    while (waitpid(st.keeper, NULL, 0) < 0 && errno == EINTR)
        ;
    st.keeper = 0;
}

/* Releases every lease this step holds here; 0, or -1 with each failure logged. */
static int release_all(gpx_conn *c)
{
    int rc = 0;
    for (unsigned i = 0; i < st.n_leases; i++) {
        gpx_error err = {0};
        if (gpx_lease_release(c, st.lease[i], NULL, &err) < 0 && err.code != GPX_E_NOT_FOUND) {
            slurm_error("gpuplex: releasing lease %s: %s", st.lease[i], err.msg);
            rc = -1;
        } else {
            slurm_info("gpuplex: lease %s released", st.lease[i]);
        }
    }
    st.n_leases = 0;
    return rc;
}

/*
 * Several GPUs: exclusive and mig leases, one per GPU. vgpu and timeslice are refused:
 * the interposer enforces one lease per process, so a quota or share on each GPU
 * could not hold (docs/slurm.md, "Several GPUs").
 */
static int check_gpus(const struct gpx_lease_spec *s, const int *gpus, unsigned n, gpx_error *err)
{
    if (n < 2 || s->mode == GPX_MODE_EXCLUSIVE || s->mode == GPX_MODE_MIG)
        return 0;
    char list[MAX_GPUS * 6] = "";
    for (unsigned i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", gpus[i]);
    return gpx_error_set(err, GPX_E_INVALID,
                         "Slurm gave this step %u GPUs here (%s) and a %s lease covers one "
                         "(the interposer enforces one lease per process): ask for one GPU, "
                         "or --gpuplex-mode=exclusive or mig for a lease on each",
                         n, list, gpx_lease_mode_name((enum gpx_lease_mode)s->mode));
}

/* One lease per GPU Slurm allocated (or one where placement puts it), all or none. */
static int create_all(gpx_conn *c, struct gpx_lease_spec *s, const int *gpus, unsigned n,
                      gpx_error *err)
{
    struct gpx_lease *l = calloc(1, sizeof *l);
    if (!l)
        return gpx_error_set(err, GPX_E_NOMEM, "lease");
    int rc = 0;
    size_t off = 0;
    for (unsigned i = 0; i < (n ? n : 1); i++) {
        if (n)
            s->gpu_index = gpus[i];
        rc = gpx_lease_create(c, s, l, err);
        if (rc < 0)
            break;
        const struct gpx_lease_rec *r = &l->rec;
        snprintf(st.lease[st.n_leases++], sizeof st.lease[0], "%s", r->id);
        off += (size_t)snprintf(st.env_devices + off, sizeof st.env_devices - off, "%s%s",
                                i ? "," : "", r->mode == GPX_MODE_MIG ? r->mig_uuid : r->gpu_uuid);
        snprintf(st.env_preload, sizeof st.env_preload, "%s", l->interposer);
        snprintf(st.env_run_dir, sizeof st.env_run_dir, "%s", l->run_dir);
        slurm_info("gpuplex: lease %s (%s) on GPU %u for this step", r->id,
                   gpx_lease_mode_name((enum gpx_lease_mode)r->mode), r->gpu_index);
    }
    free(l);
    if (rc < 0)
        release_all(c);
    return rc;
}

static int ask(spank_t sp, gpx_error *err)
{
    struct gpx_lease_spec s;
    if (build_spec(&s, err) < 0) {
        gpx_lease_spec_clear(&s);
        return -1;
    }
    int gpus[MAX_GPUS];
    unsigned n = allocated_gpus(sp, gpus);
    int rc = check_gpus(&s, gpus, n, err);
    if (rc == 0)
        rc = labels(sp, &s, err);
    node_server(sp, st.server_here, sizeof st.server_here);
    st.keeper = rc == 0 ? keeper_start() : 0;
    if (st.keeper > 0) {
        s.owners[s.n_owners++] = (int32_t)st.keeper;
        s.given |= 1u << GPX_F_OWNERS;
    } else if (rc == 0) {
        slurm_info("gpuplex: no keeper process (fork: %m): the lease has no owner");
    }
    struct gpx_conn_opts o = {.server = st.server_here};
    gpx_conn *c = NULL;
    if (rc == 0)
        rc = gpx_conn_open(&o, &c, err);
    if (rc == 0)
        rc = create_all(c, &s, gpus, n, err);
    gpx_conn_close(c);
    gpx_lease_spec_clear(&s);
    if (rc < 0)
        keeper_stop();
    return rc;
}

/* As the job's user (slurmstepd dropped its effective uid): gpuplexd sees that user. */
int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    uint32_t step = 0;
    if (spank_context() != S_CTX_REMOTE || !wanted(sp))
        return 0;
    if (spank_get_item(sp, S_JOB_STEPID, &step) == ESPANK_SUCCESS && step == SLURM_EXTERN_CONT)
        return 0;
    /* a step inside a batch job whose batch step holds a lease runs under that lease */
    char inherited[64];
    if (spank_getenv(sp, "GPUPLEX_LEASE", inherited, sizeof inherited) == ESPANK_SUCCESS &&
        inherited[0])
        return 0;
    st.asked = 1;
    gpx_error err = {0};
    if (ask(sp, &err) < 0) {
        snprintf(st.failure, sizeof st.failure, "no lease from gpuplexd at %.256s: %s",
                 st.server_here[0] ? st.server_here : st.server, err.msg);
        slurm_error("gpuplex: %s", st.failure);
        /* required=yes fails the step in each task (task_init), where the job's stderr is */
    }
    return 0;
}

/* LD_PRELOAD with the interposer first, keeping what the job preloads. */
static int set_preload(spank_t sp)
{
    char old[GPX_ENV_PATH_MAX], v[2 * GPX_ENV_PATH_MAX + 2];
    if (spank_getenv(sp, "LD_PRELOAD", old, sizeof old) != ESPANK_SUCCESS)
        old[0] = '\0';
    snprintf(v, sizeof v, "%s%s%s", st.env_preload, old[0] ? ":" : "", old);
    return spank_setenv(sp, "LD_PRELOAD", v, 1) == ESPANK_SUCCESS ? 0 : -1;
}

/* GPUPLEX_LEASES: every lease of a step with several GPUs, in CUDA_VISIBLE_DEVICES' order. */
static int set_leases(spank_t sp)
{
    char v[MAX_GPUS * 64] = "";
    for (unsigned i = 0; i < st.n_leases; i++)
        snprintf(v + strlen(v), sizeof v - strlen(v), "%s%s", i ? "," : "", st.lease[i]);
    return spank_setenv(sp, "GPUPLEX_LEASES", v, 1) == ESPANK_SUCCESS ? 0 : -1;
}

/* In each task, as the job's user, before exec: the lease's environment, or why none. */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (spank_context() != S_CTX_REMOTE || !st.asked)
        return 0;
    if (!st.n_leases) {
        if (st.required) {
            fprintf(stderr, "gpuplex: %s; the step fails (plugstack.conf: required=yes)\n",
                    st.failure);
            return -1;
        }
        fprintf(stderr, "gpuplex: %s; running without a lease (plugstack.conf: required=no)\n",
                st.failure);
        return 0;
    }
    if (spank_setenv(sp, "CUDA_VISIBLE_DEVICES", st.env_devices, 1) != ESPANK_SUCCESS ||
        spank_setenv(sp, "GPUPLEX_LEASE", st.lease[0], 1) != ESPANK_SUCCESS ||
        (st.n_leases > 1 && set_leases(sp) < 0) ||
        spank_setenv(sp, "GPUPLEX_RUN_DIR", st.env_run_dir, 1) != ESPANK_SUCCESS ||
        (st.env_preload[0] && set_preload(sp) < 0)) {
        fprintf(stderr, "gpuplex: cannot set the environment of lease %s\n", st.lease[0]);
        return -1;
    }
    return 0;
}

/* The step is over on this node (ended, cancelled, timed out, tasks killed): release. */
int slurm_spank_exit(spank_t sp, int ac, char **av)
{
    (void)sp;
    (void)ac;
    (void)av;
    if (spank_context() != S_CTX_REMOTE || !st.n_leases)
        return 0;
    struct gpx_conn_opts o = {.server = st.server_here};
    gpx_conn *c = NULL;
    gpx_error err = {0};
    if (gpx_conn_open(&o, &c, &err) == 0)
        release_all(c); /* failures are logged for the operator: the step is over either way */
    else
        slurm_error("gpuplex: releasing %u lease(s), first %s: %s", st.n_leases, st.lease[0],
                    err.msg);
    gpx_conn_close(c);
    keeper_stop(); /* released or not: without its owner the reconciler ends them */
    return 0;
}
