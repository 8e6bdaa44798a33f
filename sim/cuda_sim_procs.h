/*
 * cuGetProcAddress rows, shared by cuda_sim_proc.c (the modelled entry
 * points) and cuda_sim_stubs.c (the ones the simulator does not model). No
 * CUDA types here: the stubs' file must not see cuda_abi.h's prototypes.
 */
#ifndef GPX_CUDA_SIM_PROCS_H
#define GPX_CUDA_SIM_PROCS_H

#include <stddef.h>

struct gpx_cu_proc {
    const char *name; /* base name, as callers ask for it */
    int version;      /* CUDA version that introduced this variant */
    void *fn;
    void *pt_fn; /* the per-thread-default-stream variant, or NULL */
};

extern const struct gpx_cu_proc gpx__cu_stub_procs[];
extern const size_t gpx__cu_stub_procs_n;

/* What every stub returns: CUDA_ERROR_NOT_INITIALIZED before cuInit (NO_DEVICE after a failed
 * one), else CUDA_ERROR_NOT_SUPPORTED. */
int gpx__cu_stub_result(void);

#endif
