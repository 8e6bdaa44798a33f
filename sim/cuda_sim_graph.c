/*
 * Simulated libcuda.so.1, part 4: CUDA graphs and stream capture.
 *
 * A graph is a list of nodes in the order they were added. Every dependency
 * must exist before the node that names it, so that order is a topological
 * order, and a launch runs the nodes one after another on the launch stream:
 * kernels occupy the engine for their nanoseconds (cuda_sim_exec.c), copies
 * and sets move real bytes, host nodes run on the caller's thread once the
 * stream's work before them has ended. Running in sequence honours every
 * edge; it forgoes the overlap independent branches could have, which the
 * simulated engine (one kernel at a time) would not show anyway.
 *
 * Memory nodes: cuGraphAddMemAllocNode fixes the allocation's address at
 * once (as the driver does) with an uncharged record owned by the graph; a
 * launch charges its bytes to the GPU when the node runs (refused past the
 * GPU's capacity: CUDA_ERROR_OUT_OF_MEMORY, the launch stops there) and a
 * free node, cuMemFree or cuMemFreeAsync gives them back. The record lives as
 * long as the graph or an executable graph made from it.
 *
 * Stream capture: between cuStreamBeginCapture and cuStreamEndCapture,
 * kernels, async copies and sets, host functions and stream-ordered
 * allocations and frees issued to the stream become nodes of the capture's
 * graph instead of running.
 *
 * Executable graphs are copies of the node list taken at instantiation, so
 * later edits of the graph do not change them, as with the driver.
 */
#include "cuda_sim.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC_GRAPH 0x47525031U
#define MAGIC_GNODE 0x474e4f31U
#define MAGIC_GEXEC 0x47455831U

/* A graph allocation: one record shared by the graph's node and its executable copies. */
struct sim_gmem {
    int refs;
    struct sim_alloc *a;
};

struct sim_graph;

struct sim_gnode {
    uint32_t magic;
    CUgraphNodeType type;
    struct sim_graph *g;
    struct sim_gnode *next;
    union {
        struct {
            CUfunction f;
            struct sim_ctx *ctx;
            unsigned dims[7];
            uint64_t ns;
        } k;
        CUDA_MEMCPY3D cp;
        struct {
            uintptr_t dst;
            size_t pitch, esize, width, height;
            uint32_t value;
        } ms;
        CUDA_HOST_NODE_PARAMS host;
        struct {
            CUDA_MEM_ALLOC_NODE_PARAMS p;
            struct sim_gmem *m;
        } al;
        CUdeviceptr fr;
    } u;
};

struct sim_graph {
    uint32_t magic;
    struct sim_gnode *head, *tail;
    size_t n;
    CUgraphNode last; /* the capture's dependency set (its last node), for cuStreamGetCaptureInfo */
};

struct sim_gexec {
    uint32_t magic;
    size_t n;
    struct sim_gnode *nodes; /* copies, in order */
    cuuint64_t flags;
};

/*
 * Destroyed graphs, nodes and executable graphs are kept for reuse, never
 * given back to malloc, so that a stale handle reads a dead magic rather than
 * freed memory (the invariant of cuda_sim.h). One list for the three.
 */
union sim_gobj {
    uint32_t magic; /* the first field of each */
    struct {
        uint32_t magic;
        union sim_gobj *next;
    } dead;
    struct sim_graph g;
    struct sim_gnode n;
    struct sim_gexec e;
};

static union sim_gobj *gobj_free;
static pthread_mutex_t gobj_mu = PTHREAD_MUTEX_INITIALIZER;

static void *gobj_new(void)
{
    pthread_mutex_lock(&gobj_mu);
    union sim_gobj *o = gobj_free;
    if (o)
        gobj_free = o->dead.next;
    pthread_mutex_unlock(&gobj_mu);
    if (!o)
        o = malloc(sizeof *o);
    if (o)
        memset(o, 0, sizeof *o);
    return o;
}

static void gobj_dead(void *p)
{
    union sim_gobj *o = p;
    pthread_mutex_lock(&gobj_mu);
    o->dead.magic = MAGIC_DEAD;
    o->dead.next = gobj_free;
    gobj_free = o;
    pthread_mutex_unlock(&gobj_mu);
}

static struct sim_graph *graph_of(CUgraph h)
{
    struct sim_graph *g = (struct sim_graph *)h;
    return g && g->magic == MAGIC_GRAPH ? g : NULL;
}

