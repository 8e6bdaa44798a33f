/*
 * The driver a simulated node claims to be: `gpuplex sim init --driver
 * VERSION [--cuda-version X.Y]`. A real driver's CUDA version is fixed by its
 * branch (the first number of the version), as NVIDIA's "CUDA Toolkit and
 * Corresponding Driver Versions" table lists it; tools built for a CUDA
 * major refuse a driver that reports an older one, so the simulator must
 * report the pair a real node would, or tools built for CUDA 13 would run
 * on a node no real CUDA 13 program could.
 */
#include "state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Driver branch -> the CUDA version its libcuda reports (cuDriverGetVersion). */
static const struct {
    unsigned branch;
    uint32_t cuda;
} branches[] = {
    {525, 12000},
    {530, 12010},
    {535, 12020},
    {545, 12030},
    {550, 12040},
    {555, 12050},
    {560, 12060},
    /* no 12.7 toolkit exists, but R565 drivers report 12.7 (nvidia-smi "CUDA Version: 12.7") */
    {565, 12070},
    {570, 12080},
    {575, 12090},
    {580, 13000},
};
#define BRANCH_COUNT (sizeof branches / sizeof branches[0])

const char *gpx_sim_driver_branches(void)
{
    static char list[256];
    if (!list[0]) {
        size_t off = 0;
        for (size_t i = 0; i < BRANCH_COUNT && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%u (CUDA %u.%u)",
                                    i ? ", " : "", branches[i].branch, branches[i].cuda / 1000,
                                    branches[i].cuda % 1000 / 10);
    }
    return list;
}

/* "12.8" -> 12080; CUDA 12.0 .. 13.9 only (the majors the simulator speaks). */
static int parse_cuda(const char *text, uint32_t *out)
{
    unsigned major, minor;
    char tail;
    if (!text || sscanf(text, "%u.%u%c", &major, &minor, &tail) != 2 || major < 12 || major > 13 ||
        minor > 9 || !isdigit((unsigned char)text[strlen(text) - 1]))
        return -1;
    *out = major * 1000U + minor * 10U;
    return 0;
}

int gpx_sim_driver_parse(const char *version, const char *cuda, struct gpx_sim_spec *spec,
                         gpx_error *err)
{
    /* MAJOR.MINOR[.PATCH], digits only: "580.65.06", "570.124.06", "580.95" */
    int parts = 0, digits = 0;
    for (const char *p = version ? version : ""; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            digits++;
        } else if (*p == '.' && digits > 0 && parts < 2) {
            parts++;
            digits = 0;
        } else {
            parts = -1;
            break;
        }
    }
    if (!version || parts < 1 || digits == 0 || strlen(version) >= sizeof spec->driver_version)
        return gpx_error_set(
            err, GPX_E_INVALID,
            "--driver '%s' is not a driver version (expected BRANCH.MINOR[.PATCH], "
            "e.g. 580.65.06)",
            version ? version : "");
    unsigned branch = (unsigned)strtoul(version, NULL, 10);
    uint32_t reported = 0;
    for (size_t i = 0; i < BRANCH_COUNT; i++)
        if (branches[i].branch == branch)
            reported = branches[i].cuda;
    if (!reported)
        return gpx_error_set(err, GPX_E_INVALID,
                             "--driver %s: the simulator knows no driver branch %u (accepted "
                             "branches: %s)",
                             version, branch, gpx_sim_driver_branches());
    if (cuda && parse_cuda(cuda, &reported) < 0)
        return gpx_error_set(err, GPX_E_INVALID,
                             "--cuda-version '%s' is not a CUDA version the simulator speaks "
                             "(expected 12.0 .. 13.9, e.g. 13.0)",
                             cuda);
    snprintf(spec->driver_version, sizeof spec->driver_version, "%s", version);
    spec->cuda_version = reported;
    return 0;
}
