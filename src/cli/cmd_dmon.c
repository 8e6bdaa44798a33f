/*
 * gpuplex dmon: `nvidia-smi dmon` for a gpuplex node. The same flags (-s, -d,
 * -c, -i, -o) and the same output — two '#' header lines, then one row per
 * GPU per interval in right-aligned columns, '-' for what is not known — so a
 * script that parses nvidia-smi dmon parses this. What gpuplex adds, and
 * nvidia-smi cannot know: with --leases, a row per lease under its GPU (the
 * GPU time it got over the interval from the arbiter's accounting, its
 * memory, its wait) and a row per MIG instance; with --json, one JSON object
 * per row. Samples come from src/cli/sample.c (gpuplexd or in-process).
 */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/sample.h"
#include "gpuplex/client.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB     (1024ULL * 1024ULL)
#define MAX_SEL 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* --- the columns of nvidia-smi dmon, by -s letter ------------------------------------------- */

/* A GPU's figure for a column: 1 with *v set, 0 when gpuplex cannot know it ("-"). */
typedef int (*getter)(const struct gpx_gpu_info *g, long *v);

static int get_none(const struct gpx_gpu_info *g, long *v)
{
    (void)g;
    (void)v;
    return 0;
}
static int get_pwr(const struct gpx_gpu_info *g, long *v)
{
    *v = (long)((g->power_mw + 500) / 1000);
    return !!(g->valid & GPX_INV_POWER);
}
static int get_gtemp(const struct gpx_gpu_info *g, long *v)
{
    *v = g->temperature_c;
    return !!(g->valid & GPX_INV_TEMP);
}
static int get_sm(const struct gpx_gpu_info *g, long *v)
{
    *v = g->util_gpu;
    return !!(g->valid & GPX_INV_UTIL);
}
static int get_mem(const struct gpx_gpu_info *g, long *v)
{
    *v = g->util_memory;
    return !!(g->valid & GPX_INV_UTIL);
}
static int get_mclk(const struct gpx_gpu_info *g, long *v)
{
    *v = g->mem_clock_mhz;
    return !!(g->valid & GPX_INV_MEM_CLOCK);
}
static int get_pclk(const struct gpx_gpu_info *g, long *v)
{
    *v = g->sm_clock_mhz;
    return !!(g->valid & GPX_INV_SM_CLOCK);
}
static int get_fb(const struct gpx_gpu_info *g, long *v)
{
    *v = (long)(g->memory_used / MIB);
    return 1;
}

struct column {
    char letter;
    const char *name, *unit;
    getter get;
};

/* Each group's columns, in nvidia-smi's order within the group. */
static const struct column columns[] = {
    {'p', "pwr", "W", get_pwr},       {'p', "gtemp", "C", get_gtemp},
    {'p', "mtemp", "C", get_none},    {'u', "sm", "%", get_sm},
    {'u', "mem", "%", get_mem},       {'u', "enc", "%", get_none},
    {'u', "dec", "%", get_none},      {'u', "jpg", "%", get_none},
    {'u', "ofa", "%", get_none},      {'c', "mclk", "MHz", get_mclk},
    {'c', "pclk", "MHz", get_pclk},   {'v', "pviol", "%", get_none},
    {'v', "tviol", "bool", get_none}, {'m', "fb", "MB", get_fb},
    {'m', "bar1", "MB", get_none},    {'m', "ccpm", "MB", get_none},
    {'e', "sbecc", "errs", get_none}, {'e', "dbecc", "errs", get_none},
    {'e', "pci", "errs", get_none},   {'t', "rxpci", "MB/s", get_none},
    {'t', "txpci", "MB/s", get_none},
};
#define NCOLS   (sizeof columns / sizeof columns[0])
#define LETTERS "pucvmet"

struct opts {
    unsigned sel[NCOLS], nsel; /* indexes into columns[] */
    double interval_s;
    long count;                    /* 0: until stopped */
    unsigned gpus[MAX_SEL], ngpus; /* indexes; from ids[] once the node is known */
    char ids[MAX_SEL][96];         /* -i as given: index, GPU UUID or PCI bus id */
    int date, time;
    int leases, json;
    const char *server;
};

