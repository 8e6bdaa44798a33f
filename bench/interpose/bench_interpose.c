/*
 * bench_interpose: what one cuLaunchKernel and one cuMemAlloc_v2 + cuMemFree_v2
 * pair cost in this process, timed in-process with clock_gettime over many
 * calls. bench/interpose/run starts it without the interposer, with it and no
 * lease, and with it and a lease (quota enforced), and compares.
 *
 * The driver is libcuda.so.1 as the process finds it (the simulator's on
 * LD_LIBRARY_PATH, or a real one). Two sets of entry points are timed, batch
 * by batch in alternation: those dlsym gives (the interposer's hooks when it
 * is preloaded: it routes dlsym, as frameworks find the driver that way) and
 * the driver's own, looked up with the C library's dlsym (dlvsym finds it
 * past the interposer). Their difference, batch against neighbouring batch,
 * is what the interposer adds, measured under the same machine load; without
 * the interposer both sets are the same functions and the difference shows
 * the method's noise. The kernel is a PTX null kernel (`ret`) whose first
 * parameter the simulator reads as its duration: 0 ns, so only the launch
 * path is measured.
 *
 * Output: one JSON object: launch_ns / allocfree_ns (median over batches of
 * the mean cost per call, through dlsym's entry points), real_launch_ns /
 * real_allocfree_ns (the driver's own), launch_added_ns / allocfree_added_ns
 * (median over batches of the paired difference), and each batch's figures.
 */
#define _GNU_SOURCE
#include "abi/cuda_abi.h"

#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCHES 64

static const char null_ptx[] = ".version 7.0\n"
                               ".target sm_70\n"
                               ".address_size 64\n"
                               ".visible .entry gpx_null(.param .u64 ns)\n"
                               "{\n"
                               "    ret;\n"
                               "}\n";

#define API(X)                                                                                     \
    X(cuInit)                                                                                      \
    X(cuDeviceGet)                                                                                 \
    X(cuDevicePrimaryCtxRetain)                                                                    \
    X(cuCtxSetCurrent)                                                                             \
    X(cuModuleLoadData)                                                                            \
    X(cuModuleGetFunction)                                                                         \
    X(cuStreamCreate)                                                                              \
    X(cuStreamSynchronize)                                                                         \
    X(cuLaunchKernel)                                                                              \
    X(cuMemAlloc_v2)                                                                               \
    X(cuMemFree_v2)

struct api {
#define FIELD(name) gpx_##name##_fn name;
    API(FIELD)
#undef FIELD
};
static struct api cu;  /* what dlsym answers: the interposer's hooks when preloaded */
static struct api drv; /* the driver's own entry points */

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_interpose: %s failed (%d)\n", what, rc);
    exit(1);
}

#define CU(call)                                                                                   \
    do {                                                                                           \
        CUresult rc_ = (call);                                                                     \
        if (rc_ != CUDA_SUCCESS)                                                                   \
            die(#call, (int)rc_);                                                                  \
    } while (0)

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_BATCHES];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_array(const char *name, const double *v, int n)
{
    printf("\"%s\": [", name);
    for (int i = 0; i < n; i++)
        printf("%s%.2f", i ? ", " : "", v[i]);
    printf("]");
}

int main(int argc, char **argv)
{
    long launches = 200000, pairs = 100000;
    int batches = 15;
    size_t size = 1 << 20;
    static const struct option opts[] = {{"launches", required_argument, NULL, 'l'},
                                         {"allocs", required_argument, NULL, 'a'},
                                         {"batches", required_argument, NULL, 'b'},
                                         {"size", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "l:a:b:s:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            launches = atol(optarg);
            break;
        case 'a':
            pairs = atol(optarg);
            break;
        case 'b':
            batches = atoi(optarg);
            break;
        case 's':
            size = (size_t)atoll(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_interpose [--launches N] [--allocs N] [--batches B] "
                            "[--size BYTES]\n");
            return 2;
        }
    }
    if (batches < 1 || batches > MAX_BATCHES || launches < batches || pairs < batches) {
        fprintf(stderr, "bench_interpose: 1..%d batches, at least one call each\n", MAX_BATCHES);
        return 2;
    }

    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "bench_interpose: %s\n", dlerror());
        return 1;
    }
    void *(*libc_dlsym)(void *, const char *) = NULL;
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0] && !libc_dlsym; i++)
        libc_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_DEFAULT, "dlsym", versions[i]);
    if (!libc_dlsym) {
        fprintf(stderr, "bench_interpose: the C library's dlsym not found\n");
        return 1;
    }
