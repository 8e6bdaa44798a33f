/*
 * MIG profile catalog (see mig_catalog.h). Every figure below is copied from
 * a public source; where a figure could not be confirmed it says so, and on a
 * real GPU NVML's answer replaces it (gpx_mig_crosscheck, src/nvml/mig.c).
 *
 * Sources:
 * [UG]  NVIDIA Multi-Instance GPU User Guide (docs.nvidia.com/datacenter/tesla/
 *       mig-user-guide, r580): "Supported MIG Profiles" tables 6-8 (A100,
 *       H100, H200: names, memory/SM fractions, engines, instance counts);
 *       "Getting Started": `nvidia-smi mig -lgipp` on A100 (placements
 *       19/20 {0..6}:1, 15 {0,2,4,6}:2, 14 {0,2,4}:2, 9 {0,4}:4, 5 {0}:4,
 *       0 {0}:8), `-lgip`/`-cgi` listings (ids, 14 SMs per A100 1g, 1c.3g
 *       CIs of 14 SMs, GI/CI profile ids), the 19,19,14,9 ordering quirk, and
 *       an H100 `nvidia-smi` listing with 3g.40gb of 40448 MiB and 60 SMs.
 * [NVML] nvml.h (R570+, as vendored by NVIDIA/go-nvml): profile index
 *       constants NVML_GPU_INSTANCE_PROFILE_* and NVML_COMPUTE_INSTANCE_PROFILE_*.
 * [H100] `nvidia-smi mig -lgip` on H100 80GB HBM3 (SXM5) in public cluster
 *       docs (StackHPC slurm appliance, docs/mig.md): 1g.10gb 9.75 GiB 16 SMs,
 *       1g.20gb 19.62 GiB 26 SMs, 2g.20gb 19.62 GiB 32 SMs, 3g.40gb 39.50 GiB
 *       60 SMs, 4g.40gb 39.50 GiB 64 SMs, 7g.80gb 79.25 GiB 132 SMs, engine
 *       counts; `-lgipp` on H100 80GB, H100 NVL and H100 94GB: placements as
 *       on A100.
 * [A100-80] `nvidia-smi mig -lgip` on A100-SXM4-80GB (MLSysOps/MIGProfiler
 *       README): 1g.10gb 9.50 GiB 14 SMs, 2g.20gb 19.50 GiB 28 SMs, 3g.40gb and
 *       4g.40gb 39.50 GiB, 7g.80gb 79.25 GiB 98 SMs.
 * [REF] shared/REFERENCE.md: H200 1g/2g/7g memory 16.00/32.50/140.00 GiB as
 *       seen in one listing.
 * MiB = GiB shown by nvidia-smi x 1024 (it prints memorySizeMB / 1024 with two
 * decimals, e.g. 19968 -> 19.50, 20096 -> 19.62).
 *
 * Unverified (planning does not depend on them; NVML wins on hardware):
 * A100-80GB 1g.20gb memory (taken as 2g.20gb's); H200 placements and SM
 * counts (taken as H100's: same GH100 die, same 7 x 8 geometry), H200 1g.35gb
 * memory (as 2g.35gb) and 3g/4g.71gb memory (interpolated from 2g as on H100).
 *
 * Invariant (checked by tests/unit/test_mig_catalog.c): every placement of a
 * profile has size == memory_slices and start + size <= 8.
 */
#include "core/mig_catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define P(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define PL1                                                                                        \
    7,                                                                                             \
    {                                                                                              \
        {0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1},                                            \
        {                                                                                          \
            6, 1                                                                                   \
        }                                                                                          \
    }
#define PL1X2                                                                                      \
    4,                                                                                             \
    {                                                                                              \
        {0, 2}, {2, 2}, {4, 2},                                                                    \
        {                                                                                          \
            6, 2                                                                                   \
        }                                                                                          \
    }
#define PL2                                                                                        \
    3,                                                                                             \
    {                                                                                              \
        {0, 2}, {2, 2},                                                                            \
        {                                                                                          \
            4, 2                                                                                   \
        }                                                                                          \
    }