static int parse_letters(struct opts *o, const char *s)
{
    for (const char *p = s; *p; p++)
        if (!strchr(LETTERS, *p) || *p == ',')
            return gpx_cli_usage_error(&gpx_cmd_dmon,
                                       "-s: unknown metric group '%c' in '%s'; valid: p (power, "
                                       "temperature), u (utilization), c (clocks), v (violations), "
                                       "m (memory), e (ECC, PCIe errors), t (PCIe throughput)",
                                       *p, s);
    if (!*s)
        return gpx_cli_usage_error(&gpx_cmd_dmon, "-s needs at least one of the letters %s",
                                   LETTERS);
    /* nvidia-smi's order: the groups as the letters are given (-s mu: fb before sm),
     * each group's columns in their fixed order; a repeated letter counts once */
    o->nsel = 0;
    for (const char *p = s; *p; p++) {
        if (strchr(s, *p) != p)
            continue;
        for (unsigned i = 0; i < NCOLS; i++)
            if (columns[i].letter == *p)
                o->sel[o->nsel++] = i;
    }
    return 0;
}

/* -i as nvidia-smi's: a comma list of indexes, GPU UUIDs or PCI bus ids, resolved against
 * the node by check_gpus once the first sample is in. */
static int parse_gpus(struct opts *o, const char *s)
{
    char buf[MAX_SEL * 100];
    snprintf(buf, sizeof buf, "%s", s);
    o->ngpus = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        int index = t[0] && strspn(t, "0123456789") == strlen(t) && strlen(t) <= 4;
        int uuid = strncasecmp(t, "GPU-", 4) == 0 && strlen(t) < sizeof o->ids[0];
        int bus = strchr(t, ':') != NULL && strlen(t) < 32;
        if (strncasecmp(t, "MIG-", 4) == 0)
            return gpx_cli_usage_error(&gpx_cmd_dmon,
                                       "-i: '%s' is a MIG device; dmon shows whole GPUs (their "
                                       "MIG instances with --leases)",
                                       t);
        if (!index && !uuid && !bus)
            return gpx_cli_usage_error(&gpx_cmd_dmon,
                                       "-i: '%s' is not a GPU (a comma list of indexes, GPU "
                                       "UUIDs or PCI bus ids, as 'gpuplex ls' shows them, e.g. "
                                       "-i 0,2)",
                                       t);
        if (o->ngpus == MAX_SEL)
            return gpx_cli_usage_error(&gpx_cmd_dmon, "-i: at most %d GPUs", MAX_SEL);
        snprintf(o->ids[o->ngpus++], sizeof o->ids[0], "%s", t);
    }
    if (!o->ngpus)
        return gpx_cli_usage_error(&gpx_cmd_dmon, "-i needs a comma list of GPUs (e.g. -i 0,2)");
    return 0;
}

/* Whether two PCI bus ids name one device: "00000000:2A:00.0", "0000:2a:00.0", "2A:00.0". */
static int same_bus(const char *a, const char *b)
{
    unsigned v[2][4];
    const char *s[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        char tail;
        if (sscanf(s[k], "%x:%x:%x.%x%c", &v[k][0], &v[k][1], &v[k][2], &v[k][3], &tail) == 4)
            continue;
        v[k][0] = 0;
        if (sscanf(s[k], "%x:%x.%x%c", &v[k][1], &v[k][2], &v[k][3], &tail) != 3)
            return 0;
    }
    return memcmp(v[0], v[1], sizeof v[0]) == 0;
}

