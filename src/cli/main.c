/*
 * gpuplex entry point: global flags, then dispatch to one command from the
 * table. Exit statuses come from the GPX_ERRORS table (docs/cli.md).
 */
#include "cli/cli.h"
#include "core/log.h"
#include "gpuplex/client.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct gpx_cmd *const gpx_cli_commands[] = {
    &gpx_cmd_ls,
    &gpx_cmd_lease,
    &gpx_cmd_run,
    &gpx_cmd_watch,
    &gpx_cmd_dmon,
    &gpx_cmd_top,
    &gpx_cmd_status,
    &gpx_cmd_usage,
    &gpx_cmd_tenant,
    &gpx_cmd_mig,
    &gpx_cmd_timeslice,
    &gpx_cmd_cdi,
    &gpx_cmd_container,
    &gpx_cmd_fn,
    &gpx_cmd_bench,
    &gpx_cmd_recommend,
    &gpx_cmd_sim,
    &gpx_cmd_help,
    &gpx_cmd_version,
    &gpx_cmd_cdi_hook,
    &gpx_cmd_slurm,
    &gpx_cmd_vm,
    NULL,
};

const struct gpx_cmd *gpx_cli_find(const char *name)
{
    for (int i = 0; gpx_cli_commands[i]; i++)
        if (strcmp(gpx_cli_commands[i]->name, name) == 0)
            return gpx_cli_commands[i];
    return NULL;
}

int gpx_cli_fail(const gpx_error *err)
{
    fprintf(stderr, "gpuplex: %s\n", err->msg[0] ? err->msg : gpx_error_default(err->code));
    return gpx_error_exit_status(err->code);
}

int gpx_cli_connect(const char *server, struct gpx_conn **out)
{
    char pre[4096];
    gpx_error err = {0};
    struct gpx_conn_opts o = {.server = server};
    if (gpx_cli_interposer_path(pre, sizeof pre, NULL) == 0)
        o.interposer = pre;
    if (gpx_conn_open(&o, out, &err) < 0)
        return gpx_cli_fail(&err);
    return 0;
}

int gpx_cli_usage_error(const struct gpx_cmd *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "gpuplex %s: %s\ntry 'gpuplex help %s'\n", cmd->name, msg, cmd->name);
    return gpx_error_exit_status(GPX_E_USAGE);
}

int gpx_cli_print_usage(const struct gpx_cmd *cmd)
{
    fputs(cmd->usage, stdout);
    return 0;
}

const char *gpx_cli_subcommand(const struct gpx_cmd *cmd, int argc, char **argv, const char *subs,
                               int *rc)
{
    if (argc >= 2 && argv[1][0] != '-')
        return argv[1];
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        *rc = gpx_cli_print_usage(cmd);
    else
        *rc = gpx_cli_usage_error(cmd, "missing subcommand: %s", subs);
    return NULL;
}

const char *gpx_cli_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : "-";
}

int gpx_cli_number(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = s && *s >= '0' && *s <= '9' ? strtol(s, &end, 10) : -1;
    if (v < lo || v > hi || !end || *end)
        return -1;
    *out = v;
    return 0;
}

int gpx_cli_conn_flags(int argc, char **argv, const char **server, int *json)
{
    int i = 2;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (!strcmp(argv[i], "--server") && i + 1 < argc)
            *server = argv[++i];
        else if (!strncmp(argv[i], "--server=", 9))
            *server = argv[i] + 9;
        else
            break;
    }
    return i;
}

int main(int argc, char **argv)
{
    gpx_log_init_from_env();
    gpx_cli_select_driver();
    if (argc < 2) {
        /* usage on stdout, and the usage exit status whatever help returned */
        (void)gpx_cmd_help.run(1, (char *[]){"help", NULL});
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    else if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        name = "version";
    const struct gpx_cmd *cmd = gpx_cli_find(name);
    if (!cmd) {
        fprintf(stderr, "gpuplex: unknown command '%s'; try 'gpuplex --help'\n", argv[1]);
        return gpx_error_exit_status(GPX_E_USAGE);
    }
    return cmd->run(argc - 1, argv + 1);
}
