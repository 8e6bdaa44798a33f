/*
 * The gpuplex CLI: a thin table of commands, one source file each
 * (src/cli/cmd_<name>.c). Commands parse their arguments, call the core
 * library, print, and return an exit status; errors are printed once, here,
 * by gpx_cli_fail().
 */
#ifndef GPX_CLI_H
#define GPX_CLI_H

#include "gpuplex/error.h"

struct gpx_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;               /* one line for `gpuplex --help` */
    const char *usage;                 /* full help for `gpuplex help CMD` / `CMD --help` */
};

extern const struct gpx_cmd gpx_cmd_help, gpx_cmd_version, gpx_cmd_ls, gpx_cmd_sim;
extern const struct gpx_cmd gpx_cmd_lease, gpx_cmd_run, gpx_cmd_watch;
extern const struct gpx_cmd gpx_cmd_status, gpx_cmd_usage, gpx_cmd_tenant;
extern const struct gpx_cmd gpx_cmd_mig, gpx_cmd_timeslice;

/* NULL-terminated, in the order `gpuplex --help` lists them. */
extern const struct gpx_cmd *const gpx_cli_commands[];
const struct gpx_cmd *gpx_cli_find(const char *name);

/* Prints "gpuplex: <message>" on stderr; returns the code's exit status. */
int gpx_cli_fail(const gpx_error *err);
/* Prints "gpuplex CMD: <message>; try 'gpuplex help CMD'" and returns 2. */
int gpx_cli_usage_error(const struct gpx_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the command's usage on stdout; returns 0. */
int gpx_cli_print_usage(const struct gpx_cmd *cmd);

/*
 * Driver selection: GPUPLEX_SIM=FILE selects the simulated driver shipped with
 * gpuplex (build/lib/sim or $prefix/lib/gpuplex/sim) by setting
 * GPUPLEX_DRIVER_DIR and prepending it to LD_LIBRARY_PATH for child
 * processes. An explicit GPUPLEX_DRIVER_DIR always wins.
 */
void gpx_cli_select_driver(void);

/*
 * The interposer for vgpu/timeslice workloads: <dir of gpuplex>/../lib/ or
 * ../lib/gpuplex/libgpuplex-cuda.so, resolved to an absolute path in `out`;
 * an error naming where it looked when it is missing (cmd_run.c).
 */
int gpx_cli_interposer_path(char *out, size_t len, gpx_error *err);

/*
 * Talking to gpuplexd (src/cli/daemon.c). gpx_cli_client opens a client for
 * `server` (NULL: $GPUPLEX_SERVER, else the default socket; token from
 * $GPUPLEX_TOKEN). gpx_cli_call sends `body` (borrowed, may be NULL) and
 * stores the parsed answer in *out (caller decrefs); errors come back as the
 * daemon's gpx_error. gpx_cli_query_append adds "?name=value" / "&name=value"
 * percent-encoded (a NULL value adds nothing).
 */
struct gpx_client;
struct json_t;
int gpx_cli_client(const char *server, struct gpx_client **out, gpx_error *err);
int gpx_cli_call(struct gpx_client *c, const char *method, const char *path, struct json_t *body,
                 struct json_t **out, gpx_error *err);
void gpx_cli_print_json(struct json_t *j);
void gpx_cli_query_append(char *buf, size_t len, const char *name, const char *value);

/*
 * lease and run through gpuplexd (src/cli/lease_daemon.c, run_daemon.c): each
 * sets *handled and returns an exit status when the daemon takes the command
 * (a daemon is configured, or the options need one); with *handled 0 the
 * command continues on its direct path.
 */
int gpx_cli_lease_daemon(int argc, char **argv, int *handled);
int gpx_cli_run_daemon(int argc, char **argv, int *handled);

#endif
