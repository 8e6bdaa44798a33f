"""gpuplexd's host side of VM leases on the simulated sysfs tree (`gpuplex sim init --sysfs`,
gpuplex-sim-kernel playing the kernel; libvirt's test driver in gpuplexd's process):
GET /v1/gpus/{id}/vgpu-types; a VM lease counted in admission; kill -9 right after a sysfs
write and before the store commit (GPUPLEXD_FAULT=after_sysfs_write:N) leaves nothing behind
after a restart, nor does a kill after the domain define or between the lease and the VM's
record (no VM, no lease, no hold, GPU back on its driver); a simulated host reboot (VFs disabled, vGPU types reset, devices back on
their host drivers) followed by a start restores every live lease's VF, vGPU type and
binding and frees what ended leases held; a GPU left on vfio-pci with no lease is given back."""
import os
import sqlite3
import subprocess
import time

from gpxd import BUILD, GPX, TMP, Daemon, check, cli, expect, sim_kernel, sysfs_node

GPUS = "1xA100-40GB,1xH100-80GB,1xA100-40GB"
A100, H100, A100B = "0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0"
SYS = os.path.join(TMP, "sys")
IMG = os.path.join(TMP, "img")
os.makedirs(IMG)
for f in ("vmlinuz", "initrd.img"):
    with open(os.path.join(IMG, f), "w") as fh:
        fh.write("not booted by the test driver\n")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsa/x4ZTTQrE5Dvtm4Xs2lVEhh8zLi9eaSAo1CQ93BE team-a"
KERNEL = os.path.join(BUILD, "lib", "sim", "gpuplex-sim-kernel")

sysfs_node(GPUS, SYS, os.path.join(TMP, "tree.sim"))
kernel = None


def start_kernel():
    global kernel
    kernel = sim_kernel(SYS)


def stop_kernel():
    kernel.terminate()
    kernel.wait(timeout=10)


def reboot():
    stop_kernel()
    subprocess.run([KERNEL, "--sysfs", SYS, "--reboot"], check=True, timeout=30)
    start_kernel()


start_kernel()
conf = os.path.join(TMP, "gpxd.conf")
with open(conf, "w") as fh:
    fh.write("libvirt_uri = test:///default\nvm_images = %s\nvm_domain_type = qemu\n"
             "watchdog = off\n" % IMG)
os.environ["GPUPLEX_SYSFS_ROOT"] = SYS
d = Daemon(gpus=GPUS, args=["--config", conf]).start()
A = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]


def attr(bdf, name):
    try:
        with open(os.path.join(SYS, "bus", "pci", "devices", bdf, name)) as fh:
            return fh.read().strip()
    except OSError:
        return None


