/*
 * The simulated host's sysfs (issue 13, item 4): the tree `gpuplex sim init
 * --sysfs DIR` writes for the simulated GPUs, and the kernel's side of each
 * write, which gpuplex-sim-kernel (sim/sim_kernel.c) plays in tests. Test
 * double only: the product reads and writes the tree through
 * GPUPLEX_SYSFS_ROOT and links nothing from here.
 *
 * Layout (the parts of Linux's sysfs that src/vm reads):
 *   devices/pci0000:00/<bdf>/{vendor,device,class,driver_override,driver@,iommu_group@}
 *   bus/pci/devices/<bdf>@, bus/pci/drivers/<drv>/{bind,unbind,<bdf>@}, bus/pci/drivers_probe
 *   kernel/iommu_groups/<n>/devices/<bdf>@
 *   A100: class/mdev_bus/<bdf>@, <bdf>/mdev_supported_types/nvidia-N/{name,description,
 *         available_instances,create,device_api}, bus/mdev/devices/<uuid>@ -> <bdf>/<uuid>
 *   H100/H200: <bdf>/{sriov_totalvfs,sriov_numvfs,virtfnN@}, VF <bdf>/{physfn@,
 *         nvidia/{creatable_vgpu_types,current_vgpu_type,gpu_instance_id}}
 * Each GPU's IOMMU group holds a PCIe bridge (pcieport), the GPU (nvidia) and its
 * audio function (snd_hda_intel); --sysfs-foreign N adds a NIC (e1000e) to GPU N's.
 * Dot files (.sim_model, .type) are the simulator's own notes.
 */
#ifndef GPX_SIM_SYSFS_TREE_H
#define GPX_SIM_SYSFS_TREE_H

#include <stdio.h>

struct gpx_sim_state;

/* Writes the tree under dir (created; replaced if it holds a tree). foreign: GPU index
 * whose group gets a foreign NIC, -1 for none. 0 or -1 (message on stderr). */
int gpx_sim_sysfs_create(const char *dir, const struct gpx_sim_state *st, int foreign);

/* The kernel's side of one write (path relative to dir, content as written); appends
 * what it did to `log` (may be NULL). */
void gpx_sim_sysfs_event(const char *dir, const char *rel, FILE *log);

/* A host reboot: VFs disabled, vGPUs and mdevs gone, driver_override cleared, every
 * device back on its host driver. */
void gpx_sim_sysfs_reboot(const char *dir, FILE *log);

/* Called right before new devices (VFs, mdevs) are published (the links a waiting writer
 * looks for), so that the kernel helper watches them before anyone can write to them. */
extern void (*gpx_sim_sysfs_before_publish)(const char *dir);

/* Calls fn for each directory whose files take writes (for inotify watches). */
void gpx_sim_sysfs_watch_dirs(const char *dir, void (*fn)(const char *path, void *arg), void *arg);

#endif
