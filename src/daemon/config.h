/*
 * gpuplexd configuration: defaults, then the config file, then command-line
 * flags, each later source overriding the earlier. One setter
 * (gpxd_config_set) serves both the file and the flags so that they accept
 * exactly the same keys and spellings (docs/daemon.md lists them).
 *
 * File format: one `key = value` per line; blank lines and lines whose first
 * non-blank character is '#' are ignored; values are taken verbatim after
 * trimming (no quoting, no escapes). Unknown and repeated keys are errors
 * that name the file and line, so a typo never silently keeps a default.
 */
#ifndef GPXD_CONFIG_H
#define GPXD_CONFIG_H

#include "core/placement.h"
#include "gpuplex/error.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GPXD_DEFAULT_CONFIG "/etc/gpuplex/gpuplexd.conf"
#define GPXD_DEFAULT_SOCKET "/run/gpuplex/gpuplexd.sock"
#define GPXD_DEFAULT_STATE  "/var/lib/gpuplex"

struct gpxd_config {
    char socket_path[PATH_MAX]; /* unix socket; always served */
    unsigned socket_mode;       /* permissions of the socket file; callers are told apart by uid */
    char listen[128];           /* "" or "127.0.0.1:7470" */
    int allow_remote;           /* accept a non-loopback listen address */
    char tls_cert[PATH_MAX];    /* PEM certificate (chain) of the TCP listener; "" = plain HTTP */
    char tls_key[PATH_MAX];     /* its PEM private key; set both or neither */
    int allow_plain_http;       /* a non-loopback listen without TLS (a TLS proxy in front) */
    unsigned max_connections;   /* per listener */
    unsigned max_connections_per_peer; /* per uid (unix socket, loopback TCP) or IP address */
    uint64_t header_timeout_ms; /* a connection without headers this long after accept: closed */
    uint64_t idle_timeout_ms;   /* after its first request, a connection silent this long */
    char state_dir[PATH_MAX];   /* gpuplexd.db, lock file, node.sim */
    char run_dir[PATH_MAX];     /* lease regions; "" = GPUPLEX_RUN_DIR or its default */
    char sim[256];              /* simulated node spec ("2xH100-80GB"), "" = real driver */
    char interposer[PATH_MAX];  /* LD_PRELOAD for vgpu/timeslice; "" = found next to gpuplexd */
    char hostname[256];         /* Hostname label of /metrics; "" = gethostname() */
    int web;                    /* serve the web dashboard at / (web.c) */
    char web_root[PATH_MAX];    /* its files; "" = found next to gpuplexd */
    enum gpx_place_policy placement;
    double oversubscription; /* >= 1.0 */
    uint64_t grace_ms;       /* owners gone this long: the lease is released */
    /* a tenant's active leases at once, unless its own max_leases says; 0 = no limit */
    unsigned max_leases_per_tenant;
    uint64_t reconcile_ms;
    uint64_t meter_ms;
    uint64_t inventory_ms;
    int log_level; /* enum gpx_log_level */
    unsigned threads;
    /* a function call's thread polls for the worker's answer this long (µs) before it sleeps,
     * when the function's answers come that fast (functions.c, "Polling"); 0 = never */
    unsigned fn_spin_us;
    int metrics_public;       /* /metrics without authentication */
    int metrics_snake_labels; /* model_name/uuid/hostname instead of dcgm's spelling */
    int metrics_dcgm_leases;  /* per-lease DCGM_FI_DEV_GPU_UTIL series (lease, tenant labels) */
    size_t max_body;
    int watchdog;                      /* -1 off, else enum gpx_watch_enforce (report, kill) */
    uint64_t watchdog_ms;              /* how often the watchdog runs */
    uint64_t watchdog_allowance;       /* bytes per process beyond what the interposer counts */
    uint64_t watchdog_lease_allowance; /* bytes per lease beyond its quota, all processes */
    /* CDI specs for containers (src/cdi, docs/containers.md) */
    char cdi_spec[PATH_MAX];        /* the spec file gpuplexd keeps; "" = none */
    char cdi_version[16];           /* its cdiVersion */
    char cdi_dev_root[PATH_MAX];    /* where the device nodes are on the host */
    char cdi_driver_libs[PATH_MAX]; /* ':'-separated dirs searched first / files mounted */
    char cdi_env[PATH_MAX];         /* extra environment, ' '-separated KEY=VALUE */
    char cdi_mounts[PATH_MAX];      /* extra mounts, ','-separated HOST[:CONTAINER[:rw|ro]] */
    /* managed containers (containers.c, docs/containers.md) */
    char container_images[4096]; /* ','-separated names or PREFIX*; "" = managed containers off */
    char podman[PATH_MAX];       /* the podman binary */
    char podman_args[PATH_MAX];  /* extra global podman arguments, ' '-separated */
    /* VMs through libvirt (vms.c, docs/vms.md) */
    char libvirt_uri[256];   /* libvirt connection URI */
    char vm_images[4096];    /* ','-separated dirs tenants may boot from; "" = VMs off */
    int vm_domain_type;      /* 0 kvm, 1 qemu (software emulation) */
    int vm_hostdev;          /* hand the leased GPU to the guest (0: lease only) */
    char vm_dir[PATH_MAX];   /* seeds and console logs; "" = <state_dir>/vms */
    char vm_ssh_address[64]; /* the SSH port forwards' host address */
    unsigned vm_ssh_port_min, vm_ssh_port_max; /* the forwards' host ports */
};

