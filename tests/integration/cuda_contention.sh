# Two processes launching kernels share the simulated GPU's one engine: each
# takes about twice as long as it does alone, as contexts time-sliced on a GPU.
. "$SRC_DIR/tests/integration/lib.sh"
BURN=$BUILD_DIR/bin/gpuplex-burn

"$GPX" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
args="--kernels 40 --kernel-ns 20000000 --streams 2 --json"

# shellcheck disable=SC2086
"$BURN" $args >one.json
# shellcheck disable=SC2086
"$BURN" $args >a.json &
a=$!
# shellcheck disable=SC2086
"$BURN" $args >b.json &
b=$!
wait "$a" || fail "first burn failed"
wait "$b" || fail "second burn failed"

python3 - one.json a.json b.json <<'PY' || fail "no contention"
import json, sys
one, a, b = (json.load(open(p)) for p in sys.argv[1:])
alone = one["kernel_s"]
ra, rb = a["kernel_s"] / alone, b["kernel_s"] / alone
print(f"alone {alone:.3f}s, together {a['kernel_s']:.3f}s and {b['kernel_s']:.3f}s: x{ra:.2f}, x{rb:.2f}")
assert 0.75 < alone < 1.5, "alone should take about 40 x 20 ms"
# Both slow down (they interleave), and together they need about twice the time.
assert max(ra, rb) > 1.6, "the GPU was not shared"
assert min(ra, rb) > 1.3, "one process ran alone first"
PY