#define PL3                                                                                        \
    2,                                                                                             \
    {                                                                                              \
        {0, 4},                                                                                    \
        {                                                                                          \
            4, 4                                                                                   \
        }                                                                                          \
    }
#define PL4                                                                                        \
    1,                                                                                             \
    {                                                                                              \
        {                                                                                          \
            0, 4                                                                                   \
        }                                                                                          \
    }
#define PL7                                                                                        \
    1,                                                                                             \
    {                                                                                              \
        {                                                                                          \
            0, 8                                                                                   \
        }                                                                                          \
    }

/* name, index, id, compute, memory slices, max, CE, DEC, ENC, JPEG, OFA, SMs, MiB, placements */
static const struct gpx_mig_model models[GPX_MIG_MODEL_COUNT] =
    {
        [GPX_MIG_A100_40GB] =
            {
                "A100-40GB",
                "A100-SXM4-40GB",
                {"NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB", NULL},
                {"A100-SXM4-40GB", "A100", NULL},
                0x20B010DE,
                40960,
                108,
                7,
                {
                    P("1g.5gb", 0x0, 19, 1, 1, 7, 1, 0, 0, 0, 0, 14, 4864, PL1),
                    P("1g.5gb+me", 0x7, 20, 1, 1, 1, 1, 1, 0, 1, 1, 14, 4864, PL1),
                    P("1g.10gb", 0x9, 15, 1, 2, 4, 1, 1, 0, 0, 0, 14, 9856, PL1X2),
                    P("2g.10gb", 0x1, 14, 2, 2, 3, 2, 1, 0, 0, 0, 28, 9856, PL2),
                    P("3g.20gb", 0x2, 9, 3, 4, 2, 3, 2, 0, 0, 0, 42, 19968, PL3),
                    P("4g.20gb", 0x3, 5, 4, 4, 1, 4, 2, 0, 0, 0, 56, 19968, PL4),
                    P("7g.40gb", 0x4, 0, 7, 8, 1, 7, 5, 0, 1, 1, 98, 40192, PL7),
                },
            },
        [GPX_MIG_A100_80GB] =
            {
                "A100-80GB",
                "A100-SXM4-80GB",
                {"NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", "NVIDIA A100 80GB PCIe", NULL},
                {"A100-SXM4-80GB", NULL, NULL},
                0x20B210DE,
                81920,
                108,
                7,
                {
                    P("1g.10gb", 0x0, 19, 1, 1, 7, 1, 0, 0, 0, 0, 14, 9728, PL1),
                    P("1g.10gb+me", 0x7, 20, 1, 1, 1, 1, 1, 0, 1, 1, 14, 9728, PL1),
                    P("1g.20gb", 0x9, 15, 1, 2, 4, 1, 1, 0, 0, 0, 14, 19968, PL1X2),
                    P("2g.20gb", 0x1, 14, 2, 2, 3, 2, 1, 0, 0, 0, 28, 19968, PL2),
                    P("3g.40gb", 0x2, 9, 3, 4, 2, 3, 2, 0, 0, 0, 42, 40448, PL3),
                    P("4g.40gb", 0x3, 5, 4, 4, 1, 4, 2, 0, 0, 0, 56, 40448, PL4),
                    P("7g.80gb", 0x4, 0, 7, 8, 1, 7, 5, 0, 1, 1, 98, 81152, PL7),
                },
            },
        [GPX_MIG_H100_80GB] =
            {
                "H100-80GB",
                "H100-SXM5-80GB",
                {"NVIDIA H100 80GB HBM3", NULL, NULL, NULL},
                {"H100", "H100-SXM5-80GB", NULL},
                0x233010DE,
                81559,
                132,
                7,
                {
                    P("1g.10gb", 0x0, 19, 1, 1, 7, 1, 1, 0, 1, 0, 16, 9984, PL1),
                    P("1g.10gb+me", 0x7, 20, 1, 1, 1, 1, 1, 0, 1, 1, 16, 9984, PL1),
                    P("1g.20gb", 0x9, 15, 1, 2, 4, 1, 1, 0, 1, 0, 26, 20096, PL1X2),
                    P("2g.20gb", 0x1, 14, 2, 2, 3, 2, 2, 0, 2, 0, 32, 20096, PL2),
                    P("3g.40gb", 0x2, 9, 3, 4, 2, 3, 3, 0, 3, 0, 60, 40448, PL3),
                    P("4g.40gb", 0x3, 5, 4, 4, 1, 4, 4, 0, 4, 0, 64, 40448, PL4),
                    P("7g.80gb", 0x4, 0, 7, 8, 1, 8, 7, 0, 7, 1, 132, 81152, PL7),
                },
            },
        [GPX_MIG_H200_141GB] =
            {
                "H200-141GB",
                "H200-SXM5-141GB",
                {"NVIDIA H200", NULL, NULL, NULL},
                {"H200", "H200-SXM5-141GB", NULL},
                0x233510DE,
                143771,
                132,
                7,
                {
                    P("1g.18gb", 0x0, 19, 1, 1, 7, 1, 1, 0, 1, 0, 16, 16384, PL1),
                    P("1g.18gb+me", 0x7, 20, 1, 1, 1, 1, 1, 0, 1, 1, 16, 16384, PL1),
                    P("1g.35gb", 0x9, 15, 1, 2, 4, 1, 1, 0, 1, 0, 26, 33280, PL1X2),
                    P("2g.35gb", 0x1, 14, 2, 2, 3, 2, 2, 0, 2, 0, 32, 33280, PL2),
                    P("3g.71gb", 0x2, 9, 3, 4, 2, 3, 3, 0, 3, 0, 60, 66816, PL3),
                    P("4g.71gb", 0x3, 5, 4, 4, 1, 4, 4, 0, 4, 0, 64, 66816, PL4),
                    P("7g.141gb", 0x4, 0, 7, 8, 1, 8, 7, 0, 7, 1, 132, 143360, PL7),
                },
            },
};

