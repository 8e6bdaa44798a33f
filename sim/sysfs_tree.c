/*
 * The simulated host's sysfs tree and the kernel's side of each write to it
 * (sysfs_tree.h). vGPU types and counts follow NVIDIA's vGPU documentation
 * (Virtual GPU Types for Supported GPUs: C-series types of the A100 40GB/80GB,
 * H100 80GB and H200 141GB, time-sliced and MIG-backed); the type ids are
 * the simulator's own.
 *
 * Capacity rules the driver applies and the simulator copies: a GPU holds
 * time-sliced vGPUs of one type at a time (up to the type's maximum), or
 * MIG-backed ones whose slices fit in the GPU's seven; never both.
 */
#define _GNU_SOURCE
#include "sysfs_tree.h"

#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vtype {
    unsigned id;
    const char *name;
    unsigned max;
    unsigned slices; /* MIG-backed: compute slices of its GPU instance; 0 = time-sliced */
};

static const struct vtype a100_40[] = {
    {465, "A100-4C", 10, 0},   {466, "A100-5C", 8, 0},    {467, "A100-8C", 5, 0},
    {468, "A100-10C", 4, 0},   {469, "A100-20C", 2, 0},   {470, "A100-40C", 1, 0},
    {471, "A100-1-5C", 7, 1},  {472, "A100-2-10C", 3, 2}, {473, "A100-3-20C", 2, 3},
    {474, "A100-4-20C", 1, 4}, {475, "A100-7-40C", 1, 7}, {0, NULL, 0, 0}};
static const struct vtype a100_80[] = {{476, "A100D-4C", 20, 0},
                                       {477, "A100D-8C", 10, 0},
                                       {478, "A100D-10C", 8, 0},
                                       {479, "A100D-16C", 5, 0},
                                       {480, "A100D-20C", 4, 0},
                                       {481, "A100D-40C", 2, 0},
                                       {482, "A100D-80C", 1, 0},
                                       {483, "A100D-1-10C", 7, 1},
                                       {484, "A100D-2-20C", 3, 2},
                                       {485, "A100D-3-40C", 2, 3},
                                       {486, "A100D-4-40C", 1, 4},
                                       {487, "A100D-7-80C", 1, 7},
                                       {0, NULL, 0, 0}};
static const struct vtype h100[] = {
    {1051, "H100-4C", 20, 0},   {1052, "H100-5C", 16, 0},   {1053, "H100-8C", 10, 0},
    {1054, "H100-10C", 8, 0},   {1055, "H100-16C", 5, 0},   {1056, "H100-20C", 4, 0},
    {1057, "H100-40C", 2, 0},   {1058, "H100-80C", 1, 0},   {1059, "H100-1-10C", 7, 1},
    {1060, "H100-1-20C", 4, 1}, {1061, "H100-2-20C", 3, 2}, {1062, "H100-3-40C", 2, 3},
    {1063, "H100-4-40C", 1, 4}, {1064, "H100-7-80C", 1, 7}, {0, NULL, 0, 0}};
static const struct vtype h200[] = {{1101, "H200-14C", 10, 0},
                                    {1102, "H200-17C", 8, 0},
                                    {1103, "H200-28C", 5, 0},
                                    {1104, "H200-35C", 4, 0},
                                    {1105, "H200-70C", 2, 0},
                                    {1106, "H200-141C", 1, 0},
                                    {1107, "H200-1-18C", 7, 1},
                                    {1108, "H200-1-35C", 4, 1},
                                    {1109, "H200-2-35C", 3, 2},
                                    {1110, "H200-3-71C", 2, 3},
                                    {1111, "H200-4-71C", 1, 4},
                                    {1112, "H200-7-141C", 1, 7},
                                    {0, NULL, 0, 0}};

/* What a simulated model offers: mdev (Ampere) or SR-IOV VFs (Hopper). */
static const struct vtype *types_of(const char *model, int *sriov_vfs)
{
    *sriov_vfs = 0;
    if (strcmp(model, "A100-40GB") == 0)
        return a100_40;
    if (strcmp(model, "A100-80GB") == 0)
        return a100_80;
    if (strcmp(model, "H100-80GB") == 0) {
        *sriov_vfs = 20;
        return h100;
    }
    if (strcmp(model, "H200-141GB") == 0) {
        *sriov_vfs = 16;
        return h200;
    }
    return NULL;
}

