"""VMs through libvirt's test driver (test:///default, in gpuplexd's process) on the
simulated sysfs tree of `gpuplex sim init --sysfs` with gpuplex-sim-kernel playing the
kernel: the defined domain's XML carries the expected <hostdev> for each backend
(passthrough: the GPU and its audio function, PCI managed='no'; mdev: the UUID; vendor-vfio:
the VF's PCI address; MIG-backed: the VF pinned to the mig lease's GPU instance) and the
tenant's key on the kernel command line (or a NoCloud seed for an image); DELETE destroys the
domain, gives the device back (driver, mdev, VF type) and ends the lease; a lease ended
through /v1/leases tears its VM down (observer); a GPU another lease holds, or that runs a
process, or whose IOMMU group holds a NIC on a host driver, is refused and stays on its
driver; two tenants cannot see or delete each
other's VMs; bad requests are 400 naming the field, paths outside vm_images 403."""
import base64
import json
import os
import signal
import subprocess
import time

from gpxd import BUILD, GPX, TMP, Daemon, check, cli, expect, sim_kernel, sysfs_node

GPUS = "1xA100-40GB,1xH100-80GB"
SYS = os.path.join(TMP, "sys")
IMG = os.path.join(TMP, "img")
os.makedirs(IMG)
for f in ("vmlinuz", "initrd.img"):
    with open(os.path.join(IMG, f), "w") as fh:
        fh.write("not booted by the test driver\n")
with open(os.path.join(TMP, "outside"), "w") as fh:
    fh.write("x\n")
HOG = os.path.join(BUILD, "tests", "gpx-test-hog")
hog = None
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsa/x4ZTTQrE5Dvtm4Xs2lVEhh8zLi9eaSAo1CQ93BE team-a"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBKR5Q0EFdYQFz3Zk4Qx3X7Un2e8FMYyc1m0WbUj1xq9 team-b"

sysfs_node(GPUS, SYS, os.path.join(TMP, "tree.sim"))
kernel = sim_kernel(SYS)

conf = os.path.join(TMP, "gpxd.conf")
with open(conf, "w") as fh:
    fh.write("libvirt_uri = test:///default\nvm_images = %s\nvm_domain_type = qemu\n"
             "watchdog = off\n" % IMG)
os.environ["GPUPLEX_SYSFS_ROOT"] = SYS
d = Daemon(gpus=GPUS, args=["--config", conf]).start()
A = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
B = expect(d.post("/v1/tenants", {"name": "team-b"}), 201).json["token"]


def dev(bdf):
    return os.path.join(SYS, "bus", "pci", "devices", bdf)


