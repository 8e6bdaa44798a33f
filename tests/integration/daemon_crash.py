"""Crash safety: 1000 create/release operations against gpuplexd while it is
SIGKILLed at random moments (often mid-request) and restarted. Afterwards every
acknowledged lease is there exactly once and active, every acknowledged release
is released, an operation cut off by a kill happened at most once, and the run
directory holds exactly the active leases' regions: no orphan, none missing.
GPX_CRASH_OPS and GPX_CRASH_SEED override the defaults."""
import os
import random
import signal
import subprocess
import threading
import time

from gpxd import Daemon, _die_with_parent, check, expect, fail

OPS = int(os.environ.get("GPX_CRASH_OPS", "1000"))
SEED = int(os.environ.get("GPX_CRASH_SEED", str(int(time.time()))))
rng = random.Random(SEED)
print("seed %d, %d operations" % (SEED, OPS))

d = Daemon(gpus="2xH100-80GB", args=["--log-level", "warn"]).start()
lock = threading.Lock()
stop = threading.Event()
kills = [0]


# operations answered by the daemon now running: the killer waits for a few, so that
# kills keep landing mid-request however slow a restart is (a sanitizer build on a
# loaded machine restarts slower than the killer's interval: then every operation was
# cut off and the run took minutes); 30 % of restarts are also killed while starting
served = [0]
KILL_AFTER = 3


def killer():
    krng = random.Random(SEED + 1)
    while not stop.is_set():
        time.sleep(krng.uniform(0.005, 0.1))
        with lock:
            p = d.proc
            if p and p.poll() is None and not stop.is_set() and served[0] >= KILL_AFTER:
                p.send_signal(signal.SIGKILL)
                kills[0] += 1


acked = {}  # id -> req label, acknowledged and not released
released = set()  # acknowledged releases
unsure_create = set()  # req labels whose create was cut off
unsure_release = set()  # ids whose release was cut off
modes = [{"mode": "vgpu", "memory": "256M"}, {"mode": "timeslice", "memory": "512M", "weight": 2},
         {"mode": "timeslice"}]


early_kills = [0]


def restart():
    with lock:
        if d.proc:
            d.proc.wait()  # killed: reap it
            d.proc = None
        if rng.random() < 0.3:
            # killed again while starting: opening the database, reconciling, binding
            p = subprocess.Popen(d.cmd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent)
            time.sleep(rng.uniform(0, 0.03))
            p.kill()
            p.wait()
            early_kills[0] += 1
        d.start()
        served[0] = 0


t = threading.Thread(target=killer, daemon=True)
t.start()
t0 = time.time()
n = -1
# OPS operations, and more (up to 5x) until the killer has struck 20 times: a fast
# machine must not finish before the crashes that make the test mean something
while True:
    n += 1
    if n >= OPS and (kills[0] >= 20 or n >= 5 * OPS):
        break
    release = acked and rng.random() < 0.45
    try:
        if release:
            lid = rng.choice(sorted(acked))
            r = d.delete("/v1/leases/" + lid, timeout=10)
            check(r.status == 200, "release %s: %r" % (lid, r))
            del acked[lid]
            released.add(lid)
        else:
            body = dict(rng.choice(modes))
            body["labels"] = {"req": str(n)}
            r = d.post("/v1/leases", body, timeout=10)
            check(r.status == 201, "create: %r" % r)
            acked[r.json["id"]] = str(n)
        served[0] += 1
    except (OSError, ValueError) as e:  # the daemon died under us
        try:
            if d.proc is not None:
                d.proc.wait(timeout=5)  # a SIGKILL takes a moment to land
        except Exception:
            fail("operation %d failed without a kill: %s\n%s" % (n, e, d.tail()))
        if release:
            unsure_release.add(lid)
            del acked[lid]
        else:
            unsure_create.add(str(n))
        restart()
    if d.proc is None or d.proc.poll() is not None:
        restart()
stop.set()
t.join()
with lock:
    if d.proc is None or d.proc.poll() is not None:
        restart()
elapsed = time.time() - t0
print("%d operations, %d kills (+%d while starting), %d restarts in %.1f s; %d cut off" %
      (OPS, kills[0], early_kills[0], d.starts - 1, elapsed,
       len(unsure_create) + len(unsure_release)))
check(kills[0] >= 20, "too few kills to mean anything: %d" % kills[0])

# one more restart: nothing may change
d.stop()
d.start()
rows = expect(d.get("/v1/leases?state=all"), 200).json
ids = [l["id"] for l in rows]
check(len(ids) == len(set(ids)), "duplicate lease ids")
by_id = {l["id"]: l for l in rows}
reqs = [l["labels"].get("req") for l in rows]
check(len(reqs) == len(set(reqs)), "a create happened twice: %d rows, %d distinct requests"
      % (len(reqs), len(set(reqs))))
for lid, req in acked.items():
    l = by_id.get(lid)
    check(l is not None, "acknowledged lease %s (req %s) is lost" % (lid, req))
    check(l["state"] == "active", "acknowledged lease %s is %s" % (lid, l["state"]))
    check(l["labels"]["req"] == req, "lease %s has the wrong labels" % lid)
for lid in released:
    check(lid in by_id and by_id[lid]["state"] == "released",
          "acknowledged release of %s not kept: %r" % (lid, by_id.get(lid)))
acked_reqs = set(acked.values())
for l in rows:
    req = l["labels"]["req"]
    if l["id"] in acked or l["id"] in released or l["id"] in unsure_release:
        continue
    check(req in unsure_create, "lease %s (req %s) was never asked for" % (l["id"], req))
active = {l["id"] for l in rows if l["state"] == "active"}
check(set(acked) <= active, "lost active leases")
check(d.regions() == active, "regions %d vs active leases %d: orphans %s, missing %s" %
      (len(d.regions()), len(active), sorted(d.regions() - active)[:5],
       sorted(active - d.regions())[:5]))
h = expect(d.get("/healthz"), 200).json
check(h["leases_active"] == len(active), "healthz count")
d.stop()
print("ok: %d active, %d released, %d cut-off creates (%d happened), %d cut-off releases" %
      (len(active), len(released), len(unsure_create),
       sum(1 for l in rows if l["labels"]["req"] in unsure_create), len(unsure_release)))
