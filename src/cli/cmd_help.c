/* gpuplex help [CMD]: the command list, or one command's full help. */
#include "cli/cli.h"

#include <stdio.h>

static void overview(void)
{
    printf("usage: gpuplex COMMAND [ARGS...]\n"
           "\n"
           "gpuplex shares NVIDIA GPUs between AI/ML workloads: whole GPUs, MIG partitions,\n"
           "vGPU slices and weighted time-slicing, all as leases.\n"
           "\n"
           "commands:\n");
    for (int i = 0; gpx_cli_commands[i]; i++)
        printf("  %-10s %s\n", gpx_cli_commands[i]->name, gpx_cli_commands[i]->summary);
    printf("\n"
           "global options:\n"
           "  -h, --help     this help; 'gpuplex help CMD' for one command\n"
           "  -V, --version  print the version\n"
           "\n"
           "environment:\n"
           "  GPUPLEX_SIM=FILE        use the simulated driver over FILE (see 'gpuplex help sim')\n"
           "  GPUPLEX_DRIVER_DIR=DIR  load libnvidia-ml.so.1 / libcuda.so.1 from DIR first\n"
           "  GPUPLEX_LOG=LEVEL       error|warn|info|debug on stderr (default warn; in\n"
           "                          workloads, the interposer defaults to error)\n"
           "  GPUPLEX_SERVER=S        gpuplexd: socket path or http://HOST:PORT (default\n"
           "                          /run/gpuplex/gpuplexd.sock; 'none': no daemon)\n"
           "  GPUPLEX_TOKEN=TOKEN     bearer token for gpuplexd (gpuplex tenant add)\n"
           "\n"
           "exit status:\n"
           "  0 success            1 internal error      2 usage or invalid argument\n"
           "  3 no driver or GPU   4 driver call failed  5 not found\n"
           "  6 exists or busy     7 does not fit        8 state file invalid\n"
           "  9 I/O error          10 permission denied\n");
}

static int run(int argc, char **argv)
{
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
