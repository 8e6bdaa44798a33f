/*
 * CUDA graphs, peer copies and 2D memsets.
 *
 * Graph memory: a graph's memory-allocation nodes (cuGraphAddMemAllocNode,
 * or cuMemAllocAsync captured into a graph) count against the quota from the
 * moment an executable graph is made from the graph until that executable
 * graph is destroyed: the sum of its allocation nodes' sizes is reserved when
 * cuGraphInstantiate* succeeds, and an instantiation that would pass the
 * quota is undone and fails with CUDA_ERROR_OUT_OF_MEMORY. This is the
 * driver's own accounting shape (the physical memory of a graph allocation
 * is reserved by the graph's first launch and kept by the graph memory pool
 * until it is trimmed), decided early: a refused graph never runs half-way,
 * and the work before its allocation nodes is not lost. cuGraphExecDestroy
 * gives the bytes back. The sizes are read from the driver
 * (cuGraphGetNodes, cuGraphNodeGetType, cuGraphMemAllocNodeGetParams) at
 * instantiation, so captured and explicitly built graphs count alike; nodes
 * of child graphs are not looked into.
 *
 * Submissions: cuGraphLaunch takes the time-slice turn (launch.c); the
 * asynchronous peer copies and 2D memsets here take it as the other copies
 * and memsets do (copy.c). Synchronous ones are not arbitrated, for the
 * reason copy.c gives.
 */
#include "interpose/interpose.h"
#include "interpose/ptrtable.h"

#include <stdlib.h>

#define REAL GPX_IP_REAL
#define NEED GPX_IP_NEED

/* clang-format off */
GPX_IP_SUBMIT_HOOK(cuMemcpyPeerAsync, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream), (dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream))
GPX_IP_SUBMIT_HOOK(cuMemcpyPeerAsync_ptsz, (CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream), (dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D8Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, uc, Width, Height, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D8Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, uc, Width, Height, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D16Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, us, Width, Height, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D16Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, us, Width, Height, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D32Async, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, ui, Width, Height, hStream))
GPX_IP_SUBMIT_HOOK(cuMemsetD2D32Async_ptsz, (CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height, CUstream hStream), (dstDevice, dstPitch, ui, Width, Height, hStream))
/* clang-format on */

/* ---- graph memory ------------------------------------------------------------------------- */

/* The driver's graph and capture queries, resolved on first use (the hooks do not need them
 * otherwise). */
static struct {
    _Atomic int done;
    gpx_cuGraphGetNodes_fn get_nodes;
    gpx_cuGraphNodeGetType_fn node_type;
    gpx_cuGraphMemAllocNodeGetParams_fn alloc_params;
    gpx_cuStreamIsCapturing_fn is_capturing;
    gpx_cuStreamIsCapturing_ptsz_fn is_capturing_ptsz;
} q;

static void queries_ensure(void)
{
    if (atomic_load_explicit(&q.done, memory_order_acquire) || !gpx__ip.cuda_lib)
        return;
    gpx__ip_dlsym_ensure();
    /* Racing threads store the same addresses. */
    q.get_nodes = (gpx_cuGraphGetNodes_fn)gpx__real_dlsym(gpx__ip.cuda_lib, "cuGraphGetNodes");
    q.node_type =
        (gpx_cuGraphNodeGetType_fn)gpx__real_dlsym(gpx__ip.cuda_lib, "cuGraphNodeGetType");
    q.alloc_params = (gpx_cuGraphMemAllocNodeGetParams_fn)gpx__real_dlsym(
        gpx__ip.cuda_lib, "cuGraphMemAllocNodeGetParams");
    q.is_capturing =
        (gpx_cuStreamIsCapturing_fn)gpx__real_dlsym(gpx__ip.cuda_lib, "cuStreamIsCapturing");
    q.is_capturing_ptsz = (gpx_cuStreamIsCapturing_ptsz_fn)gpx__real_dlsym(
        gpx__ip.cuda_lib, "cuStreamIsCapturing_ptsz");
    atomic_store_explicit(&q.done, 1, memory_order_release);
}

/*
 * 1 if `stream` is being captured. A stream-ordered allocation there is no
 * memory now: the driver records a memory-allocation node of the graph and
 * hands out its address, and the node is counted when an executable graph is
 * made of the graph (below). Counting it at the allocation as well would count
 * it twice.
 */
