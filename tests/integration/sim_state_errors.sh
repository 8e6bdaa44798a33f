# A state file that is missing, truncated, of another version or garbage gives a
# clear error naming the problem, and no crash (exit status 3, never a signal).
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 2xH100-80GB --state good.sim >/dev/null
size=$(stat -c %s good.sim)

GPUPLEX_SIM=missing.sim expect_rc 3 "$GPX" ls
expect_err "missing.sim"

head -c $((size / 2)) good.sim >trunc.sim
GPUPLEX_SIM=trunc.sim expect_rc 3 "$GPX" ls --json
expect_err "damaged or truncated"

head -c 10 good.sim >tiny.sim
GPUPLEX_SIM=tiny.sim expect_rc 3 "$GPX" ls
expect_err "truncated"

: >empty.sim
GPUPLEX_SIM=empty.sim expect_rc 3 "$GPX" ls
expect_err "truncated"

head -c "$size" /dev/urandom >garbage.sim
GPUPLEX_SIM=garbage.sim expect_rc 3 "$GPX" ls
expect_err "not a gpuplex simulator state file"

# Another version: the same file with its version field (bytes 8..11) changed.
cp good.sim version.sim
printf '\143\000\000\000' | dd of=version.sim bs=1 seek=8 conv=notrunc 2>/dev/null
GPUPLEX_SIM=version.sim expect_rc 3 "$GPX" ls
expect_err "version 99"

# A GPU count that does not match the size.
cp good.sim count.sim
printf '\011\000\000\000' | dd of=count.sim bs=1 seek=20 conv=notrunc 2>/dev/null
GPUPLEX_SIM=count.sim expect_rc 3 "$GPX" ls
expect_err "damaged or truncated"

# The good one still works.
GPUPLEX_SIM=good.sim expect_rc 0 "$GPX" ls --json
