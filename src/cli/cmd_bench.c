/*
 * gpuplex bench: the seed's "performance vs bare metal" table, measured on
 * this node with this workload. Each mode runs the workload as it would run
 * in production: bare is the workload alone (no gpuplex), every lease mode
 * goes through `gpuplex run` (the same binary, re-executed), so a lease is
 * made, enforced and released exactly as for a user, with gpuplexd or without.
 *
 * Invariants:
 *   - bare always runs: every figure is relative to it;
 *   - runs are interleaved: round r runs every mode once, the order rotated
 *     by r, so that drift and noise on the machine hit every mode alike;
 *   - a mode the node cannot give is a row with status "refused" and the
 *     reason (checked before the rounds, by asking for the lease once through
 *     the client library and giving it back), never a crash;
 *   - a failing workload is a row with status "failed" and its exit code;
 *     bench exits 1 only when no mode produced a figure.
 * The JSON (docs/choosing.md) is also saved as <state dir>/bench/last.json,
 * where `gpuplex recommend` reads it.
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "core/mig_catalog.h"
#include "core/paths.h"
#include "engine/views.h"
#include "gpuplex/client.h"
#include "nvml/nvml.h"
#include "vm/vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MODES   24
#define MAX_TENANTS 4
#define MAX_LARGS   12

enum kind { K_BARE, K_LEASE, K_CONTAINER, K_VM };
enum status { S_OK, S_REFUSED, S_FAILED };
static const char *const status_names[] = {"ok", "refused", "failed"};

struct mode {
    char name[48];
    enum kind kind;
    const char *isolation; /* docs/threat-model.md's words */
    int tenants;
    char mig_profile[GPX_MIG_NAME_MAX];
    const char *largs[MAX_LARGS]; /* lease flags for `gpuplex run` */
    int nlargs;
    enum status status;
    char reason[512];
    int exit_code;
    double *fig; /* runs x tenants; NAN where the run failed */
    int ok_runs;
};

struct bench {
    const char *server, *image, *podman, *metric, *output, *memory;
    unsigned gpu, runs, cap, duration_ms;
    int json, progress_tty;
    regex_t re;
    int have_re;
    char **cmd; /* -- CMD, or NULL: gpuplex-burn */
    int ncmd;
    char self[PATH_MAX], burn[PATH_MAX], tmp[PATH_MAX];
    char gpu_s[16], cap_s[16], mem_s[32], dur_s[16], start_s[32];
    struct mode modes[MAX_MODES];
    int nmodes;
    json_t *node;
    struct gpx_gpu_info gpu_info;
    int done, total;
};

/* ---------------------------------------------------------------- modes */

static const char valid_modes[] = "bare, exclusive, vgpu, vgpu-cap, mig, mig:PROFILE, timeslice "
                                  "(= timeslice-1,2,4), timeslice-1, timeslice-2, timeslice-4, "
                                  "container, vm, all";
static const char default_modes[] =
    "bare,exclusive,vgpu,vgpu-cap,mig,timeslice-1,timeslice-2,timeslice-4,container,vm";

static struct mode *add_mode(struct bench *b, const char *name, enum kind k, const char *iso,
                             int tenants)
{
    for (int i = 0; i < b->nmodes; i++)
        if (!strcmp(b->modes[i].name, name))
            return NULL; /* given twice: once is enough */
    if (b->nmodes == MAX_MODES)
        return NULL;
    struct mode *m = &b->modes[b->nmodes++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->kind = k;
    m->isolation = iso;
    m->tenants = tenants;
    return m;
}

static void largs(struct mode *m, ...)
{
    va_list ap;
    va_start(ap, m);
    for (const char *a; (a = va_arg(ap, const char *)) && m->nlargs < MAX_LARGS;)
        m->largs[m->nlargs++] = a;
    va_end(ap);
}

/* One --modes word; -1 when it is not a mode (the caller names the valid ones). */
static int parse_mode(struct bench *b, const char *w)
{
    struct mode *m;
    if (!strcmp(w, "all")) {
        char list[sizeof default_modes];
        memcpy(list, default_modes, sizeof list);
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
            parse_mode(b, t);
        return 0;
    }
    if (!strcmp(w, "timeslice"))
        return parse_mode(b, "timeslice-1") | parse_mode(b, "timeslice-2") |
               parse_mode(b, "timeslice-4");
    if (!strcmp(w, "bare"))
        add_mode(b, w, K_BARE, "none", 1);
    else if (!strcmp(w, "exclusive")) {
        if ((m = add_mode(b, w, K_LEASE, "hardware", 1)))
            largs(m, "--mode", "exclusive", "--gpu", b->gpu_s, (char *)NULL);
    } else if (!strcmp(w, "vgpu")) {
        if ((m = add_mode(b, w, K_LEASE, "memory+compute", 1)))
            largs(m, "--mode", "vgpu", "--gpu", b->gpu_s, "--memory", b->mem_s, (char *)NULL);
    } else if (!strcmp(w, "vgpu-cap")) {
        if ((m = add_mode(b, w, K_LEASE, "memory+compute", 1)))
            largs(m, "--mode", "vgpu", "--gpu", b->gpu_s, "--memory", b->mem_s, "--cap", b->cap_s,
                  (char *)NULL);
    } else if (!strcmp(w, "mig")) {
        add_mode(b, w, K_LEASE, "hardware", 1); /* profiles chosen once the GPU is known */
    } else if (!strncmp(w, "mig:", 4) && w[4] && strlen(w + 4) < GPX_MIG_NAME_MAX) {
        if ((m = add_mode(b, w, K_LEASE, "hardware", 1)))
            snprintf(m->mig_profile, sizeof m->mig_profile, "%s", w + 4);
    } else if (!strncmp(w, "timeslice-", 10) &&
               (!strcmp(w + 10, "1") || !strcmp(w + 10, "2") || !strcmp(w + 10, "4"))) {
        if ((m = add_mode(b, w, K_LEASE, "process", atoi(w + 10))))
            largs(m, "--mode", "timeslice", "--gpu", b->gpu_s, "--weight", "1", (char *)NULL);
    } else if (!strcmp(w, "container")) {
        if ((m = add_mode(b, w, K_CONTAINER, "hardware", 1)))
            largs(m, "--mode", "exclusive", "--gpu", b->gpu_s, (char *)NULL);
    } else if (!strcmp(w, "vm")) {
        add_mode(b, w, K_VM, "hardware", 1);
    } else {
        return -1;
    }
    return 0;
}

static void refuse(struct mode *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct mode *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->reason, sizeof m->reason, fmt, ap);
    va_end(ap);
    m->status = S_REFUSED;
}