static struct sim_gnode *node_of(CUgraphNode h)
{
    struct sim_gnode *n = (struct sim_gnode *)h;
    return n && n->magic == MAGIC_GNODE ? n : NULL;
}

static struct sim_gexec *exec_of(CUgraphExec h)
{
    struct sim_gexec *e = (struct sim_gexec *)h;
    return e && e->magic == MAGIC_GEXEC ? e : NULL;
}

static void gmem_release(struct sim_gmem *m)
{
    if (!m || --m->refs > 0)
        return;
    pthread_mutex_lock(&gpx__cu.mu);
    gpx__cu_free_alloc(m->a); /* gives back what a launch still held */
    pthread_mutex_unlock(&gpx__cu.mu);
    free(m);
}

/* ---------------------------------------------------------------- graphs and nodes */

static struct sim_graph *graph_new(void)
{
    struct sim_graph *g = gobj_new();
    if (g)
        g->magic = MAGIC_GRAPH;
    return g;
}

SIM_EXPORT CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
    CU_CHECK_INIT();
    if (!phGraph || flags)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_graph *g = graph_new();
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *phGraph = (CUgraph)g;
    return CUDA_SUCCESS;
}

static void graph_free(struct sim_graph *g)
{
    for (struct sim_gnode *n = g->head, *next; n; n = next) {
        next = n->next;
        if (n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
            gmem_release(n->u.al.m);
        gobj_dead(n);
    }
    gobj_dead(g);
}

SIM_EXPORT CUresult cuGraphDestroy(CUgraph hGraph)
{
    CU_CHECK_INIT();
    struct sim_graph *g = graph_of(hGraph);
    if (!g)
        return CUDA_ERROR_INVALID_VALUE;
    graph_free(g);
    return CUDA_SUCCESS;
}

/* A new node of `type` in `g` after `deps` (which must be nodes of `g`). */
static CUresult node_new(struct sim_graph *g, const CUgraphNode *deps, size_t ndeps,
                         CUgraphNodeType type, struct sim_gnode **out)
{
    if (!g || (ndeps && !deps))
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < ndeps; i++) {
        struct sim_gnode *d = node_of(deps[i]);
        if (!d || d->g != g)
            return CUDA_ERROR_INVALID_VALUE;
    }
    struct sim_gnode *n = gobj_new();
    if (!n)
        return CUDA_ERROR_OUT_OF_MEMORY;
    n->magic = MAGIC_GNODE;
    n->type = type;
    n->g = g;
    *out = n;
    return CUDA_SUCCESS;
}

static void node_link(struct sim_gnode *n, CUgraphNode *out)
{
    struct sim_graph *g = n->g;
    if (g->tail)
        g->tail->next = n;
    else
        g->head = n;
    g->tail = n;
    g->n++;
    g->last = (CUgraphNode)n;
    if (out)
        *out = (CUgraphNode)n;
}

static CUresult add_kernel(CUgraphNode *out, CUgraph hg, const CUgraphNode *deps, size_t ndeps,
                           const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
    CU_CHECK_INIT();
    if (!out || !p)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_ctx *ctx;
    uint64_t ns;
    CUresult r = gpx__cu_kernel_check(p->func, p->gridDimX, p->gridDimY, p->gridDimZ, p->blockDimX,
                                      p->blockDimY, p->blockDimZ, p->sharedMemBytes,
                                      p->kernelParams, p->extra, &ctx, &ns);
    if (r)
        return r;
    struct sim_gnode *n;
    r = node_new(graph_of(hg), deps, ndeps, CU_GRAPH_NODE_TYPE_KERNEL, &n);
    if (r)
        return r;
    /* The parameters are copied now, as the driver does: the duration is all we need of them. */
    n->u.k.f = p->func;
    n->u.k.ctx = ctx;
    n->u.k.ns = ns;
    const unsigned dims[7] = {p->gridDimX,  p->gridDimY,  p->gridDimZ,      p->blockDimX,
                              p->blockDimY, p->blockDimZ, p->sharedMemBytes};
    memcpy(n->u.k.dims, dims, sizeof dims);
    node_link(n, out);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_KERNEL_NODE_PARAMS_v1 *nodeParams)
{
    return add_kernel(phGraphNode, hGraph, dependencies, numDependencies, nodeParams);
}

