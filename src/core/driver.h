/*
 * Driver selection, shared by every front end (gpuplex, gpuplexd). The
 * product always loads libnvidia-ml.so.1 / libcuda.so.1; this only decides
 * which directory comes first. GPUPLEX_SIM=FILE means "the simulated driver
 * shipped with this gpuplex", found next to the running binary:
 * <bin>/../lib/gpuplex/sim (installed) or <bin>/../lib/sim (build tree).
 * An explicit GPUPLEX_DRIVER_DIR always wins.
 */
#ifndef GPX_DRIVER_H
#define GPX_DRIVER_H

/*
 * When GPUPLEX_SIM is set (and GPUPLEX_DRIVER_DIR is not), sets
 * GPUPLEX_DRIVER_DIR to the simulated driver's directory and prepends it to
 * LD_LIBRARY_PATH, so this process's NVML loader and every child process find
 * it. Does nothing otherwise. Call before opening NVML or starting children.
 */
void gpx_driver_select(void);

#endif