/* MIG profiles without "+me" variants: the smallest and the one with half the memory. */
static void default_mig_profiles(const struct gpx_mig_model *mm, const char **small,
                                 const char **half)
{
    *small = *half = NULL;
    unsigned least = 99;
    for (unsigned i = 0; i < mm->profile_count; i++) {
        const struct gpx_mig_gi_profile *p = &mm->profiles[i];
        if (strchr(p->name, '+'))
            continue;
        if (p->memory_slices < least) {
            least = p->memory_slices;
            *small = p->name;
        }
        if (p->memory_slices == GPX_MIG_MEMORY_SLICES / 2 && !*half)
            *half = p->name; /* the fewest compute slices of those: 3g, not 4g */
    }
}

/* "mig" becomes mig:<smallest> and mig:<half> where the GPU can have MIG at all. */
static void expand_mig(struct bench *b)
{
    int at = -1;
    for (int i = 0; i < b->nmodes; i++)
        if (!strcmp(b->modes[i].name, "mig"))
            at = i;
    if (at < 0)
        return;
    int model = gpx_mig_model_find(b->gpu_info.name);
    if (model < 0)
        return; /* stays "mig", refused below with the reason */
    const char *small, *half;
    default_mig_profiles(gpx_mig_model_get((enum gpx_mig_model_id)model), &small, &half);
    /* remove "mig", append its profiles (once each) */
    memmove(&b->modes[at], &b->modes[at + 1], (size_t)(b->nmodes - at - 1) * sizeof b->modes[0]);
    b->nmodes--;
    int before = b->nmodes;
    const char *pick[2] = {small, half};
    for (int i = 0; i < 2; i++) {
        char w[64];
        if (pick[i] && (size_t)snprintf(w, sizeof w, "mig:%s", pick[i]) < sizeof w)
            parse_mode(b, w);
    }
    /* ... and move them where "mig" was, so that rows keep the order asked for */
    int added = b->nmodes - before;
    for (int k = 0; k < added; k++) {
        struct mode last = b->modes[b->nmodes - 1];
        memmove(&b->modes[at + 1], &b->modes[at],
                (size_t)(b->nmodes - 1 - at) * sizeof b->modes[0]);
        b->modes[at] = last;
    }
}

/* ---------------------------------------------------------------- checks before the rounds */

static int lease_field(const char *flag)
{
    static const struct {
        const char *flag;
        enum gpx_field f;
    } t[] = {{"--mode", GPX_F_MODE},     {"--gpu", GPX_F_GPU}, {"--memory", GPX_F_MEMORY},
             {"--weight", GPX_F_WEIGHT}, {"--cap", GPX_F_CAP}, {"--mig-profile", GPX_F_MIG_PROFILE},
             {"--label", GPX_F_LABELS}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].flag, flag))
            return (int)t[i].f;
    return -1;
}

/* Asks once for the mode's lease and gives it back: what the node refuses is refused here. */
static void check_lease(struct bench *b, struct mode *m)
{
    struct gpx_lease_spec spec;
    gpx_lease_spec_init(&spec);
    gpx_error err = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i + 1 < m->nlargs; i += 2)
        rc = gpx_lease_spec_set(&spec, (enum gpx_field)lease_field(m->largs[i]), m->largs[i + 1],
                                GPX_NAMING_CLI, &err);
    if (rc == 0)
        rc = gpx_lease_spec_label(&spec, "bench", "1", GPX_NAMING_CLI, &err);
    if (rc == 0)
        rc = gpx_lease_spec_check(&spec, 0, GPX_NAMING_CLI, &err);
    struct gpx_conn *cn = NULL;
    struct gpx_conn_opts o = {.server = b->server};
    char pre[PATH_MAX];
    if (gpx_cli_interposer_path(pre, sizeof pre, NULL) == 0)
        o.interposer = pre;
    if (rc == 0)
        rc = gpx_conn_open(&o, &cn, &err);
    struct gpx_lease *l = rc == 0 ? malloc(sizeof *l) : NULL;
    if (rc == 0 && !l)
        rc = gpx_error_set(&err, GPX_E_INTERNAL, "out of memory");
    if (rc == 0 && (rc = gpx_lease_create(cn, &spec, l, &err)) == 0) {
        gpx_error e2 = {0};
        if (gpx_lease_release(cn, l->rec.id, NULL, &e2) < 0)
            fprintf(stderr, "gpuplex bench: releasing the trial lease %s: %s\n", l->rec.id, e2.msg);
    }
    if (rc < 0)
        refuse(m, "the node refuses this lease: %s", err.msg);
    free(l);
    gpx_conn_close(cn);
    gpx_lease_spec_clear(&spec);
}

