/*
 * tests/abi/: one table of checks per vendor header, built twice from the
 * same list (abi_table.c): once against our declarations (src/abi/), once
 * against NVIDIA's header. abi_compare.c compares the two row by row.
 */
#ifndef GPX_TEST_ABI_H
#define GPX_TEST_ABI_H

#include <stddef.h>

struct gpx_abi_row {
    const char *what; /* "sizeof(CUmemAllocationProp)", "CU_STREAM_LEGACY", … */
    unsigned long long value;
};

struct gpx_abi_table {
    const char *header; /* which header this table was compiled against */
    const struct gpx_abi_row *rows;
    size_t count;
};

/* Defined by abi_table.c compiled with GPX_ABI_SIDE_OURS / GPX_ABI_SIDE_VENDOR. */
extern const struct gpx_abi_table gpx_abi_ours;
extern const struct gpx_abi_table gpx_abi_vendor;

#endif
