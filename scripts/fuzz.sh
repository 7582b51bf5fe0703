#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (preset `fuzz`: clang-14, ASan+UBSan, build-fuzz/) and
# runs each target for FUZZ_SECONDS seconds (default 60), one after the other, on a scratch copy
# of its seed corpus tests/fuzz/corpus/<target>/ (new inputs never go into the repository).
# Prints per target the executions done and executions per second; exits non-zero on any
# finding (the reproducer is kept under build-fuzz/fuzz-findings/<target>/). docs/FUZZING.md.
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 60)
#   FUZZ_RUNS        also stop a target after this many executions (default: no cap)
#   FUZZ_TARGETS     space-separated subset of the targets (default: all)
#   FUZZ_BUILD_JOBS  parallel compile jobs (default: number of CPUs)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_RUNS="${FUZZ_RUNS:-}"
FUZZ_BUILD_JOBS="${FUZZ_BUILD_JOBS:-$(nproc)}"
BUILD="$CAA_ROOT/build-fuzz"
CORPORA="$CAA_ROOT/tests/fuzz/corpus"
FINDINGS="$BUILD/fuzz-findings"

# target -> -max_len: a little over the largest input the code under test takes seriously.
declare -A MAX_LEN=(
  [json_input_fuzz]=4096       # depth and syntax; size adds nothing but time
  [api_decode_fuzz]=8192       # request bodies and frames with every field
  [cli_line_fuzz]=4096         # one CLI stdout line
  [outbound_guard_fuzz]=2200   # URLs are refused above 2048 characters
  [event_cursor_fuzz]=1024     # a query string and one header value
  [http_request_fuzz]=12288    # the header limits are 8 KiB (target, field line, block)
  [line_framer_fuzz]=4096      # chunks and lines around a small maximum
)
ALL_TARGETS=(json_input_fuzz api_decode_fuzz cli_line_fuzz outbound_guard_fuzz event_cursor_fuzz
             http_request_fuzz line_framer_fuzz)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

command -v clang++-14 >/dev/null || { say "clang++-14 is needed (apt-get install clang-14)"; exit 1; }
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  say "configuring $BUILD (preset fuzz)"
  (cd "$CAA_ROOT" && cmake --preset fuzz -G Ninja >/dev/null)
fi
say "building the fuzz targets"
cmake --build "$BUILD" -j "$FUZZ_BUILD_JOBS" --target caa_fuzz_targets

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$CAA_ROOT/tests/fuzz/ubsan.supp"
export ASAN_OPTIONS="detect_leaks=1"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failures=0
summary=()
for t in "${TARGETS[@]}"; do
  [[ -n "${MAX_LEN[$t]:-}" ]] || { say "unknown target $t"; exit 2; }
  work="$scratch/$t"
  mkdir -p "$work/corpus"
  # Known crash reproducers (crash-*) stay out of the run: `make test` replays them.
  find "$CORPORA/$t" -maxdepth 1 -type f ! -name 'crash-*' -exec cp {} "$work/corpus/" \;
  known=$(find "$CORPORA/$t" -maxdepth 1 -type f -name 'crash-*' | wc -l)
  ((known == 0)) || say "$t: $known known crash reproducer(s) in the corpus, not fuzzed from"
  say "$t: fuzzing for ${FUZZ_SECONDS}s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}"
  args=(-max_total_time="$FUZZ_SECONDS" -max_len="${MAX_LEN[$t]}" -print_final_stats=1
        -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$work/")
  [[ -z "$FUZZ_RUNS" ]] || args+=(-runs="$FUZZ_RUNS")
  status=0
  (cd "$work" && "$BUILD/bin/$t" "${args[@]}" corpus >"$work/log" 2>&1) || status=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/log" | tail -n1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$work/log" | tail -n1)
  line="$(printf '%-22s %12s executions %8s exec/s' "$t" "${execs:-?}" "${rate:-?}")"
  if ((status != 0)); then
    failures=$((failures + 1))
    mkdir -p "$FINDINGS/$t"
    find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
         -o -name 'oom-*' -o -name 'slow-unit-*' \) -exec cp {} "$FINDINGS/$t/" \;
    cp "$work/log" "$FINDINGS/$t/log"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$work/log" | head -n 8 >&2 || true
    line+="  FINDING (exit $status; see $FINDINGS/$t/)"
  fi
  summary+=("$line")
done

say "summary (${FUZZ_SECONDS}s per target):"
printf '  %s\n' "${summary[@]}" >&2
if ((failures > 0)); then
  say "$failures target(s) with findings"
  exit 1
fi
say "no finding"