static int podman_has_image(const char *podman, const char *image)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execlp(podman, podman, "image", "exists", image, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A program on PATH (or a path): 1 when it can be run. */
static int on_path(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    char dir[PATH_MAX];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        if (n && (size_t)snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, prog) < sizeof dir &&
            access(dir, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

static void check_container(struct bench *b, struct mode *m)
{
    if (!on_path(b->podman)) {
        refuse(m,
               "podman is not installed ('%s' is not on PATH; --podman PATH or "
               "GPUPLEX_PODMAN names another)",
               b->podman);
        return;
    }
    if (!b->image) {
        refuse(m,
               "no container image: give --image IMAGE (or GPUPLEX_BENCH_IMAGE), a "
               "local image with %s on its PATH",
               b->cmd ? b->cmd[0] : "gpuplex-burn");
        return;
    }
    int r = podman_has_image(b->podman, b->image);
    if (r == 1) {
        refuse(m,
               "image '%s' is not in podman's local storage (bench never pulls: "
               "podman pull it first)",
               b->image);
        return;
    }
    if (r != 0) {
        refuse(m, "'%s image exists %s' failed (exit %d): is podman usable here?", b->podman,
               b->image, r);
        return;
    }
    check_lease(b, m);
}

/*
 * VMs: bench does not boot guests. What the row says comes from src/vm's probe of the GPU (the
 * same as `gpuplex vm check`): no IOMMU groups at all, the GPU's own blocker, or that it could
 * be passed through and how to measure a guest instead.
 */
static void check_vm(const struct bench *b, struct mode *m)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/kernel/iommu_groups", gpx_vm_sysfs_root());
    int groups = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        groups += e->d_name[0] != '.';
    if (d)
        closedir(d);
    if (!groups) {
        refuse(m, "no IOMMU groups under %s: the node cannot pass a GPU through to a VM", dir);
        return;
    }
    struct gpx_vm_pci_addr a;
    char bdf[GPX_VM_BDF_MAX];
    struct gpx_vm_probe pr;
    gpx_error err = {0};
    if (gpx_vm_bdf_parse(b->gpu_info.pci_bus_id, &a) < 0) {
        refuse(m, "GPU %u has no PCI address NVML reports ('%s')", b->gpu, b->gpu_info.pci_bus_id);
        return;
    }
    gpx_vm_bdf_format(&a, bdf);
    if (gpx_vm_probe(bdf, &pr, &err) < 0) {
        refuse(m, "GPU %u (%s): %s", b->gpu, bdf, err.msg);
        return;
    }
    if (pr.iommu_group < 0)
        refuse(m, "GPU %u (%s) is in no IOMMU group under %s: it cannot be passed through to a VM",
               b->gpu, bdf, dir);
    else if (!pr.passthrough_ok)
        refuse(m, "GPU %u (%s) cannot be passed through now: %s", b->gpu, bdf, pr.why_not);
    else
        refuse(m,
               "GPU %u (%s, IOMMU group %d) could be passed through, but bench does not boot "
               "VMs: run 'gpuplex bench -- CMD' inside a guest and 'gpuplex bench compare' the "
               "two results",
               b->gpu, bdf, pr.iommu_group);
}

static void check_modes(struct bench *b)
{
    int mig_mode = b->gpu_info.mig_current == 1;
    int model = gpx_mig_model_find(b->gpu_info.name);
    for (int i = 0; i < b->nmodes; i++) {
        struct mode *m = &b->modes[i];
        if (m->kind == K_VM) {
            check_vm(b, m);
        } else if (!strcmp(m->name, "mig") || m->mig_profile[0]) {
            if (model < 0)
                refuse(m, "GPU %u (%s) has no MIG (MIG needs an A100, A30, H100 or H200)", b->gpu,
                       b->gpu_info.name);
            else if (!mig_mode)
                refuse(m,
                       "GPU %u (%s) is not in MIG mode; bench does not switch it (that needs "
                       "the GPU idle and resets it): enable MIG with 'gpuplex mig apply --gpu "
                       "%u --demand ...' (docs/mig.md) and run bench again",
                       b->gpu, b->gpu_info.name, b->gpu);
            else {
                largs(m, "--mode", "mig", "--gpu", b->gpu_s, "--mig-profile", m->mig_profile,
                      (char *)NULL);
                check_lease(b, m);
            }
        } else if (m->kind == K_CONTAINER) {
            check_container(b, m);
        } else if (m->kind == K_LEASE) {
            check_lease(b, m);
        }
    }
}

/* ---------------------------------------------------------------- one run */

/* The workload's argv for tenant t of mode m, into av (NULL-terminated). */
static int build_argv(struct bench *b, const struct mode *m, const char **av, int max)
{
    int n = 0;
#define PUSH(x)                                                                                    \
    do {                                                                                           \
        if (n < max - 1)                                                                           \
            av[n++] = (x);                                                                         \
    } while (0)
    if (m->kind != K_BARE) {
        PUSH(b->self);
        PUSH("run");
        if (b->server) {
            PUSH("--server");
            PUSH(b->server);
        }
        for (int i = 0; i < m->nlargs; i++)
            PUSH(m->largs[i]);
        PUSH("--label"); /* a tenant's label: gpuplex.* keys are gpuplexd's own */
        PUSH("bench=1");
        if (m->kind == K_CONTAINER) {
            PUSH("--podman");
            PUSH(b->podman);
            PUSH("--container");
            PUSH(b->image);
            PUSH("--pull");
            PUSH("never");
            PUSH("--network");
            PUSH("none");
        }
        PUSH("--");
    }
    if (b->cmd) {
        for (int i = 0; i < b->ncmd; i++)
            PUSH(b->cmd[i]);
    } else {
        /* the mixed workload: kernels on 2 streams, 256 MiB held, alloc+copy+free rounds */
        PUSH(m->kind == K_CONTAINER ? "gpuplex-burn" : b->burn);
        PUSH("--json");
        PUSH("--duration-ms");
        PUSH(b->dur_s);
        PUSH("--kernel-ns");
        PUSH("200000");
        PUSH("--streams");
        PUSH("2");
        PUSH("--alloc-mib");
        PUSH("256");
        PUSH("--chunk-mib");
        PUSH("16");
        PUSH("--mix-every");
        PUSH("20");
        if (m->tenants > 1) {
            PUSH("--start-at-ms");
            PUSH(b->start_s);
        }
    }
#undef PUSH
    av[n] = NULL;
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    for (size_t r; s && (r = fread(s + len, 1, cap - len - 1, f)) > 0;) {
        len += r;
        if (len + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) {
                free(s);
                s = NULL;
            }
            s = ns;
        }
    }
    fclose(f);
    if (s)
        s[len] = '\0';
    return s;
}

/* The last non-empty line of text, into out. */
static void last_line(const char *text, char *out, size_t len)
{
    out[0] = '\0';
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(out, len, "%.*s", (int)(end - start), start);
}

/* The figure of one tenant's run (higher is better); NAN with why when there is none. */
static double figure(struct bench *b, const char *out, double wall, char *why, size_t len)
{
    if (!b->cmd) {
        char line[4096];
        last_line(out, line, sizeof line);
        json_t *j = json_loads(line, 0, NULL);
        double v = json_number_value(json_object_get(j, "kernels_per_s"));
        int have = json_is_number(json_object_get(j, "kernels_per_s"));
        json_decref(j);
        if (!have)
            snprintf(why, len, "no kernels_per_s in the workload's output");
        return have ? v : NAN;
    }
    if (!b->have_re)
        return wall > 0 ? 1.0 / wall : NAN;
    regmatch_t mt[2];
    double v = NAN;
    for (const char *p = out; regexec(&b->re, p, 2, mt, p == out ? 0 : REG_NOTBOL) == 0;) {
        if (mt[1].rm_so >= 0) {
            char num[64];
            snprintf(num, sizeof num, "%.*s", (int)(mt[1].rm_eo - mt[1].rm_so), p + mt[1].rm_so);
            char *end;
            double x = strtod(num, &end);
            if (end != num)
                v = x; /* the last match: a loop's final figure */
        }
        if (mt[0].rm_eo == 0)
            break;
        p += mt[0].rm_eo;
    }
    if (isnan(v))
        snprintf(why, len, "--metric '%s' matched no number in the output", b->metric);
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs every tenant of m at once; their figures into figs. 0, or -1 with m's failure set. */
static int run_once(struct bench *b, struct mode *m, double *figs)
{
    pid_t pids[MAX_TENANTS];
    double end[MAX_TENANTS];
    int st[MAX_TENANTS];
    const char *av[64];
    /*
     * Tenants started one after another would each have the GPU alone for a while: burn waits
     * for a common start, far enough ahead for every tenant's lease to be granted.
     */
    snprintf(b->start_s, sizeof b->start_s, "%.0f", now_s() * 1000 + 250.0 * m->tenants);
    build_argv(b, m, av, 64);
    fflush(NULL);
    double t0 = now_s();
    for (int t = 0; t < m->tenants; t++) {
        char o[PATH_MAX + 16], e[PATH_MAX + 16];
        snprintf(o, sizeof o, "%s/%d.out", b->tmp, t);
        snprintf(e, sizeof e, "%s/%d.err", b->tmp, t);
        pids[t] = fork();
        if (pids[t] == 0) {
            int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fo < 0 || fe < 0 || fi < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
                _exit(125);
            /* bare: the workload sees the benchmarked GPU, as a lease's would */
            if (m->kind == K_BARE)
                setenv("CUDA_VISIBLE_DEVICES", b->gpu_info.uuid, 1);
            execvp(av[0], (char *const *)av);
            fprintf(stderr, "%s: %s\n", av[0], strerror(errno));
            _exit(errno == ENOENT ? 127 : 126);
        }
        if (pids[t] < 0) {
            snprintf(m->reason, sizeof m->reason, "fork: %s", strerror(errno));
            m->status = S_FAILED;
            for (int k = 0; k < t; k++)
                waitpid(pids[k], &st[k], 0);
            return -1;
        }
    }
    for (int left = m->tenants; left > 0;) {
        int s;
        pid_t w = waitpid(-1, &s, 0);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        for (int t = 0; t < m->tenants; t++)
            if (pids[t] == w) {
                st[t] = s;
                end[t] = now_s();
                left--;
            }
    }
    int rc = 0;
    for (int t = 0; t < m->tenants; t++) {
        char path[PATH_MAX + 16], why[400] = "";
        snprintf(path, sizeof path, "%s/%d.out", b->tmp, t);
        char *out = slurp(path);
        int code = WIFEXITED(st[t]) ? WEXITSTATUS(st[t]) : 128 + WTERMSIG(st[t]);
        figs[t] = code == 0 && out ? figure(b, out, end[t] - t0, why, sizeof why) : NAN;
        if (code != 0) {
            snprintf(path, sizeof path, "%s/%d.err", b->tmp, t);
            char *err = slurp(path);
            char line[300] = "";
            if (err)
                last_line(err, line, sizeof line);
            if (!line[0] && out)
                last_line(out, line, sizeof line);
            snprintf(why, sizeof why, "exit status %d%s%s", code, line[0] ? ": " : "", line);
            free(err);
        }
        free(out);
        if (isnan(figs[t]) && rc == 0) {
            rc = -1;
            if (m->status != S_FAILED) {
                m->status = S_FAILED;
                m->exit_code = code;
                snprintf(m->reason, sizeof m->reason, "%s", why);
            }
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- progress */

static void progress(struct bench *b, const struct mode *m, int round, const double *figs)
{
    b->done++;
    if (b->progress_tty) {
        int w = 30, fill = b->total ? b->done * w / b->total : w;
        fprintf(stderr, "\r[%.*s%*s] %d/%d  round %d/%u  %-16s", fill,
                "##############################", w - fill, "", b->done, b->total, round + 1,
                b->runs, m->name);
        if (b->done == b->total)
            fputs("\r\033[K", stderr);
        return;
    }
    fprintf(stderr, "gpuplex bench: run %d/%d (round %d/%u) %s:", b->done, b->total, round + 1,
            b->runs, m->name);
    for (int t = 0; t < m->tenants; t++)
        fprintf(stderr, isnan(figs[t]) ? " failed" : " %.4g", figs[t]);
    fputc('\n', stderr);
}

/* ---------------------------------------------------------------- figures */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the n finite values of v (NAN when none). */
static double median(const double *v, int n)
{
    double *s = malloc(sizeof *s * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; s && i < n; i++)
        if (!isnan(v[i]))
            s[k++] = v[i];
    double r = NAN;
    if (k) {
        qsort(s, (size_t)k, sizeof *s, cmp_d);
        r = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    }
    free(s);
    return r;
}

static json_t *num_or_null(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(round(v * 10000) / 10000);
}

/*
 * A row: relative_to_bare is one tenant's throughput over bare's (median over runs; for
 * timeslice rows the tenants' mean), min and max over runs; timeslice rows add each tenant's
 * share of the total and the aggregate (all tenants over bare).
 */
static json_t *row_json(const struct bench *b, const struct mode *m, double bare)
{
    json_t *r = json_object();
    json_object_set_new(r, "mode", json_string(m->name));
    json_object_set_new(r, "status", json_string(status_names[m->status]));
    json_object_set_new(r, "isolation", json_string(m->isolation));
    json_object_set_new(r, "tenants", json_integer(m->tenants));
    json_object_set_new(r, "runs", json_integer(m->ok_runs));
    double rel[256], agg[256], share[MAX_TENANTS][256], raw[256 * MAX_TENANTS];
    int n = 0, nraw = 0;
    for (unsigned i = 0; m->fig && i < b->runs && n < 256; i++) {
        const double *f = m->fig + (size_t)i * (size_t)m->tenants;
        double sum = 0;
        int ok = 1;
        for (int t = 0; t < m->tenants; t++) {
            ok &= !isnan(f[t]);
            sum += f[t];
        }
        if (!ok)
            continue;
        for (int t = 0; t < m->tenants; t++) {
            share[t][n] = sum > 0 ? f[t] / sum : NAN;
            raw[nraw++] = f[t];
        }
        rel[n] = sum / m->tenants / bare;
        agg[n] = sum / bare;
        n++;
    }
    double lo = NAN, hi = NAN;
    for (int i = 0; i < n; i++) {
        lo = isnan(lo) || rel[i] < lo ? rel[i] : lo;
        hi = isnan(hi) || rel[i] > hi ? rel[i] : hi;
    }
    json_object_set_new(r, "relative_to_bare", num_or_null(median(rel, n)));
    json_object_set_new(r, "min", num_or_null(lo));
    json_object_set_new(r, "max", num_or_null(hi));
    json_object_set_new(r, "value", num_or_null(median(raw, nraw)));
    if (m->tenants > 1 || !strncmp(m->name, "timeslice-", 10)) {
        json_t *sh = json_array();
        for (int t = 0; t < m->tenants; t++)
            json_array_append_new(sh, num_or_null(median(share[t], n)));
        json_object_set_new(r, "shares", sh);
        json_object_set_new(r, "aggregate", num_or_null(median(agg, n)));
    }
    if (m->status != S_OK)
        json_object_set_new(r, "reason", json_string(m->reason));
    if (m->status == S_FAILED)
        json_object_set_new(r, "exit_code", json_integer(m->exit_code));
    return r;
}

static json_t *result_json(struct bench *b)
{
    double bare = NAN;
    for (int i = 0; i < b->nmodes; i++)
        if (b->modes[i].kind == K_BARE && b->modes[i].fig)
            bare = median(b->modes[i].fig, (int)b->runs);
    json_t *o = json_object();
    json_object_set_new(o, "gpuplex_bench", json_integer(1));
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    json_object_set_new(o, "finished_at", json_string(when));
    json_object_set(o, "node", b->node);
    json_t *w = json_object(), *argv = json_array();
    const char *av[64];
    struct mode bare_mode = {.kind = K_BARE};
    int n = build_argv(b, &bare_mode, av, 64);
    for (int i = 0; i < n; i++)
        json_array_append_new(argv, json_string(av[i]));
    json_object_set_new(w, "name", json_string(b->cmd ? "command" : "gpuplex-burn"));
    json_object_set_new(w, "argv", argv);
    json_object_set_new(w, "metric",
                        json_string(!b->cmd      ? "kernels_per_s"
                                    : b->have_re ? b->metric
                                                 : "wall"));
    json_object_set_new(w, "unit",
                        json_string(!b->cmd      ? "kernels/s"
                                    : b->have_re ? "as printed"
                                                 : "1/s"));
    json_object_set_new(o, "workload", w);
    json_object_set_new(o, "runs", json_integer(b->runs));
    json_t *rows = json_array();
    for (int i = 0; i < b->nmodes; i++)
        json_array_append_new(rows, row_json(b, &b->modes[i], bare));
    json_object_set_new(o, "rows", rows);
    return o;
}

/* ---------------------------------------------------------------- output */

/* v with `prec` decimals (a sign when `sign`), "-" when it is not a number. */
static void fmt(char *out, size_t len, json_t *v, int prec, int sign)
{
    if (json_is_number(v))
        snprintf(out, len, sign ? "%+.*f" : "%.*f", prec, json_number_value(v));
    else
        snprintf(out, len, "-");
}

static void print_table(json_t *o)
{
    json_t *node = json_object_get(o, "node"), *w = json_object_get(o, "workload");
    printf("GPU %lld: %s, driver %s%s; %s\n",
           (long long)json_integer_value(json_object_get(node, "gpu_index")),
           json_string_value(json_object_get(node, "gpu_name")),
           json_string_value(json_object_get(node, "driver_version")),
           json_is_true(json_object_get(node, "simulated")) ? " (the simulated driver)" : "",
           json_string_value(json_object_get(node, "path")));
    printf("workload: %s, metric %s, %lld run(s) per mode, interleaved\n",
           json_string_value(json_object_get(w, "name")),
           json_string_value(json_object_get(w, "metric")),
           (long long)json_integer_value(json_object_get(o, "runs")));
    printf("%-16s %-8s %-13s %-15s %s\n", "MODE", "VS BARE", "MIN-MAX", "ISOLATION",
           "SHARES / AGGREGATE");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "rows"), i, r)
    {
        const char *st = json_string_value(json_object_get(r, "status"));
        char rel[16], lo[16], hi[16], mm[40], sh[128] = "";
        fmt(rel, sizeof rel, json_object_get(r, "relative_to_bare"), 3, 0);
        fmt(lo, sizeof lo, json_object_get(r, "min"), 3, 0);
        fmt(hi, sizeof hi, json_object_get(r, "max"), 3, 0);
        snprintf(mm, sizeof mm, "%s-%s", lo, hi);
        if (!json_is_number(json_object_get(r, "min")))
            snprintf(mm, sizeof mm, "-");
        json_t *shares = json_object_get(r, "shares");
        if (json_is_array(shares)) {
            size_t k, at = 0;
            json_t *s;
            json_array_foreach(shares, k, s)
            {
                char one[16];
                fmt(one, sizeof one, s, 2, 0);
                at += (size_t)snprintf(sh + at, sizeof sh - at, "%s%s", k ? "/" : "", one);
                if (at >= sizeof sh)
                    break;
            }
            char ag[16];
            fmt(ag, sizeof ag, json_object_get(r, "aggregate"), 3, 0);
            if (at < sizeof sh)
                snprintf(sh + at, sizeof sh - at, "  aggregate %s", ag);
        }
        if (strcmp(st, "refused") == 0)
            printf("%-16s %-8s %-13s %-15s %s\n", json_string_value(json_object_get(r, "mode")),
                   "refused", "", json_string_value(json_object_get(r, "isolation")),
                   json_string_value(json_object_get(r, "reason")));
        else
            printf("%-16s %-8s %-13s %-15s %s\n", json_string_value(json_object_get(r, "mode")),
                   rel, mm, json_string_value(json_object_get(r, "isolation")), sh);
        if (strcmp(st, "failed") == 0)
            printf("%16s failed: %s\n", "", json_string_value(json_object_get(r, "reason")));
    }
    json_t *bare = json_array_get(json_object_get(o, "rows"), 0);
    if (!json_is_number(json_object_get(bare, "relative_to_bare")))
        printf("(bare gave no figure: nothing is relative to it; each row's \"value\" is in "
               "--json)\n");
}
/* Writes the JSON to path through a temporary file and rename (readers never see half). */
static int save(json_t *o, const char *path, gpx_error *err)
{
    char tmp[PATH_MAX + 16];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
        return gpx_error_set(err, GPX_E_INVALID, "%s: path too long", path);
    if (json_dump_file(o, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return gpx_error_errno(err, GPX_E_INTERNAL, e, "writing %s", path);
    }
    return 0;
}

/* ---------------------------------------------------------------- node facts */

static int node_facts(struct bench *b)
{
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(b->server, &cn);
    if (rc)
        return rc;
    struct gpx_node node = {0};
    gpx_error err = {0};
    if (gpx_gpus_list(cn, &node, &err) < 0) {
        gpx_conn_close(cn);
        return gpx_cli_fail(&err);
    }
    if (b->gpu >= node.count) {
        unsigned count = node.count;
        gpx_node_free(&node);
        gpx_conn_close(cn);
        return gpx_cli_usage_error(&gpx_cmd_bench, "--gpu %u: the node has %u GPU(s) (0-%u)",
                                   b->gpu, count, count ? count - 1 : 0);
    }
    b->gpu_info = node.gpus[b->gpu].info;
    b->node = json_object();
    json_object_set_new(b->node, "gpu_index", json_integer(b->gpu));
    json_object_set_new(b->node, "gpu_name", json_string(b->gpu_info.name));
    json_object_set_new(b->node, "gpu_uuid", json_string(b->gpu_info.uuid));
    json_object_set_new(b->node, "memory_total_bytes",
                        json_integer((json_int_t)b->gpu_info.memory_total));
    json_object_set_new(b->node, "mig_mode",
                        json_string(b->gpu_info.mig_current == 1 ? "enabled" : "disabled"));
    json_object_set_new(b->node, "driver_version", json_string(node.driver_version));
    json_object_set_new(b->node, "cuda_version", json_integer(node.cuda_version));
    json_object_set_new(b->node, "path", json_string(gpx_conn_where(cn)));
    /*
     * Which NVML library answered, and whether it is the simulated driver shipped with this
     * gpuplex (LIBDIR/gpuplex/sim): a label for the figures, nothing behaves differently.
     */
    struct gpx_nvml nv;
    gpx_error e2 = {0};
    char lib[PATH_MAX] = "", real[PATH_MAX] = "", simlib[PATH_MAX], simreal[PATH_MAX];
    if (gpx_nvml_open(&nv, &e2) == 0) {
        if (!realpath(nv.path, real))
            snprintf(real, sizeof real, "%s", nv.path);
        snprintf(lib, sizeof lib, "%s", real);
        gpx_nvml_close(&nv);
    }
    int sim = lib[0] &&
              gpx_pkglib_path("sim/libnvidia-ml.so.1", simlib, sizeof simlib, NULL) == 0 &&
              realpath(simlib, simreal) && !strcmp(simreal, real);
    json_object_set_new(b->node, "nvml_library", lib[0] ? json_string(lib) : json_null());
    json_object_set_new(b->node, "simulated", json_boolean(sim));
    if (!b->memory) {
        /* vgpu rows: half the GPU's memory, enough for any workload bare could run at half */
        snprintf(b->mem_s, sizeof b->mem_s, "%lluM",
                 (unsigned long long)(b->gpu_info.memory_total >> 21));
    }
    gpx_node_free(&node);
    gpx_conn_close(cn);
    return 0;
}

/* ---------------------------------------------------------------- the command */

static void cleanup(struct bench *b)
{
    for (int i = 0; i < b->nmodes; i++)
        free(b->modes[i].fig);
    if (b->have_re)
        regfree(&b->re);
    json_decref(b->node);
    if (b->tmp[0]) {
        for (int t = 0; t < MAX_TENANTS; t++) {
            char p[PATH_MAX + 16];
            snprintf(p, sizeof p, "%s/%d.out", b->tmp, t);
            unlink(p);
            snprintf(p, sizeof p, "%s/%d.err", b->tmp, t);
            unlink(p);
        }
        rmdir(b->tmp);
    }
}

static int parse_uint(const char *flag, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || v < lo || v > hi)
        return gpx_cli_usage_error(&gpx_cmd_bench, "%s: '%s' is not a whole number from %u to %u",
                                   flag, s, lo, hi);
    *out = (unsigned)v;
    return 0;
}

static int compare(int argc, char **argv);

static int bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "compare"))
        return compare(argc - 1, argv + 1);
    static const struct option opts[] = {{"modes", required_argument, NULL, 'M'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"metric", required_argument, NULL, 'm'},
                                         {"gpu", required_argument, NULL, 'g'},
                                         {"memory", required_argument, NULL, 'y'},
                                         {"cap", required_argument, NULL, 'c'},
                                         {"duration-ms", required_argument, NULL, 'd'},
                                         {"image", required_argument, NULL, 'i'},
                                         {"podman", required_argument, NULL, 'p'},
                                         {"server", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bench *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    b->runs = 5;
    b->cap = 50;
    b->duration_ms = 2000;
    b->image = getenv("GPUPLEX_BENCH_IMAGE");
    if (b->image && !*b->image)
        b->image = NULL;
    b->podman =
        getenv("GPUPLEX_PODMAN") && *getenv("GPUPLEX_PODMAN") ? getenv("GPUPLEX_PODMAN") : "podman";
    const char *modes = default_modes;
    int c, rc = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "+M:r:jo:m:g:y:c:d:i:p:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'M':
            modes = optarg;
            break;
        case 'r':
            rc = parse_uint("--runs", optarg, 1, 100, &b->runs);
            break;
        case 'j':
            b->json = 1;
            break;
        case 'o':
            b->output = optarg;
            break;
        case 'm':
            b->metric = optarg;
            break;
        case 'g':
            rc = parse_uint("--gpu", optarg, 0, 1023, &b->gpu);
            break;
        case 'y':
            b->memory = optarg;
            break;
        case 'c':
            rc = parse_uint("--cap", optarg, 1, 100, &b->cap);
            break;
        case 'd':
            rc = parse_uint("--duration-ms", optarg, 10, 3600000, &b->duration_ms);
            break;
        case 'i':
            b->image = *optarg ? optarg : NULL;
            break;
        case 'p':
            b->podman = optarg;
            break;
        case 's':
            b->server = optarg;
            break;
        case 'h':
            free(b);
            return gpx_cli_print_usage(&gpx_cmd_bench);
        default:
            rc = gpx_cli_usage_error(&gpx_cmd_bench, "unknown or incomplete option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (rc == 0 && optind < argc) {
        b->cmd = argv + optind;
        b->ncmd = argc - optind;
    }
    if (rc == 0 && b->metric && !b->cmd)
        rc = gpx_cli_usage_error(&gpx_cmd_bench,
                                 "--metric is for '-- CMD' (gpuplex-burn's figure is kernels/s)");
    if (rc == 0 && b->metric && strcmp(b->metric, "wall") != 0) {
        int e = regcomp(&b->re, b->metric, REG_EXTENDED);
        if (e != 0) {
            char m[200];
            regerror(e, &b->re, m, sizeof m);
            rc = gpx_cli_usage_error(&gpx_cmd_bench, "--metric '%s': %s", b->metric, m);
        } else if (b->re.re_nsub < 1) {
            regfree(&b->re);
            rc = gpx_cli_usage_error(&gpx_cmd_bench,
                                     "--metric '%s' needs a capture group around the number, "
                                     "e.g. 'samples/s: ([0-9.]+)'; or --metric wall",
                                     b->metric);
        } else {
            b->have_re = 1;
        }
    }
    if (rc == 0 && b->memory) {
        struct gpx_lease_spec s;
        gpx_lease_spec_init(&s);
        gpx_error err = {0};
        if (gpx_lease_spec_set(&s, GPX_F_MEMORY, b->memory, GPX_NAMING_CLI, &err) < 0)
            rc = gpx_cli_usage_error(&gpx_cmd_bench, "%s", err.msg);
        gpx_lease_spec_clear(&s);
        snprintf(b->mem_s, sizeof b->mem_s, "%s", b->memory);
    }
    snprintf(b->gpu_s, sizeof b->gpu_s, "%u", b->gpu);
    snprintf(b->cap_s, sizeof b->cap_s, "%u", b->cap);
    snprintf(b->dur_s, sizeof b->dur_s, "%u", b->duration_ms);
    /* the modes: bare first, always (the reference), then as given */
    if (rc == 0) {
        parse_mode(b, "bare");
        char *list = strdup(modes), *save = NULL;
        for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && rc == 0;
             t = strtok_r(NULL, ",", &save))
            if (parse_mode(b, t) < 0)
                rc = gpx_cli_usage_error(&gpx_cmd_bench, "--modes: '%s' is not a mode; valid: %s",
                                         t, valid_modes);
        free(list);
    }
    if (rc) {
        cleanup(b);
        free(b);
        return rc;
    }

    gpx_error err = {0};
    char dir[PATH_MAX];
    if (gpx_exe_dir(dir, sizeof dir, &err) < 0) {
        cleanup(b);
        free(b);
        return gpx_cli_fail(&err);
    }
    if ((size_t)snprintf(b->self, sizeof b->self, "%s/gpuplex", dir) >= sizeof b->self ||
        (size_t)snprintf(b->burn, sizeof b->burn, "%s/gpuplex-burn", dir) >= sizeof b->burn) {
        gpx_error_set(&err, GPX_E_INTERNAL, "%s: path too long", dir);
        cleanup(b);
        free(b);
        return gpx_cli_fail(&err);
    }
    if (!b->cmd && access(b->burn, X_OK) != 0) {
        gpx_error_set(&err, GPX_E_NOT_FOUND,
                      "the default workload %s is missing: is gpuplex fully built/installed? (or "
                      "benchmark your own: gpuplex bench -- CMD)",
                      b->burn);
        cleanup(b);
        free(b);
        return gpx_cli_fail(&err);
    }
    if ((rc = node_facts(b)) != 0) {
        cleanup(b);
        free(b);
        return rc;
    }
    expand_mig(b);
    check_modes(b);

    const char *td = getenv("TMPDIR");
    snprintf(b->tmp, sizeof b->tmp, "%s/gpuplex-bench.XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(b->tmp)) {
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "making a temporary directory in %s",
                        td && *td ? td : "/tmp");
        b->tmp[0] = '\0';
        cleanup(b);
        free(b);
        return gpx_cli_fail(&err);
    }
    int runnable = 0;
    for (int i = 0; i < b->nmodes; i++)
        if (b->modes[i].status == S_OK) {
            runnable++;
            b->modes[i].fig = malloc(sizeof(double) * b->runs * (size_t)b->modes[i].tenants);
            for (unsigned k = 0; b->modes[i].fig && k < b->runs * (unsigned)b->modes[i].tenants;
                 k++)
                b->modes[i].fig[k] = NAN;
        }
    b->total = runnable * (int)b->runs;
    b->progress_tty = isatty(STDERR_FILENO);

    /* the rounds: every mode once per round, the order rotated by the round */
    for (unsigned r = 0; r < b->runs; r++)
        for (int k = 0; k < b->nmodes; k++) {
            struct mode *m = &b->modes[((unsigned)k + r) % (unsigned)b->nmodes];
            if (!m->fig || m->status == S_REFUSED)
                continue;
            double *f = m->fig + (size_t)r * (size_t)m->tenants;
            if (run_once(b, m, f) == 0)
                m->ok_runs++;
            progress(b, m, (int)r, f);
        }

    json_t *o = result_json(b);
    if (b->json)
        gpx_view_print(o);
    else
        print_table(o);
    /* saved where `gpuplex recommend` looks, and where asked */
    char last[PATH_MAX];
    gpx_error e2 = {0};
    if ((size_t)snprintf(last, sizeof last, "%s/bench", gpx_state_dir()) < sizeof last &&
        gpx_mkdirs(last, 0700, &e2) == 0) {
        strncat(last, "/last.json", sizeof last - strlen(last) - 1);
        if (save(o, last, &e2) < 0)
            fprintf(stderr, "gpuplex bench: %s (the result is not kept for gpuplex recommend)\n",
                    e2.msg);
    } else {
        fprintf(stderr,
                "gpuplex bench: %s/bench: %s (the result is not kept for gpuplex "
                "recommend)\n",
                gpx_state_dir(), e2.msg[0] ? e2.msg : "path too long");
    }
    rc = 0;
    if (b->output && save(o, b->output, &err) < 0)
        rc = gpx_cli_fail(&err);
    int measured = 0;
    for (int i = 0; i < b->nmodes; i++)
        measured += b->modes[i].ok_runs > 0;
    if (rc == 0 && !measured) {
        fprintf(stderr, "gpuplex bench: no mode produced a figure (every one failed or was "
                        "refused)\n");
        rc = 1;
    }
    json_decref(o);
    cleanup(b);
    free(b);
    return rc;
}