#define RESOLVE(name)                                                                              \
    cu.name = (gpx_##name##_fn)dlsym(lib, #name);                                                  \
    drv.name = (gpx_##name##_fn)libc_dlsym(lib, #name);                                            \
    if (!cu.name || !drv.name) {                                                                   \
        fprintf(stderr, "bench_interpose: libcuda.so.1 lacks %s\n", #name);                        \
        return 1;                                                                                  \
    }
    API(RESOLVE)
#undef RESOLVE

    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CUstream stream;
    CU(cu.cuInit(0));
    CU(cu.cuDeviceGet(&dev, 0));
    CU(cu.cuDevicePrimaryCtxRetain(&ctx, dev));
    CU(cu.cuCtxSetCurrent(ctx));
    CU(cu.cuModuleLoadData(&mod, null_ptx));
    CU(cu.cuModuleGetFunction(&fn, mod, "gpx_null"));
    CU(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));

    unsigned long long zero_ns = 0;
    void *params[] = {&zero_ns};
    double launch[MAX_BATCHES], allocfree[MAX_BATCHES];
    double real_launch[MAX_BATCHES], real_allocfree[MAX_BATCHES];
    double launch_added[MAX_BATCHES], allocfree_added[MAX_BATCHES];
    const long per_launch = launches / batches, per_pair = pairs / batches;
    const struct api *sets[2] = {&cu, &drv};

    /* Warm up both sets: first-call initialisation, page faults, the driver's caches. */
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 1000; i++)
            CU(sets[s]->cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL));
        CU(sets[s]->cuStreamSynchronize(stream));
        for (int i = 0; i < 1000; i++) {
            CUdeviceptr d;
            CU(sets[s]->cuMemAlloc_v2(&d, size));
            CU(sets[s]->cuMemFree_v2(d));
        }
    }

    /*
     * Each batch times both sets back to back, in an order that alternates
     * from batch to batch, so drift and load hit both alike.
     */
    for (int b = 0; b < batches; b++) {
        double l[2], p[2];
        for (int k = 0; k < 2; k++) {
            int s = (b + k) % 2;
            const struct api *a = sets[s];
            uint64_t t0 = now_ns();
            for (long i = 0; i < per_launch; i++)
                CU(a->cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL));
            uint64_t t1 = now_ns();
            CU(a->cuStreamSynchronize(stream));
            l[s] = (double)(t1 - t0) / (double)per_launch;
        }
        for (int k = 0; k < 2; k++) {
            int s = (b + k) % 2;
            const struct api *a = sets[s];
            uint64_t t0 = now_ns();
            for (long i = 0; i < per_pair; i++) {
                CUdeviceptr d;
                CU(a->cuMemAlloc_v2(&d, size));
                CU(a->cuMemFree_v2(d));
            }
            uint64_t t1 = now_ns();
            p[s] = (double)(t1 - t0) / (double)per_pair;
        }
        launch[b] = l[0];
        real_launch[b] = l[1];
        launch_added[b] = l[0] - l[1];
        allocfree[b] = p[0];
        real_allocfree[b] = p[1];
        allocfree_added[b] = p[0] - p[1];
    }

    printf("{\"launch_ns\": %.2f, \"allocfree_ns\": %.2f, \"real_launch_ns\": %.2f, "
           "\"real_allocfree_ns\": %.2f, \"launch_added_ns\": %.2f, \"allocfree_added_ns\": %.2f, "
           "\"hooked\": %s, \"launches\": %ld, \"pairs\": %ld, \"size\": %zu, ",
           median(launch, batches), median(allocfree, batches), median(real_launch, batches),
           median(real_allocfree, batches), median(launch_added, batches),
           median(allocfree_added, batches),
           (void *)cu.cuLaunchKernel != (void *)drv.cuLaunchKernel ? "true" : "false",
           per_launch * batches, per_pair * batches, size);
    print_array("launch_batches_ns", launch, batches);
    printf(", ");
    print_array("real_launch_batches_ns", real_launch, batches);
    printf(", ");
    print_array("allocfree_batches_ns", allocfree, batches);
    printf(", ");
    print_array("real_allocfree_batches_ns", real_allocfree, batches);
    printf("}\n");
    return 0;
}