SIM_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph,
                                            const CUgraphNode *dependencies, size_t numDependencies,
                                            const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
    if (nodeParams && !nodeParams->func)
        return nodeParams->kern ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    /* v2 begins with v1's fields; kern and ctx matter only without func. */
    CUDA_KERNEL_NODE_PARAMS_v1 v1;
    if (nodeParams)
        memcpy(&v1, nodeParams, sizeof v1);
    return add_kernel(phGraphNode, hGraph, dependencies, numDependencies, nodeParams ? &v1 : NULL);
}

SIM_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
    CU_CHECK_INIT();
    (void)ctx; /* the launch's context does the copy: memory is addressable from every one */
    if (!phGraphNode || !copyParams)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_gnode *n;
    CUresult r =
        node_new(graph_of(hGraph), dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEMCPY, &n);
    if (r)
        return r;
    n->u.cp = *copyParams;
    node_link(n, phGraphNode);
    return CUDA_SUCCESS;
}

static CUresult add_memset(CUgraphNode *out, struct sim_graph *g, const CUgraphNode *deps,
                           size_t ndeps, uintptr_t dst, size_t pitch, uint32_t value, size_t esize,
                           size_t width, size_t height)
{
    if (!out || !dst || (esize != 1 && esize != 2 && esize != 4) || !width || !height ||
        (height > 1 && pitch < width * esize))
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_gnode *n;
    CUresult r = node_new(g, deps, ndeps, CU_GRAPH_NODE_TYPE_MEMSET, &n);
    if (r)
        return r;
    n->u.ms.dst = dst;
    n->u.ms.pitch = height > 1 ? pitch : width * esize;
    n->u.ms.value = value;
    n->u.ms.esize = esize;
    n->u.ms.width = width;
    n->u.ms.height = height;
    node_link(n, out);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                         const CUgraphNode *dependencies, size_t numDependencies,
                                         const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx)
{
    CU_CHECK_INIT();
    (void)ctx;
    if (!memsetParams)
        return CUDA_ERROR_INVALID_VALUE;
    const CUDA_MEMSET_NODE_PARAMS *p = memsetParams;
    return add_memset(phGraphNode, graph_of(hGraph), dependencies, numDependencies,
                      (uintptr_t)p->dst, p->pitch, p->value, p->elementSize, p->width, p->height);
}

