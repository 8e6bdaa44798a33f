/*
 * A lease's limits file is read by its tenant's processes and by nobody else:
 * the engine owns it (mode 0400, so the tenant can't chmod or rewrite it) and
 * a POSIX ACL entry gives the tenant's uid read access. Plain mode bits can't
 * say "this one other user may read": a group would let its other members in.
 */
#include "engine/internal.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

int gpx__region_grant(const char *run_dir, const char *id, uint32_t uid, gpx_error *err)
{
    if (uid == (uint32_t)geteuid())
        return 0; /* the owner reads its own 0400 file */
    char path[4300];
    if ((size_t)snprintf(path, sizeof path, "%s/leases/%s.limits", run_dir, id) >= sizeof path)
        return gpx_error_set(err, GPX_E_INVALID, "run directory path too long");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return gpx_error_errno(err, GPX_E_IO, errno, "opening %s", path);
    char text[96];
    snprintf(text, sizeof text, "u::r,u:%u:r,g::-,m::r,o::-", (unsigned)uid);
    acl_t acl = acl_from_text(text);
    int rc = acl ? acl_set_fd(fd, acl) : -1;
    int e = errno;
    if (acl)
        acl_free(acl);
    if (rc < 0 && (e == EOPNOTSUPP || e == ENOTSUP)) {
        /* No ACLs on this file system: readable by all rather than unusable by the tenant. */
        gpx_warn("%s: the file system of %s has no POSIX ACLs; lease %s's limits are readable "
                 "by every local user (its usage file stays the tenant's alone)",
                 path, run_dir, id);
        rc = fchmod(fd, 0444);
        e = errno;
    }
    close(fd);
    if (rc < 0)
        return gpx_error_errno(err, GPX_E_IO, e, "giving uid %u read access to %s", (unsigned)uid,
                               path);
    return 0;
}
