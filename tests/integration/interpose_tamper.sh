# A workload cannot raise its quota: not by editing its environment
# (GPUPLEX_LEASE pointed elsewhere or removed, before or after the first CUDA
# call; made-up quota variables), not by writing the region (the limits
# mapping faults and cannot be made writable; a rewritten limits file - root
# can - changes nothing for a running process; zeroing the shared usage does
# not let a process pass its quota).
. "$SRC_DIR/tests/integration/interpose_lib.sh"

small=$(lease 64M)
big=$(lease 4G)
expect_rc 0 "$GPX" run --lease "$small" -- "$CHECK" env-tamper "$big"
cat "$TEST_TMP/out"
expect_rc 0 "$GPX" run --lease "$small" -- "$CHECK" env-tamper
cat "$TEST_TMP/out"
# Made-up variables set before the process starts do nothing either.
expect_rc 0 env GPUPLEX_QUOTA=1T GPUPLEX_MEMORY=1T CUDA_DEVICE_MEMORY_LIMIT=1024g \
    "$GPX" run --lease "$small" -- "$BURN" --alloc-mib 256 --chunk-mib 16 --json
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 64 "with made-up quota variables"

# Last: as root this rewrites the lease's limits file for good.
victim=$(lease 64M)
expect_rc 0 "$GPX" run --lease "$victim" -- "$CHECK" region-tamper
cat "$TEST_TMP/out"