SIM_EXPORT CUresult cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                       const CUgraphNode *dependencies, size_t numDependencies,
                                       const CUDA_HOST_NODE_PARAMS *nodeParams)
{
    CU_CHECK_INIT();
    if (!phGraphNode || !nodeParams || !nodeParams->fn)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_gnode *n;
    CUresult r =
        node_new(graph_of(hGraph), dependencies, numDependencies, CU_GRAPH_NODE_TYPE_HOST, &n);
    if (r)
        return r;
    n->u.host = *nodeParams;
    node_link(n, phGraphNode);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                        const CUgraphNode *dependencies, size_t numDependencies)
{
    CU_CHECK_INIT();
    if (!phGraphNode)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_gnode *n;
    CUresult r =
        node_new(graph_of(hGraph), dependencies, numDependencies, CU_GRAPH_NODE_TYPE_EMPTY, &n);
    if (r)
        return r;
    node_link(n, phGraphNode);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                           const CUgraphNode *dependencies, size_t numDependencies,
                                           CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
    CU_CHECK_INIT();
    struct sim_ctx *c = gpx__cu_current();
    CUresult r = gpx__cu_ctx_check(c);
    if (r)
        return r;
    if (!phGraphNode || !nodeParams || !nodeParams->bytesize ||
        nodeParams->poolProps.allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
        nodeParams->poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    int dev = nodeParams->poolProps.location.id;
    if (dev != c->device) /* another device's memory needs its own context here: not simulated */
        return dev < 0 || dev >= gpx__cu.ndev ? CUDA_ERROR_INVALID_DEVICE
                                              : CUDA_ERROR_NOT_SUPPORTED;
    struct sim_gnode *n;
    r = node_new(graph_of(hGraph), dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEM_ALLOC, &n);
    if (r)
        return r;
    struct sim_gmem *m = calloc(1, sizeof *m);
    if (!m) {
        gobj_dead(n);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&gpx__cu.mu);
    r = gpx__cu_graph_mem_new(c, nodeParams->bytesize, &m->a);
    pthread_mutex_unlock(&gpx__cu.mu);
    if (r) {
        free(m);
        gobj_dead(n);
        return r;
    }
    m->refs = 1;
    nodeParams->dptr = (CUdeviceptr)m->a->base;
    n->u.al.p = *nodeParams;
    n->u.al.p.accessDescs = NULL; /* the caller's array need not outlive the call */
    n->u.al.m = m;
    node_link(n, phGraphNode);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                          const CUgraphNode *dependencies, size_t numDependencies,
                                          CUdeviceptr dptr)
{
    CU_CHECK_INIT();
    if (!phGraphNode || !dptr)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)dptr);
    int ok = a && a->kind == AK_GRAPH && a->base == (uintptr_t)dptr;
    pthread_mutex_unlock(&gpx__cu.mu);
    if (!ok) /* only graph allocations can be freed by a graph */
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_gnode *n;
    CUresult r =
        node_new(graph_of(hGraph), dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEM_FREE, &n);
    if (r)
        return r;
    n->u.fr = dptr;
    node_link(n, phGraphNode);
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphMemAllocNodeGetParams(CUgraphNode hNode,
                                                 CUDA_MEM_ALLOC_NODE_PARAMS *params_out)
{
    CU_CHECK_INIT();
    struct sim_gnode *n = node_of(hNode);
    if (!n || !params_out || n->type != CU_GRAPH_NODE_TYPE_MEM_ALLOC)
        return CUDA_ERROR_INVALID_VALUE;
    *params_out = n->u.al.p;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphMemFreeNodeGetParams(CUgraphNode hNode, CUdeviceptr *dptr_out)
{
    CU_CHECK_INIT();
    struct sim_gnode *n = node_of(hNode);
    if (!n || !dptr_out || n->type != CU_GRAPH_NODE_TYPE_MEM_FREE)
        return CUDA_ERROR_INVALID_VALUE;
    *dptr_out = n->u.fr;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type)
{
    CU_CHECK_INIT();
    struct sim_gnode *n = node_of(hNode);
    if (!n || !type)
        return CUDA_ERROR_INVALID_VALUE;
    *type = n->type;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes)
{
    CU_CHECK_INIT();
    struct sim_graph *g = graph_of(hGraph);
    if (!g || !numNodes)
        return CUDA_ERROR_INVALID_VALUE;
    if (!nodes) {
        *numNodes = g->n;
        return CUDA_SUCCESS;
    }
    size_t i = 0;
    for (struct sim_gnode *n = g->head; n && i < *numNodes; n = n->next)
        nodes[i++] = (CUgraphNode)n;
    for (size_t j = i; j < *numNodes; j++)
        nodes[j] = NULL;
    *numNodes = i;
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- executable graphs */

#define INSTANTIATE_FLAGS                                                                          \
    (CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |        \
     CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY)

static CUresult instantiate(CUgraphExec *out, CUgraph hg, cuuint64_t flags)
{
    CU_CHECK_INIT();
    struct sim_graph *g = graph_of(hg);
    if (!out || !g || (flags & ~(cuuint64_t)INSTANTIATE_FLAGS))
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH)
        return CUDA_ERROR_NOT_SUPPORTED; /* no device-side launches: nothing runs on the GPU */
    struct sim_gexec *e = gobj_new();
    struct sim_gnode *copy = g->n ? calloc(g->n, sizeof *copy) : NULL;
    if (!e || (g->n && !copy)) {
        if (e)
            gobj_dead(e);
        free(copy);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t i = 0;
    for (struct sim_gnode *n = g->head; n; n = n->next, i++) {
        copy[i] = *n;
        copy[i].next = NULL;
        if (n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
            n->u.al.m->refs++;
    }
    e->magic = MAGIC_GEXEC;
    e->n = g->n;
    e->nodes = copy;
    e->flags = flags;
    *out = (CUgraphExec)e;
    return CUDA_SUCCESS;
}

static CUresult instantiate_legacy(CUgraphExec *out, CUgraph hg, CUgraphNode *err_node, char *log,
                                   size_t log_size)
{
    if (err_node)
        *err_node = NULL;
    if (log && log_size)
        log[0] = '\0';
    return instantiate(out, hg, 0);
}

SIM_EXPORT CUresult cuGraphInstantiate(CUgraphExec *phGraphExec, CUgraph hGraph,
                                       CUgraphNode *phErrorNode, char *logBuffer, size_t bufferSize)
{
    return instantiate_legacy(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

SIM_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph,
                                          CUgraphNode *phErrorNode, char *logBuffer,
                                          size_t bufferSize)
{
    return instantiate_legacy(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
}

SIM_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                unsigned long long flags)
{
    if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) /* only with cuGraphInstantiateWithParams */
        return CUDA_ERROR_INVALID_VALUE;
    return instantiate(phGraphExec, hGraph, flags);
}

static CUresult instantiate_params(CUgraphExec *out, CUgraph hg, CUDA_GRAPH_INSTANTIATE_PARAMS *p,
                                   int pt)
{
    CU_CHECK_INIT();
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    p->hErrNode_out = NULL;
    if (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) {
        struct sim_stream *s;
        CUresult r = gpx__cu_stream(p->hUploadStream, pt, &s);
        if (r) {
            p->result_out = CUDA_GRAPH_INSTANTIATE_ERROR;
            return r;
        }
    }
    CUresult r = instantiate(out, hg, p->flags);
    p->result_out = r ? CUDA_GRAPH_INSTANTIATE_ERROR : CUDA_GRAPH_INSTANTIATE_SUCCESS;
    return r;
}

SIM_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                 CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    return instantiate_params(phGraphExec, hGraph, instantiateParams, 0);
}

SIM_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(
    CUgraphExec *phGraphExec, CUgraph hGraph, CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
    return instantiate_params(phGraphExec, hGraph, instantiateParams, 1);
}

SIM_EXPORT CUresult cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t *flags)
{
    CU_CHECK_INIT();
    struct sim_gexec *e = exec_of(hGraphExec);
    if (!e || !flags)
        return CUDA_ERROR_INVALID_VALUE;
    *flags = e->flags;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    CU_CHECK_INIT();
    struct sim_gexec *e = exec_of(hGraphExec);
    if (!e)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < e->n; i++)
        if (e->nodes[i].type == CU_GRAPH_NODE_TYPE_MEM_ALLOC)
            gmem_release(e->nodes[i].u.al.m);
    free(e->nodes);
    gobj_dead(e);
    return CUDA_SUCCESS;
}

