/*
 * MIG devices in the simulated libcuda.so.1 (CUDA_VISIBLE_DEVICES=MIG-<uuid>):
 * the device's name, memory, SM count and UUIDs; which devices a list
 * selects (one MIG device per process); allocations kept within the GPU
 * instance, also by threads and processes racing to its edge; the process
 * as NVML lists it (GI/CI ids); each MIG device's own engine; an instance
 * destroyed between cuInit and the first context.
 *
 * The driver reads CUDA_VISIBLE_DEVICES once per process, so every case runs
 * in a child forked before any cuInit; a child reports the first failed
 * check on stderr and exits 1.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi/cuda_abi.h"
#include "abi/nvml_abi.h"
#include "mig_state.h"
#include "state.h"

#define MiB (1ULL << 20)

static char path[256];
static struct gpx_sim_state st;
/* GPU 0 (H100-80GB, MIG on): a 3g.40gb (GI 2) at 4, 1g.10gb (GI 7, 8) at 0 and 1. GPU 1: A100-40GB.
 */
static char uuid_3g[80], uuid_1g[80], uuid_1g_b[80];

static const char ptx[] = ".version 7.0\n.target sm_70\n.address_size 64\n"
                          ".visible .entry spin(\n    .param .u64 ns\n)\n{\n    ret;\n}\n";

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static nvmlDevice_t dev0(void)
{
    nvmlDevice_t d;
    assert_int_equal(nvmlDeviceGetHandleByIndex_v2(0, &d), NVML_SUCCESS);
    return d;
}

/* Creates a GI of `profile_id` at `start` with its whole-GI compute instance. */
static void make_instance(unsigned profile_id, unsigned start, unsigned size, unsigned ci_profile)
{
    nvmlGpuInstancePlacement_t pl = {start, size};
    nvmlGpuInstance_t gi;
    nvmlComputeInstance_t ci;
    assert_int_equal(nvmlDeviceCreateGpuInstanceWithPlacement(dev0(), profile_id, &pl, &gi),
                     NVML_SUCCESS);
    assert_int_equal(nvmlGpuInstanceCreateComputeInstance(gi, ci_profile, &ci), NVML_SUCCESS);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/gpx-unit-cuda-mig-%d.state",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    struct gpx_sim_spec spec;
    gpx_error e = {0};
    if (gpx_sim_spec_parse("1xH100-80GB,1xA100-40GB", &spec, &e) < 0 ||
        gpx_sim_create(path, &spec, &e) < 0 || gpx_sim_open(path, &st, &e) < 0)
        return -1;
    setenv("GPUPLEX_SIM", path, 1);
    if (nvmlInit_v2() != NVML_SUCCESS)
        return -1;
    nvmlReturn_t act;
    if (nvmlDeviceSetMigMode(dev0(), NVML_DEVICE_MIG_ENABLE, &act) != NVML_SUCCESS ||
        act != NVML_SUCCESS)
        return -1;
    make_instance(9, 4, 4, NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE);  /* 3g.40gb: GI 2 */
    make_instance(19, 0, 1, NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE); /* 1g.10gb: GI 7 */
    make_instance(19, 1, 1, NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE); /* 1g.10gb: GI 8 */
    gpx_sim_mig_uuid(&st.gpus[0], 2, 0, uuid_3g);
    gpx_sim_mig_uuid(&st.gpus[0], 7, 0, uuid_1g);
    gpx_sim_mig_uuid(&st.gpus[0], 8, 0, uuid_1g_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nvmlShutdown();
    gpx_sim_close(&st);
    unlink(path);
    return 0;
}

/* Runs fn in a child with CUDA_VISIBLE_DEVICES = cvd (NULL: unset); fails unless it returns 0. */
static pid_t spawn(const char *cvd, int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (cvd)
            setenv("CUDA_VISIBLE_DEVICES", cvd, 1);
        else
            unsetenv("CUDA_VISIBLE_DEVICES");
        exit(fn()); /* exit, not _exit: the driver gives its memory back at exit */
    }
    return pid;
}

