#!/usr/bin/env bash
# `make run`: private PostgreSQL and Redis, the scripted offline model when no ANTHROPIC_API_KEY
# is set, a bootstrap admin key, then the service in the foreground. Ctrl-C stops all of it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BUILD_DIR="${1:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$CAA_ROOT/$BUILD_DIR"

# Stop on exit only the services this run started (a running `make test` keeps its own).
own_services=1
bash "$CAA_ROOT/scripts/services.sh" status && own_services=0
bash "$CAA_ROOT/scripts/services.sh" start
# shellcheck disable=SC1090
source "$(bash "$CAA_ROOT/scripts/services.sh" env)"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $own_services == 1 ]]; then bash "$CAA_ROOT/scripts/services.sh" stop; fi
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${ANTHROPIC_API_KEY:-}" ]]; then
  port_file="$CAA_STATE/model.port"
  rm -f "$port_file"
  "$BUILD_DIR/bin/scripted_model" --host 127.0.0.1 --port 0 --port-file "$port_file" \
    --log "$CAA_STATE/model-requests.jsonl" >/dev/null &
  pids+=($!)
  for _ in $(seq 1 100); do [[ -s "$port_file" ]] && break; sleep 0.05; done
  export ANTHROPIC_BASE_URL="http://127.0.0.1:$(cat "$port_file")"
  export ANTHROPIC_API_KEY="offline-scripted-model"
  say "OFFLINE MODE: no ANTHROPIC_API_KEY set, agents talk to the project's scripted model at $ANTHROPIC_BASE_URL (see tests/support/scripted_model/README.md)"
fi

key_file="$CAA_STATE/admin.key"
if [[ -z "${API_KEY:-}" ]]; then
  if [[ ! -s "$key_file" ]]; then
    (umask 077; printf 'caa_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" > "$key_file")
  fi
  API_KEY="$(cat "$key_file")"
  export API_KEY
fi
export CLAUDE_CLI_PATH="${CLAUDE_CLI_PATH:-$CAA_AGENT_CLI}"
export WORKSPACE_ROOT="${WORKSPACE_ROOT:-$CAA_STATE/workspaces}"
export API_PORT="${API_PORT:-54000}"
mkdir -p "$WORKSPACE_ROOT"

say "bootstrap admin key (tenant 'default') is in $CAA_RUN/admin.key"
say "try: curl -s -H \"X-API-Key: \$(cat .run/admin.key)\" http://127.0.0.1:$API_PORT/api/v1/keys"
"$BUILD_DIR/bin/claude-agent-api" &
pids+=($!)
wait "${pids[-1]}"
