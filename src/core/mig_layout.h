/*
 * MIG layout files: named layouts per GPU model, as operators keep them for
 * NVIDIA's mig-parted. A file is either YAML (read with libyaml) like the one
 * below or the same structure in JSON (docs/mig.md says what is accepted):
 *
 *   version: v1
 *   mig-configs:
 *     inference:
 *       - device-filter: ["0x233010DE", "H200-141GB"]  # PCI ids or models
 *         devices: all                                 # or [0, 2]
 *         mig-enabled: true
 *         mig-devices:
 *           "1g.10gb": 4
 *           "3g.40gb": 1
 *
 * Parsing checks the structure and sizes only; profile names are checked
 * against a model when a rule is turned into a demand, so one file can hold
 * rules for several models. Inputs are untrusted (fuzzed: tests/fuzz/).
 */
#ifndef GPX_MIG_LAYOUT_H
#define GPX_MIG_LAYOUT_H

#include "core/mig_catalog.h"
#include "gpuplex/error.h"

#include <stddef.h>
#include <stdint.h>

#define GPX_MIG_LAYOUT_MAX_FILTERS 16U
#define GPX_MIG_LAYOUT_MAX_DEVICES 16U /* mig-devices entries per rule */
#define GPX_MIG_LAYOUT_MAX_BYTES   (1U << 20)
#define GPX_MIG_LAYOUT_NAME_MAX    64U

struct gpx_mig_layout_filter {
    uint32_t pci_device_id; /* 0 when `model` is set */
    int model;              /* enum gpx_mig_model_id, or -1 */
};

struct gpx_mig_layout_rule {
    int all_devices;  /* devices: all (or absent) */
    uint32_t devices; /* GPU indexes 0..31 when not all */
    unsigned nfilters;
    struct gpx_mig_layout_filter filters[GPX_MIG_LAYOUT_MAX_FILTERS];
    int mig_enabled;
    unsigned ndevices;
    struct {
        char profile[GPX_MIG_NAME_MAX];
        unsigned count;
    } mig_devices[GPX_MIG_LAYOUT_MAX_DEVICES];
};

struct gpx_mig_layout {
    char name[GPX_MIG_LAYOUT_NAME_MAX];
    unsigned nrules;
    struct gpx_mig_layout_rule *rules;
};

struct gpx_mig_layout_file {
    unsigned count;
    struct gpx_mig_layout *layouts;
};

/* Parses `len` bytes (YAML or JSON). Caller frees *out with _free. */
int gpx_mig_layout_parse(const char *text, size_t len, struct gpx_mig_layout_file *out,
                         gpx_error *err);
/* Reads and parses a file (at most GPX_MIG_LAYOUT_MAX_BYTES). */
int gpx_mig_layout_load(const char *path, struct gpx_mig_layout_file *out, gpx_error *err);
void gpx_mig_layout_file_free(struct gpx_mig_layout_file *f);

/* The layout called `name`, or NULL. */
const struct gpx_mig_layout *gpx_mig_layout_find(const struct gpx_mig_layout_file *f,
                                                 const char *name);
/*
 * The first rule of `l` whose devices include GPU `gpu_index` and whose
 * filter (if any) names its PCI device id or model; NULL when none applies.
 */
const struct gpx_mig_layout_rule *gpx_mig_layout_rule_for(const struct gpx_mig_layout *l,
                                                          unsigned gpu_index,
                                                          uint32_t pci_device_id, int model);
/* The rule's mig-devices as per-profile counts of model `m`. */
int gpx_mig_layout_demand(const struct gpx_mig_layout_rule *r, const struct gpx_mig_model *m,
                          unsigned demand[GPX_MIG_MAX_PROFILES], gpx_error *err);

#endif
