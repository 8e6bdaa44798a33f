/*
 * One table of ABI facts, compiled twice into one program: with
 * GPX_ABI_SIDE_OURS against src/abi/, with GPX_ABI_SIDE_VENDOR against
 * NVIDIA's header found at configure time. GPX_ABI_CUDA or GPX_ABI_NVML picks
 * the API. Both expansions walk the same list, so rows line up by index.
 *
 * For CUDA, the vendor side also checks each of our entry points against
 * cuda.h's declaration of the same exported symbol. __CUDA_API_VERSION_INTERNAL
 * makes cuda.h declare the real exported names (the legacy unversioned ones
 * and the _ptds/_ptsz variants) instead of renaming them with macros.
 */
#include "abi.h"

#include <stddef.h>
#include <stdint.h>

#if defined(GPX_ABI_CUDA)
#if defined(GPX_ABI_SIDE_VENDOR)
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include "abi/cuda_entry_points.h"
#define GPX_ABI_HEADER "cuda.h"
#else
#include "abi/cuda_abi.h"
#define GPX_ABI_HEADER "src/abi/cuda_abi.h"
#endif
#include "cuda_checks.h"
#elif defined(GPX_ABI_NVML)
#if defined(GPX_ABI_SIDE_VENDOR)
#define NVML_NO_UNVERSIONED_FUNC_DEFS 1
#include <nvml.h>
#define GPX_ABI_HEADER "nvml.h"
#else
#include "abi/nvml_abi.h"
#define GPX_ABI_HEADER "src/abi/nvml_abi.h"
#endif
#include "nvml_checks.h"
#else
#error "define GPX_ABI_CUDA or GPX_ABI_NVML"
#endif

#define ROW_SIZE(type)        {"sizeof(" #type ")", sizeof(type)},
#define ROW_OFF(type, member) {"offsetof(" #type ", " #member ")", offsetof(type, member)},
#define ROW_VAL(name)         {#name, (unsigned long long)(uintptr_t)(name)},
#define ROW_SIG(ret, name, params)                                                                 \
    {"signature of " #name, __builtin_types_compatible_p(__typeof__(name), ret params)},
#define ROW_CU_SIG(name, params) ROW_SIG(CUresult, name, params)

static const struct gpx_abi_row rows[] = {
#if defined(GPX_ABI_CUDA)
    GPX_CUDA_ABI_CHECKS(ROW_SIZE, ROW_OFF, ROW_VAL) GPX_CUDA_ENTRY_POINTS(ROW_CU_SIG)
#else
    GPX_NVML_ABI_CHECKS(ROW_SIZE, ROW_OFF, ROW_VAL, ROW_SIG)
#endif
};

#if defined(GPX_ABI_SIDE_VENDOR)
const struct gpx_abi_table gpx_abi_vendor = {GPX_ABI_HEADER, rows, sizeof rows / sizeof rows[0]};
#else
const struct gpx_abi_table gpx_abi_ours = {GPX_ABI_HEADER, rows, sizeof rows / sizeof rows[0]};
#endif