static CUresult upload(CUgraphExec h, CUstream hs, int pt)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    /* Nothing to upload: a launch reads the nodes from host memory. */
    return exec_of(h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

SIM_EXPORT CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream)
{
    return upload(hGraphExec, hStream, 0);
}

SIM_EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return upload(hGraphExec, hStream, 1);
}

/* A graph allocation's record, by its address. */
static struct sim_alloc *graph_alloc_at(CUdeviceptr p)
{
    struct sim_alloc *a = gpx__cu_lookup((uintptr_t)p);
    return a && a->kind == AK_GRAPH && a->base == (uintptr_t)p ? a : NULL;
}

static CUresult run_alloc(const struct sim_gexec *e, struct sim_gnode *n)
{
    pthread_mutex_lock(&gpx__cu.mu);
    struct sim_alloc *a = n->u.al.m->a;
    CUresult r = CUDA_SUCCESS;
    if (a->charged) {
        /* Still allocated from the last launch: the driver refuses, unless asked to free it. */
        if (e->flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH)
            gpx__cu_graph_mem_uncharge(a);
        else
            r = CUDA_ERROR_INVALID_VALUE;
    }
    if (!r)
        r = gpx__cu_graph_mem_charge(a);
    pthread_mutex_unlock(&gpx__cu.mu);
    return r;
}

static CUresult run_node(const struct sim_gexec *e, struct sim_gnode *n, struct sim_stream *s,
                         CUstream hs, int pt)
{
    switch (n->type) {
    case CU_GRAPH_NODE_TYPE_KERNEL: {
        CUresult r = gpx__cu_ctx_check(n->u.k.ctx); /* its module's context may be gone */
        if (!r)
            gpx__cu_kernel_run(n->u.k.ctx, s, n->u.k.ns);
        return r;
    }
    case CU_GRAPH_NODE_TYPE_MEMCPY:
        return gpx__cu_copy3d(&n->u.cp, hs, 1, pt);
    case CU_GRAPH_NODE_TYPE_MEMSET:
        return gpx__cu_memset2d(n->u.ms.dst, n->u.ms.pitch, n->u.ms.value, n->u.ms.esize,
                                n->u.ms.width, n->u.ms.height, hs, 1, pt);
    case CU_GRAPH_NODE_TYPE_HOST:
        gpx__cu_sleep_until(gpx__cu_stream_floor(s));
        n->u.host.fn(n->u.host.userData);
        return CUDA_SUCCESS;
    case CU_GRAPH_NODE_TYPE_MEM_ALLOC:
        return run_alloc(e, n);
    case CU_GRAPH_NODE_TYPE_MEM_FREE: {
        pthread_mutex_lock(&gpx__cu.mu);
        struct sim_alloc *a = graph_alloc_at(n->u.fr);
        CUresult r = a && a->charged ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
        if (a)
            gpx__cu_graph_mem_uncharge(a);
        pthread_mutex_unlock(&gpx__cu.mu);
        return r;
    }
    default:
        return CUDA_SUCCESS; /* empty */
    }
}

