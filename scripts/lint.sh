#!/usr/bin/env bash
# `make lint`: the checks CI runs before the tests (docs/ARCHITECTURE.md, "Tools").
#   1. clang-format: every tracked .cpp/.hpp is formatted (.clang-format); `make format` fixes.
#   2. the tree check (cmake/check_tree.cmake): includes point down the layers only.
#   3. clang-tidy with the curated .clang-tidy on every source of the library layers: zero
#      findings. It reads a compile database of its own (no precompiled headers: clang cannot
#      read GCC's), configured in build-lint without building anything.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$CAA_ROOT"
LINT_DIR=${LINT_DIR:-build-lint}
JOBS=${JOBS:-$(nproc)}

mkdir -p "$LINT_DIR"
say "clang-format: checking the tracked sources"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
if ! clang-format --dry-run --Werror "${sources[@]}" 2>"$LINT_DIR/format.log"; then
  grep -E '^[^ ].*(warning|error):' "$LINT_DIR/format.log" | cut -d: -f1 | sort -u |
    sed 's/^/  not formatted: /'
  say "clang-format: the files above are not formatted (make format fixes them)"
  exit 1
fi

say "tree check: layers"
cmake -DCAA_SOURCE_DIR="$CAA_ROOT" -P cmake/check_tree.cmake

say "clang-tidy: configuring $LINT_DIR (compile database only)"
cmake -S . -B "$LINT_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCAA_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER_LAUNCHER= >/dev/null
# Every tracked source of the four layers (the generated migrations file is not ours to lint).
mapfile -t units < <(git ls-files 'config/*.cpp' 'storage/*.cpp' 'transport/*.cpp' 'actors/*.cpp')
say "clang-tidy: ${#units[@]} files, $JOBS at a time"
log="$LINT_DIR/tidy.log"
rc=0
# -Wno-ambiguous-reversed-operator: RapidJSON's iterators under clang's C++20 rules (third party).
run-clang-tidy -p "$LINT_DIR" -j "$JOBS" -quiet \
  -extra-arg=-Wno-unknown-warning-option -extra-arg=-Wno-ambiguous-reversed-operator \
  "${units[@]/#//}" >"$log.color" 2>&1 || rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$log.color" >"$log" && rm -f "$log.color"  # no colour codes
findings=$({ grep -E '(warning|error): .*\[[a-z]+-[a-z0-9.-]+(,-warnings-as-errors)?\]$' "$log" ||
  true; } | sort -u | wc -l)
if [[ "$findings" != 0 || $rc != 0 ]]; then
  grep -E '(warning|error): ' "$log" | sort -u | head -200
  say "clang-tidy: $findings findings (full log: $log)"
  exit 1
fi
say "lint: clean (format, layers, clang-tidy)"
