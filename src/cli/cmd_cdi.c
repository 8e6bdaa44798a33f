/*
 * gpuplex cdi: the CDI spec of this node (src/cdi), without gpuplexd's writer.
 *
 *   gpuplex cdi generate [--output FILE]   the spec gpuplexd keeps in cdi_spec
 *   gpuplex cdi ls [--spec FILE] [--json]  its device names, as nvidia-ctk cdi list
 *
 * The node comes from NVML, the active leases from the engine (gpuplexd or
 * in-process: the one client rule), the settings from gpuplexd.conf's cdi_*
 * keys, so that both write the same spec.
 */
#include "cdi/cdi.h"
#include "cli/cli.h"
#include "core/paths.h"
#include "daemon/config.h"
#include "engine/views.h"
#include "gpuplex/client.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gpuplexd's configuration as gpuplexd would read it ($GPUPLEX_CONFIG, else its default file,
 * which may be absent); 0, or the exit status of the error it printed. */
static int load_config(struct gpxd_config *cfg)
{
    gpx_error err = {0};
    const char *path = getenv("GPUPLEX_CONFIG");
    gpxd_config_defaults(cfg);
    if (gpxd_config_load(cfg, path && *path ? path : GPXD_DEFAULT_CONFIG, path && *path, &err) < 0)
        return gpx_cli_fail(&err);
    return 0;
}

/* Renders the spec as gpuplexd's writer would (*spec: a json_t). */
static int render(const char *server, json_t **spec)
{
    static struct gpxd_config cfg; /* large */
    gpx_error err = {0};
    struct gpx_conn *cn = NULL;
    int rc = load_config(&cfg);
    if (rc == 0)
        rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    struct gpx_health h;
    struct gpx_lease *ls = NULL;
    unsigned n = 0;
    struct gpx_lease_query q = {.state = -1};
    if (gpx_health(cn, &h, &err) < 0 || gpx_lease_list(cn, &q, &ls, &n, &err) < 0) {
        gpx_conn_close(cn);
        return gpx_cli_fail(&err);
    }
    gpx_conn_close(cn);

    /* the interposer the engine gives its leases, else the config's, else ours */
    char pre[4096] = "";
    for (unsigned i = 0; i < n && !pre[0]; i++)
        snprintf(pre, sizeof pre, "%s", ls[i].interposer);
    if (!pre[0] && cfg.interposer[0])
        snprintf(pre, sizeof pre, "%s", cfg.interposer);
    if (!pre[0] && gpx_cli_interposer_path(pre, sizeof pre, NULL) < 0)
        pre[0] = '\0';
    struct gpx_cdi_opts o = {
        .cdi_version = cfg.cdi_version,
        .dev_root = cfg.cdi_dev_root,
        .driver_libs = cfg.cdi_driver_libs,
        .env = cfg.cdi_env,
        .mounts = cfg.cdi_mounts,
        .run_dir = h.run_dir,
        .interposer = pre,
        .state_dir = h.state_dir,
    };
    /* the hooks of leases made for containers run this very program (gpuplex cdi-hook) */
    char self[4096];
    static const char *const cli[] = {"/gpuplex"};
    if (gpx_beside_exe(cli, 1, self, sizeof self, NULL) == 0)
        o.hook = self;
    struct gpx_lease_rec *recs = calloc(n ? n : 1, sizeof *recs);
    if (!recs) {
        free(ls);
        gpx_error_set(&err, GPX_E_NOMEM, "leases");
        return gpx_cli_fail(&err);
    }
    for (unsigned i = 0; i < n; i++)
        recs[i] = ls[i].rec;
    free(ls);

    struct gpx_nvml nv = {0};
    struct gpx_cdi_node node = {0};
    struct gpx_cdi_files drv = {0};
    rc = -1;
    if (gpx_nvml_open(&nv, &err) == 0) {
        if (gpx_cdi_node_read(&nv, &node, &err) == 0 &&
            gpx_cdi_find_driver_files(&o, &drv, &err) == 0) {
            *spec = gpx_cdi_render(&o, &node, &drv, recs, n, &err);
            rc = *spec ? 0 : -1;
        }
        gpx_nvml_close(&nv);
    }
    gpx_cdi_node_free(&node);
    gpx_cdi_files_free(&drv);
    free(recs);
    return rc < 0 ? gpx_cli_fail(&err) : 0;
}

