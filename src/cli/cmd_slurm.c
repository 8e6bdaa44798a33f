/*
 * gpuplex slurm gres-conf | node-conf: Slurm's GRES configuration of this node
 * from gpuplex's inventory (NVML), so that Slurm places jobs on the GPUs
 * gpuplexd then leases (docs/slurm.md).
 *
 *   gres-conf  the gres.conf lines: one `Name=gpu Type=T File=/dev/nvidiaN` per
 *              whole GPU, one `Name=gpu Type=T MultipleFiles=...` per MIG device
 *              (its GPU's file and its two capability files), and `Name=shard
 *              Count=N File=/dev/nvidiaN` per whole GPU, for the jobs that share
 *              it (vgpu, timeslice);
 *   node-conf  the Gres= part of the node's NodeName line in slurm.conf.
 *
 * Type names are the ones Slurm's own NVML autodetection gives (gpu_nvml.c):
 * the NVML name lower-cased with spaces as '_' ("nvidia_h100_80gb_hbm3"); a MIG
 * device: that name up to its first '-', then "_<GI slices>g.<memory GiB,
 * rounded>gb" ("nvidia_a100_1g.5gb"). So a site may switch between AutoDetect
 * and these lines without renaming what jobs ask for.
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "cli/cli.h"
#include "nvml/inventory.h"
#include "nvml/mig.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TYPES 64

struct gres_opts {
    const char *dev_root;  /* where the device files are: /dev */
    const char *caps_root; /* the driver's MIG capability minors */
    unsigned shards;       /* per whole GPU; 0: none */
};

/* Slurm's gpu_common_underscorify_tolower() */
static void slurm_type(const char *nvml_name, char *out, size_t len)
{
    size_t i = 0;
    for (; nvml_name[i] && i + 1 < len; i++)
        out[i] = nvml_name[i] == ' ' ? '_' : (char)tolower((unsigned char)nvml_name[i]);
    out[i] = '\0';
}

/* The profile of the GPU instance `gi` on a read GPU, or NULL. */
static const struct gpx_mig_gi_profile *gi_profile(const struct gpx_mig_gpu_state *s, unsigned gi)
{
    for (unsigned i = 0; i < s->ngi; i++)
        if (s->gi[i].id == gi && s->gi[i].profile >= 0 &&
            (unsigned)s->gi[i].profile < s->table.profile_count)
            return &s->table.profiles[s->gi[i].profile];
    return NULL;
}

/* One line (and its type, counted for node-conf) */
struct line {
    char type[128];
    char text[1024];
};

struct gres {
    struct line *lines;
    unsigned n;
    unsigned shards; /* total */
};