static void reap(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void in_child(const char *cvd, int (*fn)(void))
{
    reap(spawn(cvd, fn));
}

/* The 16 bytes of a "MIG-…"/"GPU-…" UUID. */
static void uuid_bytes(const char *s, unsigned char out[16])
{
    memset(out, 0, 16);
    int n = 0;
    for (s += 4; *s && n < 32; s++) {
        unsigned v;
        if (*s >= '0' && *s <= '9')
            v = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            v = (unsigned)(*s - 'a' + 10);
        else
            continue;
        out[n / 2] = (unsigned char)(out[n / 2] | (n % 2 ? v : v << 4));
        n++;
    }
}

/* ---- what a MIG device looks like */

static int view_3g(void)
{
    int n = 0, sms = 0;
    char name[128];
    size_t total = 0, free_b = 0;
    CUuuid u;
    unsigned char want[16];
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuDeviceGetCount(&n) == CUDA_SUCCESS && n == 1);
    CHECK(cuDeviceGetName(name, sizeof name, 0) == CUDA_SUCCESS);
    CHECK(strcmp(name, "NVIDIA H100 80GB HBM3 MIG 3g.40gb") == 0);
    CHECK(cuDeviceTotalMem_v2(&total, 0) == CUDA_SUCCESS && total == 40448 * MiB);
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0) == 0);
    CHECK(sms == 60);
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0) == 0);
    CHECK(sms == 9); /* the board's */
    CHECK(cuDeviceGetUuid_v2(&u, 0) == CUDA_SUCCESS);
    uuid_bytes(uuid_3g, want);
    CHECK(memcmp(u.bytes, want, 16) == 0); /* _v2: the MIG device's own UUID */
    CHECK(cuDeviceGetUuid(&u, 0) == CUDA_SUCCESS);
    uuid_bytes(st.gpus[0].uuid, want);
    CHECK(memcmp(u.bytes, want, 16) == 0); /* the original call: the GPU's */
    CUcontext c;
    CHECK(cuCtxCreate_v2(&c, 0, 0) == CUDA_SUCCESS);
    CHECK(cuMemGetInfo_v2(&free_b, &total) == CUDA_SUCCESS);
    CHECK(total == 40448 * MiB && free_b == 40448 * MiB);
    CHECK(cuMemGetInfo_v2(NULL, &total) == CUDA_ERROR_INVALID_VALUE);
    return 0;
}

static int list_two_migs_and_a_gpu(void)
{
    int n = 0, peer = 1;
    char name[128];
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuDeviceGetCount(&n) == CUDA_SUCCESS && n == 2); /* the second MIG device is skipped */
    CHECK(cuDeviceGetName(name, sizeof name, 0) == 0);
    CHECK(strcmp(name, "NVIDIA H100 80GB HBM3 MIG 1g.10gb") == 0);
    CHECK(cuDeviceGetName(name, sizeof name, 1) == 0);
    CHECK(strcmp(name, "NVIDIA A100-SXM4-40GB") == 0);
    CHECK(cuDeviceCanAccessPeer(&peer, 0, 1) == CUDA_SUCCESS && peer == 0);
    return 0;
}

static int default_enumeration(void)
{
    int n = 0;
    char name[128];
    CHECK(cuInit(0) == CUDA_SUCCESS);
    /* the MIG-enabled GPU stands for its first MIG device (GI then CI id order) */
    CHECK(cuDeviceGetCount(&n) == CUDA_SUCCESS && n == 2);
    CHECK(cuDeviceGetName(name, sizeof name, 0) == 0);
    CHECK(strcmp(name, "NVIDIA H100 80GB HBM3 MIG 3g.40gb") == 0);
    CHECK(cuDeviceGetName(name, sizeof name, 1) == 0);
    CHECK(strcmp(name, "NVIDIA A100-SXM4-40GB") == 0);
    return 0;
}

static int selects_none(void)
{
    return cuInit(0) == CUDA_ERROR_NO_DEVICE ? 0 : 1;
}

static int mig_by_gpu_index(void)
{
    int n = 0;
    char name[128];
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuDeviceGetCount(&n) == CUDA_SUCCESS && n == 1);
    CHECK(cuDeviceGetName(name, sizeof name, 0) == 0);
    CHECK(strcmp(name, "NVIDIA H100 80GB HBM3 MIG 3g.40gb") == 0);
    return 0;
}

