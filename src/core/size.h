/*
 * Sizes as people write them: "4G", "4096M", "512MiB", "1.5GiB", "1048576".
 * Units are binary (K = 1024); a bare number is bytes. Used by the CLI, the
 * daemon's API and config files, so all three accept the same spellings.
 */
#ifndef GPX_SIZE_H
#define GPX_SIZE_H

#include "gpuplex/error.h"

#include <stdint.h>

int gpx_size_parse(const char *text, uint64_t *bytes, gpx_error *err);
/* "4.0 GiB", "512 MiB": for messages and tables. */
void gpx_size_format(uint64_t bytes, char *buf, unsigned len);

/*
 * Like gpx_size_parse, but a size must carry its unit: "4096" is refused with
 * a hint (4096M, 4G), so that nobody asks for 4 KiB meaning 4 GiB.
 */
int gpx_size_parse_unit(const char *text, uint64_t *bytes, gpx_error *err);

#endif
