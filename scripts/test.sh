#!/usr/bin/env bash
# Runs the whole test suite against a private PostgreSQL and Redis and the pinned CLI.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BUILD_DIR="${1:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$CAA_ROOT/$BUILD_DIR"

own_services=1
bash "$CAA_ROOT/scripts/services.sh" status && own_services=0
bash "$CAA_ROOT/scripts/services.sh" start
stop_services() {
  if [[ $own_services == 1 ]]; then bash "$CAA_ROOT/scripts/services.sh" stop || true; fi
}
trap stop_services EXIT
# shellcheck disable=SC1090
source "$(bash "$CAA_ROOT/scripts/services.sh" env)"

export CLAUDE_CLI_PATH="$CAA_AGENT_CLI"
# Only read by sanitizer builds (`make asan`): third-party leaks suppressed by name, full stacks.
export LSAN_OPTIONS="suppressions=$CAA_ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1"
export CAA_BIN_DIR="$BUILD_DIR/bin"
export CAA_SOURCE_DIR="$CAA_ROOT"
export SCRIPTED_MODEL_PATH="$BUILD_DIR/bin/scripted_model"
# Tests never inherit a real key: the scripted model is the only model they talk to.
unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL API_KEY || true

cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$(nproc)" --timeout 600 ${CTEST_EXTRA:-}
