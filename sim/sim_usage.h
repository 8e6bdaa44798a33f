/*
 * The help of `gpuplex sim`, one text for the CLI's command table
 * (src/cli/cmd_sim.c) and the simulator's tool (sim/gpuplex_sim.c). A string,
 * nothing to link.
 */
#ifndef GPX_SIM_USAGE_H
#define GPX_SIM_USAGE_H

#define GPX_SIM_USAGE                                                                              \
    "usage: gpuplex sim init --gpus SPEC [--state FILE]\n"                                         \
    "       gpuplex sim models\n"                                                                  \
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
    "\n"                                                                                           \
    "'sim models' lists the models with their SM counts, memory and power limits.\n"

#endif
