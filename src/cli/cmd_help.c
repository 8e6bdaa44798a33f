/* gpuplex help [CMD]: the command list, or one command's full help. */
#include "cli/cli.h"

#include <stdio.h>

/*
 * The overview's parts, apart, so that gpuplex(1) is written from them too
 * (gen.c): the page and `gpuplex --help` say the same.
 */
const struct gpx_cli_help gpx_cli_help = {
    .usage = "usage: gpuplex COMMAND [ARGS...]\n",
    .intro = "gpuplex shares NVIDIA GPUs between AI/ML workloads: whole GPUs, MIG partitions,\n"
             "vGPU slices and weighted time-slicing, all as leases.\n",
    .global = "  -h, --help     this help; 'gpuplex help CMD' for one command\n"
              "  -V, --version  print the version\n",
    .engine = "Every command that touches leases, GPUs, tenants, usage or MIG state uses the\n"
              "lease engine: gpuplexd's when a daemon owns the state directory (or\n"
              "GPUPLEX_SERVER names one), else the engine in-process; 'gpuplex status' says\n"
              "which and why (docs/cli.md).\n",
    .env = "  GPUPLEX_STATE_DIR=DIR   the state directory (leases, tenants, metering; SQLite);\n"
           "                          default /var/lib/gpuplex (root, or when writable or\n"
           "                          owned by gpuplexd), else ~/.local/state/gpuplex\n"
           "  GPUPLEX_RUN_DIR=DIR     lease regions and arbiters; default: the state's own\n"
           "                          (the last engine's), else /run/gpuplex when writable,\n"
           "                          else /tmp/gpuplex-UID\n"
           "  GPUPLEX_SERVER=S        gpuplexd: socket path, http://HOST:PORT or\n"
           "                          https://HOST:PORT, used even if it does not answer\n"
           "                          (exit 9); 'none': the engine in-process (refused while\n"
           "                          a daemon owns the state)\n"
           "  GPUPLEX_CA=FILE         for https: trust only this CA (PEM); default: the\n"
           "                          system's CA store (the server is always verified)\n"
           "  GPUPLEX_TOKEN=TOKEN     bearer token of a tenant (gpuplex tenant add)\n"
           "  GPUPLEX_TIMEOUT=SECONDS limit of one request to gpuplexd (default 120)\n"
           "  GPUPLEX_CONFIG=FILE     gpuplexd.conf the in-process engine reads too (placement,\n"
           "                          oversubscription, run_dir, grace, state_dir); default\n"
           "                          /etc/gpuplex/gpuplexd.conf if present\n"
           "  GPUPLEX_SIM=FILE        use the simulated driver over FILE (see 'gpuplex help sim')\n"
           "  GPUPLEX_DRIVER_DIR=DIR  load libnvidia-ml.so.1 / libcuda.so.1 from DIR first\n"
           "  GPUPLEX_SYSFS_ROOT=DIR  read and write sysfs under DIR for VMs (default /sys;\n"
           "                          'gpuplex sim init --sysfs DIR' writes a simulated one)\n"
           "  GPUPLEX_LOG=LEVEL       error|warn|info|debug on stderr (default warn; in\n"
           "                          workloads, the interposer defaults to error)\n",
    .exit = "  0 success            1 internal error      2 usage or invalid argument\n"
            "  3 no driver or GPU   4 driver call failed  5 not found\n"
            "  6 exists or busy     7 does not fit        8 state file invalid\n"
            "  9 I/O error          10 permission denied\n",
};

static void overview(void)
{
    const struct gpx_cli_help *h = &gpx_cli_help;
    printf("%s\n%s\ncommands:\n", h->usage, h->intro);
    for (int i = 0; gpx_cli_commands[i]; i++)
        printf("  %-10s %s\n", gpx_cli_commands[i]->name, gpx_cli_commands[i]->summary);
    printf("\nglobal options:\n%s\n%s\nenvironment:\n%s\nexit status:\n%s", h->global, h->engine,
           h->env, h->exit);
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2])
        return gpx_cli_generate(argc - 1, argv + 1); /* --man, --completion SHELL */
    if (argc < 2) {
        overview();
        return 0;
    }
    const struct gpx_cmd *cmd = gpx_cli_find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "gpuplex: no help for unknown command '%s'; try 'gpuplex --help'\n",
                argv[1]);
        return 2;
    }
    return gpx_cli_print_usage(cmd);
}

const struct gpx_cmd gpx_cmd_help = {
    "help",
    run,
    "show help for gpuplex or one command",
    "usage: gpuplex help [COMMAND]\n"
    "\n"
    "Without COMMAND, lists the commands, global options, environment and exit\n"
    "statuses. With COMMAND, prints that command's full help.\n",
};