const struct gpx_mig_model *gpx_mig_model_get(enum gpx_mig_model_id id)
{
    return (unsigned)id < GPX_MIG_MODEL_COUNT ? &models[id] : NULL;
}

int gpx_mig_model_find(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < GPX_MIG_MODEL_COUNT; i++) {
        const struct gpx_mig_model *m = &models[i];
        if (strcasecmp(name, m->spec_name) == 0 || strcasecmp(name, m->board) == 0)
            return i;
        for (size_t k = 0; k < sizeof m->aliases / sizeof m->aliases[0] && m->aliases[k]; k++)
            if (strcasecmp(name, m->aliases[k]) == 0)
                return i;
        for (size_t k = 0; k < sizeof m->nvml_names / sizeof m->nvml_names[0] && m->nvml_names[k];
             k++)
            if (strcasecmp(name, m->nvml_names[k]) == 0)
                return i;
    }
    return -1;
}

int gpx_mig_model_find_pci(uint32_t pci_device_id)
{
    for (int i = 0; i < GPX_MIG_MODEL_COUNT; i++)
        if (models[i].pci_device_id == pci_device_id)
            return i;
    return -1;
}

const char *gpx_mig_model_list(void)
{
    return "A100-40GB, A100-80GB, H100-80GB, H200-141GB";
}

int gpx_mig_profile_find(const struct gpx_mig_model *m, const char *name)
{
    if (!m || !name)
        return -1;
    while (isspace((unsigned char)*name))
        name++;
    if (strncasecmp(name, "MIG ", 4) == 0 || strncasecmp(name, "mig-", 4) == 0)
        name += 4;
    char buf[GPX_MIG_NAME_MAX];
    size_t n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1]))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    /* The device plugin's resource names turn '+' into '.': "1g.10gb.me". */
    if (n > 3 && strcasecmp(buf + n - 3, ".me") == 0)
        buf[n - 3] = '+';
    for (unsigned i = 0; i < m->profile_count; i++)
        if (strcasecmp(buf, m->profiles[i].name) == 0)
            return (int)i;
    return -1;
}

