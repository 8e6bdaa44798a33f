/*
 * The two indirect ways to the driver: cuGetProcAddress and dlsym.
 *
 * cuGetProcAddress (v1: symbol, pfn, cudaVersion, flags; v2: + symbolStatus)
 * is answered by the real driver first, so its version and flag rules
 * (cudaVersion picks cuMemAlloc or cuMemAlloc_v2, the per-thread flag picks
 * _ptsz) and its symbolStatus are the driver's own. We then swap the entry
 * point it chose for our hook of that same variant, found by address; if the
 * driver handed out an address that is not one of its exports, by the
 * variant table (interpose.h) from the base name, cudaVersion and flags.
 *
 * dlsym is ours too (exported), because programs and frameworks dlopen
 * libcuda.so.1 and look entry points up by name. Our dlsym is a trampoline:
 * it asks dlsym_pick() whether the name is hooked on that handle and
 * otherwise jumps (not calls) to the C library's dlsym, so the C library
 * still sees the application's return address and RTLD_NEXT keeps meaning
 * "after the caller", not "after the interposer". On architectures without
 * a trampoline the forward is a call and RTLD_NEXT from the application
 * starts after this library (documented in docs/interposer.md).
 */
#define _GNU_SOURCE
#include "interpose/interpose.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

/* Code that may run inside the sanitizer runtime's own start-up (it calls dlsym). */
#define NOSAN __attribute__((no_sanitize("address"), no_sanitize("undefined")))

struct hook_info {
    const char *name;
    const char *base;
    int since;
    int per_thread;
    void *hook;
};

static const struct hook_info cuda_hooks[GPX_IP_CUDA_COUNT] = {
#define GPX_IP_INFO_(name, base, since, pt) {#name, #base, since, pt, (void *)(name)},
    GPX_IP_CUDA_HOOKS(GPX_IP_INFO_)
#undef GPX_IP_INFO_
};

static const struct {
    const char *name;
    void *hook;
} nvml_hooks[] = {
#define GPX_IP_NINFO_(name, type) {#name, (void *)(name)},
    GPX_IP_NVML_HOOKS(GPX_IP_NINFO_)
#undef GPX_IP_NINFO_
};

static void *real_of(enum gpx_ip_hook i)
{
    switch (i) {
#define GPX_IP_REAL_(name, base, since, pt)                                                        \
    case GPX_IP_##name:                                                                            \
        return (void *)gpx__ip.real.name;
        GPX_IP_CUDA_HOOKS(GPX_IP_REAL_)
#undef GPX_IP_REAL_
    case GPX_IP_CUDA_COUNT:
        break;
    }
    return NULL;
}

NOSAN static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

NOSAN static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix) {
        s++;
        prefix++;
    }
    return *prefix == '\0';
}

NOSAN void *gpx__ip_hook_by_name(const char *name)
{
    if (name[0] == 'c' && name[1] == 'u') {
        for (int i = 0; i < GPX_IP_CUDA_COUNT; i++)
            if (same(name, cuda_hooks[i].name))
                return cuda_hooks[i].hook;
    } else if (starts(name, "nvml")) {
        for (size_t i = 0; i < sizeof nvml_hooks / sizeof nvml_hooks[0]; i++)
            if (same(name, nvml_hooks[i].name))
                return nvml_hooks[i].hook;
    }
    return NULL;
}

void *gpx__ip_hook_by_real(const void *fn)
{
    if (!fn)
        return NULL;
    for (int i = 0; i < GPX_IP_CUDA_COUNT; i++)
        if (real_of((enum gpx_ip_hook)i) == fn)
            return cuda_hooks[i].hook;
    return NULL;
}

int gpx__ip_is_hook(const void *fn)
{
    for (int i = 0; i < GPX_IP_CUDA_COUNT; i++)
        if (cuda_hooks[i].hook == fn)
            return 1;
    return 0;
}

void *gpx__ip_hook_by_base(const char *base, int cuda_version, cuuint64_t flags)
{
    const int want_pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    int best = -1;
    long best_score = -1;
    for (int i = 0; i < GPX_IP_CUDA_COUNT; i++) {
        const struct hook_info *h = &cuda_hooks[i];
        if (!same(base, h->base) || h->since > cuda_version || (h->per_thread && !want_pt))
            continue;
        /* A variant matching the stream flag beats any version; then the newest. */
        long score = (h->per_thread == want_pt ? 1000000L : 0L) + h->since;
        if (score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best < 0 ? NULL : cuda_hooks[best].hook;
}

/* The entry point to hand out for what the driver answered. */
static void *route(const char *symbol, void *fn, int cuda_version, cuuint64_t flags)
{
    void *hook = gpx__ip_hook_by_real(fn);
    if (hook || gpx__ip_is_hook(fn))
        return hook ? hook : fn;
    if (symbol && (hook = gpx__ip_hook_by_base(symbol, cuda_version, flags)) != NULL) {
        GPX_IP_LOG(GPX_IP_LOG_DEBUG,
                   "cuGetProcAddress(%s, %d, %llu): unknown driver address, hooked by name", symbol,
                   cuda_version, (unsigned long long)flags);
        return hook;
    }
    return fn;
}

GPX_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                     cuuint64_t flags)
{
    gpx__ip_ensure();
    CUresult rc;
    if (gpx__ip.real.cuGetProcAddress)
        rc = gpx__ip.real.cuGetProcAddress(symbol, pfn, cudaVersion, flags);
    else if (gpx__ip.real.cuGetProcAddress_v2)
        rc = gpx__ip.real.cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
    else
        return gpx__ip_missing("cuGetProcAddress");
    if (rc == CUDA_SUCCESS && pfn && *pfn)
        *pfn = route(symbol, *pfn, cudaVersion, flags);
    return rc;
}

GPX_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                        cuuint64_t flags,
                                        CUdriverProcAddressQueryResult *symbolStatus)
{
    gpx__ip_ensure();
    CUresult rc;
    if (gpx__ip.real.cuGetProcAddress_v2) {
        rc = gpx__ip.real.cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, symbolStatus);
    } else if (gpx__ip.real.cuGetProcAddress) {
        /* An older driver: v1 has no status; derive it the way v2 would report it. */
        rc = gpx__ip.real.cuGetProcAddress(symbol, pfn, cudaVersion, flags);
        if (symbolStatus)
            *symbolStatus = rc == CUDA_SUCCESS ? CU_GET_PROC_ADDRESS_SUCCESS
                                               : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    } else {
        return gpx__ip_missing("cuGetProcAddress_v2");
    }
    if (rc == CUDA_SUCCESS && pfn && *pfn)
        *pfn = route(symbol, *pfn, cudaVersion, flags);
    return rc;
}

