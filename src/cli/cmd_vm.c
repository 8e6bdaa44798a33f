/*
 * gpuplex vm: GPUs for virtual machines (docs/vms.md). One command, its
 * subcommands in one table (`check` here; create, ls, ssh and rm talk to
 * gpuplexd's /v1/vms and join the table beside it).
 *
 * `vm check GPU` changes nothing and needs no daemon: it reads sysfs under
 * GPUPLEX_SYSFS_ROOT (default /sys) and tells an operator whether the GPU can
 * be passed through whole (its IOMMU group's members and drivers, what
 * blocks it) and which vGPU types it offers; exit status 0 only when a
 * passthrough lease could be granted.
 */
#include "cli/cli.h"
#include "cli/vm_cmds.h"
#include "nvml/inventory.h"
#include "vm/vm.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPU as the user wrote it (index, UUID or PCI address) -> its sysfs address. */
static int resolve_gpu(const char *arg, char bdf[GPX_VM_BDF_MAX], int *index, char *uuid,
                       size_t uuid_len, gpx_error *err)
{
    struct gpx_vm_pci_addr a;
    *index = -1;
    uuid[0] = '\0';
    if (strchr(arg, ':') && strchr(arg, '.') && strncmp(arg, "GPU-", 4) != 0) {
        if (gpx_vm_bdf_parse(arg, &a) < 0)
            return gpx_error_set(
                err, GPX_E_INVALID,
                "'%s' is not a PCI address (DOMAIN:BUS:SLOT.FN, e.g. 0000:3b:00.0)", arg);
        gpx_vm_bdf_format(&a, bdf);
        return 0;
    }
    struct gpx_inventory inv = {0};
    if (gpx_inventory_load(&inv, err) < 0)
        return gpx_error_wrap(err, "finding GPU '%s' (give its PCI address to skip the driver)",
                              arg);
    char *end;
    long idx = strtol(arg, &end, 10);
    int found = -1;
    for (unsigned i = 0; i < inv.count && found < 0; i++)
        if ((!*end && end != arg && idx == (long)inv.gpus[i].index) ||
            strcmp(arg, inv.gpus[i].uuid) == 0)
            found = (int)i;
    int rc = 0;
    if (found < 0)
        rc = gpx_error_set(err, GPX_E_NOT_FOUND,
                           "no GPU '%s' (an index 0..%u, a UUID or a PCI "
                           "address)",
                           arg, inv.count ? inv.count - 1 : 0);
    else if (gpx_vm_bdf_parse(inv.gpus[found].pci_bus_id, &a) < 0)
        rc = gpx_error_set(err, GPX_E_DRIVER,
                           "GPU %s: the driver's PCI address '%s' is not "
                           "one",
                           arg, inv.gpus[found].pci_bus_id);
    else {
        gpx_vm_bdf_format(&a, bdf);
        *index = (int)inv.gpus[found].index;
        snprintf(uuid, uuid_len, "%s", inv.gpus[found].uuid);
    }
    gpx_inventory_free(&inv);
    return rc;
}

