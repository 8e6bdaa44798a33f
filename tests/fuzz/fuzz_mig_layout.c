/*
 * libFuzzer target for MIG layout files (src/core/mig_layout.c): any input
 * must parse or fail cleanly, without leaks or undefined behaviour, and a
 * parsed file must answer every lookup. Built with clang
 * (-fsanitize=fuzzer,address,undefined); with other compilers the same
 * function replays the seed corpus as a test (replay.c).
 */
#include "core/mig_layout.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gpx_mig_layout_file f;
    gpx_error err;
    if (gpx_mig_layout_parse((const char *)data, size, &f, &err) < 0)
        return 0;
    for (unsigned i = 0; i < f.count; i++) {
        const struct gpx_mig_layout *l = gpx_mig_layout_find(&f, f.layouts[i].name);
        for (int m = 0; l && m < GPX_MIG_MODEL_COUNT; m++) {
            const struct gpx_mig_model *model = gpx_mig_model_get((enum gpx_mig_model_id)m);
            for (unsigned gpu = 0; gpu < 34; gpu += 11) {
                const struct gpx_mig_layout_rule *r =
                    gpx_mig_layout_rule_for(l, gpu, model->pci_device_id, m);
                unsigned demand[GPX_MIG_MAX_PROFILES];
                if (r)
                    (void)gpx_mig_layout_demand(r, model, demand, &err);
            }
        }
    }
    gpx_mig_layout_file_free(&f);
    return 0;
}