/* The node's index of GPU selector `id` (index, UUID, PCI bus id); -1: none such. */
static long resolve_gpu(const struct gpx_sample *s, const char *id)
{
    int digits = strspn(id, "0123456789") == strlen(id);
    for (unsigned g = 0; g < s->node.count; g++) {
        const struct gpx_gpu_info *gi = &s->node.gpus[g].info;
        if (digits ? strtoul(id, NULL, 10) == gi->index
                   : strcasecmp(gi->uuid, id) == 0 || same_bus(gi->pci_bus_id, id))
            return gi->index;
    }
    return -1;
}

static int parse_dt(struct opts *o, const char *s)
{
    o->date = o->time = 0;
    for (const char *p = s; *p; p++) {
        if (*p == 'D')
            o->date = 1;
        else if (*p == 'T')
            o->time = 1;
        else
            return gpx_cli_usage_error(
                &gpx_cmd_dmon, "-o: unknown '%c' in '%s'; valid: D (date), T (time), DT", *p, s);
    }
    if (!o->date && !o->time)
        return gpx_cli_usage_error(&gpx_cmd_dmon, "-o needs D, T or DT");
    return 0;
}

/* --- printing -------------------------------------------------------------------------------- */

struct stamp {
    char date[16], time[16], iso[64];
};

static void make_stamp(struct stamp *st)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm lt, ut;
    localtime_r(&ts.tv_sec, &lt);
    gmtime_r(&ts.tv_sec, &ut);
    strftime(st->date, sizeof st->date, "%Y%m%d", &lt);
    strftime(st->time, sizeof st->time, "%H:%M:%S", &lt);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &ut);
    snprintf(st->iso, sizeof st->iso, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

/*
 * The start of a line: '#' for the headers, ' ' for rows, the -o columns,
 * then the Idx column (4 wide, as nvidia-smi's "# gpu").
 */
static void line_start(const struct opts *o, char lead, const char *date, const char *time,
                       const char *idx)
{
    putchar(lead);
    if (o->date)
        printf("%-8s   ", date);
    if (o->time)
        printf("%-8s   ", time);
    printf("%4s", idx);
}

static void print_header(const struct opts *o)
{
    line_start(o, '#', "Date", "Time", "gpu");
    for (unsigned i = 0; i < o->nsel; i++)
        printf(" %6s", columns[o->sel[i]].name);
    putchar('\n');
    line_start(o, '#', "YYYYMMDD", "HH:MM:SS", "Idx");
    for (unsigned i = 0; i < o->nsel; i++)
        printf(" %6s", columns[o->sel[i]].unit);
    putchar('\n');
}

static int want_gpu(const struct opts *o, unsigned idx)
{
    if (!o->ngpus)
        return 1;
    for (unsigned i = 0; i < o->ngpus; i++)
        if (o->gpus[i] == idx)
            return 1;
    return 0;
}

/* JSON: the common keys of every row. */
static json_t *json_row(const char *type, unsigned gpu, long sample, const struct stamp *st)
{
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "gpu", json_integer(gpu));
    json_object_set_new(j, "sample", json_integer(sample));
    json_object_set_new(j, "timestamp", json_string(st->iso));
    return j;
}