/* Writes the spec to stdout, or to output (named `what` in an error: --output, cdi_spec). */
static int generate(const char *server, const char *output, const char *what)
{
    json_t *spec = NULL;
    int rc = render(server, &spec);
    if (rc)
        return rc;
    gpx_error err = {0};
    if (output && strcmp(output, "-") != 0) {
        if ((rc = gpx_cdi_write(output, spec, &err)) < 0) {
            gpx_error_wrap(&err, "%s", what);
            rc = gpx_cli_fail(&err);
        }
    } else {
        rc = json_dumpf(spec, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ? 1 : 0;
        putchar('\n');
    }
    json_decref(spec);
    return rc;
}

int gpx_cli_cdi_refresh(const char *server)
{
    static struct gpxd_config cfg; /* large */
    int rc = load_config(&cfg);
    if (rc)
        return rc;
    return cfg.cdi_spec[0] ? generate(server, cfg.cdi_spec, "cdi_spec") : 0;
}

static int list(const char *server, const char *file, int json)
{
    json_t *spec = NULL;
    if (file) {
        json_error_t je;
        spec = json_load_file(file, 0, &je);
        if (!spec) {
            gpx_error err = {0};
            gpx_error_set(&err, GPX_E_INVALID, "--spec %s: %s (line %d)", file, je.text, je.line);
            return gpx_cli_fail(&err);
        }
    } else {
        int rc = render(server, &spec);
        if (rc)
            return rc;
    }
    char **names = NULL;
    unsigned n = 0;
    int rc = gpx_cdi_names(spec, &names, &n) < 0 ? 1 : 0;
    json_decref(spec);
    json_t *a = json ? json_array() : NULL;
    for (unsigned i = 0; i < n; i++) {
        if (a)
            json_array_append_new(a, json_string(names[i]));
        else
            puts(names[i]);
        free(names[i]);
    }
    free(names);
    if (a) {
        gpx_view_print(a);
        json_decref(a);
    }
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'}, {"output", required_argument, NULL, 'o'},
        {"spec", required_argument, NULL, 'f'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *server = NULL, *output = NULL, *file = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:o:f:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            return gpx_cli_print_usage(&gpx_cmd_cdi);
        default:
            return gpx_cli_usage_error(&gpx_cmd_cdi, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return gpx_cli_usage_error(&gpx_cmd_cdi, "missing subcommand: generate or ls");
    const char *sub = argv[optind];
    if (optind + 1 < argc)
        return gpx_cli_usage_error(&gpx_cmd_cdi, "unexpected argument '%s'", argv[optind + 1]);
    if (strcmp(sub, "generate") == 0) {
        if (file || json)
            return gpx_cli_usage_error(&gpx_cmd_cdi, "%s is for 'cdi ls'",
                                       file ? "--spec" : "--json");
        return generate(server, output, "--output");
    }
    if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0) {
        if (output)
            return gpx_cli_usage_error(&gpx_cmd_cdi, "--output is for 'cdi generate'");
        return list(server, file, json);
    }
    return gpx_cli_usage_error(&gpx_cmd_cdi, "unknown subcommand '%s': generate or ls", sub);
}

const struct gpx_cmd gpx_cmd_cdi = {
    "cdi",
    run,
    "the CDI spec of GPUs, MIG devices and leases for podman, containerd, CRI-O, Docker",
    "usage: gpuplex cdi generate [--output FILE] [--server S]\n"
    "       gpuplex cdi ls [--spec FILE] [--json] [--server S]\n"
    "\n"
    "CDI (Container Device Interface) devices of kind gpuplex.dev/gpu, the spec\n"
    "gpuplexd keeps in its cdi_spec file (default /var/run/cdi/gpuplex.json):\n"
    "  gpuplex.dev/gpu=0, =GPU-<uuid>      a whole GPU, by index or UUID\n"
    "  gpuplex.dev/gpu=0:1, =MIG-<uuid>    MIG device 1 of GPU 0 (nvidia-ctk's names)\n"
    "  gpuplex.dev/gpu=lease-<id>          an active lease: its GPU's device nodes and\n"
    "                                      the environment of 'gpuplex run --lease ID';\n"
    "                                      vgpu/timeslice: the interposer (LD_PRELOAD)\n"
    "                                      and the lease's region, mounted\n"
    "Every device also gets /dev/nvidiactl, /dev/nvidia-uvm(-tools) and the driver's\n"
    "libraries and tools, read-only. Run a container with one:\n"
    "  podman run --device gpuplex.dev/gpu=lease-<id> IMAGE CMD\n"
    "\n"
    "  generate        write the spec (stdout, or atomically to --output FILE);\n"
    "                  without gpuplexd too (the engine in-process)\n"
    "  ls              list the device names (of the spec generate writes, or of\n"
    "                  --spec FILE, e.g. the daemon's)\n"
    "  --output FILE   where generate writes ('-': stdout)\n"
    "  --spec FILE     ls: read this spec file instead of generating one\n"
    "  --json          ls: a JSON array of the names\n"
    "  --server S      gpuplexd's socket path or http://HOST:PORT (see 'gpuplex status')\n"
    "\n"
    "Settings (gpuplexd.conf, $GPUPLEX_CONFIG): cdi_version, cdi_dev_root,\n"
    "cdi_driver_libs, cdi_env, cdi_mounts, interposer; docs/containers.md.\n"
    "A tenant sees only its own leases; an admin (root on the socket) all.\n"
    "\n"
    "exit status: 0 ok; 2 usage; 9 gpuplexd unreachable, or --output not writable;\n"
    "see 'gpuplex help'.\n",
};