void gpxd_config_defaults(struct gpxd_config *c);
/* Sets one key; the error names the key and the value. */
int gpxd_config_set(struct gpxd_config *c, const char *key, const char *value, gpx_error *err);
/* Parses config text (need not be NUL-terminated); origin names it in errors. */
int gpxd_config_parse(struct gpxd_config *c, const char *text, size_t len, const char *origin,
                      gpx_error *err);
/* Reads and parses a file. A missing file is an error only when must_exist. */
int gpxd_config_load(struct gpxd_config *c, const char *path, int must_exist, gpx_error *err);

/*
 * Every key with its value, one `key = value` line each in the order of
 * docs/daemon.md's table, in the file's own syntax: gpxd_config_parse reads
 * the output back to the same settings (`gpuplexd --check-config`). Returns
 * 0, or -1 when writing failed.
 */
int gpxd_config_write(const struct gpxd_config *c, FILE *out);

/*
 * The KEYS section of gpuplexd.conf(5) in roff: every key of the table with
 * what it means (the comment above the key in `example`, the text of the
 * commented example config packaging/gpuplexd.conf), what it accepts and its
 * default, from the rows themselves (`gpuplexd --config-man EXAMPLE`).
 * Returns 0, or -1 when writing failed or the example lacks a key (so the
 * build fails rather than ship a page or an example that drifted).
 */
int gpxd_config_man(FILE *out, const char *example);

/* "500ms", "30s", "5m", "1h", or a bare number of seconds. */
int gpxd_parse_duration(const char *s, uint64_t *ms, gpx_error *err);
/* 0 if the listen address is acceptable (loopback, or allow_remote); fills host/port. */
int gpxd_parse_listen(const char *s, int allow_remote, char *host, size_t hostlen, unsigned *port,
                      gpx_error *err);
/*
 * The rules between keys, checked once every source is applied (main(), and
 * again before serving): `listen` accepted (loopback, or allow_remote);
 * tls_cert and tls_key both or neither, and only with `listen`; plain HTTP on
 * a non-loopback address only with allow_plain_http; max_connections_per_peer
 * at most half of max_connections, so that one peer at its limit leaves room.
 */
int gpxd_config_check(const struct gpxd_config *c, gpx_error *err);

#endif
