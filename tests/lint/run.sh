#!/bin/sh
# Lint checks for CTest (label `lint`), the same commands as `make format-check`
# and `make cppcheck`, over the files git tracks in SRC_DIR.
# Usage: run.sh format|cppcheck SRC_DIR
# Exits 77 (skipped) where the tool or git is missing, where SRC_DIR is not a
# git checkout, and (format) where clang-format is not version 14: the style
# in .clang-format is pinned to it and other versions lay code out differently.
set -u
what=${1:?format or cppcheck} src=${2:?source directory}
skip() {
  echo "skipped: $*"
  exit 77
}
have() { command -v "$1" >/dev/null 2>&1; }

have git || skip "git not found"
[ "$(git -C "$src" rev-parse --is-inside-work-tree 2>/dev/null)" = true ] ||
  skip "$src is not a git checkout"
cd "$src" || exit 1
case $what in
format)
  have clang-format || skip "clang-format not found"
  major=$(clang-format --version | sed -n 's/.*version \([0-9][0-9]*\).*/\1/p')
  [ "$major" = 14 ] || skip "clang-format ${major:-of unknown version}: the style is for clang-format 14"
  git ls-files -z '*.c' '*.h' | xargs -0 -r clang-format --dry-run -Werror
  ;;
cppcheck)
  have cppcheck || skip "cppcheck not found"
  git ls-files -z 'src/*.c' 'sim/*.c' |
    xargs -0 -r cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
      -I include -I src -I sim --error-exitcode=1
  ;;
*)
  echo "usage: $0 format|cppcheck SRC_DIR" >&2
  exit 2
  ;;
esac
