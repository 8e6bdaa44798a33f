/*
 * Paths the front ends share: the running binary's directory, files that
 * ship beside it (<bin>/../lib/gpuplex/... once installed, <bin>/../lib/...
 * in the build tree), and creating a directory with its parents. One copy, so that gpuplex,
 * gpuplexd and the engine look in the same places.
 */
#ifndef GPX_CORE_PATHS_H
#define GPX_CORE_PATHS_H

#include "gpuplex/error.h"

#include <stddef.h>
#include <sys/types.h>

#define GPX_INTERPOSER_NAME "libgpuplex-cuda.so"
/*
 * LIBDIR/gpuplex from the directory of an installed binary (bin/ or sbin/), e.g.
 * "/../lib/gpuplex"; CMake derives it from GNUInstallDirs (CMakeLists.txt).
 */
#ifndef GPX_PKGLIB_REL
#define GPX_PKGLIB_REL "/../lib/gpuplex"
#endif
/* The same files in the build tree: build/bin/../lib (the interposer, sim/). */
#define GPX_BUILDLIB_REL "/../lib"

/* The directory of the running binary (absolute). */
int gpx_exe_dir(char *out, size_t len, gpx_error *err);
/*
 * The first existing, readable <exe dir><rel[i]> (e.g. "/../lib/x.so"), made
 * absolute in out; NOT_FOUND naming the first candidate when none exists.
 */
int gpx_beside_exe(const char *const *rel, size_t n, char *out, size_t len, gpx_error *err);
/*
 * A file that ships with this binary, `name` relative to LIBDIR/gpuplex (e.g.
 * "sim/gpuplex-sim"): the installed layout's, else the build tree's lib/.
 */
int gpx_pkglib_path(const char *name, char *out, size_t len, gpx_error *err);
/* The interposer that ships with this binary: LIBDIR/gpuplex/libgpuplex-cuda.so. */
int gpx_interposer_path(char *out, size_t len, gpx_error *err);
/* mkdir -p (each missing component with `mode`). */
int gpx_mkdirs(const char *path, mode_t mode, gpx_error *err);

/*
 * A state directory's mode: its owner's alone, except that others may pass
 * through it to a file they know the name of (gpuplexd.lock, which tells
 * clients where the daemon listens); nobody else lists it or reads its
 * database (issue 10, finding 8).
 */
#define GPX_STATE_DIR_MODE 0711
/*
 * mkdir -p `path`, the missing parents 0755 and `path` itself `mode`; an
 * existing `path` owned by the caller that gives group or others more than
 * `mode` does is tightened to `mode`'s bits, with a warning.
 */
int gpx_mkdirs_private(const char *path, mode_t mode, gpx_error *err);
/*
 * Tightens the file dir/name to `mode`'s group and other bits when it is ours
 * and gives them more, with a warning; with `create`, a missing file is made
 * empty with `mode`. Errors are left to whoever opens the file next.
 */
void gpx_file_private(const char *dir, const char *name, mode_t mode, int create);

#endif