/* --- small file helpers (paths built with vsnprintf into PATH_MAX buffers) ------------------ */

__attribute__((format(printf, 2, 3))) static char *pf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    return out;
}

/* Copies with truncation (names that fit by construction). */
static void cpy(char *out, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(tmp, 0755);
            *s = '/';
        }
    mkdir(tmp, 0755);
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        fprintf(stderr, "gpuplex-sim: writing %s: %s\n", path, strerror(errno));
    close(fd);
}

__attribute__((format(printf, 2, 3))) static void putf(const char *path, const char *fmt, ...)
{
    char b[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    put(path, b);
}

static int get(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

static void link_to(const char *target, const char *path)
{
    unlink(path);
    if (symlink(target, path) < 0)
        fprintf(stderr, "gpuplex-sim: link %s: %s\n", path, strerror(errno));
}

static void rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char c[PATH_MAX];
        rmtree(pf(c, "%s/%s", path, de->d_name));
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static void logf_(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(FILE *log, const char *fmt, ...)
{
    if (!log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

/* --- devices ---------------------------------------------------------------------------------- */

static void dev_dir(char *out, const char *dir, const char *bdf)
{
    pf(out, "%s/devices/pci0000:00/%s", dir, bdf);
}

static const char *natural_driver(unsigned cls)
{
    if ((cls >> 16) == 0x03)
        return "nvidia";
    if ((cls >> 8) == 0x0403)
        return "snd_hda_intel";
    if ((cls >> 8) == 0x0604)
        return "pcieport";
    if ((cls >> 16) == 0x02)
        return "e1000e";
    return "";
}

static void set_driver(const char *dir, const char *bdf, const char *drv)
{
    char d[PATH_MAX], p[PATH_MAX], t[PATH_MAX];
    dev_dir(d, dir, bdf);
    if (drv && *drv) {
        link_to(pf(t, "../../../bus/pci/drivers/%s", drv), pf(p, "%s/driver", d));
        link_to(pf(t, "../../../../devices/pci0000:00/%s", bdf),
                pf(p, "%s/bus/pci/drivers/%s/%s", dir, drv, bdf));
    }
}

static void current_driver(const char *dir, const char *bdf, char *out, size_t len)
{
    char p[PATH_MAX], t[PATH_MAX];
    dev_dir(p, dir, bdf);
    size_t n = strlen(p);
    snprintf(p + n, sizeof p - n, "/driver");
    ssize_t r = readlink(p, t, sizeof t - 1);
    out[0] = '\0';
    if (r <= 0)
        return;
    t[r] = '\0';
    const char *b = strrchr(t, '/');
    cpy(out, len, b ? b + 1 : t);
}

static void drop_driver(const char *dir, const char *bdf)
{
    char drv[64], p[PATH_MAX], d[PATH_MAX];
    current_driver(dir, bdf, drv, sizeof drv);
    if (!drv[0])
        return;
    dev_dir(d, dir, bdf);
    unlink(pf(p, "%s/driver", d));
    unlink(pf(p, "%s/bus/pci/drivers/%s/%s", dir, drv, bdf));
}

static void add_device(const char *dir, const char *bdf, unsigned vendor, unsigned device,
                       unsigned cls, int group, const char *model)
{
    char d[PATH_MAX], p[PATH_MAX], t[PATH_MAX];
    dev_dir(d, dir, bdf);
    mkdirs(d);
    putf(pf(p, "%s/vendor", d), "0x%04x\n", vendor);
    putf(pf(p, "%s/device", d), "0x%04x\n", device);
    putf(pf(p, "%s/class", d), "0x%06x\n", cls);
    put(pf(p, "%s/driver_override", d), "(null)\n");
    if (model)
        put(pf(p, "%s/.sim_model", d), model);
    link_to(pf(t, "../../../devices/pci0000:00/%s", bdf), pf(p, "%s/bus/pci/devices/%s", dir, bdf));
    mkdirs(pf(p, "%s/kernel/iommu_groups/%d/devices", dir, group));
    link_to(pf(t, "../../../kernel/iommu_groups/%d", group), pf(p, "%s/iommu_group", d));
    link_to(pf(t, "../../../../devices/pci0000:00/%s", bdf),
            pf(p, "%s/kernel/iommu_groups/%d/devices/%s", dir, group, bdf));
    set_driver(dir, bdf, natural_driver(cls));
}

static unsigned read_class(const char *dir, const char *bdf)
{
    char p[PATH_MAX], d[PATH_MAX], b[32];
    dev_dir(d, dir, bdf);
    return get(pf(p, "%s/class", d), b, sizeof b) == 0 ? (unsigned)strtoul(b, NULL, 0) : 0;
}

static int read_model(const char *dir, const char *bdf, char *out, size_t len)
{
    char p[PATH_MAX], d[PATH_MAX];
    dev_dir(d, dir, bdf);
    return get(pf(p, "%s/.sim_model", d), out, len);
}

void (*gpx_sim_sysfs_before_publish)(const char *dir);

static void before_publish(const char *dir)
{
    if (gpx_sim_sysfs_before_publish)
        gpx_sim_sysfs_before_publish(dir);
}

/* --- vGPU capacity ------------------------------------------------------------------------------
 */

struct usage {
    unsigned count[32]; /* vGPUs per type index */
    unsigned slices;    /* MIG slices used */
    int timesliced;     /* index of the time-sliced type in use, -1 none */
    unsigned total;
};

static unsigned available(const struct vtype *t, int k, const struct usage *u)
{
    if (t[k].slices == 0) {
        if (u->slices || (u->timesliced >= 0 && u->timesliced != k))
            return 0;
        return t[k].max - u->count[k];
    }
    if (u->timesliced >= 0)
        return 0;
    unsigned by_slices = (7 - u->slices) / t[k].slices;
    unsigned by_max = t[k].max - u->count[k];
    return by_slices < by_max ? by_slices : by_max;
}

static int type_index(const struct vtype *t, unsigned id)
{
    for (int k = 0; t[k].name; k++)
        if (t[k].id == id)
            return k;
    return -1;
}

static void count_use(struct usage *u, const struct vtype *t, int k)
{
    if (k < 0)
        return;
    u->count[k]++;
    u->total++;
    if (t[k].slices)
        u->slices += t[k].slices;
    else
        u->timesliced = k;
}

/* mdev: the parent's vGPUs are the <uuid> dirs with an mdev_type link. */
static void mdev_usage(const char *dir, const char *bdf, const struct vtype *t, struct usage *u)
{
    char d[PATH_MAX], p[PATH_MAX], tgt[PATH_MAX];
    memset(u, 0, sizeof *u);
    u->timesliced = -1;
    dev_dir(d, dir, bdf);
    DIR *dh = opendir(d);
    struct dirent *de;
    while (dh && (de = readdir(dh))) {
        ssize_t n = readlink(pf(p, "%s/%s/mdev_type", d, de->d_name), tgt, sizeof tgt - 1);
        if (n <= 0)
            continue;
        tgt[n] = '\0';
        const char *b = strrchr(tgt, '-');
        count_use(u, t, b ? type_index(t, (unsigned)strtoul(b + 1, NULL, 10)) : -1);
    }
    if (dh)
        closedir(dh);
}

static void mdev_recompute(const char *dir, const char *bdf)
{
    char model[32], d[PATH_MAX], p[PATH_MAX];
    int vfs;
    const struct vtype *t;
    if (read_model(dir, bdf, model, sizeof model) < 0 || !(t = types_of(model, &vfs)) || vfs)
        return;
    struct usage u;
    mdev_usage(dir, bdf, t, &u);
    dev_dir(d, dir, bdf);
    for (int k = 0; t[k].name; k++)
        putf(pf(p, "%s/mdev_supported_types/nvidia-%u/available_instances", d, t[k].id), "%u\n",
             available(t, k, &u));
}

static unsigned numvfs(const char *dir, const char *pfbdf)
{
    char d[PATH_MAX], p[PATH_MAX], b[32];
    dev_dir(d, dir, pfbdf);
    return get(pf(p, "%s/sriov_numvfs", d), b, sizeof b) == 0 ? (unsigned)strtoul(b, NULL, 10) : 0;
}

static void vf_name(const char *pfbdf, unsigned i, char out[32])
{
    unsigned dom, bus, slot, fn;
    if (sscanf(pfbdf, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
        dom = bus = slot = fn = 0;
    unsigned devfn = ((slot << 3) | fn) + 4 + i; /* VF offset 4, stride 1 */
    snprintf(out, 32, "%04x:%02x:%02x.%x", dom, bus, (devfn >> 3) & 0x1f, devfn & 7);
}

static unsigned vf_type(const char *dir, const char *vf)
{
    char d[PATH_MAX], p[PATH_MAX], b[32];
    dev_dir(d, dir, vf);
    return get(pf(p, "%s/nvidia/.type", d), b, sizeof b) == 0 ? (unsigned)strtoul(b, NULL, 10) : 0;
}

static void vf_recompute(const char *dir, const char *pfbdf)
{
    char model[32], d[PATH_MAX], p[PATH_MAX], vf[32];
    int tv;
    const struct vtype *t;
    if (read_model(dir, pfbdf, model, sizeof model) < 0 || !(t = types_of(model, &tv)) || !tv)
        return;
    unsigned n = numvfs(dir, pfbdf);
    struct usage u;
    memset(&u, 0, sizeof u);
    u.timesliced = -1;
    for (unsigned i = 0; i < n; i++) {
        vf_name(pfbdf, i, vf);
        unsigned id = vf_type(dir, vf);
        if (id)
            count_use(&u, t, type_index(t, id));
    }
    /* a type is listed on as many free VFs as instances of it can still be made (the
     * k-th free VF lists the types with more than k left); a VF that holds a vGPU lists
     * nothing more */
    unsigned k_free = 0;
    for (unsigned i = 0; i < n; i++) {
        char text[4096];
        size_t used = (size_t)snprintf(text, sizeof text, "ID    : vGPU Name\n");
        vf_name(pfbdf, i, vf);
        dev_dir(d, dir, vf);
        if (!vf_type(dir, vf)) {
            for (int k = 0; t[k].name; k++)
                if (available(t, k, &u) > k_free && used < sizeof text)
                    used += (size_t)snprintf(text + used, sizeof text - used, "%-5u : %s\n",
                                             t[k].id, t[k].name);
            k_free++;
        }
        put(pf(p, "%s/nvidia/creatable_vgpu_types", d), text);
    }
}

static void set_numvfs(const char *dir, const char *pfbdf, unsigned want, FILE *log)
{
    char model[32], d[PATH_MAX], p[PATH_MAX], t[PATH_MAX], vf[32];
    int total;
    if (read_model(dir, pfbdf, model, sizeof model) < 0 || !types_of(model, &total) || !total)
        return;
    dev_dir(d, dir, pfbdf);
    /* the VFs there now: the virtfn links */
    unsigned have = 0;
    while (have < (unsigned)total && access(pf(p, "%s/virtfn%u", d, have), F_OK) == 0)
        have++;
    if (want == have)
        return;
    if (want > (unsigned)total || (have && want && want != have)) {
        /* the kernel refuses (EBUSY/EINVAL): the file shows what is */
        logf_(log, "sriov_numvfs %s %u refused (have %u)", pfbdf, want, have);
        putf(pf(p, "%s/sriov_numvfs", d), "%u\n", have);
        return;
    }
    for (unsigned i = want; i < have; i++) { /* disabling */
        vf_name(pfbdf, i, vf);
        drop_driver(dir, vf);
        char vd[PATH_MAX], g[PATH_MAX];
        dev_dir(vd, dir, vf);
        char grp[PATH_MAX];
        ssize_t r = readlink(pf(g, "%s/iommu_group", vd), grp, sizeof grp - 1);
        if (r > 0) {
            grp[r] = '\0';
            const char *b = strrchr(grp, '/');
            rmtree(pf(g, "%s/kernel/iommu_groups/%s", dir, b ? b + 1 : grp));
        }
        rmtree(vd);
        unlink(pf(p, "%s/bus/pci/devices/%s", dir, vf));
        unlink(pf(p, "%s/virtfn%u", d, i));
    }
    int gpu_group = 0;
    {
        char grp[PATH_MAX];
        ssize_t r = readlink(pf(p, "%s/iommu_group", d), grp, sizeof grp - 1);
        if (r > 0) {
            grp[r] = '\0';
            const char *b = strrchr(grp, '/');
            gpu_group = atoi(b ? b + 1 : grp);
        }
    }
    for (unsigned i = have; i < want; i++) { /* enabling */
        vf_name(pfbdf, i, vf);
        char vd[PATH_MAX];
        add_device(dir, vf, 0x10de, 0x2330, 0x030200, 1000 + gpu_group * 64 + (int)i, NULL);
        dev_dir(vd, dir, vf);
        link_to(pf(t, "../%s", pfbdf), pf(p, "%s/physfn", vd));
        mkdirs(pf(p, "%s/nvidia", vd));
        put(pf(p, "%s/nvidia/current_vgpu_type", vd), "0\n");
        put(pf(p, "%s/nvidia/.type", vd), "0");
        put(pf(p, "%s/nvidia/gpu_instance_id", vd), "-1\n");
        put(pf(p, "%s/nvidia/creatable_vgpu_types", vd), "ID    : vGPU Name\n");
    }
    putf(pf(p, "%s/sriov_numvfs", d), "%u\n", want);
    vf_recompute(dir, pfbdf);
    /* the virtfn links last: they are what a waiting writer looks for */
    before_publish(dir);
    for (unsigned i = have; i < want; i++) {
        vf_name(pfbdf, i, vf);
        link_to(pf(t, "../%s", vf), pf(p, "%s/virtfn%u", d, i));
    }
    logf_(log, "sriov_numvfs %s %u", pfbdf, want);
}

/* --- the tree ------------------------------------------------------------------------------------
 */

static const char *const host_drivers[] = {"nvidia", "vfio-pci", "snd_hda_intel", "pcieport",
                                           "e1000e"};

static void add_gpu(const char *dir, const struct gpx_sim_gpu *g, int foreign)
{
    const struct gpx_sim_model_info *m = gpx_sim_model((enum gpx_sim_model)g->model);
    char gpu[32], audio[32], bridge[32], nic[32], d[PATH_MAX], p[PATH_MAX], t[PATH_MAX];
    int group = (int)g->index + 10;
    snprintf(gpu, sizeof gpu, "0000:%02x:00.0", g->pci_bus & 0xff);
    snprintf(audio, sizeof audio, "0000:%02x:00.1", g->pci_bus & 0xff);
    snprintf(bridge, sizeof bridge, "0000:%02x:00.0", (g->pci_bus - 1) & 0xff);
    snprintf(nic, sizeof nic, "0000:%02x:00.0", (g->pci_bus + 1) & 0xff);
    add_device(dir, bridge, 0x10b5, 0xc010, 0x060400, group, NULL);
    add_device(dir, gpu, 0x10de, m->pci_device_id >> 16, 0x030200, group, m->spec_name);
    add_device(dir, audio, 0x10de, 0x22ba, 0x040300, group, NULL);
    if (foreign)
        add_device(dir, nic, 0x8086, 0x10d3, 0x020000, group, NULL);
    int vfs;
    const struct vtype *vt = types_of(m->spec_name, &vfs);
    dev_dir(d, dir, gpu);
    if (vt && vfs) {
        putf(pf(p, "%s/sriov_totalvfs", d), "%d\n", vfs);
        put(pf(p, "%s/sriov_numvfs", d), "0\n");
        /* as after NVIDIA's sriov-manage -e: the VFs are there */
        set_numvfs(dir, gpu, (unsigned)vfs, NULL);
    } else if (vt) {
        link_to(pf(t, "../../devices/pci0000:00/%s", gpu), pf(p, "%s/class/mdev_bus/%s", dir, gpu));
        for (int k = 0; vt[k].name; k++) {
            char td[PATH_MAX];
            pf(td, "%s/mdev_supported_types/nvidia-%u", d, vt[k].id);
            mkdirs(td);
            put(pf(p, "%s/name", td), vt[k].name);
            putf(pf(p, "%s/description", td),
                 "num_heads=1, frl_config=60, framebuffer=%uM, max_resolution=4096x2160, "
                 "max_instance=%u\n",
                 (unsigned)(strtoul(strrchr(vt[k].name, '-') + 1, NULL, 10) * 1024), vt[k].max);
            put(pf(p, "%s/device_api", td), "vfio-pci\n");
            put(pf(p, "%s/create", td), "");
            mkdirs(pf(p, "%s/devices", td));
        }
        mdev_recompute(dir, gpu);
    }
}

int gpx_sim_sysfs_create(const char *dir, const struct gpx_sim_state *st, int foreign)
{
    char p[PATH_MAX];
    if (access(pf(p, "%s/bus/pci", dir), F_OK) == 0) {
        const char *top[] = {"devices", "bus", "kernel", "class"};
        for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
            rmtree(pf(p, "%s/%s", dir, top[i]));
        unlink(pf(p, "%s/.kernel.log", dir));
    }
    mkdirs(pf(p, "%s/bus/pci/devices", dir));
    mkdirs(pf(p, "%s/bus/mdev/devices", dir));
    mkdirs(pf(p, "%s/class/mdev_bus", dir));
    mkdirs(pf(p, "%s/kernel/iommu_groups", dir));
    put(pf(p, "%s/bus/pci/drivers_probe", dir), "");
    for (size_t i = 0; i < sizeof host_drivers / sizeof host_drivers[0]; i++) {
        mkdirs(pf(p, "%s/bus/pci/drivers/%s", dir, host_drivers[i]));
        put(pf(p, "%s/bus/pci/drivers/%s/bind", dir, host_drivers[i]), "");
        put(pf(p, "%s/bus/pci/drivers/%s/unbind", dir, host_drivers[i]), "");
    }
    if (foreign >= (int)st->hdr->gpu_count) {
        fprintf(stderr, "gpuplex sim: --sysfs-foreign %d: the node has GPUs 0..%u\n", foreign,
                st->hdr->gpu_count - 1);
        return -1;
    }
    for (uint32_t i = 0; i < st->hdr->gpu_count; i++)
        add_gpu(dir, &st->gpus[i], (int)i == foreign);
    return 0;
}

/* --- the kernel's side of a write
 * ------------------------------------------------------------------- */

static void probe(const char *dir, const char *bdf, FILE *log)
{
    char drv[64], d[PATH_MAX], p[PATH_MAX], ov[64];
    current_driver(dir, bdf, drv, sizeof drv);
    if (drv[0])
        return;
    dev_dir(d, dir, bdf);
    if (get(pf(p, "%s/driver_override", d), ov, sizeof ov) < 0 || strcmp(ov, "(null)") == 0)
        ov[0] = '\0';
    const char *pick = ov[0] ? ov : natural_driver(read_class(dir, bdf));
    if (access(pf(p, "%s/physfn", d), F_OK) == 0 && !ov[0])
        pick = "nvidia";
    if (*pick && access(pf(p, "%s/bus/pci/drivers/%s", dir, pick), F_OK) == 0)
        set_driver(dir, bdf, pick);
    current_driver(dir, bdf, drv, sizeof drv);
    logf_(log, "drivers_probe %s -> %s", bdf, drv[0] ? drv : "none");
}

static void clear_trigger(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
}

void gpx_sim_sysfs_event(const char *dir, const char *rel, FILE *log)
{
    char path[PATH_MAX], val[256], p[PATH_MAX], t[PATH_MAX];
    if (get(pf(path, "%s/%s", dir, rel), val, sizeof val) < 0)
        return;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", (int)(base - rel > 0 ? base - rel - 1 : 0), rel);
    const char *pname = strrchr(parent, '/');
    pname = pname ? pname + 1 : parent;

    if (strcmp(base, "driver_override") == 0) {
        if (strcmp(val, "(null)") == 0)
            return; /* our own note that it is clear */
        logf_(log, "driver_override %s %s", pname, val[0] ? val : "(cleared)");
        if (!val[0])
            put(path, "(null)\n");
    } else if (strcmp(base, "unbind") == 0 && val[0]) {
        clear_trigger(path);
        char drv[64];
        current_driver(dir, val, drv, sizeof drv);
        if (strcmp(drv, pname) == 0)
            drop_driver(dir, val);
        logf_(log, "unbind %s %s%s", pname, val, strcmp(drv, pname) ? " (not bound: ENODEV)" : "");
    } else if (strcmp(base, "bind") == 0 && val[0]) {
        clear_trigger(path);
        char drv[64];
        current_driver(dir, val, drv, sizeof drv);
        if (!drv[0])
            set_driver(dir, val, pname);
        logf_(log, "bind %s %s", pname, val);
    } else if (strcmp(base, "drivers_probe") == 0 && val[0]) {
        clear_trigger(path);
        probe(dir, val, log);
    } else if (strcmp(base, "create") == 0 && val[0] && strstr(rel, "mdev_supported_types")) {
        clear_trigger(path);
        /* rel: devices/pci0000:00/<bdf>/mdev_supported_types/nvidia-N/create */
        char bdf[32] = "", type[64];
        cpy(type, sizeof type, pname);
        const char *m = strstr(rel, "/mdev_supported_types");
        const char *s = m;
        while (s > rel && s[-1] != '/')
            s--;
        snprintf(bdf, sizeof bdf, "%.*s", (int)(m - s), s);
        char a[32];
        if (get(pf(p, "%s/%s/available_instances", dir, parent), a, sizeof a) < 0 ||
            strtoul(a, NULL, 10) == 0) {
            logf_(log, "mdev create %s %s %s refused (no instance available)", bdf, type, val);
            return;
        }
        char d[PATH_MAX];
        dev_dir(d, dir, bdf);
        mkdirs(pf(p, "%s/%s", d, val));
        put(pf(p, "%s/%s/remove", d, val), "");
        link_to(pf(t, "../mdev_supported_types/%s", type), pf(p, "%s/%s/mdev_type", d, val));
        mdev_recompute(dir, bdf);
        before_publish(dir);
        link_to(pf(t, "../../../devices/pci0000:00/%s/%s", bdf, val),
                pf(p, "%s/bus/mdev/devices/%s", dir, val));
        logf_(log, "mdev create %s %s %s", bdf, type, val);
    } else if (strcmp(base, "remove") == 0 && val[0]) {
        /* rel: devices/pci0000:00/<bdf>/<uuid>/remove */
        char bdf[32], uuid[64];
        cpy(uuid, sizeof uuid, pname);
        const char *e = strrchr(parent, '/');
        const char *s = e;
        while (s > parent && s[-1] != '/')
            s--;
        snprintf(bdf, sizeof bdf, "%.*s", (int)(e - s), s);
        rmtree(pf(p, "%s/%s", dir, parent));
        mdev_recompute(dir, bdf);
        /* the bus link last: it is what a waiting writer looks for */
        unlink(pf(p, "%s/bus/mdev/devices/%s", dir, uuid));
        logf_(log, "mdev remove %s %s", bdf, uuid);
    } else if (strcmp(base, "sriov_numvfs") == 0) {
        set_numvfs(dir, pname, (unsigned)strtoul(val, NULL, 10), log);
    } else if (strcmp(base, "current_vgpu_type") == 0) {
        /* rel: devices/pci0000:00/<vf>/nvidia/current_vgpu_type */
        char vf[32], d[PATH_MAX], phys[PATH_MAX];
        const char *e = strrchr(parent, '/');
        const char *s = e;
        while (s > parent && s[-1] != '/')
            s--;
        snprintf(vf, sizeof vf, "%.*s", (int)(e - s), s);
        unsigned want = (unsigned)strtoul(val, NULL, 10), have = vf_type(dir, vf);
        if (want == have)
            return;
        dev_dir(d, dir, vf);
        ssize_t r = readlink(pf(p, "%s/physfn", d), phys, sizeof phys - 1);
        if (r <= 0)
            return;
        phys[r] = '\0';
        const char *pfbdf = strrchr(phys, '/') ? strrchr(phys, '/') + 1 : phys;
        int ok = want == 0;
        if (!ok && !have && get(pf(p, "%s/nvidia/creatable_vgpu_types", d), t, sizeof t) == 0) {
            char key[32];
            snprintf(key, sizeof key, "\n%-5u :", want);
            ok = strstr(t, key) != NULL;
        }
        if (!ok) {
            logf_(log, "current_vgpu_type %s %u refused (not creatable)", vf, want);
            putf(path, "%u\n", have);
            return;
        }
        putf(pf(p, "%s/nvidia/.type", d), "%u", want);
        vf_recompute(dir, pfbdf);
        logf_(log, "current_vgpu_type %s %u", vf, want);
    }
}

void gpx_sim_sysfs_reboot(const char *dir, FILE *log)
{
    char p[PATH_MAX], d[PATH_MAX];
    DIR *dh = opendir(pf(p, "%s/devices/pci0000:00", dir));
    struct dirent *de;
    char **pfs = NULL;
    size_t npf = 0;
    while (dh && (de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        dev_dir(d, dir, de->d_name);
        if (access(pf(p, "%s/sriov_totalvfs", d), F_OK) == 0) {
            char **n = realloc(pfs, (npf + 1) * sizeof *n);
            if (n) {
                pfs = n;
                pfs[npf++] = strdup(de->d_name);
            }
        }
    }
    if (dh)
        closedir(dh);
    for (size_t i = 0; i < npf; i++) {
        if (pfs[i])
            set_numvfs(dir, pfs[i], 0, NULL);
        free(pfs[i]);
    }
    free(pfs);
    /* mdevs are gone, overrides cleared, every device on its host driver */
    dh = opendir(pf(p, "%s/bus/mdev/devices", dir));
    while (dh && (de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char tgt[PATH_MAX], full[PATH_MAX];
        ssize_t r = readlink(pf(p, "%s/bus/mdev/devices/%s", dir, de->d_name), tgt, sizeof tgt - 1);
        if (r > 0) {
            tgt[r] = '\0';
            rmtree(pf(full, "%s/bus/mdev/devices/%s", dir, tgt));
        }
        unlink(p);
    }
    if (dh)
        closedir(dh);
    dh = opendir(pf(p, "%s/devices/pci0000:00", dir));
    while (dh && (de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        dev_dir(d, dir, de->d_name);
        put(pf(p, "%s/driver_override", d), "(null)\n");
        drop_driver(dir, de->d_name);
        set_driver(dir, de->d_name, natural_driver(read_class(dir, de->d_name)));
        mdev_recompute(dir, de->d_name);
    }
    if (dh)
        closedir(dh);
    logf_(log, "reboot");
}

void gpx_sim_sysfs_watch_dirs(const char *dir, void (*fn)(const char *path, void *arg), void *arg)
{
    char p[PATH_MAX], d[PATH_MAX];
    fn(pf(p, "%s/bus/pci", dir), arg);
    for (size_t i = 0; i < sizeof host_drivers / sizeof host_drivers[0]; i++)
        fn(pf(p, "%s/bus/pci/drivers/%s", dir, host_drivers[i]), arg);
    DIR *dh = opendir(pf(p, "%s/devices/pci0000:00", dir));
    struct dirent *de;
    while (dh && (de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        dev_dir(d, dir, de->d_name);
        fn(d, arg);
        if (access(pf(p, "%s/nvidia", d), F_OK) == 0)
            fn(p, arg);
        DIR *sub = opendir(d);
        struct dirent *se;
        while (sub && (se = readdir(sub))) {
            char q[PATH_MAX];
            if (se->d_name[0] == '.')
                continue;
            if (strcmp(se->d_name, "mdev_supported_types") == 0) {
                DIR *td = opendir(pf(q, "%s/mdev_supported_types", d));
                struct dirent *te;
                while (td && (te = readdir(td)))
                    if (te->d_name[0] != '.')
                        fn(pf(p, "%s/mdev_supported_types/%s", d, te->d_name), arg);
                if (td)
                    closedir(td);
            } else if (access(pf(q, "%s/%s/mdev_type", d, se->d_name), F_OK) == 0) {
                fn(pf(p, "%s/%s", d, se->d_name), arg);
            }
        }
        if (sub)
            closedir(sub);
    }
    if (dh)
        closedir(dh);
}
