"""The watchdog runs every watchdog_interval inside gpuplexd: a process that
bypasses the interposer on a GPU with shared leases is reported (and, with
watchdog = kill, killed); with watchdog = off nothing is touched."""
import os
import subprocess
import time

from gpxd import Daemon, _die_with_parent, check, expect

BURN = os.path.join(os.environ["BUILD_DIR"], "bin", "gpuplex-burn")


def rogue(d):
    env = dict(os.environ, GPUPLEX_SIM=os.path.join(d.state, "node.sim"))
    env.pop("LD_PRELOAD", None)
    env.pop("GPUPLEX_LEASE", None)
    return subprocess.Popen([BURN, "--alloc-mib", "1024", "--hold-ms", "20000"], env=env,
                            stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)


# kill: the rogue dies within a few intervals, and the log says why
d = Daemon(args=["--set", "watchdog=kill", "--set", "watchdog_interval=200ms",
                 "--set", "watchdog_allowance=0"]).start()
d.lease({"mode": "vgpu", "memory": "1G", "gpu": 0})
p = rogue(d)
t0 = time.time()
while time.time() - t0 < 10 and p.poll() is None:
    time.sleep(0.1)
check(p.poll() is not None, "the watchdog did not kill an unleased process on a shared GPU")
check(p.returncode == -9, "killed by SIGKILL, got %r" % p.returncode)
with open(d.log) as f:
    log = f.read()
check("watchdog: unleased" in log and "killed" in log, "log: %s" % d.tail())
d.stop()

# off: nothing is touched
d = Daemon(name="off", args=["--set", "watchdog=off", "--set", "watchdog_interval=200ms"]).start()
d.lease({"mode": "vgpu", "memory": "1G", "gpu": 0})
p = rogue(d)
time.sleep(1.5)
check(p.poll() is None, "watchdog=off killed a process")
p.kill()
p.wait()
d.stop()
print("daemon watchdog: ok")