static void json_print(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

static void print_gpu(const struct opts *o, const struct gpx_gpu_info *g, long sample,
                      const struct stamp *st)
{
    if (o->json) {
        json_t *j = json_row("gpu", g->index, sample, st);
        json_object_set_new(j, "uuid", json_string(g->uuid));
        for (unsigned i = 0; i < o->nsel; i++) {
            long v;
            const struct column *c = &columns[o->sel[i]];
            json_object_set_new(j, c->name, c->get(g, &v) ? json_integer(v) : json_null());
        }
        json_print(j);
        return;
    }
    char idx[16];
    snprintf(idx, sizeof idx, "%u", g->index);
    line_start(o, ' ', st->date, st->time, idx);
    for (unsigned i = 0; i < o->nsel; i++) {
        long v;
        const struct column *c = &columns[o->sel[i]];
        if (c->get(g, &v))
            printf(" %6ld", v);
        else
            printf(" %6s", "-");
    }
    putchar('\n');
}

/*
 * A row in the grid of the GPU rows for a lease or MIG instance: Idx "L<gpu>"
 * / "M<gpu>" (never a number, so nvidia-smi parsers that want one skip it),
 * sm and fb where the row has them, '-' elsewhere; then key=value fields.
 */
static void print_grid(const struct opts *o, const char *idx, const struct stamp *st, int has_sm,
                       long sm, int has_fb, long fb)
{
    line_start(o, ' ', st->date, st->time, idx);
    for (unsigned i = 0; i < o->nsel; i++) {
        const char *n = columns[o->sel[i]].name;
        if (has_sm && strcmp(n, "sm") == 0)
            printf(" %6ld", sm);
        else if (has_fb && strcmp(n, "fb") == 0)
            printf(" %6ld", fb);
        else
            printf(" %6s", "-");
    }
}

static void print_lease(const struct opts *o, const struct gpx_sample *prev,
                        const struct gpx_sample *cur, unsigned i, long sample,
                        const struct stamp *st)
{
    const struct gpx_lease *l = &cur->leases[i];
    double wait_ms = 0, share;
    if (prev) {
        share = gpx_sample_lease_share(prev, cur, i, &wait_ms);
        wait_ms = wait_ms < 0 ? 0 : wait_ms;
    } else {
        /* the first sample has no interval: since the lease began */
        share = gpx_lease_util(l, 0, l->lease_seconds);
        wait_ms = (double)l->wait_ns / 1e6;
    }
    int share_known = share >= 0;
    uint64_t used_b = 0;
    int used_known = gpx_sample_lease_memory(cur, i, &used_b);
    long used = (long)(used_b / MIB);
    /* the quota of a shared lease; the GPU's (instance's) memory of an exclusive or mig one */
    uint64_t held = gpx_lease_held_memory(&l->rec);
    long quota = (long)(held / MIB);
    const char *mode = gpx_lease_mode_name((enum gpx_lease_mode)l->rec.mode);
    if (o->json) {
        json_t *j = json_row("lease", l->rec.gpu_index, sample, st);
        json_object_set_new(j, "lease", json_string(l->rec.id));
        json_object_set_new(j, "tenant", json_string(l->rec.tenant));
        json_object_set_new(j, "mode", json_string(mode));
        json_object_set_new(j, "memory_used_mib", used_known ? json_integer(used) : json_null());
        json_object_set_new(j, "memory_quota_mib", held ? json_integer(quota) : json_null());
        json_object_set_new(j, "share",
                            share_known ? json_real(round(share * 1000) / 1000) : json_null());
        json_object_set_new(j, "wait_ms", json_real(round(wait_ms * 10) / 10));
        json_object_set_new(j, "processes", json_integer(l->nprocs));
        json_print(j);
        return;
    }
    char idx[16], q[24], u[24], sh[24];
    snprintf(idx, sizeof idx, "L%u", l->rec.gpu_index);
    print_grid(o, idx, st, share_known, lround(share * 100), used_known, used);
    snprintf(q, sizeof q, held ? "%ld" : "-", quota);
    snprintf(u, sizeof u, used_known ? "%ld" : "-", used);
    snprintf(sh, sizeof sh, share_known ? "%.1f" : "-", share * 100);
    printf("  lease=%s tenant=%s mode=%s used_mib=%s quota_mib=%s share_pct=%s wait_ms=%.0f "
           "procs=%u\n",
           l->rec.id, l->rec.tenant, mode, u, q, sh, wait_ms, l->nprocs);
}

static void print_mig(const struct opts *o, const struct gpx_sample_mig *m, long sample,
                      const struct stamp *st)
{
    long used = (long)(m->memory_used / MIB), total = (long)(m->memory_total / MIB);
    if (o->json) {
        json_t *j = json_row("mig", m->gpu, sample, st);
        json_object_set_new(j, "gpu_instance_id", json_integer(m->gi_id));
        json_object_set_new(j, "profile", m->profile[0] ? json_string(m->profile) : json_null());
        json_object_set_new(j, "uuid", m->uuid[0] ? json_string(m->uuid) : json_null());
        json_object_set_new(j, "memory_used_mib", m->used_known ? json_integer(used) : json_null());
        json_object_set_new(j, "memory_total_mib", total ? json_integer(total) : json_null());
        json_object_set_new(j, "lease", m->lease[0] ? json_string(m->lease) : json_null());
        json_object_set_new(j, "leased", json_boolean(m->leased));
        json_object_set_new(j, "processes", json_integer(m->procs));
        json_print(j);
        return;
    }
    char idx[16], u[24], t[24];
    snprintf(idx, sizeof idx, "M%u", m->gpu);
    print_grid(o, idx, st, 0, 0, m->used_known, used);
    snprintf(u, sizeof u, m->used_known ? "%ld" : "-", used);
    snprintf(t, sizeof t, total ? "%ld" : "-", total);
    printf("  gi=%u profile=%s uuid=%s used_mib=%s total_mib=%s lease=%s procs=%u\n", m->gi_id,
           m->profile[0] ? m->profile : "-", m->uuid[0] ? m->uuid : "-", u, t,
           m->lease[0] ? m->lease : (m->leased ? "(another tenant's)" : "-"), m->procs);
}

static void print_sample(const struct opts *o, const struct gpx_sample *prev,
                         const struct gpx_sample *cur, long sample)
{
    struct stamp st;
    make_stamp(&st);
    for (unsigned g = 0; g < cur->node.count; g++) {
        const struct gpx_gpu_info *gi = &cur->node.gpus[g].info;
        if (!want_gpu(o, gi->index))
            continue;
        print_gpu(o, gi, sample, &st);
        if (!o->leases)
            continue;
        for (unsigned i = 0; i < cur->n_leases; i++)
            if (cur->leases[i].rec.gpu_index == gi->index)
                print_lease(o, prev, cur, i, sample, &st);
        for (unsigned i = 0; i < cur->n_mig; i++)
            if (cur->mig[i].gpu == gi->index)
                print_mig(o, &cur->mig[i], sample, &st);
    }
    fflush(stdout);
}

/* -i names GPUs of this node only; the error lists the ones there are. */
static int check_gpus(struct opts *o, const struct gpx_sample *s)
{
    for (unsigned i = 0; i < o->ngpus; i++) {
        long idx = resolve_gpu(s, o->ids[i]);
        if (idx >= 0) {
            o->gpus[i] = (unsigned)idx;
            continue;
        }
        char valid[256] = "";
        size_t n = 0;
        for (unsigned g = 0; g < s->node.count && n < sizeof valid - 8; g++)
            n += (size_t)snprintf(valid + n, sizeof valid - n, "%s%u", g ? ", " : "",
                                  s->node.gpus[g].info.index);
        fprintf(stderr,
                "gpuplex dmon: -i: no GPU %s on this node; valid: %s (or their UUIDs or PCI "
                "bus ids, as 'gpuplex ls' shows them)\n",
                o->ids[i], s->node.count ? valid : "none (no GPU)");
        return gpx_error_exit_status(GPX_E_NOT_FOUND);
    }
    return 0;
}

/* Sleeps until `deadline` (CLOCK_MONOTONIC ns) or a signal. */
static void sleep_until(int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000LL), (long)(deadline % 1000000000LL)};
    while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int loop(struct opts *o)
{
    struct gpx_conn *cn = NULL;
    struct gpx_sample prev, cur;
    int have_prev = 0, rc = 0;
    int64_t start = mono_now(), step = (int64_t)(o->interval_s * 1e9);
    for (long k = 0; !stop && (o->count == 0 || k < o->count); k++) {
        gpx_error err = {0};
        if (gpx_sample_take_server(o->server, &cn, &cur, &err) < 0) {
            rc = gpx_cli_fail(&err);
            break;
        }
        if (k == 0) {
            rc = check_gpus(o, &cur);
            if (rc) {
                gpx_sample_free(&cur);
                break;
            }
            if (!o->json)
                print_header(o);
        }
        print_sample(o, have_prev ? &prev : NULL, &cur, k);
        if (ferror(stdout)) { /* the reader went away (a closed pipe with SIGPIPE ignored) */
            gpx_sample_free(&cur);
            break;
        }
        if (have_prev)
            gpx_sample_free(&prev);
        prev = cur;
        have_prev = 1;
        if (o->count && k + 1 >= o->count)
            break;
        sleep_until(start + (k + 1) * step);
    }
    if (have_prev)
        gpx_sample_free(&prev);
    gpx_conn_close(cn);
    return rc;
}