static CUresult graph_launch(CUgraphExec h, CUstream hs, int pt)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    struct sim_gexec *e = exec_of(h);
    if (!e)
        return h ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_INVALID_VALUE;
    if (s->capture)
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* child-graph capture: not simulated */
    for (size_t i = 0; i < e->n && !r; i++)
        r = run_node(e, &e->nodes[i], s, hs, pt);
    return r;
}

SIM_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_launch(hGraphExec, hStream, 0);
}

SIM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    return graph_launch(hGraphExec, hStream, 1);
}

SIM_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device)
{
    CU_CHECK_INIT();
    /* Graph memory is given back as soon as it is freed: there is no cache to trim. */
    return device < 0 || device >= gpx__cu.ndev ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- stream capture */

static _Atomic uint64_t capture_ids;
static _Thread_local CUstreamCaptureMode tls_capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

static CUresult begin_capture(CUstream hs, CUstreamCaptureMode mode, int pt)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    if (s->kind == STREAM_LEGACY) /* the legacy NULL stream cannot be captured */
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (s->capture)
        return CUDA_ERROR_ILLEGAL_STATE;
    struct sim_graph *g = graph_new();
    if (!g)
        return CUDA_ERROR_OUT_OF_MEMORY;
    s->capture_id = atomic_fetch_add(&capture_ids, 1) + 1;
    s->capture = g;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamBeginCapture(CUstream hStream)
{
    return begin_capture(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL, 0);
}

SIM_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream hStream)
{
    return begin_capture(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL, 1);
}

SIM_EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    return begin_capture(hStream, mode, 0);
}

SIM_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
    return begin_capture(hStream, mode, 1);
}

static CUresult end_capture(CUstream hs, CUgraph *out, int pt)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    if (!s->capture)
        return CUDA_ERROR_ILLEGAL_STATE;
    *out = (CUgraph)s->capture;
    s->capture = NULL;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    return end_capture(hStream, phGraph, 0);
}

SIM_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph)
{
    return end_capture(hStream, phGraph, 1);
}

static CUresult capture_info(CUstream hs, int pt, CUstreamCaptureStatus *status, cuuint64_t *id,
                             CUgraph *graph, const CUgraphNode **deps,
                             const CUgraphEdgeData **edges, size_t *ndeps)
{
    CU_CHECK_INIT();
    struct sim_stream *s;
    CUresult r = gpx__cu_stream(hs, pt, &s);
    if (r)
        return r;
    if (!status)
        return CUDA_ERROR_INVALID_VALUE;
    struct sim_graph *g = s->capture;
    *status = g ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
    if (!g)
        return CUDA_SUCCESS; /* the other outputs are undefined when not capturing */
    if (id)
        *id = s->capture_id;
    if (graph)
        *graph = (CUgraph)g;
    /* Work issued next depends on the last node captured (nodes are recorded in order). */
    if (deps)
        *deps = g->last ? &g->last : NULL;
    if (edges)
        *edges = NULL; /* all default edges */
    if (ndeps)
        *ndeps = g->last ? 1 : 0;
    return CUDA_SUCCESS;
}

SIM_EXPORT CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    return capture_info(hStream, 0, captureStatus, NULL, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus)
{
    return capture_info(hStream, 1, captureStatus, NULL, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo(CUstream hStream,
                                           CUstreamCaptureStatus *captureStatus_out,
                                           cuuint64_t *id_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream hStream,
                                                CUstreamCaptureStatus *captureStatus_out,
                                                cuuint64_t *id_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, NULL, NULL, NULL, NULL);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream hStream,
                                              CUstreamCaptureStatus *captureStatus_out,
                                              cuuint64_t *id_out, CUgraph *graph_out,
                                              const CUgraphNode **dependencies_out,
                                              size_t *numDependencies_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
                        numDependencies_out);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream,
                                                   CUstreamCaptureStatus *captureStatus_out,
                                                   cuuint64_t *id_out, CUgraph *graph_out,
                                                   const CUgraphNode **dependencies_out,
                                                   size_t *numDependencies_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, graph_out, dependencies_out, NULL,
                        numDependencies_out);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream hStream,
                                              CUstreamCaptureStatus *captureStatus_out,
                                              cuuint64_t *id_out, CUgraph *graph_out,
                                              const CUgraphNode **dependencies_out,
                                              const CUgraphEdgeData **edgeData_out,
                                              size_t *numDependencies_out)
{
    return capture_info(hStream, 0, captureStatus_out, id_out, graph_out, dependencies_out,
                        edgeData_out, numDependencies_out);
}

