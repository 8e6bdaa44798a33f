/*
 * The boards the simulator models, with the figures the real boards report
 * (nvidia-smi -q / deviceQuery on each): SM count, memory in MiB as NVML
 * reports it, compute capability, default power limit, clocks, PCI ids.
 * Spec parsing for `gpuplex sim init --gpus 2xH100-80GB,1xA100-40GB`.
 */
#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct gpx_sim_model_info models[GPX_SIM_MODEL_COUNT] = {
    [GPX_SIM_A100_40GB] = {"A100-40GB", "A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB", 108, 40960, 8, 0,
                           400, 55, 1410, 210, 1215, 0x20B010DE, 0x134F10DE},
    [GPX_SIM_A100_80GB] = {"A100-80GB", "A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", 108, 81920, 8, 0,
                           400, 60, 1410, 210, 1593, 0x20B210DE, 0x147F10DE},
    [GPX_SIM_H100_80GB] = {"H100-80GB", "H100", "NVIDIA H100 80GB HBM3", 132, 81559, 9, 0, 700, 70,
                           1980, 345, 2619, 0x233010DE, 0x16C110DE},
    [GPX_SIM_H200_141GB] = {"H200-141GB", "H200", "NVIDIA H200", 132, 143771, 9, 0, 700, 75, 1980,
                            345, 3201, 0x233510DE, 0x18BE10DE},
};

const struct gpx_sim_model_info *gpx_sim_model(enum gpx_sim_model m)
{
    return (unsigned)m < GPX_SIM_MODEL_COUNT ? &models[m] : NULL;
}

int gpx_sim_model_find(const char *spec_name)
{
    for (int i = 0; i < GPX_SIM_MODEL_COUNT; i++) {
        if (strcasecmp(spec_name, models[i].spec_name) == 0 ||
            (models[i].alias && strcasecmp(spec_name, models[i].alias) == 0))
            return i;
    }
    return -1;
}

const char *gpx_sim_model_list(void)
{
    return "A100-40GB, A100-80GB, H100-80GB, H200-141GB";
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int gpx_sim_spec_parse(const char *text, struct gpx_sim_spec *out, gpx_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return gpx_error_set(err, GPX_E_INVALID, "empty GPU spec (example: 2xH100-80GB)");
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return gpx_error_set(err, GPX_E_INVALID, "GPU spec too long");
    memcpy(buf, text, strlen(text) + 1);

    char *rest = buf;
    for (char *tok = strsep(&rest, ","); tok; tok = strsep(&rest, ",")) {
        char *item = trim(tok);
        if (!*item)
            return gpx_error_set(err, GPX_E_INVALID, "empty item in GPU spec '%s'", text);
        unsigned long count = 1;
        const char *model = item;
        if (isdigit((unsigned char)item[0])) {
            char *end;
            errno = 0;
            count = strtoul(item, &end, 10);
            while (isspace((unsigned char)*end))
                end++;
            if (errno || (*end != 'x' && *end != 'X'))
                return gpx_error_set(err, GPX_E_INVALID,
                                     "bad item '%s' (expected [Nx]MODEL, e.g. 2xH100-80GB)", item);
            model = trim(end + 1);
        }
        if (count == 0 || count > GPX_SIM_MAX_GPUS)
            return gpx_error_set(err, GPX_E_INVALID, "count in '%s' must be 1..%u", item,
                                 GPX_SIM_MAX_GPUS);
        int m = gpx_sim_model_find(model);
        if (m < 0)
            return gpx_error_set(err, GPX_E_INVALID, "unknown GPU model '%s' (valid models: %s)",
                                 model, gpx_sim_model_list());
        if (out->gpu_count + count > GPX_SIM_MAX_GPUS)
            return gpx_error_set(err, GPX_E_INVALID, "too many GPUs in '%s' (at most %u per node)",
                                 text, GPX_SIM_MAX_GPUS);
        for (unsigned long i = 0; i < count; i++)
            out->models[out->gpu_count++] = (uint8_t)m;
    }
    return 0;
}
