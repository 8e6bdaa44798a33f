/*
 * The help of `gpuplex sim`, one text for the CLI's command table
 * (src/cli/cmd_sim.c) and the simulator's tool (sim/gpuplex_sim.c). A string,
 * nothing to link.
 */
#ifndef GPX_SIM_USAGE_H
#define GPX_SIM_USAGE_H

#define GPX_SIM_USAGE                                                                              \
    "usage: gpuplex sim init --gpus SPEC [--state FILE] [--driver VERSION]\n"                      \
    "                        [--cuda-version X.Y] [--sysfs DIR [--sysfs-foreign N]]\n"             \
    "       gpuplex sim models\n"                                                                  \
    "       gpuplex sim engine [--state FILE] [--json]\n"                                          \
    "\n"                                                                                           \
    "The simulator provides ABI-compatible libnvidia-ml.so.1 and libcuda.so.1 over\n"              \
    "one shared state file, so gpuplex, its tests and third-party tools run without\n"             \
    "an NVIDIA GPU. 'sim init' creates (or replaces) a node; then set\n"                           \
    "GPUPLEX_SIM=FILE and every gpuplex command uses it.\n"                                        \
    "\n"                                                                                           \
    "  --gpus SPEC    comma-separated [Nx]MODEL items, e.g. 2xH100-80GB,1xA100-40GB\n"             \
    "                 models: A100-40GB, A100-80GB, H100-80GB, H200-141GB\n"                       \
    "                 (at most 16 GPUs)\n"                                                         \
    "  --state FILE   the state file to write (default: $GPUPLEX_SIM)\n"                           \
    "  --driver VERSION  the driver the node reports (nvmlSystemGetDriverVersion),\n"              \
    "                 e.g. 580.65.06; its branch sets the CUDA version it reports\n"               \
    "                 (cuDriverGetVersion, nvmlSystemGetCudaDriverVersion), as on a\n"             \
    "                 real node: 525 12.0, 530 12.1, 535 12.2, 545 12.3, 550 12.4,\n"              \
    "                 555 12.5, 560 12.6, 565 12.7, 570 12.8, 575 12.9, 580 13.0;\n"               \
    "                 other branches are refused (default: 550.54.15, CUDA 12.4)\n"                \
    "  --cuda-version X.Y  report this CUDA version instead of the branch's\n"                     \
    "                 (12.0 .. 13.9): a driver newer or older than its branch\n"                   \
    "  --sysfs DIR    also write a sysfs tree for the GPUs (PCI devices, IOMMU groups\n"           \
    "                 with the audio function, drivers, mdev types on A100, SR-IOV VFs\n"          \
    "                 with creatable_vgpu_types on H100/H200) for GPUPLEX_SYSFS_ROOT;\n"           \
    "                 gpuplex-sim-kernel --sysfs DIR (lib/sim) plays the kernel's part\n"          \
    "  --sysfs-foreign N  put a NIC bound to a host driver in GPU N's IOMMU group\n"               \
    "\n"                                                                                           \
    "'sim models' lists the models with their SM counts, memory and power limits.\n"               \
    "'sim engine' prints the simulated engine's own accounting: per GPU and per\n"                 \
    "process, the GPU time its kernels have run up to now (GPU_MS_RUN, exact while\n"              \
    "EXACT says yes), what is queued, and kernels submitted: the ground truth the\n"               \
    "benchmarks compare the arbiter's figures with (a real GPU has no such figure).\n"

#endif