void gpx_mig_profile_names(const struct gpx_mig_model *m, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (unsigned i = 0; i < m->profile_count && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", m->profiles[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int gpx_mig_profile_parse(const struct gpx_mig_model *m, const char *name, gpx_error *err)
{
    int i = gpx_mig_profile_find(m, name);
    if (i >= 0)
        return i;
    char names[256];
    gpx_mig_profile_names(m, names, sizeof names);
    return gpx_error_set(err, GPX_E_INVALID, "unknown MIG profile '%s' for %s (valid: %s)",
                         name ? name : "", m->spec_name, names);
}

int gpx_mig_profile_by_id(const struct gpx_mig_model *m, unsigned id)
{
    for (unsigned i = 0; i < m->profile_count; i++)
        if (m->profiles[i].id == id)
            return (int)i;
    return -1;
}

int gpx_mig_profile_by_index(const struct gpx_mig_model *m, unsigned nvml_index)
{
    for (unsigned i = 0; i < m->profile_count; i++)
        if (m->profiles[i].index == nvml_index)
            return (int)i;
    return -1;
}

int gpx_mig_placement_find(const struct gpx_mig_gi_profile *p, unsigned start)
{
    for (unsigned i = 0; i < p->placement_count; i++)
        if (p->placements[i].start == start)
            return (int)i;
    return -1;
}

/* NVML_COMPUTE_INSTANCE_PROFILE_* for a CI of `slices` compute slices. */
static int ci_profile_id(unsigned slices)
{
    switch (slices) {
    case 1:
        return 0x0;
    case 2:
        return 0x1;
    case 3:
        return 0x2;
    case 4:
        return 0x3;
    case 7:
        return 0x4;
    case 8:
        return 0x5;
    case 6:
        return 0x6;
    default:
        return -1;
    }
}

unsigned gpx_mig_ci_full_profile_id(unsigned compute_slices)
{
    int id = ci_profile_id(compute_slices);
    return id < 0 ? 0 : (unsigned)id;
}

unsigned gpx_mig_ci_profiles(const struct gpx_mig_model *m, unsigned gi,
                             struct gpx_mig_ci_profile out[GPX_MIG_MAX_CI_PROFILES])
{
    if (!m || gi >= m->profile_count)
        return 0;
    const struct gpx_mig_gi_profile *g = &m->profiles[gi];
    /* SMs per compute slice: the plain 1g profile's, which is the first one. */
    unsigned per_slice = m->profiles[0].sm_count;
    static const uint8_t sizes[] = {1, 2, 3, 4, 7};
    unsigned n = 0;
    for (size_t k = 0; k < sizeof sizes && n < GPX_MIG_MAX_CI_PROFILES; k++) {
        unsigned s = sizes[k];
        if (s > g->compute_slices)
            break;
        struct gpx_mig_ci_profile *c = &out[n++];
        memset(c, 0, sizeof *c);
        c->id = (uint8_t)ci_profile_id(s);
        c->slices = (uint8_t)s;
        c->max_count = (uint8_t)(g->compute_slices / s);
        c->sm_count = (uint16_t)(s == g->compute_slices ? g->sm_count : s * per_slice);
        if (s == g->compute_slices)
            snprintf(c->name, sizeof c->name, "%s", g->name);
        else
            snprintf(c->name, sizeof c->name, "%uc.%s", s, g->name);
        unsigned align = 1;
        while (align < s)
            align <<= 1;
        for (unsigned start = 0; start + s <= g->compute_slices; start += align) {
            c->placements[c->placement_count].start = (uint8_t)start;
            c->placements[c->placement_count].size = (uint8_t)s;
            c->placement_count++;
        }
    }
    return n;
}
