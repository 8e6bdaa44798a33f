"""The release order of a VM (docs/vms.md, "Release order"): destroy the domain -> give the
devices back -> end the lease, observed from outside on libvirt's test driver
(test:///default, in gpuplexd's process) and the simulated sysfs tree of
`gpuplex sim init --sysfs`.

gpuplex-sim-kernel plays the kernel; it is stopped (SIGSTOP) before DELETE /v1/vms/{id}, so
that giving the devices back cannot finish: gpuplexd writes its first give-back write
(driver_override cleared) and then waits for the kernel to unbind vfio-pci. Caught in that
state, the VM's domain must already be gone (libvirt has no XML for it) and the lease must
still be active, for as long as the kernel stays stopped. Then the kernel resumes; DELETE
answers, the devices are on their host drivers the moment it does, and the lease's end
(the engine's `released`) comes after the kernel resumed and after the devices' driver links
were made again. Without the order (devices given back before the domain is destroyed, or the
lease ended before the devices are back) this fails. The timeline goes to the test's output."""
import datetime
import os
import signal
import subprocess
import threading
import time

from gpxd import GPX, TMP, BUILD, Daemon, check, expect, sim_kernel, sysfs_node

GPUS = "1xA100-40GB"
GPU, AUDIO = "0000:18:00.0", "0000:18:00.1"
SYS = os.path.join(TMP, "sys")
IMG = os.path.join(TMP, "img")
os.makedirs(IMG)
with open(os.path.join(IMG, "vmlinuz"), "w") as fh:
    fh.write("not booted by the test driver\n")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsa/x4ZTTQrE5Dvtm4Xs2lVEhh8zLi9eaSAo1CQ93BE team-a"

sysfs_node(GPUS, SYS, os.path.join(TMP, "tree.sim"))
kernel = sim_kernel(SYS)
stopped = False

conf = os.path.join(TMP, "gpxd.conf")
with open(conf, "w") as fh:
    fh.write("libvirt_uri = test:///default\nvm_images = %s\nvm_domain_type = qemu\n"
             "watchdog = off\n" % IMG)
os.environ["GPUPLEX_SYSFS_ROOT"] = SYS
# gpuplexd waits this long for the kernel to answer a sysfs write: longer than the test keeps
# the kernel stopped, so that the give-back waits (a give-back that times out warns and goes
# on to end the lease: docs/vms.md)
os.environ["GPUPLEX_SYSFS_SETTLE_MS"] = "60000"
HOLD_S = 1.5  # how long the kernel stays stopped once the give-back is under way


def dev(bdf, *rest):
    return os.path.join(SYS, "bus", "pci", "devices", bdf, *rest)


