/*
 * nvidia-smi's query mode for `gpuplex ls`: --query-gpu=FIELD,... and
 * --query-lease=FIELD,... with --format=csv[,noheader][,nounits], and -L.
 * The shape is nvidia-smi's, so scripts written against it read ours: a header
 * of field names with units in brackets ("memory.used [MiB]"), values with
 * units ("1024 MiB"), fields joined by ", ", "[N/A]" where nothing is known;
 * -L prints "GPU 0: NAME (UUID: GPU-...)" and a line per MIG device.
 */
#ifndef GPX_CLI_QUERY_H
#define GPX_CLI_QUERY_H

#include "cli/sample.h"
#include "gpuplex/error.h"

#define GPX_QUERY_MAX_FIELDS 64

struct gpx_query {
    int lease; /* 1: --query-lease, 0: --query-gpu */
    unsigned n;
    int field[GPX_QUERY_MAX_FIELDS]; /* indexes into the kind's table */
    int header, units;               /* both 1 unless noheader / nounits */
};

/* Parses the field list (flag: "--query-gpu" / "--query-lease", for messages). */
int gpx_query_fields(struct gpx_query *q, int lease, const char *list, gpx_error *err);
/* Parses --format's value: csv, then optional noheader, nounits. */
int gpx_query_format(struct gpx_query *q, const char *fmt, gpx_error *err);
/* Prints the CSV of the GPUs or the leases of s. */
void gpx_query_print(const struct gpx_query *q, const struct gpx_sample *s);
/* `nvidia-smi -L`: a line per GPU, and under a GPU in MIG mode one per MIG device. */
void gpx_query_list_gpus(const struct gpx_sample *s);

#endif
