/*
 * gpuplex run --container IMAGE [PODMAN ARGS] [-- CMD [ARGS...]]: a container as
 * the workload of a lease, in one step: the lease (made for containers: label
 * gpuplex.container=1, this process its owner), the CDI spec made current,
 * `podman run --rm --device gpuplex.dev/gpu=lease-<id> PODMAN ARGS IMAGE CMD`,
 * then the lease released; the exit status is podman's (the container's, or
 * podman's own 125/126/127).
 *
 * The lease is released three ways, whichever comes first: by the container's
 * poststop hook (the spec gives the lease's device the hooks of cmd_cdi_hook.c),
 * by this command after podman returns, and by the reconciler when this command
 * and the container are both gone (killed) — docs/containers.md, "Lifecycle".
 */
#define _GNU_SOURCE
#include "cdi/cdi.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "gpuplex/client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The lease for the container: created (made for containers, owned by us) or looked up. */
static int get_lease(const char *server, struct gpx_lease_spec *spec, const char *id,
                     struct gpx_lease *l, int *local)
{
    struct gpx_conn *cn = NULL;
    int rc = gpx_cli_connect(server, &cn);
    if (rc)
        return rc;
    gpx_error err = {0};
    struct gpx_health h = {0};
    if (gpx_health(cn, &h, &err) < 0) {
        rc = gpx_cli_fail(&err);
    } else if (id) {
        if (gpx_lease_get(cn, id, 0, l, &err) < 0)
            rc = gpx_cli_fail(&err);
    } else {
        char self[16];
        snprintf(self, sizeof self, "%d", (int)getpid());
        spec->for_container = 1; /* the engine adds gpuplex.container=1 (a reserved label) */
        if (gpx_lease_spec_set(spec, GPX_F_OWNERS, self, GPX_NAMING_CLI, &err) < 0 ||
            gpx_lease_create(cn, spec, l, &err) < 0)
            rc = gpx_cli_fail(&err);
    }
    *local = strcmp(h.host, "gpuplexd") != 0;
    gpx_conn_close(cn);
    return rc;
}

/* Releases a lease we made; one its poststop hook released already is fine. */
static void release(const char *server, const char *id)
{
    struct gpx_conn *cn = NULL;
    gpx_error err = {0};
    if (gpx_cli_connect(server, &cn) != 0)
        return;
    if (gpx_lease_release(cn, id, NULL, &err) < 0 && err.code != GPX_E_NOT_FOUND &&
        err.code != GPX_E_STATE)
        fprintf(stderr,
                "gpuplex run: releasing lease %s: %s (the reconciler releases it once its "
                "containers are gone)\n",
                id, err.msg);
    gpx_conn_close(cn);
}

/* podman run --rm --device gpuplex.dev/gpu=lease-ID ARGS... IMAGE CMD...; its wait status. */
static int run_podman(const char *podman, const char *id, const char *image, int argc, char **argv,
                      int *status)
{
    int split = argc;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
    char dev[GPX_LEASE_ID_MAX + 40];
    snprintf(dev, sizeof dev, "%s=lease-%s", GPX_CDI_KIND, id);
    char **av = calloc((size_t)argc + 8, sizeof *av);
    if (!av)
        return -1;
    int n = 0;
    av[n++] = (char *)podman;
    av[n++] = "run";
    av[n++] = "--rm";
    av[n++] = "--device";
    av[n++] = dev;
    for (int i = 0; i < split; i++)
        av[n++] = argv[i];
    av[n++] = (char *)image;
    for (int i = split + 1; i < argc; i++)
        av[n++] = argv[i];
    av[n] = NULL;

    /* signals to this command are podman's (it passes them to the container) */
    struct gpx_cli_fwd fwd;
    gpx_cli_fwd_hold(&fwd);
    pid_t pid = fork();
    if (pid == 0) {
        gpx_cli_fwd_restore(&fwd);
        execvp(podman, av);
        int e = errno;
        fprintf(stderr, "gpuplex run: %s: %s (--podman PATH or GPUPLEX_PODMAN names it)\n", podman,
                strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    free(av);
    if (pid < 0) {
        int e = errno;
        gpx_cli_fwd_restore(&fwd);
        errno = e;
        return -1;
    }
    gpx_cli_fwd_start(&fwd, pid);
    pid_t w;
    do
        w = waitpid(pid, status, 0);
    while (w < 0 && errno == EINTR);
    gpx_cli_fwd_end();
    gpx_cli_fwd_restore(&fwd);
    return w < 0 ? -1 : 0;
}

int gpx_cli_run_container(const char *server, struct gpx_lease_spec *spec, const char *id,
                          const char *image, const char *podman, int argc, char **argv)
{
    if (!podman || !*podman)
        podman = getenv("GPUPLEX_PODMAN");
    if (!podman || !*podman)
        podman = "podman";
    struct gpx_lease *l = calloc(1, sizeof *l);
    if (!l)
        return 1;
    int local = 0;
    int rc = get_lease(server, spec, id, l, &local);
    /* without gpuplexd nobody keeps the spec: write it now, with the new lease's device */
    if (rc == 0 && local)
        rc = gpx_cli_cdi_refresh(server);
    int status = 0;
    if (rc == 0 && run_podman(podman, l->rec.id, image, argc, argv, &status) < 0) {
        gpx_error err = {0};
        gpx_error_errno(&err, GPX_E_INTERNAL, errno, "running %s", podman);
        rc = gpx_cli_fail(&err);
    }
    if (!id && l->rec.id[0]) {
        release(server, l->rec.id);
        if (local)
            (void)gpx_cli_cdi_refresh(server); /* the released lease's device leaves the spec */
    }
    free(l);
    if (rc)
        return rc;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}