/* ---------------------------------------------------------------- compare */

static json_t *load(const char *path, int *rc)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o || !json_is_array(json_object_get(o, "rows"))) {
        gpx_error err = {0};
        /* a file that is missing is NOT_FOUND (5), one that is not a result INVALID (2) */
        int missing = !o && access(path, F_OK) != 0;
        gpx_error_set(&err, missing ? GPX_E_NOT_FOUND : GPX_E_INVALID, "%s: %s", path,
                      o ? "not a gpuplex bench result (no \"rows\" array)" : je.text);
        *rc = gpx_cli_fail(&err);
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *find_row(json_t *o, const char *mode)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(o, "rows"), i, r)
    {
        const char *m = json_string_value(json_object_get(r, "mode"));
        if (m && !strcmp(m, mode))
            return r;
    }
    return NULL;
}

/*
 * Side by side: per mode A's and B's relative_to_bare, B - A, and which is better: "same"
 * when the two runs' min-max ranges overlap (the difference is within their noise).
 */
static json_t *compare_rows(json_t *a, json_t *b)
{
    json_t *rows = json_array();
    json_t *src[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(src[s], "rows"), i, r)
        {
            const char *mode = json_string_value(json_object_get(r, "mode"));
            if (!mode || (s == 1 && find_row(a, mode)))
                continue;
            json_t *ra = find_row(a, mode), *rb = find_row(b, mode);
            json_t *va = json_object_get(ra, "relative_to_bare");
            json_t *vb = json_object_get(rb, "relative_to_bare");
            json_t *row = json_object();
            json_object_set_new(row, "mode", json_string(mode));
            json_object_set(row, "a", va ? va : json_null());
            json_object_set(row, "b", vb ? vb : json_null());
            const char *better = NULL;
            if (json_is_number(va) && json_is_number(vb)) {
                double x = json_number_value(va), y = json_number_value(vb);
                json_object_set_new(row, "delta", num_or_null(y - x));
                double alo = json_number_value(json_object_get(ra, "min"));
                double ahi = json_number_value(json_object_get(ra, "max"));
                double blo = json_number_value(json_object_get(rb, "min"));
                double bhi = json_number_value(json_object_get(rb, "max"));
                better = (alo <= bhi && blo <= ahi) ? "same" : y > x ? "b" : "a";
            } else {
                json_object_set_new(row, "delta", json_null());
            }
            json_object_set_new(row, "better", better ? json_string(better) : json_null());
            json_array_append_new(rows, row);
        }
    }
    return rows;
}

