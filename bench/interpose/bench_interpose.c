/*
 * bench_interpose: what one cuLaunchKernel and one cuMemAlloc_v2 + cuMemFree_v2
 * pair cost in this process, timed in-process with clock_gettime over many
 * calls. bench/interpose/run starts it without the interposer, with it and no
 * lease, and with it and a lease (quota enforced), and compares medians.
 *
 * The driver is libcuda.so.1 as the process finds it (the simulator's on
 * LD_LIBRARY_PATH, or a real one); entry points come from dlsym on its handle,
 * which is how frameworks find them and which the interposer routes. The
 * kernel is a PTX null kernel (`ret`) whose first parameter the simulator
 * reads as its duration: 0 ns, so only the launch path is measured.
 *
 * Output: one JSON object: launch_ns and allocfree_ns (the median over
 * batches of the mean cost per call in a batch), and each batch's figure.
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

static struct {
#define FIELD(name) gpx_##name##_fn name;
    API(FIELD)
#undef FIELD
} cu;

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
    int batches = 9;
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
#define RESOLVE(name)                                                                              \
    if (!(cu.name = (gpx_##name##_fn)dlsym(lib, #name))) {                                         \
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
    const long per_launch = launches / batches, per_pair = pairs / batches;

    /* Warm up: first-call initialisation, page faults, the driver's caches. */
    for (int i = 0; i < 1000; i++)
        CU(cu.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL));
    CU(cu.cuStreamSynchronize(stream));
    for (int i = 0; i < 1000; i++) {
        CUdeviceptr d;
        CU(cu.cuMemAlloc_v2(&d, size));
        CU(cu.cuMemFree_v2(d));
    }

    /* Interleave the two measurements batch by batch so drift hits both alike. */
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < per_launch; i++)
            CU(cu.cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL));
        uint64_t t1 = now_ns();
        CU(cu.cuStreamSynchronize(stream));
        launch[b] = (double)(t1 - t0) / (double)per_launch;

        t0 = now_ns();
        for (long i = 0; i < per_pair; i++) {
            CUdeviceptr d;
            CU(cu.cuMemAlloc_v2(&d, size));
            CU(cu.cuMemFree_v2(d));
        }
        t1 = now_ns();
        allocfree[b] = (double)(t1 - t0) / (double)per_pair;
    }

    printf("{\"launch_ns\": %.2f, \"allocfree_ns\": %.2f, \"launches\": %ld, \"pairs\": %ld, "
           "\"size\": %zu, ",
           median(launch, batches), median(allocfree, batches), per_launch * batches,
           per_pair * batches, size);
    print_array("launch_batches_ns", launch, batches);
    printf(", ");
    print_array("allocfree_batches_ns", allocfree, batches);
    printf("}\n");
    return 0;
}
