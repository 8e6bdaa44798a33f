/* gpuplex version: the version of this build. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static int run(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return gpx_cli_print_usage(&gpx_cmd_version);
    if (argc > 1 && strcmp(argv[1], "--json") == 0 && argc == 2) {
        printf("{\"version\": \"%s\"}\n", GPX_VERSION);
        return 0;
    }
    if (argc > 1)
        return gpx_cli_usage_error(&gpx_cmd_version, "unexpected argument '%s'", argv[1]);
    printf("gpuplex %s\n", GPX_VERSION);
    return 0;
}

const struct gpx_cmd gpx_cmd_version = {
    "version",
    run,
    "print the version",
    "usage: gpuplex version [--json]\n"
    "       gpuplex --version\n"
    "\n"
    "Prints 'gpuplex X.Y.Z' ({\"version\": \"X.Y.Z\"} with --json).\n",
};