static void print_text(const struct gpx_vm_probe *p, int index, const char *uuid,
                       const struct gpx_vm_type_list *types)
{
    json_t *j = gpx_vm_probe_json(p); /* the roles, computed once */
    if (index >= 0)
        printf("GPU %d %s at %s\n", index, uuid, p->bdf);
    else
        printf("GPU at %s\n", p->bdf);
    if (p->iommu_group >= 0)
        printf("IOMMU group %d:\n", p->iommu_group);
    else
        printf("IOMMU group: none\n");
    printf("  %-14s %-14s %-10s %-10s %s\n", "ADDRESS", "DRIVER", "KIND", "IDS", "ROLE");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "members"), i, m)
    {
        const char *drv = json_string_value(json_object_get(m, "driver"));
        printf("  %-14s %-14s %-10s %-10s %s\n", json_string_value(json_object_get(m, "address")),
               drv && *drv ? drv : "-", json_string_value(json_object_get(m, "kind")),
               json_string_value(json_object_get(m, "ids")),
               json_string_value(json_object_get(m, "role")));
    }
    json_decref(j);
    if (p->passthrough_ok)
        printf("passthrough: possible (the GPU's functions go to vfio-pci for the lease)\n");
    else
        printf("passthrough: blocked: %s\n", p->why_not);
    if (p->vgpu_backend == GPX_VM_NONE) {
        printf("vGPU: none offered (no mdev types, no SR-IOV vGPU)\n");
        return;
    }
    printf("vGPU: %s, %zu type%s", gpx_vm_backend_name(p->vgpu_backend), types->n,
           types->n == 1 ? "" : "s");
    if (p->sriov_totalvfs)
        printf(" (%u of %u VFs enabled)", p->sriov_numvfs, p->sriov_totalvfs);
    printf("\n");
    if (types->n)
        printf("  %-12s %-14s %9s %s\n", "ID", "NAME", "AVAILABLE", "FRAMEBUFFER");
    for (size_t k = 0; k < types->n; k++) {
        const struct gpx_vm_type *t = &types->types[k];
        printf("  %-12s %-14s %9u ", t->id, t->name, t->available);
        if (t->framebuffer_mib)
            printf("%u GiB%s\n", t->framebuffer_mib / 1024, t->mig_backed ? " (MIG-backed)" : "");
        else
            printf("-\n");
    }
}

static int vm_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int as_json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j')
            as_json = 1;
        else if (c == 'h')
            return gpx_cli_print_usage(&gpx_cmd_vm);
        else
            return gpx_cli_usage_error(&gpx_cmd_vm, "bad option '%s' for 'vm check'",
                                       argv[optind - 1]);
    }
    if (optind + 1 != argc)
        return gpx_cli_usage_error(&gpx_cmd_vm,
                                   "'vm check' takes one GPU (an index, a UUID or a PCI address)");
    gpx_error err = {0};
    char bdf[GPX_VM_BDF_MAX], uuid[96];
    int index;
    struct gpx_vm_probe p;
    struct gpx_vm_type_list types = {0};
    if (resolve_gpu(argv[optind], bdf, &index, uuid, sizeof uuid, &err) < 0 ||
        gpx_vm_probe(bdf, &p, &err) < 0 || gpx_vm_types(bdf, &types, &err) < 0)
        return gpx_cli_fail(&err);
    if (as_json) {
        json_t *o = gpx_vm_probe_json(&p);
        if (index >= 0) {
            json_object_set_new(o, "index", json_integer(index));
            json_object_set_new(o, "uuid", json_string(uuid));
        }
        json_object_set_new(o, "vgpu_types", gpx_vm_types_json(&types));
        json_object_set_new(o, "sysfs_root", json_string(gpx_vm_sysfs_root()));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(o);
    } else {
        print_text(&p, index, uuid, &types);
    }
    gpx_vm_type_list_free(&types);
    return p.passthrough_ok ? 0 : gpx_error_exit_status(GPX_E_BUSY);
}