static int compare(int argc, char **argv)
{
    int json = 0, c;
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_bench);
        else
            return gpx_cli_usage_error(&gpx_cmd_bench, "compare: unknown option '%s'",
                                       argv[optind - 1]);
    }
    if (argc - optind != 2)
        return gpx_cli_usage_error(&gpx_cmd_bench,
                                   "compare needs two result files: compare A.json B.json");
    int rc = 0;
    json_t *a = load(argv[optind], &rc), *b = a ? load(argv[optind + 1], &rc) : NULL;
    if (!a || !b) {
        json_decref(a);
        return rc;
    }
    json_t *out = json_object();
    json_object_set_new(out, "a", json_string(argv[optind]));
    json_object_set_new(out, "b", json_string(argv[optind + 1]));
    json_t *rows = compare_rows(a, b);
    json_object_set_new(out, "rows", rows);
    if (json) {
        gpx_view_print(out);
    } else {
        const char *na = json_string_value(json_object_get(json_object_get(a, "node"), "gpu_name"));
        const char *nb = json_string_value(json_object_get(json_object_get(b, "node"), "gpu_name"));
        json_t *wa = json_object_get(json_object_get(a, "workload"), "argv");
        json_t *wb = json_object_get(json_object_get(b, "workload"), "argv");
        printf("A: %s (%s)\nB: %s (%s)\n", argv[optind], na ? na : "?", argv[optind + 1],
               nb ? nb : "?");
        if (!json_equal(wa, wb))
            printf("note: A and B ran different workloads\n");
        printf("%-16s %-8s %-8s %-8s %s\n", "MODE", "A", "B", "B-A", "BETTER");
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            char x[16], y[16], d[16];
            fmt(x, sizeof x, json_object_get(r, "a"), 3, 0);
            fmt(y, sizeof y, json_object_get(r, "b"), 3, 0);
            fmt(d, sizeof d, json_object_get(r, "delta"), 3, 1);
            const char *bt = json_string_value(json_object_get(r, "better"));
            printf("%-16s %-8s %-8s %-8s %s\n", json_string_value(json_object_get(r, "mode")), x, y,
                   d,
                   !bt                   ? "-"
                   : !strcmp(bt, "same") ? "same (within noise)"
                   : bt[0] == 'a'        ? "A"
                                         : "B");
        }
    }
    json_decref(out);
    json_decref(a);
    json_decref(b);
    return 0;
}