def driver(bdf):
    link = os.path.join(dev(bdf), "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def vm(body, token, status=201, **kw):
    b = {"kernel": os.path.join(IMG, "vmlinuz"), "initrd": os.path.join(IMG, "initrd.img"),
         "ssh_authorized_key": KEY_A if token == A else KEY_B}
    b.update(body)
    return expect(d.post("/v1/vms", b, token=token), status, **kw).json


def xml_of(vid, token):
    return expect(d.get("/v1/vms/" + vid, token=token), 200).json["domain_xml"]


def lease_state(lid):
    return expect(d.get("/v1/leases/" + lid), 200).json["state"]


try:
    # --- bad requests name the field ---------------------------------------------------------
    vm({"gpu": 0, "ssh_authorized_key": "not a key"}, A, 400, contains="ssh_authorized_key")
    vm({}, A, 400, contains="'gpu'")
    vm({"gpu": 0, "vcpus": 0}, A, 400, contains="'vcpus'")
    vm({"gpu": 0, "memory": "1K"}, A, 400, contains="'memory'")
    vm({"gpu": 0, "disk": "x"}, A, 400, contains="known: gpu, vgpu_type")
    vm({"vgpu_type": "Z9-1C"}, A, 400, contains="A100-4C")
    vm({"gpu": 0, "kernel": os.path.join(TMP, "outside")}, A, 403, contains="vm_images")
    vm({"gpu": 0, "image": os.path.join(IMG, "vmlinuz")}, A, 400, contains="either")
    vm({"gpu": 0, "tenant": "team-b"}, A, 403, contains="only admins")
    check(driver("0000:18:00.0") == "nvidia", "a refused request touched the GPU")

    # --- the GPU holds no other lease and no process before it leaves the host driver ------------
    other = expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": 0}, token=B),
                   201).json
    vm({"gpu": 0}, A, 409, what="a VM on a GPU another lease holds")
    check(driver("0000:18:00.0") == "nvidia", "a VM on a GPU another lease holds touched it")
    expect(d.delete("/v1/leases/" + other["id"], token=B), 200)
    hog = subprocess.Popen([HOG, "--gpu", "0", "--mib", "64"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, GPUPLEX_SIM=os.path.join(d.state, "node.sim"),
                                    GPUPLEX_RUN_DIR=d.run))
    line = hog.stdout.readline()
    check(line.startswith("ready "), "hog: %r" % line)
    vm({"gpu": 0}, A, 409, contains="process", what="a VM on a GPU that runs a process")
    check(driver("0000:18:00.0") == "nvidia", "a GPU running a process went to vfio-pci")
    check(expect(d.get("/v1/vms", token=A), 200).json == [], "a refused VM is listed")
    check(expect(d.get("/v1/leases", token=A), 200).json == [], "a refused VM's lease is live")
    hog.terminate()
    hog.wait(timeout=10)

    # --- passthrough: the GPU and its audio function, PCI managed='no' ----------------------
    pt = vm({"gpu": 0, "vcpus": 2, "memory": "1G", "cmdline": "quiet"}, A)
    check(pt["backend"] == "passthrough" and pt["state"] == "running", "passthrough VM: %s" % pt)
    check([h["address"] for h in pt["hostdevs"]] == ["0000:18:00.0", "0000:18:00.1"],
          "passthrough hostdevs: %s" % pt["hostdevs"])
    check(pt["ssh"]["host"] == "127.0.0.1" and pt["ssh"]["port"] >= 22200, "endpoint %s" % pt["ssh"])
    check(lease_state(pt["lease"]) == "active", "passthrough lease not active")
    check(driver("0000:18:00.0") == "vfio-pci" and driver("0000:18:00.1") == "vfio-pci",
          "passthrough: not on vfio-pci: %s %s" % (driver("0000:18:00.0"), driver("0000:18:00.1")))
    x = xml_of(pt["id"], A)
    check(x and "<name>%s</name>" % pt["domain"] in x, "domain XML: %s" % x)
    for fn in ("0x0", "0x1"):
        want = ("<address domain='0x0000' bus='0x18' slot='0x00' function='%s'/>" % fn)
        check(want in x, "passthrough XML lacks %s:\n%s" % (want, x))
    check(x.count("<hostdev mode='subsystem' type='pci' managed='no'>") == 2,
          "passthrough XML: two unmanaged PCI hostdevs:\n" + x)
    key64 = base64.b64encode(KEY_A.encode()).decode()
    check("gpuplex.ssh_key=" + key64 in x and "quiet" in x, "kernel command line:\n" + x)
    check("<vcpu placement='static'>2</vcpu>" in x and "1048576" in x, "vcpus/memory:\n" + x)
    # the GPU is held: a second VM on it is refused by admission
    vm({"gpu": 0}, B, 409)

    # --- isolation ------------------------------------------------------------------------------
    expect(d.get("/v1/vms/" + pt["id"], token=B), 404)
    expect(d.delete("/v1/vms/" + pt["id"], token=B), 404)
    check(expect(d.get("/v1/vms", token=B), 200).json == [], "team-b sees team-a's VM")
    check([v["id"] for v in expect(d.get("/v1/vms", token=A), 200).json] == [pt["id"]],
          "team-a's list")
    check(lease_state(pt["lease"]) == "active", "team-b's DELETE ended team-a's lease")

    # --- release order: domain gone, devices back, lease ended ----------------------------------
    gone = expect(d.delete("/v1/vms/" + pt["id"], token=A), 200).json
    check(gone["state"] == "removed", "DELETE answered %s" % gone)
    check(driver("0000:18:00.0") == "nvidia" and driver("0000:18:00.1") == "snd_hda_intel",
          "passthrough release: drivers %s %s" % (driver("0000:18:00.0"), driver("0000:18:00.1")))
    check(lease_state(pt["lease"]) == "released", "passthrough lease not ended")
    expect(d.get("/v1/vms/" + pt["id"], token=A), 404)

    # --- an admin makes a VM for a tenant: the tenant's, its lease too -----------------------------
    adm = expect(d.post("/v1/vms", {"gpu": 0, "tenant": "team-b", "image": os.path.join(IMG, "vmlinuz"),
                                    "ssh_authorized_key": KEY_B}), 201).json
    check(adm["tenant"] == "team-b", "admin's VM for team-b: %s" % adm)
    check(expect(d.get("/v1/leases/" + adm["lease"], token=B), 200).json["tenant"] == "team-b",
          "the lease of a VM made for team-b is not team-b's")
    x = xml_of(adm["id"], B)
    check("<disk type='file' device='cdrom'>" in x and "-seed.iso'/>" in x,
          "an image VM has no cloud-init seed:\n" + x)
    expect(d.delete("/v1/vms/" + adm["id"], token=B), 200)
    check(driver("0000:18:00.0") == "nvidia", "GPU 0 not given back")

    # --- mdev (A100): <hostdev type='mdev'> with the UUID ----------------------------------------
    md = vm({"vgpu_type": "A100-4C"}, A)
    check(md["backend"] == "mdev" and len(md["hostdevs"]) == 1 and
          md["hostdevs"][0]["type"] == "mdev", "mdev VM: %s" % md)
    uuid = md["hostdevs"][0]["uuid"]
    check(os.path.exists(os.path.join(SYS, "bus", "mdev", "devices", uuid)), "mdev not created")
    x = xml_of(md["id"], A)
    check("<hostdev mode='subsystem' type='mdev'" in x and "<address uuid='%s'/>" % uuid in x,
          "mdev XML:\n" + x)

    # --- vendor-vfio (H100): the VF's address, unmanaged -------------------------------------------
    vf = vm({"vgpu_type": "H100-4C"}, B)
    check(vf["backend"] == "vendor-vfio" and len(vf["hostdevs"]) == 1, "vendor-vfio VM: %s" % vf)
    vbdf = vf["hostdevs"][0]["address"]
    check(vbdf.startswith("0000:2a:") and vbdf != "0000:2a:00.0", "VF address %s" % vbdf)
    with open(os.path.join(dev(vbdf), "nvidia", "current_vgpu_type")) as fh:
        check(fh.read().strip() != "0", "VF type not set")
    x = xml_of(vf["id"], B)
    bus, rest = vbdf.split(":")[1], vbdf.split(":")[2]
    slot, fn = rest.split(".")
    want = "<address domain='0x0000' bus='0x%s' slot='0x%s' function='0x%x'/>" % (bus, slot, int(fn))
    check("<hostdev mode='subsystem' type='pci' managed='no'>" in x and want in x,
          "vendor-vfio XML lacks %s:\n%s" % (want, x))
    check([v["id"] for v in expect(d.get("/v1/vms", token=B), 200).json] == [vf["id"]],
          "team-b's list")
    check(len(expect(d.get("/v1/vms"), 200).json) == 2, "the admin sees every VM")

    # --- a lease ended elsewhere tears its VM down (the observer) ------------------------------
    expect(d.delete("/v1/leases/" + vf["lease"], token=B), 200)
    deadline = time.time() + 15
    while time.time() < deadline:
        v = expect(d.get("/v1/vms/" + vf["id"], token=B), 200).json
        if v["state"] == "ended":
            break
        time.sleep(0.1)
    check(v["state"] == "ended" and v["domain_xml"] is None, "after the lease ended: %s" % v)
    with open(os.path.join(dev(vbdf), "nvidia", "current_vgpu_type")) as fh:
        check(fh.read().strip() == "0", "VF type not reset after the lease ended")
    expect(d.delete("/v1/vms/" + vf["id"], token=B), 200)

    # --- a MIG-backed vGPU: a mig lease, its VF pinned to the lease's GPU instance -------------
    expect(d.post("/v1/gpus/1/mig", {"enabled": True}), 200)
    # the simulated kernel (gpuplex-sim-kernel, inotify) answers the previous release's
    # writes asynchronously: wait until the VFs offer the MIG-backed type again
    deadline = time.time() + 10
    while time.time() < deadline:
        types = expect(d.get("/v1/gpus/1/vgpu-types", token=B), 200).json["types"]
        if any(t["mig_backed"] and t["name"].endswith("-1-10C") for t in types):
            break
        time.sleep(0.05)
    mg = vm({"mig_profile": "1g.10gb", "gpu": 1}, B)
    lease = expect(d.get("/v1/leases/" + mg["lease"], token=B), 200).json
    check(lease["mode"] == "mig" and mg["backend"] == "vendor-vfio", "mig VM: %s %s" % (mg, lease))
    mbdf = mg["hostdevs"][0]["address"]
    with open(os.path.join(dev(mbdf), "nvidia", "gpu_instance_id")) as fh:
        check(fh.read().strip() == str(lease["mig"]["gpu_instance_id"]),
              "the VF is not pinned to the lease's GPU instance")
    with open(os.path.join(dev(mbdf), "nvidia", "current_vgpu_type")) as fh:
        check(fh.read().strip() == "1059", "the VF's type is not H100-1-10C (1059)")
    vm({"mig_profile": "1g.10gb", "vgpu_type": "H100-1-10C"}, B, 400, contains="exclude")
    expect(d.delete("/v1/vms/" + mg["id"], token=B), 200)
    with open(os.path.join(dev(mbdf), "nvidia", "current_vgpu_type")) as fh:
        check(fh.read().strip() == "0", "the MIG-backed VF's type not reset")

    # --- the CLI lists through the daemon --------------------------------------------------------
    out = cli("vm", "ls", env={"GPUPLEX_SERVER": d.sock}).stdout
    check(md["id"] in out and "mdev" in out, "gpuplex vm ls:\n" + out)
    ls = json.loads(cli("vm", "ls", "--json", env={"GPUPLEX_SERVER": d.sock}).stdout)
    check([v["id"] for v in ls] == [md["id"]] and ls[0]["lease"] == md["lease"] and
          ls[0]["ssh"]["port"] == md["ssh"]["port"], "gpuplex vm ls --json: %s" % ls)
    cli("vm", "rm", "vm-000000000000", env={"GPUPLEX_SERVER": d.sock}, expect_rc=5)
    gone = json.loads(cli("vm", "rm", "--json", md["id"], env={"GPUPLEX_SERVER": d.sock}).stdout)
    check(gone["id"] == md["id"] and gone["state"] == "removed", "vm rm --json: %s" % gone)
    check(not os.path.exists(os.path.join(SYS, "bus", "mdev", "devices", uuid)), "mdev not removed")
    check(lease_state(md["lease"]) == "released", "mdev lease not ended")
    d.stop()

    # --- a foreign device on a host driver in the GPU's IOMMU group: refused, naming it --------
    kernel.send_signal(signal.SIGTERM)
    kernel.wait(timeout=10)
    FOREIGN = os.path.join(TMP, "sys-foreign")
    sysfs_node(GPUS, FOREIGN, os.path.join(TMP, "foreign.sim"), "--sysfs-foreign", "0")
    kernel = sim_kernel(FOREIGN)
    SYS = os.environ["GPUPLEX_SYSFS_ROOT"] = FOREIGN
    d.start()
    vm({"gpu": 0}, A, 409, contains="0000:19:00.0", what="a group with a NIC on e1000e")
    vm({"gpu": 0}, A, 409, contains="e1000e", what="a group with a NIC on e1000e")
    check(driver("0000:18:00.0") == "nvidia" and driver("0000:19:00.0") == "e1000e",
          "a refused group was touched: %s %s" % (driver("0000:18:00.0"), driver("0000:19:00.0")))
    check(expect(d.get("/v1/leases", token=A), 200).json == [], "a refused VM's lease is live")
    check(expect(d.get("/v1/vms", token=A), 200).json == [], "a refused VM is listed")
    d.stop()
finally:
    if hog and hog.poll() is None:
        hog.kill()
        hog.wait(timeout=10)
    kernel.send_signal(signal.SIGTERM)
    kernel.wait(timeout=10)
print("ok")