/* The subcommands; `vm create|ls|ssh|rm` (the daemon's /v1/vms) join this table. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"check", vm_check},  {"create", gpx__vm_create}, {"ls", gpx__vm_ls},
    {"list", gpx__vm_ls}, {"ssh", gpx__vm_ssh},       {"rm", gpx__vm_rm},
};

static int run_vm(int argc, char **argv)
{
    if (argc < 2)
        return gpx_cli_usage_error(&gpx_cmd_vm, "missing subcommand");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return gpx_cli_print_usage(&gpx_cmd_vm);
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    return gpx_cli_usage_error(&gpx_cmd_vm, "unknown subcommand '%s'", argv[1]);
}

const struct gpx_cmd gpx_cmd_vm = {
    .name = "vm",
    .run = run_vm,
    .summary = "GPUs for virtual machines: passthrough and vGPU (check, create, ls, ssh, rm)",
    .usage = "usage: gpuplex vm check GPU [--json]\n"
             "       gpuplex vm create (--gpu GPU | --vgpu-type TYPE | --mig-profile P)\n"
             "                         (--kernel FILE [--initrd FILE] [--cmdline ARGS] |\n"
             "                          --image FILE)\n"
             "                         --ssh-key KEY [--vcpus N] [--memory SIZE] [--ssh-user U]\n"
             "                         [--tenant T] [--server S] [--json]\n"
             "       gpuplex vm ls [--server S] [--json]\n"
             "       gpuplex vm ssh [-i KEY] [-o OPTION]... [--server S] ID [-- CMD...]\n"
             "       gpuplex vm rm [--server S] [--json] ID...\n"
             "\n"
             "create: gpuplexd makes a lease (a whole GPU with --gpu: passthrough; a vGPU type\n"
             "on offer with --vgpu-type, e.g. A100-4C; a MIG-backed vGPU with --mig-profile),\n"
             "hands its device to a libvirt domain, boots it (a kernel and initrd, the key on\n"
             "its command line; or a disk image, the key through a cloud-init seed) and prints\n"
             "the VM's ID and its ssh command (--json: the VM as GET /v1/vms/{id}). Files must\n"
             "be under the node's vm_images.\n"
             "  --gpu GPU          an index or UUID; alone: the whole GPU (passthrough); with\n"
             "                     --vgpu-type or --mig-profile: the GPU to slice\n"
             "  --vgpu-type TYPE   a type name or id on offer ('gpuplex vm check GPU' lists\n"
             "                     them, with the instances free)\n"
             "  --mig-profile P    a MIG profile such as 1g.10gb (SR-IOV vGPU hosts, MIG on)\n"
             "  --ssh-key KEY      a public key file or an 'ssh-ed25519 AAAA...' line\n"
             "  --ssh-user U       the user the endpoint names (default root)\n"
             "  --vcpus N          1-64 (default 1); --memory SIZE: 64M to 4T (default 512M)\n"
             "  --tenant T         admins: the VM and its lease are T's (T's limits apply)\n"
             "ls: your VMs (an admin: everyone's): state, backend, GPU, lease, SSH endpoint\n"
             "(--json: the array GET /v1/vms answers).\n"
             "ssh: runs ssh -p PORT [-i KEY] [-o OPTION]... USER@HOST [CMD] for the VM.\n"
             "rm: destroys the domain, gives the GPU back, ends the lease (in that order).\n"
             "These need gpuplexd (docs/vms.md); exit status 5: no such VM, 6: the GPU is\n"
             "taken, 10: not allowed (a path outside vm_images, VMs off).\n"
             "\n"
             "check: whether GPU (an index, a UUID or a PCI address such as 0000:3b:00.0)\n"
             "can be passed through whole to a VM, changing nothing and without gpuplexd.\n"
             "It reads sysfs under $GPUPLEX_SYSFS_ROOT (default /sys) and shows the GPU's\n"
             "IOMMU group: each member's driver and role (leased: the GPU's own functions,\n"
             "bound to vfio-pci for the lease; tolerated: PCIe bridges; blocks: another\n"
             "device a host driver holds, which VFIO would take from the host), what\n"
             "blocks passthrough if anything (no IOMMU, vfio-pci not loaded, SR-IOV VFs\n"
             "enabled), and the vGPU types the GPU offers with their available instances\n"
             "(mdev on Ampere and older; SR-IOV VFs with nvidia/creatable_vgpu_types on\n"
             "Ada, Hopper and later). An index or UUID is looked up through the driver;\n"
             "a PCI address needs none.\n"
             "  --json   {pci, iommu_group, members: [{address, driver, class, kind, ids,\n"
             "           role}], passthrough: {ok, reason}, vgpu_backend, vgpu_types: [{id,\n"
             "           name, available, framebuffer_mib, mig_backed}], sysfs_root}\n"
             "\n"
             "exit status: 0 a passthrough lease could be granted; 6 passthrough is blocked\n"
             "(the reason is printed); 2 bad usage; 3 no GPU driver (for an index or UUID);\n"
             "5 no such GPU or PCI device.\n",
};
