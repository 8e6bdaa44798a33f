# Man pages and shell completion (written by the programs from their help
# tables at build time): they render without warnings, cover every command,
# config key and flag, and the bash completion completes commands and leases.
. "$SRC_DIR/tests/integration/lib.sh"

MAN=$BUILD_DIR/man
COMP=$BUILD_DIR/completion
B=$BUILD_DIR/bin
for page in "$MAN/gpuplex.1" "$MAN/gpuplexd.8" "$MAN/gpuplexd.conf.5"; do
    [ -s "$page" ] || fail "$page was not built"
    groff -man -ww -z "$page" 2>"$TEST_TMP/err" || fail "groff failed on $page"
    if command -v man >/dev/null; then
        MANWIDTH=80 man -l --warnings "$page" 2>>"$TEST_TMP/err" >/dev/null
    fi
    [ ! -s "$TEST_TMP/err" ] || { cat "$TEST_TMP/err" >&2; fail "warnings rendering $page"; }
done

# gpuplex(1): every command of `gpuplex help`
"$B/gpuplex" help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' >cmds
[ -s cmds ] || fail "no commands in gpuplex help"
while read -r c; do
    grep -q "^\.SS \"gpuplex $c\"" "$MAN/gpuplex.1" || fail "gpuplex.1 lacks command $c"
done <cmds

# gpuplexd.conf(5): every key that --check-config prints
"$B/gpuplexd" --check-config /dev/null | sed 's/ *=.*//' >keys
[ "$(wc -l <keys)" -gt 20 ] || fail "few keys from --check-config"
while read -r k; do
    grep -qx "\.B $(echo "$k" | sed 's/-/\\\\-/g')" "$MAN/gpuplexd.conf.5" || fail "gpuplexd.conf.5 lacks key $k"
done <keys
# ... each with its meaning, the comment above it in the shipped example config
grep -A1 -x '\.B max_connections_per_peer' "$MAN/gpuplexd.conf.5" | grep -q "Connections per uid or IP" ||
    fail "gpuplexd.conf.5 does not say what max_connections_per_peer means"
# an example config that does not describe every key can't make the page (the build fails)
grep -v '^#\?watchdog_lease_allowance =' "$SRC_DIR/packaging/gpuplexd.conf" >partial.conf
! "$B/gpuplexd" --config-man partial.conf >/dev/null 2>err.txt || fail "--config-man took an example without a key"
grep -q "does not describe key 'watchdog_lease_allowance'" err.txt || fail "--config-man: $(cat err.txt)"

# Every flag in a command's getopt table is named in its usage text, which the
# completion is written from (the lease flags of cli.h count for lease and run).
for f in "$SRC_DIR"/src/cli/cmd_*.c; do
    c=$(basename "$f" .c)
    c=$(echo "${c#cmd_}" | tr _ -) # cmd_cdi_hook.c: gpuplex cdi-hook
    opts=$(grep -oE '\{"[a-z][a-z-]*", *(no|required|optional)_argument' "$f" | cut -d'"' -f2)
    case $c in lease | run) opts="$opts $(grep -oE '\{"[a-z][a-z-]*", *(no|required)_argument' \
        "$SRC_DIR/src/cli/cli.h" | cut -d'"' -f2)" ;; esac
    "$B/gpuplex" help "$c" >usage
    for o in $opts; do
        [ "$o" = help ] && continue
        grep -q -e "--$o\b" usage || fail "'gpuplex help $c' does not name --$o"
        grep -q -e "--$o\b" "$COMP/gpuplex.bash" || fail "bash completion lacks --$o"
    done
done

# bash: syntax, then completion driven as readline would
bash -n "$COMP/gpuplex.bash" || fail "bash -n gpuplex.bash"
"$B/gpuplex" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
id=$("$B/gpuplex" lease create --memory 1G 2>/dev/null)
[ -n "$id" ] || fail "lease create"
[ "$("$B/gpuplex" lease ls -q)" = "$id" ] || fail "lease ls -q does not print the id alone"
complete_words() { # WORDS...: the completions of the last word
    bash -c '. "$1"; shift
        complete -p gpuplex >/dev/null || exit 3
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _gpuplex; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP/gpuplex.bash" "$@"
}
[ "$(complete_words "$B/gpuplex" le)" = lease ] || fail "gpuplex le<TAB> is not lease"
[ "$(complete_words "$B/gpuplex" lease rm "")" = "$id" ] || fail "lease rm <TAB> is not $id"
[ "$(complete_words "$B/gpuplex" run --lease "")" = "$id" ] || fail "run --lease <TAB>"
complete_words "$B/gpuplex" lease create --mig-profile 3g. | grep -qx 3g.40gb ||
    fail "--mig-profile 3g.<TAB> lacks 3g.40gb"
complete_words "$B/gpuplex" lease ls --q | grep -qx -- --quiet || fail "lease ls --q<TAB>"
complete_words "$B/gpuplex" mig assert --config- | grep -qx -- --config-file ||
    fail "mig assert --config-<TAB>"
"$B/gpuplex" lease rm "$id"

# zsh: syntax, where zsh is installed
if command -v zsh >/dev/null; then
    zsh -n "$COMP/_gpuplex" || fail "zsh -n _gpuplex"
else
    echo "zsh not installed: skipping zsh -n"
fi