static int add(struct gres *g, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add(struct gres *g, const char *type, const char *fmt, ...)
{
    struct line *nl = realloc(g->lines, (g->n + 1) * sizeof *nl);
    if (!nl)
        return -1;
    g->lines = nl;
    struct line *l = &g->lines[g->n++];
    snprintf(l->type, sizeof l->type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    return 0;
}

/* The node's GRES, from NVML. */
static int read_gres(const struct gres_opts *o, struct gres *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    struct gpx_nvml nv;
    if (gpx_nvml_open(&nv, err) < 0)
        return -1;
    struct gpx_cdi_node node;
    struct gpx_mig_gpu_state *ms = calloc(1, sizeof *ms);
    struct gpx_nvml_mig m;
    int have_mig = gpx_nvml_mig_open(&nv, &m, NULL) == 0;
    int rc = ms ? gpx_cdi_node_read(&nv, &node, err) : gpx_error_set(err, GPX_E_NOMEM, "gres");
    for (unsigned i = 0; rc == 0 && i < node.count; i++) {
        const struct gpx_cdi_gpu *gpu = &node.gpus[i];
        struct gpx_gpu_info info;
        if (gpx_inventory_read_gpu(&nv, gpu->index, &info, err) < 0) {
            rc = -1;
            break;
        }
        char type[128], file[4200];
        slurm_type(info.name, type, sizeof type);
        snprintf(file, sizeof file, "%s/nvidia%u", o->dev_root, gpu->minor);
        if (gpu->n_mig == 0) {
            rc = add(out, type, "Name=gpu Type=%s File=%s", type, file);
            if (rc == 0 && o->shards) {
                rc = add(out, "", "Name=shard Count=%u File=%s", o->shards, file);
                out->shards += o->shards;
            }
            continue;
        }
        if (!have_mig || gpx_mig_read(&nv, &m, gpu->index, ms, err) < 0) {
            rc = have_mig ? -1
                          : gpx_error_set(err, GPX_E_DRIVER,
                                          "GPU %u: MIG is on, but NVML "
                                          "has no MIG calls",
                                          gpu->index);
            break;
        }
        char base[128];
        snprintf(base, sizeof base, "%s", type);
        base[strcspn(base, "-")] = '\0';
        for (unsigned j = 0; rc == 0 && j < gpu->n_mig; j++) {
            const struct gpx_cdi_mig *x = &gpu->mig[j];
            const struct gpx_mig_gi_profile *p = gi_profile(ms, x->gi);
            if (!p) {
                rc = gpx_error_set(err, GPX_E_DRIVER,
                                   "GPU %u: MIG device %u has a GPU instance (%u) of a profile "
                                   "gpuplex does not know",
                                   gpu->index, x->index, x->gi);
                break;
            }
            char mtype[160], files[4400];
            snprintf(mtype, sizeof mtype, "%s_%ug.%.0fgb", base, (unsigned)p->compute_slices,
                     round(p->memory_mib / 1024.0));
            unsigned minors[2];
            unsigned nc = gpx_cdi_mig_caps(o->caps_root, gpu->minor, x->gi, x->ci, minors);
            int len = snprintf(files, sizeof files, "%s", file);
            for (unsigned k = 0; k < nc && len > 0 && (size_t)len < sizeof files; k++)
                len += snprintf(files + len, sizeof files - (size_t)len,
                                ",%s/nvidia-caps/nvidia-cap%u", o->dev_root, minors[k]);
            /* Without its capability files a MIG device has no file of its own, and slurmd
             * refuses both a one-file MultipleFiles= and a File= its siblings share: say why
             * it is left out rather than write lines slurmd will not start with. */
            if (nc < 2)
                rc = add(out, "",
                         "# GPU %u MIG device %u (%s): left out, no capability files for GPU "
                         "instance %u in %s",
                         gpu->index, x->index, mtype, x->gi,
                         o->caps_root ? o->caps_root : "/proc/driver/nvidia/capabilities");
            else
                rc = add(out, mtype, "Name=gpu Type=%s MultipleFiles=%s", mtype, files);
        }
    }
    if (rc < 0 && err && !err->msg[0])
        gpx_error_set(err, GPX_E_NOMEM, "gres");
    if (ms)
        gpx_cdi_node_free(&node);
    free(ms);
    gpx_nvml_close(&nv);
    if (rc < 0) {
        free(out->lines);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

static void print_node_conf(const struct gres *g)
{
    /* types in order of first appearance, with their counts */
    const char *types[MAX_TYPES];
    unsigned counts[MAX_TYPES], nt = 0;
    for (unsigned i = 0; i < g->n; i++) {
        if (!g->lines[i].type[0])
            continue;
        unsigned k = 0;
        while (k < nt && strcmp(types[k], g->lines[i].type) != 0)
            k++;
        if (k == nt && nt < MAX_TYPES) {
            types[nt] = g->lines[i].type;
            counts[nt++] = 0;
        }
        if (k < nt)
            counts[k]++;
    }
    if (!nt) {
        printf("\n");
        return;
    }
    printf("Gres=");
    for (unsigned k = 0; k < nt; k++)
        printf("%sgpu:%s:%u", k ? "," : "", types[k], counts[k]);
    if (g->shards)
        printf(",shard:%u", g->shards);
    printf("\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"dev-root", required_argument, NULL, 'd'},
                                         {"caps-root", required_argument, NULL, 'c'},
                                         {"shards", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct gres_opts o = {.dev_root = "/dev", .caps_root = NULL, .shards = 8};
    int c;
    optind = 1;
    opterr = 0;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return gpx_cli_print_usage(&gpx_cmd_slurm);
    if (argc < 2 || (strcmp(argv[1], "gres-conf") != 0 && strcmp(argv[1], "node-conf") != 0))
        return gpx_cli_usage_error(&gpx_cmd_slurm, "needs gres-conf or node-conf%s%s%s",
                                   argc >= 2 ? ", not '" : "", argc >= 2 ? argv[1] : "",
                                   argc >= 2 ? "'" : "");
    const char *what = argv[1];
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (optarg[0] != '/')
                return gpx_cli_usage_error(&gpx_cmd_slurm,
                                           "--dev-root must be an absolute path, not '%s'", optarg);
            o.dev_root = optarg;
            break;
        case 'c':
            o.caps_root = optarg;
            break;
        case 'S': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v > 1024 || optarg[0] == '-')
                return gpx_cli_usage_error(&gpx_cmd_slurm,
                                           "--shards must be a whole number from 0 to 1024, not "
                                           "'%s'",
                                           optarg);
            o.shards = (unsigned)v;
            break;
        }
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_slurm);
        default:
            return gpx_cli_usage_error(&gpx_cmd_slurm, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return gpx_cli_usage_error(&gpx_cmd_slurm, "unexpected argument '%s'", argv[optind]);
    gpx_error err = {0};
    struct gres g;
    if (read_gres(&o, &g, &err) < 0)
        return gpx_cli_fail(&err);
    if (!strcmp(what, "gres-conf")) {
        printf(
            "# gres.conf lines of this node, from gpuplex's inventory (gpuplex slurm gres-conf)\n"
            "AutoDetect=off\n");
        for (unsigned i = 0; i < g.n; i++)
            printf("%s\n", g.lines[i].text);
    } else {
        print_node_conf(&g);
    }
    free(g.lines);
    return 0;
}

const struct gpx_cmd gpx_cmd_slurm = {
    "slurm",
    run,
    "Slurm's GRES configuration of this node (gres.conf, NodeName Gres=)",
    "usage: gpuplex slurm gres-conf [--dev-root DIR] [--caps-root DIR] [--shards N]\n"
    "       gpuplex slurm node-conf [--caps-root DIR] [--shards N]\n"
    "\n"
    "Slurm's GRES configuration of this node from gpuplex's inventory (NVML), for\n"
    "the SPANK plugin gpuplex_spank.so (docs/slurm.md): Slurm places a job on GPUs,\n"
    "the plugin asks this node's gpuplexd for a lease on them.\n"
    "\n"
    "gres-conf prints gres.conf:\n"
    "  Name=gpu Type=T File=/dev/nvidiaN      a whole GPU\n"
    "  Name=gpu Type=T MultipleFiles=F,...    a MIG device: its GPU's file and its\n"
    "                                         two /dev/nvidia-caps files\n"
    "  Name=shard Count=N File=/dev/nvidiaN   N shares of a whole GPU, for jobs that\n"
    "                                         share it (--gpuplex-mode=vgpu|timeslice)\n"
    "node-conf prints the Gres= part of the node's NodeName line in slurm.conf\n"
    "(Gres=gpu:T:2,shard:16). Types are the names Slurm's own NVML autodetection\n"
    "gives: the GPU's name lower-cased, spaces as '_' (nvidia_h100_80gb_hbm3); a MIG\n"
    "device's: that name up to its first '-', then _<slices>g.<GiB>gb\n"
    "(nvidia_a100_1g.5gb).\n"
    "\n"
    "  --dev-root DIR   where the device files are (default /dev; a test's tree of\n"
    "                   device files elsewhere)\n"
    "  --caps-root DIR  where the driver lists the MIG capability minors (default\n"
    "                   /proc/driver/nvidia/capabilities); a MIG device without\n"
    "                   them is left out (a comment says so), by both commands\n"
    "  --shards N       shards per whole GPU, 0 to 1024 (default 8; 0: none)\n"
    "\n"
    "exit status: 0 ok; 2 bad usage; 3 no driver; 4 a driver call failed.\n",
};