static void test_device_view(void **state)
{
    (void)state;
    in_child(uuid_3g, view_3g);
    char list[256];
    snprintf(list, sizeof list, "%s,%s,1", uuid_1g, uuid_3g);
    in_child(list, list_two_migs_and_a_gpu);
    in_child(NULL, default_enumeration);
    in_child("0", mig_by_gpu_index);
    in_child("MIG-00000000-0000-5000-8000-000000000000", selects_none);
    char legacy[160];
    snprintf(legacy, sizeof legacy, "MIG-%s/2/0", st.gpus[0].uuid); /* pre-R470 form */
    in_child(legacy, selects_none);
}

/* ---- memory: within the instance */

static int nvml_lists_me(unsigned gi, uint64_t bytes)
{
    nvmlProcessInfo_t infos[8];
    unsigned n = 8;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(dev0(), &n, infos) == NVML_SUCCESS);
    for (unsigned i = 0; i < n; i++)
        if (infos[i].pid == (unsigned)getpid())
            return infos[i].gpuInstanceId == gi && infos[i].computeInstanceId == 0 &&
                           infos[i].usedGpuMemory == bytes
                       ? 0
                       : 1;
    return 1;
}

static int memory_1g(void)
{
    CUcontext c;
    CUdeviceptr a, b;
    size_t free_b = 0, total = 0;
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuCtxCreate_v2(&c, 0, 0) == CUDA_SUCCESS);
    uint64_t gpu_before = atomic_load(&st.gpus[0].memory_used);
    CHECK(cuMemAlloc_v2(&a, 9984 * MiB) == CUDA_SUCCESS);
    CHECK(cuMemAlloc_v2(&b, 1) == CUDA_ERROR_OUT_OF_MEMORY); /* the instance is full */
    CHECK(cuMemGetInfo_v2(&free_b, &total) == CUDA_SUCCESS && free_b == 0 && total == 9984 * MiB);
    CHECK(gpx_sim_mig_used(&st, 0, 7) == 9984 * MiB);
    CHECK(gpx_sim_mig_used(&st, 0, 8) == 0);
    CHECK(atomic_load(&st.gpus[0].memory_used) == gpu_before + 9984 * MiB); /* the board's too */
    CHECK(nvml_lists_me(7, 9984 * MiB) == 0);
    nvmlDevice_t mig;
    nvmlMemory_t mem;
    CHECK(nvmlDeviceGetMigDeviceHandleByIndex(dev0(), 1, &mig) == NVML_SUCCESS); /* GI 7 */
    CHECK(nvmlDeviceGetMemoryInfo(mig, &mem) == NVML_SUCCESS && mem.used == 9984 * MiB);
    CHECK(cuMemFree_v2(a) == CUDA_SUCCESS);
    CHECK(cuMemGetInfo_v2(&free_b, &total) == CUDA_SUCCESS && free_b == 9984 * MiB);
    /* every path counts: VMM past the instance is refused, under it charged */
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle h;
    CHECK(cuMemCreate(&h, 10240 * MiB, &prop, 0) == CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemCreate(&h, 8192 * MiB, &prop, 0) == CUDA_SUCCESS);
    CHECK(cuMemAllocManaged(&a, 2048 * MiB, CU_MEM_ATTACH_GLOBAL) == CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cuMemAllocManaged(&a, 1792 * MiB, CU_MEM_ATTACH_GLOBAL) == CUDA_SUCCESS);
    CHECK(gpx_sim_mig_used(&st, 0, 7) == 9984 * MiB);
    CHECK(cuMemRelease(h) == CUDA_SUCCESS);
    CHECK(cuCtxDestroy_v2(c) == CUDA_SUCCESS); /* frees the managed buffer */
    CHECK(gpx_sim_mig_used(&st, 0, 7) == 0);
    return 0;
}

static void test_memory_within_instance(void **state)
{
    (void)state;
    uint64_t before = atomic_load(&st.gpus[0].memory_used);
    in_child(uuid_1g, memory_1g);
    assert_int_equal(atomic_load(&st.gpus[0].memory_used), before);
}

/* ---- racing to the instance's edge: 2 processes x 4 threads, 64 MiB chunks */

static _Atomic uint64_t *race_total; /* shared with the children */
static _Atomic int *race_done;

static void *race_thread(void *arg)
{
    CUcontext c = arg;
    uint64_t mine = 0;
    CUdeviceptr p;
    cuCtxSetCurrent(c);
    while (cuMemAlloc_v2(&p, 64 * MiB) == CUDA_SUCCESS)
        mine += 64 * MiB;
    atomic_fetch_add(race_total, mine);
    return NULL;
}