enum { OPT_SERVER = 1000, OPT_LEASES, OPT_JSON };

static int run(int argc, char **argv)
{
    /* nvidia-smi dmon's long names too (-i/--id, -d/--delay, -c/--count, -s/--select,
     * -o/--options) */
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},      {"delay", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'c'},   {"select", required_argument, NULL, 's'},
        {"options", required_argument, NULL, 'o'}, {"leases", no_argument, NULL, OPT_LEASES},
        {"json", no_argument, NULL, OPT_JSON},     {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    struct opts o = {.interval_s = 1};
    int c, rc;
    if ((rc = parse_letters(&o, "puc")) != 0)
        return rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:d:c:i:o:h", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's':
            if ((rc = parse_letters(&o, optarg)) != 0)
                return rc;
            break;
        case 'd':
            errno = 0;
            o.interval_s = strtod(optarg, &end);
            if (*end || errno || !(o.interval_s >= 0.05 && o.interval_s <= 86400))
                return gpx_cli_usage_error(&gpx_cmd_dmon,
                                           "-d: '%s' is not an interval in seconds "
                                           "(0.05..86400, e.g. -d 1 or -d 0.5)",
                                           optarg);
            break;
        case 'c':
            errno = 0;
            o.count = strtol(optarg, &end, 10);
            if (*end || errno || !*optarg || o.count < 1)
                return gpx_cli_usage_error(
                    &gpx_cmd_dmon, "-c: '%s' is not a count of samples (1 or more)", optarg);
            break;
        case 'i':
            if ((rc = parse_gpus(&o, optarg)) != 0)
                return rc;
            break;
        case 'o':
            if ((rc = parse_dt(&o, optarg)) != 0)
                return rc;
            break;
        case OPT_LEASES:
            o.leases = 1;
            break;
        case OPT_JSON:
            o.json = 1;
            break;
        case OPT_SERVER:
            o.server = optarg;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_dmon);
        case ':':
            return gpx_cli_usage_error(&gpx_cmd_dmon, "option '%s' needs a value",
                                       argv[optind - 1]);
        default:
            return gpx_cli_usage_error(&gpx_cmd_dmon,
                                       "unknown option '%s'; valid: -s, -d, -c, -i, -o (or "
                                       "--select, --delay, --count, --id, --options), "
                                       "--leases, --json, --server, --help",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_dmon, "unexpected argument '%s'", argv[optind]);

    /* No SA_RESTART: the signal cuts the sleep short; the sample in flight finishes. */
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return loop(&o);
}

