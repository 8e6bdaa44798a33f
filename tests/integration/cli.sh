# CLI basics: help, version, usage errors and their exit statuses.
. "$SRC_DIR/tests/integration/lib.sh"

expect_rc 0 "$GPX" --help
grep -q "^  ls " "$TEST_TMP/out" || fail "--help does not list ls"
grep -q "exit status" "$TEST_TMP/out" || fail "--help does not document exit statuses"
expect_rc 0 "$GPX" help ls
grep -q "memory_total_mib" "$TEST_TMP/out" || fail "help ls does not document JSON keys"
expect_rc 0 "$GPX" ls --help
expect_rc 0 "$GPX" --version
grep -Eq "^gpuplex [0-9]+\.[0-9]+\.[0-9]+$" "$TEST_TMP/out" || fail "version format"
expect_rc 0 "$GPX" version --json
[ "$(json 'j["version"].count(".")' "$TEST_TMP/out")" = 2 ] || fail "version --json"
expect_rc 2 "$GPX"
expect_rc 2 "$GPX" frobnicate
expect_err "unknown command 'frobnicate'"
expect_rc 2 "$GPX" ls --bogus
expect_err "unknown option"
expect_rc 2 "$GPX" help nosuch

# sim init: bad specs name the valid models
expect_rc 2 "$GPX" sim init --gpus 2xV100 --state x.sim
expect_err "unknown GPU model 'V100'.*A100-40GB, A100-80GB, H100-80GB, H200-141GB"
expect_rc 2 "$GPX" sim init --gpus 0xH100-80GB --state x.sim
expect_rc 2 "$GPX" sim init --gpus 17xH100-80GB --state x.sim
expect_rc 2 "$GPX" sim init --gpus "2xH100-80GB,,1xH200" --state x.sim
expect_rc 2 "$GPX" sim init --gpus 2yH100 --state x.sim
expect_rc 2 "$GPX" sim init --state x.sim
expect_err "needs --gpus"
[ ! -e x.sim ] || fail "a failed init left a state file"
expect_rc 0 "$GPX" sim init --gpus "1xa100-80gb, 1 x H200-141GB" --state x.sim
expect_rc 0 "$GPX" sim models
grep -q "H200-141GB" "$TEST_TMP/out" || fail "sim models"

# No driver at all: the error says what is missing and how to use the simulator.
if ! ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml.so.1 '; then
    (
        unset GPUPLEX_SIM GPUPLEX_DRIVER_DIR
        expect_rc 3 "$GPX" ls
        expect_err "libnvidia-ml.so.1"
        expect_err "gpuplex sim init"
    )
fi