def driver(bdf):
    link = dev(bdf, "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def override(bdf):
    with open(dev(bdf, "driver_override")) as fh:
        return fh.read().strip()


def ms_of(iso):
    """The engine's time ("2026-12-03T18:00:00.123Z") in ms since the epoch."""
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def kernel_log():
    with open(os.path.join(SYS, ".kernel.log")) as fh:
        return fh.read()


d = Daemon(gpus=GPUS, args=["--config", conf]).start()
A = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
timeline = []


def note(what, ns=None):
    timeline.append((ns if ns is not None else time.time_ns(), what))


try:
    v = expect(d.post("/v1/vms", {"gpu": 0, "image": os.path.join(IMG, "vmlinuz"),
                                  "ssh_authorized_key": KEY}, token=A), 201).json
    vid, lid = v["id"], v["lease"]
    check(v["backend"] == "passthrough" and v["state"] == "running", "VM: %s" % v)
    check(driver(GPU) == "vfio-pci" and driver(AUDIO) == "vfio-pci",
          "held: not on vfio-pci: %s %s" % (driver(GPU), driver(AUDIO)))
    check(expect(d.get("/v1/vms/" + vid, token=A), 200).json["domain_xml"],
          "the running VM's domain has no XML")
    check(expect(d.get("/v1/leases/" + lid, token=A), 200).json["state"] == "active",
          "the VM's lease is not active")
    log_before = len(kernel_log())

    # --- the kernel stops: giving the devices back cannot finish ------------------------------
    kernel.send_signal(signal.SIGSTOP)
    stopped = True
    note("sim kernel stopped")
    answer = {}

    def remove():
        try:
            answer["r"] = d.delete("/v1/vms/" + vid, token=A, timeout=120)
            note("DELETE /v1/vms answered %d" % answer["r"].status)
        except OSError as e:  # gpuplexd stopped by a failed check: that check says why
            note("DELETE /v1/vms: %s" % e)

    t = threading.Thread(target=remove, daemon=True)
    t.start()
    note("DELETE /v1/vms sent")
    # gpuplexd's first give-back write: a device's driver_override no longer vfio-pci
    deadline = time.time() + 20
    while time.time() < deadline and override(GPU) == "vfio-pci" and override(AUDIO) == "vfio-pci":
        time.sleep(0.005)
    check(override(GPU) != "vfio-pci" or override(AUDIO) != "vfio-pci",
          "gpuplexd did not start giving the devices back within 20 s")
    first = GPU if override(GPU) != "vfio-pci" else AUDIO
    note("give-back write: %s driver_override cleared (file mtime)" % first,
         os.stat(dev(first, "driver_override")).st_mtime_ns)
    # caught mid give-back: the domain is gone already, the lease is not
    mid = expect(d.get("/v1/vms/" + vid, token=A), 200).json
    note("VM state %s, domain_xml %s" % (mid["state"], "null" if mid["domain_xml"] is None
                                          else "present"))
    check(mid["domain_xml"] is None,
          "the devices are being given back while the domain %s still exists (libvirt has its "
          "XML; VM state %s)" % (mid["domain"], mid["state"]))
    check(mid["state"] == "removing", "VM state while its devices go back: %s" % mid["state"])
    end = time.time() + HOLD_S
    while time.time() < end:
        st = expect(d.get("/v1/leases/" + lid, token=A), 200).json["state"]
        check(st == "active", "the lease ended (%s) before its devices were back (driver %s %s)"
              % (st, driver(GPU), driver(AUDIO)))
        check("r" not in answer, "DELETE answered before the devices were back: %r" %
              answer.get("r"))
        check(driver(GPU) == "vfio-pci" or driver(AUDIO) == "vfio-pci",
              "the devices went back with the kernel stopped")
        time.sleep(0.05)
    note("lease still active after %.1f s with the kernel stopped" % HOLD_S)

    # --- the kernel resumes: devices back, then the lease ends ------------------------------------
    t_cont = time.time_ns()
    note("sim kernel resumed", t_cont)
    kernel.send_signal(signal.SIGCONT)
    stopped = False
    t.join(timeout=60)
    check("r" in answer, "DELETE /v1/vms did not answer within 60 s of the kernel resuming")
    gone = expect(answer["r"], 200).json
    check(gone["state"] == "removed", "DELETE answered %s" % gone)
    # gpuplexd waited for the host drivers before it ended the lease: they are there now
    check(driver(GPU) == "nvidia" and driver(AUDIO) == "snd_hda_intel",
          "DELETE answered with the devices not back: %s %s" % (driver(GPU), driver(AUDIO)))
    for bdf in (GPU, AUDIO):
        note("devices back: %s on %s (its driver link's mtime)" % (bdf, driver(bdf)),
             os.lstat(dev(bdf, "driver")).st_mtime_ns)
    lease = expect(d.get("/v1/leases/" + lid, token=A), 200).json
    check(lease["state"] == "released" and lease["released"], "lease after DELETE: %s" % lease)
    released_ms = ms_of(lease["released"])
    note("lease ended (engine: released %s)" % lease["released"], released_ms * 1000000)
    check(released_ms >= t_cont // 1000000,
          "the lease ended at %s, before the kernel resumed (%d ms): before its devices were "
          "back" % (lease["released"], t_cont // 1000000))
    for bdf in (GPU, AUDIO):
        back_ms = os.lstat(dev(bdf, "driver")).st_mtime_ns // 1000000
        check(back_ms <= released_ms,
              "%s's driver link was made at %d ms, after the lease ended (%d ms)"
              % (bdf, back_ms, released_ms))
    # what the kernel did once it resumed: vfio-pci let go of both, the host drivers took them
    after = kernel_log()[log_before:]
    for want in ("unbind vfio-pci " + GPU, "unbind vfio-pci " + AUDIO,
                 "drivers_probe %s -> nvidia" % GPU, "drivers_probe %s -> snd_hda_intel" % AUDIO):
        check(want in after, "the kernel log lacks '%s':\n%s" % (want, after))
    check(after.index("unbind vfio-pci " + GPU) < after.index("drivers_probe %s -> nvidia" % GPU),
          "the GPU was probed before vfio-pci let it go:\n" + after)
    expect(d.get("/v1/vms/" + vid, token=A), 404)
    d.stop()
finally:
    for ns, what in sorted(timeline):
        print("%.3f  %s" % (ns / 1e9, what))
    if kernel.poll() is None:
        kernel.send_signal(signal.SIGCONT)
        kernel.send_signal(signal.SIGTERM)
        kernel.wait(timeout=10)
print("ok")