/* ---- dlsym -------------------------------------------------------------------------------- */

void *(*gpx__real_dlsym)(void *handle, const char *name);
static pthread_once_t dlsym_once = PTHREAD_ONCE_INIT;

NOSAN static void resolve_dlsym(void)
{
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0] && !gpx__real_dlsym; i++)
        gpx__real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", versions[i]);
}

NOSAN void gpx__ip_dlsym_ensure(void)
{
    pthread_once(&dlsym_once, resolve_dlsym);
}

/* 1 if `path` names the driver library that defines `name` (libcuda / libnvidia-ml). */
static int driver_file(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return starts(base, name[0] == 'c' ? "libcuda.so" : "libnvidia-ml.so");
}

/*
 * Our hook when `name` is hooked and the lookup would reach the driver:
 * RTLD_DEFAULT, RTLD_NEXT, the driver's own handle, or any handle whose
 * lookup lands in a libcuda.so* / libnvidia-ml.so* file. NULL: forward.
 */
NOSAN void *gpx__dlsym_pick(void *handle, const char *name);
NOSAN void *gpx__dlsym_pick(void *handle, const char *name)
{
    gpx__ip_dlsym_ensure();
    if (!name || !(name[0] == 'c' || name[0] == 'n'))
        return NULL;
    void *hook = gpx__ip_hook_by_name(name);
    if (!hook)
        return NULL;
    if (handle == RTLD_DEFAULT || handle == RTLD_NEXT)
        return hook;
    if (!gpx__real_dlsym)
        return NULL;
    void *fn = gpx__real_dlsym(handle, name);
    if (!fn)
        return NULL;
    if (fn == hook)
        return hook;
    Dl_info info;
    if (dladdr(fn, &info) && info.dli_fname && driver_file(info.dli_fname, name))
        return hook;
    return NULL;
}

#if defined(__x86_64__)
/* dlsym(handle, name): pick, else tail-jump to the C library's dlsym. */
__asm__(".pushsection .text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        ".p2align 4\n"
        "dlsym:\n"
        "  .cfi_startproc\n"
        "  endbr64\n"
        "  pushq %rdi\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  pushq %rsi\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  subq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  call gpx__dlsym_pick\n"
        "  addq $8, %rsp\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %rsi\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  popq %rdi\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  testq %rax, %rax\n"
        "  jnz 1f\n"
        "  movq gpx__real_dlsym(%rip), %rax\n"
        "  testq %rax, %rax\n"
        "  jz 1f\n"
        "  jmp *%rax\n"
        "1:\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size dlsym, .-dlsym\n"
        ".popsection\n");
#elif defined(__aarch64__)
__asm__(".pushsection .text\n"
        ".globl dlsym\n"
        ".type dlsym, %function\n"
        ".p2align 4\n"
        "dlsym:\n"
        "  .cfi_startproc\n"
        "  hint #34\n" /* bti c */
        "  stp x29, x30, [sp, #-32]!\n"
        "  .cfi_def_cfa_offset 32\n"
        "  .cfi_offset 29, -32\n"
        "  .cfi_offset 30, -24\n"
        "  mov x29, sp\n"
        "  stp x0, x1, [sp, #16]\n"
        "  bl gpx__dlsym_pick\n"
        "  mov x2, x0\n"
        "  ldp x0, x1, [sp, #16]\n"
        "  ldp x29, x30, [sp], #32\n"
        "  .cfi_def_cfa_offset 0\n"
        "  cbnz x2, 1f\n"
        "  adrp x16, gpx__real_dlsym\n"
        "  ldr x16, [x16, #:lo12:gpx__real_dlsym]\n"
        "  cbz x16, 1f\n"
        "  br x16\n"
        "1:\n"
        "  mov x0, x2\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size dlsym, .-dlsym\n"
        ".popsection\n");
#else
GPX_EXPORT void *dlsym(void *handle, const char *name)
{
    void *hook = gpx__dlsym_pick(handle, name);
    if (hook || !gpx__real_dlsym)
        return hook;
    return gpx__real_dlsym(handle, name);
}
#endif