const struct gpx_cmd gpx_cmd_dmon = {
    "dmon",
    run,
    "monitor GPUs (and leases, MIG instances) in nvidia-smi dmon's format",
    "usage: gpuplex dmon [-s|--select pucvmet] [-d|--delay SECS] [-c|--count COUNT]\n"
    "                    [-i|--id GPUS] [-o|--options DT] [--leases] [--json] [--server S]\n"
    "\n"
    "Prints the node's GPUs every interval as 'nvidia-smi dmon' does: two header\n"
    "lines starting with '#' (column names, then units), then one row per GPU and\n"
    "sample in right-aligned columns; a figure gpuplex cannot know prints '-'.\n"
    "A script that parses nvidia-smi dmon's output parses this. Ctrl-C ends it.\n"
    "Works with gpuplexd and without (the rule of 'gpuplex status').\n"
    "\n"
    "options:\n"
    "  -s, --select LETTERS\n"
    "              the metric groups, default puc; the groups come in the order of\n"
    "              the letters (as nvidia-smi's: -s mu puts fb before sm):\n"
    "                p  pwr gtemp mtemp (W, C, C)\n"
    "                u  sm mem enc dec jpg ofa (%)\n"
    "                c  mclk pclk (MHz)\n"
    "                v  pviol tviol (power/thermal violations: always -)\n"
    "                m  fb bar1 ccpm (MB; fb is the memory used)\n"
    "                e  sbecc dbecc pci (errors: always -)\n"
    "                t  rxpci txpci (MB/s: always -)\n"
    "              mtemp, enc, dec, jpg, ofa, bar1 and ccpm print '-' as well.\n"
    "  -d, --delay SECS\n"
    "              seconds between samples (default 1; fractions allowed)\n"
    "  -c, --count COUNT\n"
    "              stop after COUNT samples (default: until Ctrl-C)\n"
    "  -i, --id GPUS\n"
    "              only these GPUs: a comma list of indexes, GPU UUIDs or PCI bus\n"
    "              ids (e.g. -i 0,2)\n"
    "  -o, --options D|T|DT\n"
    "              prepend the date (YYYYMMDD) and/or time (HH:MM:SS, local) columns\n"
    "  --leases    under each GPU row, a row per lease on that GPU and per MIG\n"
    "              instance (see below)\n"
    "  --json      one JSON object per line instead of the table (see below)\n"
    "  --server S  gpuplexd's socket or URL (default: the rule of 'gpuplex status')\n"
    "  -h, --help\n"
    "\n"
    "Lease and MIG rows (--leases) share the GPU rows' columns, with a letter in\n"
    "the Idx column so that they never read as a GPU: 'L<gpu>' for a lease,\n"
    "'M<gpu>' for a MIG instance. Their sm column is the lease's GPU utilization\n"
    "over the interval (%; timeslice and capped vgpu leases: the GPU time their\n"
    "arbiter granted, the first sample since the lease began; exclusive: the\n"
    "GPU's, from NVML; uncapped vgpu: its processes' per-process utilization,\n"
    "from NVML; mig: the instance's where the driver reports one, else '-'),\n"
    "their fb column the memory it uses (mig: its instance's; exclusive: the\n"
    "GPU's); other columns '-'. quota_mib: a shared lease's quota, the GPU's or\n"
    "instance's memory for exclusive and mig leases.\n"
    "Then key=value fields, separated by spaces:\n"
    "  L rows: lease= tenant= mode= used_mib= quota_mib= share_pct= wait_ms= procs=\n"
    "          (wait_ms: time its workloads waited for their turn in the interval)\n"
    "  M rows: gi= profile= uuid= used_mib= total_mib= lease= procs=\n"
    "A tenant sees its own leases; an admin sees everybody's.\n"
    "\n"
    "--json: one object per row, with the keys type (\"gpu\", \"lease\" or \"mig\"),\n"
    "gpu (index), sample (0, 1, ...), timestamp (RFC 3339, UTC), and\n"
    "  gpu:   uuid and the selected columns by their names (pwr, gtemp, sm, fb, ...),\n"
    "         integers or null\n"
    "  lease: lease, tenant, mode, memory_used_mib, memory_quota_mib (null: none),\n"
    "         share (0..1; null: not known), wait_ms, processes\n"
    "  mig:   gpu_instance_id, profile, uuid, memory_used_mib (null: not known),\n"
    "         memory_total_mib, lease (null: none visible), leased, processes\n"
    "\n"
    "examples:\n"
    "  gpuplex dmon -s u -c 5           utilization, 5 samples\n"
    "  gpuplex dmon --leases -o T       who uses each GPU, with timestamps\n"
    "\n"
    "exit status: 0, also when stopped by Ctrl-C or SIGTERM; 2 bad usage; 5 no\n"
    "such GPU (-i); 9 gpuplexd unreachable.\n",
};