def driver(bdf):
    link = os.path.join(SYS, "bus", "pci", "devices", bdf, "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def vm(body, status=201):
    b = {"kernel": os.path.join(IMG, "vmlinuz"), "initrd": os.path.join(IMG, "initrd.img"),
         "ssh_authorized_key": KEY}
    b.update(body)
    return expect(d.post("/v1/vms", b, token=A), status).json


def db_rows(table):
    con = sqlite3.connect(os.path.join(d.state, "gpuplexd.db"))
    try:
        return con.execute("SELECT * FROM " + table).fetchall()
    finally:
        con.close()


def settle(cond, what, timeout=10):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            check(False, what)
        time.sleep(0.02)


def crash_during(body, n):
    """POST /v1/vms with gpuplexd set to die right after its n-th sysfs write."""
    d.stop()
    os.environ["GPUPLEXD_FAULT"] = "after_sysfs_write:%d" % n
    d.start()
    os.environ.pop("GPUPLEXD_FAULT")
    b = {"kernel": os.path.join(IMG, "vmlinuz"), "initrd": os.path.join(IMG, "initrd.img"),
         "ssh_authorized_key": KEY}
    b.update(body)
    try:
        d.post("/v1/vms", b, token=A)
    except OSError:
        pass
    try:
        d.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        check(False, "gpuplexd did not die at the fault point:\n" + d.tail())
    check(d.proc.returncode == -9 or d.proc.returncode == 137,
          "gpuplexd did not die at the fault point (rc %s):\n%s" % (d.proc.returncode, d.tail()))
    d.proc = None


def crash_at(point, body):
    """POST /v1/vms with gpuplexd set to die at a VM fault point (vms.c)."""
    d.stop()
    os.environ["GPUPLEXD_FAULT"] = point
    d.start()
    os.environ.pop("GPUPLEXD_FAULT")
    b = {"kernel": os.path.join(IMG, "vmlinuz"), "initrd": os.path.join(IMG, "initrd.img"),
         "ssh_authorized_key": KEY}
    b.update(body)
    try:
        d.post("/v1/vms", b, token=A)
    except OSError:
        pass
    try:
        d.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        check(False, "gpuplexd did not die at %s:\n%s" % (point, d.tail()))
    check(d.proc.returncode in (-9, 137),
          "gpuplexd did not die at %s (rc %s):\n%s" % (point, d.proc.returncode, d.tail()))
    d.proc = None


def nothing_crashed_left(keep):
    """After the restart, the VM whose create died with gpuplexd is gone in full: no VM
    record, its lease ended, no hold, no journal (only the VMs in `keep` remain)."""
    vms = expect(d.get("/v1/vms", token=A), 200).json
    check(sorted(v["id"] for v in vms) == sorted(v["id"] for v in keep),
          "VMs after a crashed create: %s\n%s" % ([v["id"] for v in vms], d.tail()))
    live = sorted(x["id"] for x in expect(d.get("/v1/leases", token=A), 200).json)
    check(live == sorted(v["lease"] for v in keep),
          "leases after a crashed create: %s (kept %s)\n%s" % (live, [v["lease"] for v in keep],
                                                              d.tail()))
    check(sorted(r[0] for r in db_rows("vms")) == sorted(v["id"] for v in keep),
          "vms table: %s" % db_rows("vms"))
    check(sorted(h[0] for h in db_rows("vm_holds")) == sorted(v["lease"] for v in keep),
          "holds: %s" % db_rows("vm_holds"))
    check(db_rows("vm_journal") == [], "journal left: %s" % db_rows("vm_journal"))


try:
    # --- vgpu-types ----------------------------------------------------------------------------
    r = expect(d.get("/v1/gpus/0/vgpu-types", token=A), 200).json
    check(r["backend"] == "mdev" and r["pci"] == A100 and len(r["types"]) == 11, "gpu 0: %s" % r)
    t = [x for x in r["types"] if x["name"] == "A100-20C"][0]
    check(t["available"] == 2 and t["framebuffer_mib"] == 20480 and not t["mig_backed"], str(t))
    check(r["passthrough"]["ok"] is True, "gpu 0 passthrough: %s" % r["passthrough"])
    r = expect(d.get("/v1/gpus/%s/vgpu-types" % r["uuid"], token=A), 200).json
    check(r["index"] == 0, "by uuid")
    r = expect(d.get("/v1/gpus/1/vgpu-types", token=A), 200).json
    check(r["backend"] == "vendor-vfio" and r["passthrough"]["ok"] is False, "gpu 1: %s" % r)
    check([x["available"] for x in r["types"] if x["name"] == "H100-4C"] == [20], "H100-4C")
    expect(d.get("/v1/gpus/9/vgpu-types", token=A), 404)
    expect(d.get("/v1/gpus/0/vgpu-types", token="nope"), 401)

    # --- a VM lease counts in admission like any other lease ----------------------------------
    pt = vm({"gpu": 2})
    check(pt["backend"] == "passthrough", "passthrough VM: %s" % pt)
    check(driver(A100B) == "vfio-pci", "GPU 2 not on vfio-pci")
    expect(d.post("/v1/leases", {"mode": "exclusive", "gpu": "2"}, token=A), 409)
    leases = expect(d.get("/v1/leases", token=A), 200).json
    check(any(x["id"] == pt["lease"] for x in leases), "VM lease not listed")
    check(db_rows("vm_journal") == [], "journal not empty after a commit: %s" % db_rows("vm_journal"))
    check(len(db_rows("vm_holds")) == 1, "one hold")

    # --- kill -9 between a sysfs write and the commit: nothing left after a restart -----------
    # passthrough of GPU 0: write 3 is drivers_probe (the GPU is on vfio-pci, nothing committed)
    crash_during({"gpu": 0}, 3)
    settle(lambda: driver(A100) == "vfio-pci", "the fault point was not after the bind")
    check(attr(A100, "driver_override") == "vfio-pci", "override")
    check(len(db_rows("vm_journal")) == 3, "journal: %s" % db_rows("vm_journal"))
    d.start()
    check(driver(A100) == "nvidia" and attr(A100, "driver_override") == "(null)",
          "GPU 0 left on %s / override %s after restart:\n%s" % (driver(A100),
                                                                attr(A100, "driver_override"),
                                                                d.tail()))
    check(driver("0000:18:00.1") == "snd_hda_intel", "audio function not given back")
    check(db_rows("vm_journal") == [], "journal left: %s" % db_rows("vm_journal"))
    nothing_crashed_left([pt])
    # vendor-vfio on the H100: write 1 sets the VF's vGPU type
    crash_during({"vgpu_type": "H100-40C"}, 1)
    check(attr("0000:2a:00.4", "nvidia/current_vgpu_type") == "1057", "VF type not set before crash")
    settle(lambda: "H100-4C" not in (attr("0000:2a:00.5", "nvidia/creatable_vgpu_types") or ""),
           "the kernel did not take the VF's type")
    d.start()
    check(attr("0000:2a:00.4", "nvidia/current_vgpu_type") == "0", "VF type left after restart")
    nothing_crashed_left([pt])
    # mdev on the A100: write 1 creates the vGPU
    crash_during({"vgpu_type": "A100-20C"}, 1)
    settle(lambda: len(os.listdir(os.path.join(SYS, "bus", "mdev", "devices"))) == 1,
           "mdev not created before crash")
    d.start()
    check(os.listdir(os.path.join(SYS, "bus", "mdev", "devices")) == [], "mdev left after restart")
    nothing_crashed_left([pt])
    # killed after the domain was defined (devices taken, hold committed, not yet "running"):
    # at start the domain is gone, the GPU back on its host driver, the lease ended
    crash_at("vm_after_define", {"gpu": 0})
    check(driver(A100) == "vfio-pci", "GPU 0 not bound before the crash")
    check(len(db_rows("vm_holds")) == 2, "hold not committed before the crash")
    d.start()
    check(driver(A100) == "nvidia" and attr(A100, "driver_override") == "(null)",
          "GPU 0 left on %s after a crash past the domain define:\n%s" % (driver(A100), d.tail()))
    check(driver("0000:18:00.1") == "snd_hda_intel", "audio function not given back")
    nothing_crashed_left([pt])
    x = expect(d.post("/v1/leases", {"mode": "exclusive", "gpu": "0"}, token=A), 201).json
    expect(d.delete("/v1/leases/" + x["id"], token=A), 200)
    # killed between the lease and the VM's record: the lease (labelled gpuplex.vm) ends
    crash_at("vm_after_lease", {"vgpu_type": "A100-20C"})
    d.start()
    nothing_crashed_left([pt])
    check(os.listdir(os.path.join(SYS, "bus", "mdev", "devices")) == [], "mdev made")
    check(cli("vm", "check", A100, env={"GPUPLEX_SYSFS_ROOT": SYS}, expect_rc=0) is not None, "")

    # --- a simulated host reboot: live leases restored, ended ones freed ------------------------
    v1 = vm({"vgpu_type": "H100-40C"})
    vf = v1["hostdevs"][0]["address"]
    check(attr(vf, "nvidia/current_vgpu_type") == "1057", "v1 VF %s type" % vf)
    v3 = vm({"vgpu_type": "A100-20C"})
    uuid3 = v3["hostdevs"][0]["uuid"]
    check(os.path.exists(os.path.join(SYS, "bus", "mdev", "devices", uuid3)), "v3 mdev")
    d.stop()
    # v3's lease ends while gpuplexd is away (the CLI's own engine on the same state)
    cli("lease", "rm", v3["lease"],
        env={"GPUPLEX_SERVER": "none", "GPUPLEX_STATE_DIR": d.state, "GPUPLEX_RUN_DIR": d.run,
             "GPUPLEX_SIM": os.path.join(d.state, "node.sim")})
    reboot()
    check(attr(H100, "sriov_numvfs") == "0" and driver(A100B) == "nvidia", "reboot did not reset")
    d.start()
    check(attr(H100, "sriov_numvfs") == "20", "VFs not enabled again:\n" + d.tail())
    check(attr(vf, "nvidia/current_vgpu_type") == "1057", "v1's vGPU type not restored")
    check(driver(A100B) == "vfio-pci" and driver("0000:3a:00.1") == "vfio-pci",
          "v2's GPU not bound again: %s" % driver(A100B))
    check(not os.path.exists(os.path.join(SYS, "bus", "mdev", "devices", uuid3)),
          "the ended lease's mdev was re-created")
    r = expect(d.get("/v1/gpus/0/vgpu-types", token=A), 200).json
    check([x["available"] for x in r["types"] if x["name"] == "A100-20C"] == [2], "A100-20C free")
    holds = [h[0] for h in db_rows("vm_holds")]
    check(sorted(holds) == sorted([pt["lease"], v1["lease"]]), "holds: %s" % holds)
    check(db_rows("vm_journal") == [], "journal left after reboot reconcile")

    # --- a GPU on vfio-pci with no lease: back to its host driver --------------------------------
    d.stop()
    with open(os.path.join(SYS, "bus", "pci", "devices", A100, "driver_override"), "w") as fh:
        fh.write("vfio-pci")
    with open(os.path.join(SYS, "bus", "pci", "drivers", "nvidia", "unbind"), "w") as fh:
        fh.write(A100)
    settle(lambda: driver(A100) == "", "manual unbind")
    with open(os.path.join(SYS, "bus", "pci", "drivers_probe"), "w") as fh:
        fh.write(A100)
    settle(lambda: driver(A100) == "vfio-pci", "manual bind")
    d.start()
    check(driver(A100) == "nvidia", "orphan GPU 0 left on vfio-pci")
    check(driver(A100B) == "vfio-pci", "the leased GPU 2 was given back")
    d.stop()
finally:
    if kernel and kernel.poll() is None:
        kernel.terminate()
        kernel.wait(timeout=10)
print("ok")
