/*
 * gpx-test-nvml-surface LIST: the NVML surface of the simulated
 * libnvidia-ml.so.1, the way nvtop finds it: dlopen("libnvidia-ml.so.1") and
 * dlsym of every name in LIST (tests/abi/nvml_surface.txt), then a call of
 * each with the arguments the list gives, expecting the result it names.
 * Prints one line per mismatch and a summary; exits 1 on any mismatch, 2 on
 * a bad list. Needs GPUPLEX_SIM naming a node of at least 2 GPUs.
 *
 * Every NVML argument is of integer class (handles, pointers, enums,
 * integers), so one call shape with six uintptr_t arguments reaches any entry
 * point of up to six parameters on the SysV x86-64 and AArch64 ABIs; the
 * extra ones are ignored by the callee.
 */
#define _GNU_SOURCE
#include "abi/nvml_abi.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 6
#define BUF_SIZE 65536

typedef uintptr_t (*any_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);

struct env {
    void *lib;
    nvmlDevice_t dev, dev1;
    char uuid[96], busid[32];
    nvmlEventSet_t evset;
};

static void *sym(struct env *e, const char *name)
{
    return dlsym(e->lib, name);
}

/* Calls through the generic shape: UBSan's function-type check does not apply. */
#if defined(__clang__) && __clang_major__ >= 17
__attribute__((no_sanitize("function")))
#endif
static uintptr_t
call(void *fn, const uintptr_t *a)
{
    return ((any_fn)fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
}

static int setup(struct env *e)
{
    e->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!e->lib) {
        fprintf(stderr, "dlopen libnvidia-ml.so.1: %s\n", dlerror());
        return -1;
    }
    nvmlReturn_t (*init)(void) = (nvmlReturn_t(*)(void))sym(e, "nvmlInit_v2");
    nvmlReturn_t (*by_index)(unsigned, nvmlDevice_t *) =
        (nvmlReturn_t(*)(unsigned, nvmlDevice_t *))sym(e, "nvmlDeviceGetHandleByIndex_v2");
    nvmlReturn_t (*str)(nvmlDevice_t, char *, unsigned) =
        (nvmlReturn_t(*)(nvmlDevice_t, char *, unsigned))sym(e, "nvmlDeviceGetUUID");
    nvmlReturn_t (*pci)(nvmlDevice_t, nvmlPciInfo_t *) =
        (nvmlReturn_t(*)(nvmlDevice_t, nvmlPciInfo_t *))sym(e, "nvmlDeviceGetPciInfo_v3");
    nvmlReturn_t (*mkset)(nvmlEventSet_t *) =
        (nvmlReturn_t(*)(nvmlEventSet_t *))sym(e, "nvmlEventSetCreate");
    if (!init || !by_index || !str || !pci || !mkset) {
        fprintf(stderr, "the simulated NVML lacks what the test itself needs\n");
        return -1;
    }
    /* held for the whole run: the list's nvmlShutdown must leave NVML usable */
    if (init() != NVML_SUCCESS || init() != NVML_SUCCESS || by_index(0, &e->dev) != NVML_SUCCESS ||
        by_index(1, &e->dev1) != NVML_SUCCESS) {
        fprintf(stderr, "nvmlInit or two GPUs failed: GPUPLEX_SIM needs a node of 2 GPUs\n");
        return -1;
    }
    nvmlPciInfo_t p;
    if (str(e->dev, e->uuid, sizeof e->uuid) != NVML_SUCCESS || pci(e->dev, &p) != NVML_SUCCESS ||
        mkset(&e->evset) != NVML_SUCCESS) {
        fprintf(stderr, "UUID, PCI info or event set of GPU 0 failed\n");
        return -1;
    }
    snprintf(e->busid, sizeof e->busid, "%s", p.busId);
    return 0;
}

/* Per-call storage: buffers the arguments point into. */
struct scratch {
    unsigned char bufs[MAX_ARGS][BUF_SIZE];
    unsigned int counts[MAX_ARGS];
    nvmlFieldValue_t fields[5];
};

