/*
 * Where the driver libraries come from: the CLI uses the same choice as the
 * daemon (src/core/driver.c), made once at start-up.
 */
#include "cli/cli.h"
#include "core/driver.h"

void gpx_cli_select_driver(void)
{
    gpx_driver_select();
}