static int racer(void)
{
    CUcontext c;
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuDevicePrimaryCtxRetain(&c, 0) == CUDA_SUCCESS);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, race_thread, c) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* hold the memory until the other process is done too */
    atomic_fetch_add(race_done, 1);
    while (atomic_load(race_done) < 2)
        usleep(1000);
    return 0;
}

static void test_race_to_the_edge(void **state)
{
    (void)state;
    void *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shm != MAP_FAILED);
    race_total = shm;
    race_done = (_Atomic int *)((char *)shm + 64);
    pid_t a = spawn(uuid_1g_b, racer), b = spawn(uuid_1g_b, racer);
    reap(a);
    reap(b);
    /* exactly the instance: never past it, and no chunk refused while room was left */
    assert_int_equal(atomic_load(race_total), 9984 * MiB);
    assert_int_equal(gpx_sim_mig_used(&st, 0, 8), 0);
    munmap(shm, 4096);
}

/* ---- each MIG device has its own engine */

static int launch_on_mig(void)
{
    CUcontext c;
    CUmodule m;
    CUfunction f;
    CUstream s = NULL;
    CHECK(cuInit(0) == CUDA_SUCCESS);
    CHECK(cuCtxCreate_v2(&c, 0, 0) == CUDA_SUCCESS);
    CHECK(cuModuleLoadData(&m, ptx) == CUDA_SUCCESS);
    CHECK(cuModuleGetFunction(&f, m, "spin") == CUDA_SUCCESS);
    int sms = 0;
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0) == 0);
    /* a cooperative grid is bounded by the MIG device's SMs, not the board's */
    uint64_t ns = 1000;
    void *args[] = {&ns};
    CHECK(cuLaunchCooperativeKernel(f, (unsigned)sms * 64 + 1, 1, 1, 32, 1, 1, 0, s, args) ==
          CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
    uint64_t gpu_busy = atomic_load(&st.gpus[0].engine_busy_until);
    uint64_t k0 = atomic_load(&st.gpus[0].kernels_total);
    uint64_t t0 = gpx_sim_now_ns();
    ns = 50000000; /* 50 ms */
    CHECK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL) == CUDA_SUCCESS);
    _Atomic uint64_t *mine = &gpx_sim_mig_of(&st.gpus[0])->engine_busy_until[7][0];
    CHECK(atomic_load(mine) >= t0 + ns);
    CHECK(atomic_load(&st.gpus[0].engine_busy_until) == gpu_busy); /* the board's queue untouched */
    CHECK(atomic_load(&st.gpus[0].kernels_total) == k0 + 1);
    CHECK(cuCtxSynchronize() == CUDA_SUCCESS);
    CHECK(gpx_sim_now_ns() - t0 >= ns);
    return 0;
}

static void test_own_engine(void **state)
{
    (void)state;
    in_child(uuid_1g, launch_on_mig);
}

/* ---- an instance destroyed after cuInit, before the first context */

static int instance_gone(void)
{
    CUcontext c;
    CHECK(cuInit(0) == CUDA_SUCCESS);
    nvmlGpuInstance_t gi;
    nvmlComputeInstance_t ci;
    CHECK(nvmlDeviceGetGpuInstanceById(dev0(), 9, &gi) == NVML_SUCCESS);
    CHECK(nvmlGpuInstanceGetComputeInstanceById(gi, 0, &ci) == NVML_SUCCESS);
    CHECK(nvmlComputeInstanceDestroy(ci) == NVML_SUCCESS);
    CHECK(nvmlGpuInstanceDestroy(gi) == NVML_SUCCESS);
    CHECK(cuCtxCreate_v2(&c, 0, 0) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    for (unsigned i = 0; i < GPX_SIM_MAX_PROCS; i++)
        CHECK(atomic_load(&st.gpus[0].procs[i].pid) != (int32_t)getpid()); /* no slot left */
    return 0;
}

static void test_instance_destroyed(void **state)
{
    (void)state;
    make_instance(19, 2, 1, NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE); /* GI 9 */
    char u[80];
    gpx_sim_mig_uuid(&st.gpus[0], 9, 0, u);
    in_child(u, instance_gone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_view),        cmocka_unit_test(test_memory_within_instance),
        cmocka_unit_test(test_race_to_the_edge),   cmocka_unit_test(test_own_engine),
        cmocka_unit_test(test_instance_destroyed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