/* One argument token of the list; -1 if unknown. */
static int arg(struct env *e, struct scratch *s, int i, const char *tok, uintptr_t *out)
{
    char *end;
    if (strcmp(tok, "dev") == 0)
        *out = (uintptr_t)e->dev;
    else if (strcmp(tok, "dev1") == 0)
        *out = (uintptr_t)e->dev1;
    else if (strcmp(tok, "buf") == 0)
        *out = (uintptr_t)s->bufs[i];
    else if (strcmp(tok, "count") == 0) {
        s->counts[i] = 64;
        *out = (uintptr_t)&s->counts[i];
    } else if (strncmp(tok, "ver:", 4) == 0) {
        unsigned v = (unsigned)strtoul(tok + 4, &end, 16);
        if (*end)
            return -1;
        memcpy(s->bufs[i], &v, sizeof v);
        *out = (uintptr_t)s->bufs[i];
    } else if (strcmp(tok, "uuid") == 0)
        *out = (uintptr_t)e->uuid;
    else if (strcmp(tok, "busid") == 0)
        *out = (uintptr_t)e->busid;
    else if (strcmp(tok, "pid") == 0)
        *out = (uintptr_t)getpid();
    else if (strcmp(tok, "evset") == 0)
        *out = (uintptr_t)e->evset;
    else if (strcmp(tok, "newset") == 0) {
        nvmlEventSet_t set;
        nvmlReturn_t (*mk)(nvmlEventSet_t *) =
            (nvmlReturn_t(*)(nvmlEventSet_t *))sym(e, "nvmlEventSetCreate");
        if (mk(&set) != NVML_SUCCESS)
            return -1;
        *out = (uintptr_t)set;
    } else if (strcmp(tok, "fields") == 0) {
        static const unsigned ids[5] = {NVML_FI_DEV_ECC_CURRENT, NVML_FI_DEV_ECC_PENDING,
                                        NVML_FI_DEV_MEMORY_TEMP, NVML_FI_DEV_NVLINK_LINK_COUNT,
                                        NVML_FI_DEV_PCIE_REPLAY_COUNTER};
        memset(s->fields, 0, sizeof s->fields);
        for (int k = 0; k < 5; k++)
            s->fields[k].fieldId = ids[k];
        *out = (uintptr_t)s->fields;
    } else {
        unsigned long v = strtoul(tok, &end, 0);
        if (*end || end == tok)
            return -1;
        *out = (uintptr_t)v;
    }
    return 0;
}

static int expected(const char *result, nvmlReturn_t *want)
{
    static const struct {
        const char *name;
        nvmlReturn_t r;
    } map[] = {{"modelled", NVML_SUCCESS},
               {"not_supported", NVML_ERROR_NOT_SUPPORTED},
               {"timeout", NVML_ERROR_TIMEOUT},
               {"not_found", NVML_ERROR_NOT_FOUND}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(result, map[i].name) == 0) {
            *want = map[i].r;
            return 0;
        }
    return -1;
}

static void free_set(struct env *e, nvmlEventSet_t set)
{
    nvmlReturn_t (*fr)(nvmlEventSet_t) =
        (nvmlReturn_t(*)(nvmlEventSet_t))sym(e, "nvmlEventSetFree");
    if (fr && set)
        fr(set);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gpx-test-nvml-surface LIST\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    struct env e = {0};
    if (setup(&e) < 0)
        return 1;
    static struct scratch s;
    char line[1024];
    int lineno = 0, bad = 0, n = 0, modelled = 0, unsupported = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *save, *name = strtok_r(line, " \t\n", &save);
        if (!name || name[0] == '#')
            continue;
        char *result = strtok_r(NULL, " \t\n", &save), *users = strtok_r(NULL, " \t\n", &save);
        if (!result || !users) {
            fprintf(stderr, "%s:%d: needs NAME RESULT USERS [ARGS]\n", argv[1], lineno);
            return 2;
        }
        uintptr_t a[MAX_ARGS] = {0};
        int k = 0;
        memset(&s, 0, sizeof s);
        for (char *t = strtok_r(NULL, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
            if (k == MAX_ARGS || arg(&e, &s, k, t, &a[k]) < 0) {
                fprintf(stderr, "%s:%d: bad argument '%s'\n", argv[1], lineno, t);
                return 2;
            }
            k++;
        }
        n++;
        void *fn = sym(&e, name);
        if (!fn) {
            printf("MISSING %s: not exported\n", name);
            bad++;
            continue;
        }
        if (strcmp(result, "string") == 0) {
            const char *str = (const char *)call(fn, a);
            if (!str || !*str) {
                printf("FAIL %s: no string\n", name);
                bad++;
            }
            continue;
        }
        nvmlReturn_t want;
        if (expected(result, &want) < 0) {
            fprintf(stderr, "%s:%d: unknown result '%s'\n", argv[1], lineno, result);
            return 2;
        }
        nvmlReturn_t got = (nvmlReturn_t)(unsigned)call(fn, a);
        if (got != want) {
            printf("FAIL %s: returned %d, the list says %s (%d)\n", name, (int)got, result,
                   (int)want);
            bad++;
        }
        /* a set the list made is the test's to free (LeakSanitizer counts it) */
        if (got == NVML_SUCCESS && strcmp(name, "nvmlEventSetCreate") == 0)
            free_set(&e, *(nvmlEventSet_t *)a[0]);
        modelled += want == NVML_SUCCESS;
        unsupported += want == NVML_ERROR_NOT_SUPPORTED;
    }
    fclose(f);
    free_set(&e, e.evset);
    printf("%d entry points: %d modelled, %d not supported, %d other results; %d failed\n", n,
           modelled, unsupported, n - modelled - unsupported, bad);
    return bad ? 1 : 0;
}
