"""gpuplexd's watchdog (watchdog = kill) on every GPU, with two real users
(alice, bob: tenants by uid, their leases made over the unix socket as
themselves), each case within one watchdog interval (plus scheduling slack):
- bob's process on the GPU alice holds exclusively, and root's on an idle GPU,
  are killed; alice's own on her exclusive GPU lives;
- alice plants bob's pid in her own lease's usage region (she can write it):
  bob's process, within his own lease, is not charged to alice's lease and
  lives, for `gpuplex watch --enforce kill` too;
- 8 processes of bob's 1 GiB lease, each within the per-process allowance
  but together past the per-lease bound, are all killed."""
import os
import pwd
import subprocess
import time

from gpxd import GPX, TMP, Daemon, _die_with_parent, as_user, check, expect, expect_killed, post_as

HOG = os.path.join(os.environ["BUILD_DIR"], "tests", "gpx-test-hog")
ALICE, BOB = os.environ["GPX_ALICE"], os.environ["GPX_BOB"]
PW = {u: pwd.getpwnam(u) for u in (ALICE, BOB)}
INTERVAL = 0.5
# one interval, plus slack for a loaded 2-core machine to run the tick and deliver SIGKILL
WITHIN = INTERVAL + 1.5

d = Daemon(gpus="3xH100-80GB",
           args=["--set", "watchdog=kill", "--set", "watchdog_interval=500ms",
                 "--set", "socket_mode=0666"]).start()
for u in (ALICE, BOB):
    expect(d.post("/v1/tenants", {"name": u, "uid": PW[u].pw_uid}), 201, what="tenant " + u)

# the users' hogs take simulated device memory: the node's state file, where they reach it
sim = os.path.join(TMP, "node.sim")
os.link(os.path.join(d.state, "node.sim"), sim)
os.chmod(sim, 0o666)
ENV = dict(os.environ, GPUPLEX_SIM=sim, GPUPLEX_RUN_DIR=d.run)
for k in ("LD_PRELOAD", "GPUPLEX_LEASE"):
    ENV.pop(k, None)


def lease_as(user, body):
    r = post_as(user, d.sock, "/v1/leases", body)
    check(r["status"] == 201, "lease %r as %s: %r" % (body, user, r))
    return r["body"]["id"]


hogs = []


def start(user, gpu, mib, lease=None, go=None):
    argv = [HOG, "--gpu", str(gpu), "--mib", str(mib)]
    argv += ["--lease", lease] if lease else []
    argv += ["--go", go] if go else []
    p = subprocess.Popen(as_user(user, *argv), env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    hogs.append(p)
    line = p.stdout.readline()
    check(line.startswith("attached " if go else "ready "),
          "hog %s: %r %s" % (argv, line, p.stderr.read() if p.poll() is not None else ""))
    return p


def ready(p):
    line = p.stdout.readline()
    check(line.startswith("ready "), "hog %d: %r" % (p.pid, line))
    return time.monotonic()


def killed_within(p, since, what):
    expect_killed(p, since, WITHIN, what, d.tail())


def log():
    return d.log_text()


try:
    excl = lease_as(ALICE, {"mode": "exclusive", "gpu": 1})
    bob_lease = lease_as(BOB, {"mode": "vgpu", "memory": "1G", "gpu": 0})
    alice_lease = lease_as(ALICE, {"mode": "vgpu", "memory": "256M", "gpu": 0})

    # exclusive and idle GPUs: foreign and unleased processes die, the holder's lives
    own = start(ALICE, 1, 4096)
    t_own = time.monotonic()
    intruder = start(BOB, 1, 2048)
    t_intruder = time.monotonic()
    idle = start(None, 2, 512)
    t_idle = time.monotonic()
    killed_within(intruder, t_intruder, "bob's process on alice's exclusive GPU")
    killed_within(idle, t_idle, "a process on an idle GPU")
    check("watchdog: unleased pid %d (uid %d) on GPU 1" % (intruder.pid, PW[BOB].pw_uid) in log(),
          "log names the intruder: %s" % d.tail())

    # a planted pid: bob's process (in his lease, within its quota) written into alice's slots
    bob_proc = start(BOB, 0, 900, lease=bob_lease)
    p = subprocess.run(as_user(ALICE, HOG, "--lease", alice_lease, "--plant", str(bob_proc.pid)),
                       env=ENV, capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and p.stdout.startswith("planted"), "plant: %s" % p.stderr)
    cli_env = {"GPUPLEX_STATE_DIR": d.state, "GPUPLEX_RUN_DIR": d.run}
    w = subprocess.run([GPX, "watch", "--once", "--enforce", "kill", "--allowance", "0", "--json"],
                       env=dict(os.environ, **cli_env), capture_output=True, text=True,
                       timeout=60)
    check(w.returncode == 0, "gpuplex watch: %s" % w.stderr)
    check(w.stdout == "", "gpuplex watch charged a planted pid: %s" % w.stdout)
    time.sleep(3 * INTERVAL)
    check(bob_proc.poll() is None, "bob's process was killed for alice's lease:\n" + d.tail())
    check(own.poll() is None, "alice's process on her exclusive GPU was killed:\n" + d.tail())
    check(("over_quota lease " + alice_lease) not in log(), "alice's lease reported: " + d.tail())

    # 8 processes of one 1 GiB lease: 640 MiB each is within 1 GiB + 8 x 512 MiB, but past
    # 1 GiB + watchdog_lease_allowance (1G). They take their memory at once (--go).
    many = lease_as(BOB, {"mode": "vgpu", "memory": "1G", "gpu": 0})
    go = os.path.join(TMP, "go")
    eight = [start(BOB, 0, 640, lease=many, go=go) for _ in range(8)]
    open(go, "w").close()
    t = min(ready(h) for h in eight)
    for i, h in enumerate(eight):
        killed_within(h, t, "process %d of 8 over the per-lease bound" % i)
    check("watchdog: over_quota lease %s (uid %d) on GPU 0: 5368709120 bytes used > quota "
          "1073741824 + allowance 1073741824, 8 pid(s), 8 killed" % (many, PW[BOB].pw_uid)
          in log(), "log: %s" % d.tail())
    check(bob_proc.poll() is None, "bob's other lease's process was killed:\n" + d.tail())
    check(own.poll() is None, "alice's exclusive workload was killed:\n" + d.tail())
finally:
    for h in hogs:
        if h.poll() is None:
            h.kill()
            h.wait()
d.stop()
print("daemon watchdog fence: ok")
