/*
 * The gpuplex CLI: a thin table of commands, one source file each
 * (src/cli/cmd_<name>.c). Commands parse their arguments, call the core
 * library, print, and return an exit status; errors are printed once, here,
 * by gpx_cli_fail().
 */
#ifndef GPX_CLI_H
#define GPX_CLI_H

#include "gpuplex/error.h"

#include <signal.h>
#include <sys/types.h>

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
extern const struct gpx_cmd gpx_cmd_top;
extern const struct gpx_cmd gpx_cmd_dmon;
extern const struct gpx_cmd gpx_cmd_cdi;
extern const struct gpx_cmd gpx_cmd_cdi_hook;
extern const struct gpx_cmd gpx_cmd_container;
extern const struct gpx_cmd gpx_cmd_fn; /* GPU functions (cmd_fn.c) */
extern const struct gpx_cmd gpx_cmd_recommend;
extern const struct gpx_cmd gpx_cmd_bench;
extern const struct gpx_cmd gpx_cmd_slurm;
extern const struct gpx_cmd gpx_cmd_vm;
/* Rewrites the CDI spec at gpuplexd.conf's cdi_spec (none: nothing), as `cdi generate --output`
 * would: what `gpuplex run --container` does when no gpuplexd keeps the spec. */
int gpx_cli_cdi_refresh(const char *server);
/* `gpuplex run --container IMAGE [PODMAN ARGS] [-- CMD]` (run_container.c): argv after IMAGE. */
struct gpx_lease_spec;
int gpx_cli_run_container(const char *server, struct gpx_lease_spec *spec, const char *id,
                          const char *image, const char *podman, int argc, char **argv);

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT passed on to the child `gpuplex run` forks (cmd_run.c):
 * gpx_cli_fwd_hold before fork() blocks them and installs the forwarding handler, so that one
 * arriving before the child exists is held; in the child (or when fork fails)
 * gpx_cli_fwd_restore gives back the dispositions and mask; in the parent gpx_cli_fwd_start
 * forwards to PID from then on and unblocks them; gpx_cli_fwd_end, after PID is reaped, stops
 * forwarding (the signals are then caught and dropped until gpx_cli_fwd_restore). */
struct gpx_cli_fwd {
    sigset_t old;
    struct sigaction saved[4];
};
void gpx_cli_fwd_hold(struct gpx_cli_fwd *f);
void gpx_cli_fwd_restore(const struct gpx_cli_fwd *f);
void gpx_cli_fwd_start(const struct gpx_cli_fwd *f, pid_t pid);
void gpx_cli_fwd_end(void);

/* The parts of `gpuplex --help` besides the command list (cmd_help.c). */
struct gpx_cli_help {
    const char *usage, *intro, *global, *engine, *env, *exit;
};
extern const struct gpx_cli_help gpx_cli_help;

/*
 * `gpuplex help --man` (gpuplex(1) in roff) and `gpuplex help --completion
 * bash|zsh`, written from the command table and its usage texts (gen.c), so
 * that the page and the completion can't drift from --help. Hidden: the build
 * runs them.
 */
int gpx_cli_generate(int argc, char **argv);

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
/* argv[1], the subcommand of a command that has them (`gpuplex fn`, `gpuplex container`); or
 * NULL with *rc the exit status: the usage for --help/-h, else a usage error listing `subs`. */
const char *gpx_cli_subcommand(const struct gpx_cmd *cmd, int argc, char **argv, const char *subs,
                               int *rc);
/* The --json, --server S and --server=S that stand between a subcommand and the argv it passes
 * on (`gpuplex fn create`, `gpuplex container run`), read from argv[2]; returns the index of
 * the first other word. */
int gpx_cli_conn_flags(int argc, char **argv, const char **server, int *json);
/* A string field of an answer as a table shows it: "-" when it is absent or empty. */
struct json_t;
const char *gpx_cli_str(struct json_t *o, const char *k);
/* s as a whole number lo..hi (lo >= 0; digits only) in *out; -1 when it is not one. */
int gpx_cli_number(const char *s, long lo, long hi, long *out);

/*
 * Driver selection: GPUPLEX_SIM=FILE selects the simulated driver shipped with
 * gpuplex ($prefix/lib/gpuplex/sim or build/lib/sim) by setting
 * GPUPLEX_DRIVER_DIR and prepending it to LD_LIBRARY_PATH for child
 * processes. An explicit GPUPLEX_DRIVER_DIR always wins.
 */
void gpx_cli_select_driver(void);

/*
 * The interposer for vgpu/timeslice workloads: <dir of gpuplex>/../lib/gpuplex/ or
 * (build tree) ../lib/libgpuplex-cuda.so, resolved to an absolute path in `out`;
 * an error naming where it looked when it is missing (cmd_run.c).
 */
int gpx_cli_interposer_path(char *out, size_t len, gpx_error *err);

/*
 * The lease engine, through the one client interface (include/gpuplex/client.h):
 * gpuplexd or in-process, by the rule documented there. `server` is --server
 * (NULL: GPUPLEX_SERVER). Prints the failure and returns its exit status
 * (> 0), or 0 with *out open. Every command that touches leases, GPUs,
 * tenants, usage or MIG state goes through here, so the rule is the same.
 */
struct gpx_conn;
int gpx_cli_connect(const char *server, struct gpx_conn **out);

/*
 * A lease flag of `lease create` / `run` (getopt letter c: g m M w c P L) into
 * the spec: 1 taken, 0 not a lease flag, -1 invalid (err names the flag).
 */
struct gpx_lease_spec;
/* The getopt_long rows of those flags (letters g m M w c L P), and their optstring part. */
#define GPX_CLI_LEASE_OPTIONS                                                                      \
    {"gpu", required_argument, NULL, 'g'}, {"memory", required_argument, NULL, 'm'},               \
        {"mode", required_argument, NULL, 'M'}, {"weight", required_argument, NULL, 'w'},          \
        {"cap", required_argument, NULL, 'c'}, {"label", required_argument, NULL, 'L'},            \
        {"mig-profile", required_argument, NULL, 'P'}, {"server", required_argument, NULL, 's'},   \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
#define GPX_CLI_LEASE_OPTSTRING "g:m:M:w:c:L:P:s:h"
int gpx_cli_spec_flag(struct gpx_lease_spec *s, int c, const char *arg, gpx_error *err);

#endif
