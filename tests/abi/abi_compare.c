/*
 * Compares our vendor-ABI declarations with NVIDIA's headers: prints every
 * row where they differ and fails if any does. Built with GPX_ABI_MISSING
 * (a reason) where the vendor header is not installed: then it says so and
 * exits 77, which CTest reports as skipped.
 */
#include "abi.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
#if defined(GPX_ABI_MISSING)
    printf("skipped: %s\n", GPX_ABI_MISSING);
    return 77;
#else
    const struct gpx_abi_table *o = &gpx_abi_ours, *v = &gpx_abi_vendor;
    if (o->count != v->count) {
        printf("FAIL: %zu rows from %s, %zu from %s\n", o->count, o->header, v->count, v->header);
        return 1;
    }
    size_t bad = 0;
    for (size_t i = 0; i < o->count; i++) {
        if (strcmp(o->rows[i].what, v->rows[i].what) != 0) {
            printf("FAIL: row %zu is %s here and %s there\n", i, o->rows[i].what, v->rows[i].what);
            return 1;
        }
        if (o->rows[i].value != v->rows[i].value) {
            printf("MISMATCH %s: %s has %llu (0x%llx), %s has %llu (0x%llx)\n", o->rows[i].what,
                   o->header, o->rows[i].value, o->rows[i].value, v->header, v->rows[i].value,
                   v->rows[i].value);
            bad++;
        }
    }
    printf("%zu checks of %s against %s: %zu mismatches\n", o->count, o->header, v->header, bad);
    return bad ? 1 : 0;
#endif
}