SIM_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream,
                                                   CUstreamCaptureStatus *captureStatus_out,
                                                   cuuint64_t *id_out, CUgraph *graph_out,
                                                   const CUgraphNode **dependencies_out,
                                                   const CUgraphEdgeData **edgeData_out,
                                                   size_t *numDependencies_out)
{
    return capture_info(hStream, 1, captureStatus_out, id_out, graph_out, dependencies_out,
                        edgeData_out, numDependencies_out);
}

SIM_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
    CU_CHECK_INIT();
    if (!mode || *mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    CUstreamCaptureMode old = tls_capture_mode;
    tls_capture_mode = *mode;
    *mode = old;
    return CUDA_SUCCESS;
}

/* Work issued to a capturing stream: a node after everything captured so far. */

CUresult gpx__cu_capture_kernel(struct sim_stream *s, CUfunction f, const unsigned dims[7],
                                uint64_t ns)
{
    struct sim_gnode *n;
    CUresult r = node_new(s->capture, NULL, 0, CU_GRAPH_NODE_TYPE_KERNEL, &n);
    if (r)
        return r;
    n->u.k.f = f;
    n->u.k.ctx = s->ctx;
    n->u.k.ns = ns;
    memcpy(n->u.k.dims, dims, sizeof n->u.k.dims);
    node_link(n, NULL);
    return CUDA_SUCCESS;
}

CUresult gpx__cu_capture_copy(struct sim_stream *s, const CUDA_MEMCPY3D *p)
{
    struct sim_gnode *n;
    CUresult r = node_new(s->capture, NULL, 0, CU_GRAPH_NODE_TYPE_MEMCPY, &n);
    if (r)
        return r;
    n->u.cp = *p;
    node_link(n, NULL);
    return CUDA_SUCCESS;
}

CUresult gpx__cu_capture_memset(struct sim_stream *s, uintptr_t dst, size_t pitch, uint32_t value,
                                size_t esize, size_t width, size_t height)
{
    CUgraphNode out;
    return add_memset(&out, s->capture, NULL, 0, dst, pitch, value, esize, width, height);
}

/*
 * cuMemAllocAsync / cuMemAllocFromPoolAsync on a capturing stream: the
 * driver records a memory-allocation node and hands out its address at once
 * (the memory comes with the graph's launch), as cuGraphAddMemAllocNode.
 * Host pools are not captured here.
 */
CUresult gpx__cu_capture_alloc(struct sim_stream *s, int device, size_t size, CUdeviceptr *dptr)
{
    if (device < 0)
        return CUDA_ERROR_NOT_SUPPORTED;
    CUDA_MEM_ALLOC_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.poolProps.location.id = device;
    p.bytesize = size;
    CUgraphNode out;
    CUresult r = cuGraphAddMemAllocNode(&out, (CUgraph)s->capture, NULL, 0, &p);
    if (!r)
        *dptr = p.dptr;
    return r;
}

/* cuMemFreeAsync on a capturing stream: a memory-free node (graph allocations only). */
CUresult gpx__cu_capture_free(struct sim_stream *s, CUdeviceptr dptr)
{
    CUgraphNode out;
    return cuGraphAddMemFreeNode(&out, (CUgraph)s->capture, NULL, 0, dptr);
}

CUresult gpx__cu_capture_host(struct sim_stream *s, CUhostFn fn, void *ud)
{
    struct sim_gnode *n;
    CUresult r = node_new(s->capture, NULL, 0, CU_GRAPH_NODE_TYPE_HOST, &n);
    if (r)
        return r;
    n->u.host.fn = fn;
    n->u.host.userData = ud;
    node_link(n, NULL);
    return CUDA_SUCCESS;
}