const struct gpx_cmd gpx_cmd_bench = {
    "bench",
    bench,
    "measure each mode's throughput against bare metal on this node",
    "usage: gpuplex bench [--modes LIST] [--runs N] [--json] [--output FILE.json]\n"
    "                     [--gpu G] [--memory SIZE] [--cap PCT] [--duration-ms D]\n"
    "                     [--image IMAGE] [--podman PATH] [--server S]\n"
    "                     [--metric wall|REGEX] [-- CMD [ARGS...]]\n"
    "       gpuplex bench compare [--json] A.json B.json\n"
    "\n"
    "Runs a workload under each way of using GPU G (default 0) and prints, per mode,\n"
    "its throughput relative to bare metal: the median of N runs (--runs, default 5)\n"
    "with their min-max, and the isolation the mode gives. Runs are interleaved:\n"
    "round r runs every mode once, in an order rotated by r, so that noise on the\n"
    "machine hits every mode alike. Progress goes to stderr (a bar on a terminal).\n"
    "\n"
    "modes (--modes, comma-separated; default all; bare always runs, it is the reference):\n"
    "  bare          the workload alone, no gpuplex (CUDA_VISIBLE_DEVICES = GPU G)\n"
    "  exclusive     gpuplex run --mode exclusive                  isolation hardware\n"
    "  vgpu          --mode vgpu --memory SIZE (default half of G) memory+compute\n"
    "  vgpu-cap      the same with --cap PCT (default 50)          memory+compute\n"
    "  mig:PROFILE   --mode mig --mig-profile PROFILE              hardware\n"
    "  mig           mig:<smallest profile> and mig:<the half one> of G's model\n"
    "  timeslice-N   N tenants (1, 2, 4) at once, each --mode timeslice --weight 1:\n"
    "                per-tenant throughput, each one's share of the total, and the\n"
    "                aggregate (all tenants over bare)             process\n"
    "  timeslice     timeslice-1, timeslice-2 and timeslice-4\n"
    "  container     gpuplex run --mode exclusive --container IMAGE (CDI, podman)\n"
    "  vm            refused with the reason (bench does not boot guests)\n"
    "A mode the node cannot give is a row with status \"refused\" and the reason:\n"
    "each lease is asked for once before the rounds and given back; MIG needs G in\n"
    "MIG mode (bench never switches it: 'gpuplex mig apply'); container needs podman\n"
    "and IMAGE in its local storage (--image, default $GPUPLEX_BENCH_IMAGE; never\n"
    "pulled); vm is refused naming what the node lacks (IOMMU groups).\n"
    "\n"
    "workload:\n"
    "  default   gpuplex-burn --duration-ms D (default 2000): 200 us spin kernels on\n"
    "            2 streams, 256 MiB held, and every 20 kernels a 16 MiB chunk\n"
    "            allocated, 1 MiB copied in and back and freed; figure: kernels/s\n"
    "            (in a container, the image's gpuplex-burn)\n"
    "  -- CMD    your command; its figure (higher is better):\n"
    "            --metric wall   1 / its wall time (the default)\n"
    "            --metric REGEX  the number REGEX's first capture group matches in\n"
    "                            its stdout (POSIX extended; the last match counts),\n"
    "                            e.g. --metric 'samples/s: ([0-9.]+)'\n"
    "A run fails when the workload exits non-zero (or prints no figure): its row\n"
    "gets status \"failed\" with the exit code and its last line of stderr.\n"
    "\n"
    "--json prints one object: gpuplex_bench (its format, 1), finished_at, node\n"
    "(gpu_index, gpu_name, gpu_uuid, memory_total_bytes, driver_version, cuda_version,\n"
    "mig_mode, path, nvml_library, simulated), workload (name, argv, metric, unit),\n"
    "runs, and rows: one per mode with mode, status (ok, refused,\n"
    "failed), relative_to_bare, min, max, value (the median raw figure), runs (runs\n"
    "that gave a figure), tenants, isolation, and shares + aggregate (timeslice),\n"
    "reason (refused, failed), exit_code (failed); docs/choosing.md.\n"
    "The result is always saved as <state dir>/bench/last.json (gpuplex recommend\n"
    "cites it) and, with --output, also to FILE.json.\n"
    "\n"
    "compare A.json B.json: per mode, A's and B's relative_to_bare, B-A, and which is\n"
    "better (\"same\" when their min-max ranges overlap); --json for scripts.\n"
    "\n"
    "exit status: 0 at least one mode gave a figure; 1 none did (each failed or was\n"
    "refused), or a file could not be written; 2 bad usage; 5 no such file (compare).\n",
};
