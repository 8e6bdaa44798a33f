/*
 * libFuzzer target for what src/vm reads from sysfs and the store: a VF's
 * nvidia/creatable_vgpu_types ("ID : name" lines after a header), vGPU type
 * names (framebuffer, MIG-backed), PCI addresses, and a VM lease's hold as
 * the daemon stores it (JSON). Any input must parse or fail cleanly, without
 * leaks or undefined behaviour; a parsed hold must survive a round trip.
 * Built with clang (-fsanitize=fuzzer,address,undefined); with other
 * compilers the same function replays the seed corpus as a test (replay.c).
 */
#include "vm/vm.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    gpx_error err;
    struct gpx_vm_type_list l;
    if (gpx_vm_parse_creatable(text, &l, &err) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            if (!l.types[i].name[0] || strtoul(l.types[i].id, NULL, 10) == 0)
                abort(); /* a parsed type has a name and a non-zero id */
            (void)gpx_vm_type_framebuffer_mib(l.types[i].name);
        }
        gpx_vm_type_list_free(&l);
    }
    (void)gpx_vm_type_framebuffer_mib(text);
    struct gpx_vm_pci_addr a;
    if (gpx_vm_bdf_parse(text, &a) == 0) {
        char out[GPX_VM_BDF_MAX];
        struct gpx_vm_pci_addr b;
        gpx_vm_bdf_format(&a, out);
        if (gpx_vm_bdf_parse(out, &b) < 0 || memcmp(&a, &b, sizeof a) != 0)
            abort(); /* what is formatted parses back to the same address */
    }
    struct gpx_vm_hold h, back;
    if (gpx_vm_hold_from_json(text, &h, &err) == 0) {
        char *s = gpx_vm_hold_to_json(&h);
        if (!s || gpx_vm_hold_from_json(s, &back, &err) < 0 || memcmp(&h, &back, sizeof h) != 0)
            abort(); /* a hold read back from what it wrote is the same hold */
        free(s);
        struct gpx_vm_hostdev hd[GPX_VM_GROUP_MAX];
        (void)gpx_vm_hostdevs(&h, hd, GPX_VM_GROUP_MAX);
    }
    free(text);
    return 0;
}