int gpx__ip_stream_capturing(CUstream stream, int ptsz)
{
    queries_ensure();
    gpx_cuStreamIsCapturing_fn is =
        ptsz && q.is_capturing_ptsz ? q.is_capturing_ptsz : q.is_capturing;
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    return is && is(stream, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

/*
 * The bytes of `graph`'s allocation nodes, into *bytes. Returns 0, or -1
 * when the driver cannot say (then nothing is counted: a driver without
 * these queries has no allocation nodes either).
 */
static int graph_alloc_bytes(CUgraph graph, uint64_t *bytes)
{
    *bytes = 0;
    queries_ensure();
    if (!q.get_nodes || !q.node_type || !q.alloc_params)
        return -1;
    size_t n = 0;
    if (q.get_nodes(graph, NULL, &n) != CUDA_SUCCESS)
        return -1;
    if (n == 0)
        return 0;
    CUgraphNode *nodes = calloc(n, sizeof *nodes);
    if (!nodes)
        return -1;
    int rc = q.get_nodes(graph, nodes, &n) == CUDA_SUCCESS ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        CUgraphNodeType t;
        CUDA_MEM_ALLOC_NODE_PARAMS p;
        if (q.node_type(nodes[i], &t) != CUDA_SUCCESS || t != CU_GRAPH_NODE_TYPE_MEM_ALLOC)
            continue;
        if (q.alloc_params(nodes[i], &p) == CUDA_SUCCESS)
            *bytes += p.bytesize;
    }
    free(nodes);
    return rc;
}

/*
 * After the driver made `exec` from `graph`: reserves its allocation nodes'
 * bytes and records them, or destroys `exec` and refuses. Returns what the
 * application gets.
 */
static CUresult count_exec(CUresult rc, CUgraphExec *exec, CUgraph graph)
{
    uint64_t bytes;
    if (rc != CUDA_SUCCESS || gpx__ip.mode == GPX_IP_PASS ||
        graph_alloc_bytes(graph, &bytes) != 0 || bytes == 0)
        return rc;
    if (gpx__ip_reserve(bytes) != 0) {
        GPX_IP_LOG(GPX_IP_LOG_INFO,
                   "graph with %llu bytes of allocation nodes refused: past the lease's quota",
                   (unsigned long long)bytes);
        if (REAL(cuGraphExecDestroy))
            REAL(cuGraphExecDestroy)(*exec);
        *exec = NULL;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    uint64_t stale;
    if (gpx__pt_insert(GPX_IP_KIND_GRAPH_EXEC, (uint64_t)(uintptr_t)*exec, bytes, &stale) != 0) {
        GPX_IP_LOG(GPX_IP_LOG_ERROR, "out of host memory for the allocation table");
        if (REAL(cuGraphExecDestroy))
            REAL(cuGraphExecDestroy)(*exec);
        *exec = NULL;
        gpx__ip_release(bytes);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (stale)
        gpx__ip_release(stale);
    return rc;
}

GPX_EXPORT CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph,
                                       CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    NEED(cuGraphInstantiate);
    CUresult rc = REAL(cuGraphInstantiate)(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
    return count_exec(rc, phGraphExec, hGraph);
}

GPX_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph,
                                          CUgraphNode *phErrorNode, char *logBuffer,
                                          size_t bufferSize)
{
    NEED(cuGraphInstantiate_v2);
    CUresult rc =
        REAL(cuGraphInstantiate_v2)(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
    return count_exec(rc, phGraphExec, hGraph);
}

GPX_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                unsigned long long flags)
{
    NEED(cuGraphInstantiateWithFlags);
    CUresult rc = REAL(cuGraphInstantiateWithFlags)(phGraphExec, hGraph, flags);
    return count_exec(rc, phGraphExec, hGraph);
}

static CUresult with_params(CUresult rc, CUgraphExec *exec, CUgraph graph,
                            CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
    CUresult out = count_exec(rc, exec, graph);
    if (out != rc && p)
        p->result_out = CUDA_GRAPH_INSTANTIATE_ERROR;
    return out;
}

GPX_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                 CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    NEED(cuGraphInstantiateWithParams);
    CUresult rc = REAL(cuGraphInstantiateWithParams)(phGraphExec, hGraph, instantiateParams);
    return with_params(rc, phGraphExec, hGraph, instantiateParams);
}

GPX_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(
    CUgraphExec *phGraphExec, CUgraph hGraph, CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    NEED(cuGraphInstantiateWithParams_ptsz);
    CUresult rc = REAL(cuGraphInstantiateWithParams_ptsz)(phGraphExec, hGraph, instantiateParams);
    return with_params(rc, phGraphExec, hGraph, instantiateParams);
}

GPX_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    NEED(cuGraphExecDestroy);
    uint64_t bytes, key = (uint64_t)(uintptr_t)hGraphExec;
    if (gpx__ip.mode == GPX_IP_PASS || !gpx__pt_take(GPX_IP_KIND_GRAPH_EXEC, key, &bytes))
        return REAL(cuGraphExecDestroy)(hGraphExec);
    CUresult rc = REAL(cuGraphExecDestroy)(hGraphExec);
    if (rc == CUDA_SUCCESS) {
        gpx__ip_release(bytes);
    } else {
        uint64_t stale; /* keep counting it; if it can't be recorded, keep the bytes */
        (void)gpx__pt_insert(GPX_IP_KIND_GRAPH_EXEC, key, bytes, &stale);
    }
    return rc;
}
