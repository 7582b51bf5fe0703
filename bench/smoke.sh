#!/usr/bin/env bash
# The CI smoke of the benchmark harness (ctest `bench_smoke`): the service driving the fake CLI,
# short SSE streams of the load client in both event durability modes (turns with
# "durability": "sync", then "async", then async token deltas), and a check that events arrived
# and each JSON result was written. No timing is checked. Skips (77) without the test services
# (DATABASE_URL).
#   bench/smoke.sh <bin dir>
set -euo pipefail
BIN="$1"
[[ -n "${DATABASE_URL:-}" && -n "${CAA_PG_PORT:-}" ]] || { echo "no DATABASE_URL: skipped"; exit 77; }

tmp=$(mktemp -d)
db="caa_bench_smoke_$$"
psql_admin() { psql -q -h 127.0.0.1 -p "$CAA_PG_PORT" -U postgres -d postgres "$@" >/dev/null; }
service_pid=""
cleanup() {
  [[ -n "$service_pid" ]] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null
  psql_admin -c "DROP DATABASE IF EXISTS $db" || true
  [[ -n "${CAA_SMOKE_KEEP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
psql_admin -c "CREATE DATABASE $db"

admin="caa_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
mkdir -p "$tmp/workspaces" "$tmp/cli"
# The agent sandbox runs the CLI as unprivileged uids: the directories on the way and the binary
# must be reachable by them (the build directory may sit in a mode-700 home).
chmod 711 "$tmp" "$tmp/cli"
cp "$BIN/fake_cli" "$tmp/cli/fake_cli"
chmod 755 "$tmp/cli/fake_cli"
# Port 0: the service binds a free port itself and logs it (a port picked here beforehand can be
# taken by a parallel test before the service binds it).
env DATABASE_URL="postgresql://postgres@127.0.0.1:$CAA_PG_PORT/$db" API_HOST=127.0.0.1 \
    API_PORT=0 API_KEY="$admin" CLAUDE_CLI_PATH="$tmp/cli/fake_cli" \
    WORKSPACE_ROOT="$tmp/workspaces" LOG_LEVEL=info EVENT_DURABILITY=sync \
    TENANT_DURABILITY_ALLOW=smoke \
    "$BIN/claude-agent-api" >"$tmp/service.log" 2>&1 &
service_pid=$!
port=""
for _ in $(seq 1 600); do
  port=$(grep -o '"msg":"listening","component":"http","port":[0-9]*' "$tmp/service.log" |
    grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  kill -0 "$service_pid" 2>/dev/null || break
  sleep 0.1
done
healthy=""
for _ in $(seq 1 100); do
  [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/health" >/dev/null && healthy=1 && break
  sleep 0.1
done
if [[ -z "$healthy" ]]; then
  echo "bench smoke: the service did not start; its log:"
  tail -20 "$tmp/service.log"
  exit 1
fi
key=$(curl -sf -X POST -H "X-API-Key: $admin" -d '{"tenant":"smoke","scopes":["agent"],"name":"smoke"}' \
      "http://127.0.0.1:$port/api/v1/keys" | sed 's/.*"key":"\([^"]*\)".*/\1/')
# load NAME ARGS...: one load_client run into $tmp/NAME.json, printed.
load() {
  local name=$1
  shift
  "$BIN/load_client" --target service --port "$port" --key "$key" --pid "$service_pid" \
    --rate 0 --timeout 60 --label "smoke/$name" --out "$tmp/$name.json" "$@"
  cat "$tmp/$name.json"
}
# expect NAME EVENTS TURNS DURABILITY: every event delivered (each stamped one counted), every
# turn completed, no error, the mode recorded.
expect() {
  local file="$tmp/$1.json"
  grep -q "\"events\":$2," "$file"
  grep -q "\"turns_ok\":$3," "$file"
  grep -q '"errors":{}' "$file"
  grep -q "\"durability\":\"$4\"" "$file"
}
# 2 streams x 2 turns x 5 events in each mode; then 1 stream x 2 turns x 5 token deltas, async.
load sync --streams 2 --turns 2 --events 5 --durability sync
expect sync 20 4 sync
load async --streams 2 --turns 2 --events 5 --durability async
expect async 20 4 async
load partial --streams 1 --turns 2 --events 5 --durability async --partial
expect partial 10 2 async
grep -q '"partial":true' "$tmp/partial.json"
echo "bench smoke: events arrived in both durability modes, results written"
