/*
 * gpuplex cdi-hook: the OCI hooks the CDI spec gives the device of a lease made
 * for containers (label gpuplex.container=1; src/cdi/cdi.c). The runtime runs it
 * on the host with the container's OCI state (JSON: "id", "pid") on stdin.
 *
 *   gpuplex cdi-hook createRuntime --lease ID   records the container (its first
 *                                               process's host pid)
 *   gpuplex cdi-hook poststop --lease ID        removes the record; releases the
 *                                               lease when no recorded container runs
 *
 * The records (src/shm/container_rec.h) are what the engine's reconciler reads
 * too, so that a lease whose poststop hook never ran is released all the same.
 */
#include "cdi/cdi.h"
#include "cli/cli.h"
#include "gpuplex/client.h"
#include "shm/container_rec.h"
#include "shm/lease.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hook_fail(const char *stage, const char *id, const char *msg)
{
    fprintf(stderr, "gpuplex cdi-hook %s: lease %s: %s\n", stage, id, msg);
    return 1;
}

static int poststop_release(const char *id)
{
    struct gpx_conn *cn = NULL;
    if (gpx_cli_connect(NULL, &cn) != 0)
        return 1;
    gpx_error err = {0};
    int rc = 0;
    if (gpx_lease_release(cn, id, NULL, &err) < 0 && err.code != GPX_E_NOT_FOUND &&
        err.code != GPX_E_STATE)
        rc = hook_fail("poststop", id, err.msg); /* the reconciler releases it after all */
    gpx_conn_close(cn);
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"lease", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
        if (c == 'l')
            id = optarg;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_cdi_hook);
        else
            return gpx_cli_usage_error(&gpx_cmd_cdi_hook, "unknown or incomplete option '%s'",
                                       argv[optind - 1]);
    }
    if (optind + 1 != argc)
        return gpx_cli_usage_error(&gpx_cmd_cdi_hook, "needs one stage: createRuntime or poststop");
    const char *stage = argv[optind];
    int attach = strcmp(stage, "createRuntime") == 0;
    if (!attach && strcmp(stage, "poststop") != 0)
        return gpx_cli_usage_error(&gpx_cmd_cdi_hook,
                                   "unknown stage '%s': createRuntime or poststop", stage);
    if (!id || !gpx_lease_id_valid(id))
        return gpx_cli_usage_error(&gpx_cmd_cdi_hook, "needs --lease ID (a valid lease id)");
    const char *run_dir = getenv("GPUPLEX_RUN_DIR");
    if (!run_dir || !*run_dir)
        return hook_fail(stage, id, "GPUPLEX_RUN_DIR is not set (the spec's hook env sets it)");

    json_error_t je;
    json_t *st = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
    const char *ctr = st ? json_string_value(json_object_get(st, "id")) : NULL;
    json_int_t pid = st ? json_integer_value(json_object_get(st, "pid")) : 0;
    if (!ctr) {
        json_decref(st);
        return hook_fail(stage, id, "no container id in the OCI state on stdin");
    }
    gpx_error err = {0};
    int rc = 0;
    if (attach) {
        if (gpx_ctr_attach(run_dir, id, ctr, (int32_t)pid, &err) < 0)
            rc = hook_fail(stage, id, err.msg);
    } else if (gpx_ctr_detach(run_dir, id, ctr, &err) < 0) {
        rc = hook_fail(stage, id, err.msg);
    } else if (gpx_ctr_alive(run_dir, id) <= 0) {
        /* the last recorded container stopped: nothing of the lease runs any more */
        rc = poststop_release(id);
    }
    json_decref(st);
    return rc;
}

const struct gpx_cmd gpx_cmd_cdi_hook = {
    "cdi-hook",
    run,
    "the OCI hooks of leases made for containers (run by the container runtime)",
    "usage: gpuplex cdi-hook createRuntime|poststop --lease ID  < OCI-STATE\n"
    "\n"
    "Run by the container runtime, not by hand: the CDI spec gives the device\n"
    "gpuplex.dev/gpu=lease-ID of a lease labelled gpuplex.container=1 (made by\n"
    "'gpuplex run --container', or 'lease create --for-container')\n"
    "these two hooks, with the OCI state of the container on stdin:\n"
    "  createRuntime  records the container: RUN_DIR/containers/ID/<container id>\n"
    "                 holds the host pid of its first process\n"
    "  poststop       removes the record; when no recorded container of the lease\n"
    "                 still runs, releases the lease\n"
    "A lease whose poststop hook did not run (the runtime was killed) is released by\n"
    "the reconciler once its recorded containers have all exited (docs/containers.md).\n"
    "Environment: GPUPLEX_RUN_DIR, GPUPLEX_STATE_DIR (set by the spec).\n"
    "\n"
    "exit status: 0 done; 1 failed (the runtime logs it); 2 usage.\n",
};
