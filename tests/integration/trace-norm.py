"""Normalizes one command's stdout for the path comparison (paths.sh): JSON with
its values that differ by nature between two runs (ids, UUID-free times, figures
that depend on timing, pids, paths of the temporary directory) replaced by
placeholders; keys that only a daemon has (docs/api.md) dropped. Non-JSON output
is kept with lease ids and times masked."""
import json
import os
import re
import sys

TMP = os.environ.get("TEST_TMP", "")

VOLATILE = {"created", "created_ns", "released", "uptime_seconds", "lease_seconds",
            "gpu_seconds", "wait_seconds", "wait_p99_ms", "owner_pids", "pid", "pids",
            "uid", "grant_ms", "wait_us", "memory_used_gib_seconds",
            "memory_quota_gib_seconds", "from", "to", "driver_version", "gpu_util_pct"}
# keys whose value is the host's by nature (docs/api.md, "Daemon-only values")
HOST = {"host", "via", "server", "path", "why"}
LEASE_ID = re.compile(r"l-[0-9a-f]{12}")


def label(ids, lid):
    """<leaseN>, N in order of first appearance in the whole trace (the same on both paths)."""
    return ids.setdefault(lid, "<lease%d>" % len(ids))


def order(x):
    """Lists of leases come sorted by their random ids: sort them by label instead."""
    if isinstance(x, dict) and isinstance(x.get("id"), str) and x["id"].startswith("<lease"):
        return (0, int(x["id"][6:-1]))
    return (1, 0)


def norm(v, key=None, ids=None):
    if isinstance(v, dict):
        return {k: norm(x, k, ids) for k, x in v.items() if k not in HOST}
    if isinstance(v, list):
        out = [norm(x, key, ids) for x in v]
        if all(order(x)[0] == 0 for x in out):
            out.sort(key=order)
        return out
    if key in VOLATILE and v is not None:
        return "<%s>" % key
    if isinstance(v, str):
        if TMP:
            v = v.replace(TMP, "<tmp>")
        return LEASE_ID.sub(lambda m: label(ids, m.group(0)), v)
    return v


text = sys.stdin.read()
idfile = os.environ.get("GPX_TRACE", "") + ".ids"
try:
    ids = json.load(open(idfile))
except (OSError, ValueError):
    ids = {}
try:
    j = json.loads(text)
    print(json.dumps(norm(j, None, ids), sort_keys=True, indent=1))
except ValueError:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):  # JSON lines (watch --json)
            try:
                lines.append(json.dumps(norm(json.loads(line), None, ids), sort_keys=True))
                continue
            except ValueError:
                pass
        if TMP:
            line = line.replace(TMP, "<tmp>")
        line = re.sub(r"^GPX_(VIA|TRACE)=.*", "<the test harness's environment>", line)
        line = LEASE_ID.sub(lambda m: label(ids, m.group(0)), line)
        lines.append(re.sub(r"\d+\.\d+ s\b|up \d+ s", "<t>", line))
    # table rows of leases come sorted by their random ids: sort runs of them by label
    out, run = [], []
    for line in lines + [None]:
        if line is not None and re.match(r"<lease\d+>\s", line):
            run.append(line)
            continue
        out += sorted(run, key=lambda x: int(re.match(r"<lease(\d+)>", x).group(1)))
        run = []
        if line is not None:
            out.append(line)
    print("\n".join(out))
if os.environ.get("GPX_TRACE"):
    json.dump(ids, open(idfile, "w"))
