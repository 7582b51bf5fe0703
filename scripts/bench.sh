#!/usr/bin/env bash
# `make bench`: the service against the physical floor and against what teams deploy instead,
# on this machine, in this run, with the same fake CLI and the same load client (bench/README.md).
# Builds a Release tree, installs the Node baselines into bench/baselines/node_modules, starts
# PostgreSQL/Redis like `make test`, runs the standard suite, prints a table of medians and
# ratios and writes bench/results/<timestamp>.json. Stops everything it started.
#   BENCH_QUICK=1        a minute with tiny numbers (the CI smoke runs the pieces directly)
#   BENCH_BUILD_TYPE=T   CMake build type of the tree (default Release)
#   BENCH_BIN_DIR=DIR    use the binaries already built in DIR, build nothing
#   BENCH_JOBS=N         parallel build jobs (default: the core count)
#   BENCH_ONLY=LIST      only these scenarios (comma-separated): streams, throughput, partial,
#                        ws, read, open-streams, hibernated, cluster (default: all)
#   BENCH_BASELINE_REV=REV  also measure the service of commit REV (`prev`: HEAD~1) beside this
#                        one, labelled service-prev (default: off). Its tree is a `git archive` of
#                        REV in the run's state directory (the repository is not changed), built
#                        there with ccache (BENCH_BUILD_TYPE, BENCH_JOBS) and removed at the end;
#                        it gets a database and a Redis database of its own. It runs streams,
#                        throughput, partial, ws and read; the report prints current/previous
#                        ratios.
# The service runs with EVENT_DURABILITY=sync and TENANT_DURABILITY_ALLOW=bench: target `service`
# sends `"durability": "sync"` on every turn, `service-async` `"durability": "async"` (streams,
# throughput, partial; the same for service-prev and service-prev-async when REV knows the field).
#   BENCH_CLUSTER_FORWARD=turn|attach|auto  how `cluster` reaches a non-owner (default auto:
#                        turn when a non-owner serves a turn, else attach; bench/README.md)
#   BENCH_CLUSTER_STREAMS=N, BENCH_CLUSTER_TURNS=N  the `cluster` load (default 100 streams, quick
#                        10, of 3 turns: a new session and 2 warm turns)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BUILD_DIR="${1:-build-release}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$CAA_ROOT/$BUILD_DIR"
BIN="${BENCH_BIN_DIR:-$BUILD_DIR/bin}"
BASELINES="$CAA_ROOT/bench/baselines"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="$CAA_STATE/bench/$STAMP"
RESULTS="$CAA_ROOT/bench/results"
mkdir -p "$WORK/results" "$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [[ -z "${BENCH_BIN_DIR:-}" ]]; then
  say "building (${BENCH_BUILD_TYPE:-Release}) in $BUILD_DIR"
  cmake -S "$CAA_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BENCH_BUILD_TYPE:-Release}" >/dev/null
  cmake --build "$BUILD_DIR" -j "${BENCH_JOBS:-$(nproc)}" --target claude-agent-api fake_cli floor \
    load_client
fi

# want SCENARIO: whether BENCH_ONLY (unset: everything) names it.
want() { [[ -z "${BENCH_ONLY:-}" || ",${BENCH_ONLY// /}," == *",$1,"* ]]; }
# The single service, the floor and the baselines serve every scenario but `cluster`.
SINGLE=0
for scenario in streams throughput partial ws read open-streams hibernated; do
  want "$scenario" && SINGLE=1
done

# --- the service of another commit (BENCH_BASELINE_REV), built beside this one ------------------
# A `git archive` of the commit in this run's directory (the repository and its worktrees are not
# touched), built with ccache (CCACHE_BASEDIR = that tree: the objects of files the commits share,
# and of every file when that commit was built before, come from the cache) and removed when the
# run ends.
PREV_BIN=""
PREV_SRC=""
if [[ -n "${BENCH_BASELINE_REV:-}" && $SINGLE == 0 ]]; then
  say "BENCH_BASELINE_REV: none of the chosen scenarios runs the baseline service; not built"
elif [[ -n "${BENCH_BASELINE_REV:-}" ]]; then
  rev=$BENCH_BASELINE_REV
  [[ $rev == prev ]] && rev=HEAD~1
  PREV_SHA=$(git -C "$CAA_ROOT" rev-parse --verify --quiet "$rev^{commit}") ||
    { say "BENCH_BASELINE_REV: $rev is not a commit"; exit 1; }
  PREV_SHORT=${PREV_SHA:0:7}
  PREV_SRC="$WORK/baseline-$PREV_SHORT"
  trap 'rm -rf "$PREV_SRC"' EXIT
  mkdir -p "$PREV_SRC"
  git -C "$CAA_ROOT" archive "$PREV_SHA" | tar -x -C "$PREV_SRC"
  say "building the baseline service of $PREV_SHORT (${BENCH_BUILD_TYPE:-Release}) in $PREV_SRC/build-release"
  (
    export CCACHE_BASEDIR="$PREV_SRC" CCACHE_NOHASHDIR=1
    export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
    cmake -S "$PREV_SRC" -B "$PREV_SRC/build-release" -G Ninja \
      -DCMAKE_BUILD_TYPE="${BENCH_BUILD_TYPE:-Release}" >/dev/null
    cmake --build "$PREV_SRC/build-release" -j "${BENCH_JOBS:-$(nproc)}" --target claude-agent-api
  )
  PREV_BIN="$PREV_SRC/build-release/bin/claude-agent-api"
fi

if [[ $SINGLE == 1 ]]; then
  say "installing the Node baselines (pinned in bench/baselines/package.json)"
  (cd "$BASELINES" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
fi

own_services=1
bash "$CAA_ROOT/scripts/services.sh" status && own_services=0
bash "$CAA_ROOT/scripts/services.sh" start
# shellcheck disable=SC1090
source "$(bash "$CAA_ROOT/scripts/services.sh" env)"

pids=()
cluster_pids=()
cleanup() {
  for pid in "${pids[@]}" "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" "${cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $own_services == 1 ]]; then bash "$CAA_ROOT/scripts/services.sh" stop || true; fi
  if [[ -n "$PREV_SRC" ]]; then rm -rf "$PREV_SRC"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {  # port, name
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  say "$2 did not start"; exit 1
}

# A database of its own, fresh per run: runs do not see each other's sessions. The baseline
# service gets another one (a newer schema's migrations may not suit an older binary).
BENCH_DB=claude_agent_api_bench
fresh_database "$BENCH_DB"
PREV_DB=${BENCH_DB}_prev
[[ -n "$PREV_BIN" ]] && fresh_database "$PREV_DB"

# --- the service, driving the fake CLI -----------------------------------------------------------
ADMIN_KEY="caa_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
# The sandbox runs the fake CLI as the tenants' uids: a copy they can reach.
install_reachable "$BIN/fake_cli" "$WORK/cli/fake_cli"
# start_service BINARY PORT WORKSPACES LOG [VAR=VALUE...]: starts one service process in the
# background with the bench's settings (the extra variables win); its pid in $!. Events are
# stored before they are sent unless a turn asks for `"durability": "async"` (tenant `bench`).
start_service() {
  local binary=$1 port=$2 workspaces=$3 log=$4
  shift 4
  mkdir -p "$workspaces"
  env DATABASE_URL="postgresql://postgres@127.0.0.1:$CAA_PG_PORT/$BENCH_DB" \
      API_HOST=127.0.0.1 API_PORT="$port" API_KEY="$ADMIN_KEY" LOG_LEVEL=warn \
      CLAUDE_CLI_PATH="$WORK/cli/fake_cli" WORKSPACE_ROOT="$workspaces" \
      MAX_AGENT_PROCESSES=2500 ADMISSION_WAIT=60 SESSION_IDLE_TIMEOUT=15 \
      RATE_LIMIT_QUERY_PER_MINUTE=1000000 RATE_LIMIT_GENERAL_PER_MINUTE=1000000 \
      API_MAX_CONNECTIONS=16384 API_MAX_CONNECTIONS_PER_IP=16384 TENANT_MAX_AGENT_PROCESSES=4096 \
      EVENT_DURABILITY=sync TENANT_DURABILITY_ALLOW=bench \
      "$@" "$binary" >"$log" 2>&1 &
}

# --- the single service, the floor and the baselines ----------------------------------------------
start_single_targets() {
  SERVICE_PORT=$(free_port)
  start_service "$BIN/claude-agent-api" "$SERVICE_PORT" "$WORK/workspaces" "$WORK/service.log"
  SERVICE_PID=$!
  pids+=("$SERVICE_PID")
  wait_port "$SERVICE_PORT" "the service"
  make_key "$SERVICE_PORT"
  [[ -n "$PREV_BIN" ]] && start_prev

  FLOOR_PORT_FILE="$WORK/floor.port"
  "$BIN/floor" --cli "$BIN/fake_cli" --port-file "$FLOOR_PORT_FILE" 2>"$WORK/floor.log" &
  FLOOR_PID=$!
  pids+=("$FLOOR_PID")
  for _ in $(seq 1 100); do [[ -s "$FLOOR_PORT_FILE" ]] && break; sleep 0.05; done
  FLOOR_PORT=$(cat "$FLOOR_PORT_FILE")

  mkdir -p "$WORK/sdk-cwd" "$WORK/path"
  NODE_PORT=$(free_port)
  (cd "$WORK/sdk-cwd" && exec node "$BASELINES/sdk_server.mjs" "$NODE_PORT" "$BIN/fake_cli") \
    >"$WORK/sdk.log" 2>&1 &
  NODE_PID=$!
  pids+=("$NODE_PID")
  # claude-max-api-proxy runs `claude` from PATH, one process per request.
  ln -sf "$BIN/fake_cli" "$WORK/path/claude"
  PROXY_PORT=$(free_port)
  (cd "$WORK/sdk-cwd" && PATH="$WORK/path:$PATH" exec node \
    "$BASELINES/node_modules/claude-max-api-proxy/dist/server/standalone.js" "$PROXY_PORT") \
    >"$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  pids+=("$PROXY_PID")
  wait_port "$NODE_PORT" "the Agent SDK baseline"
  wait_port "$PROXY_PORT" "claude-max-api-proxy"
}

# make_key PORT: the bench tenant's agent key (KEY, TENANT_ID), made once through that node.
make_key() {
  [[ -n "${KEY:-}" ]] && return 0
  local doc
  doc=$(curl -sf -X POST -H "X-API-Key: $ADMIN_KEY" -d '{"tenant":"bench","scopes":["agent"],"name":"bench"}' \
        "http://127.0.0.1:$1/api/v1/keys")
  KEY=$(sed 's/.*"key":"\([^"]*\)".*/\1/' <<<"$doc")
  TENANT_ID=$(sed 's/.*"tenant_id":"\([^"]*\)".*/\1/' <<<"$doc")
  [[ "$KEY" == caa_* ]] || { say "cannot create a bench key"; exit 1; }
}

# start_prev: the baseline service (BENCH_BASELINE_REV) with the same settings, its own database,
# Redis database 1 and workspaces; PREV_KEY is the bench tenant's key there. PREV_DURABILITY=1
# when it serves a turn with `"durability": "async"` (the commit knows the field), else 0: then
# service-prev runs without the field (as that commit's default stores before it sends) and
# service-prev-async is skipped.
PREV_DURABILITY=0
start_prev() {
  local status
  PREV_PORT=$(free_port)
  start_service "$PREV_BIN" "$PREV_PORT" "$WORK/ws-prev" "$WORK/service-prev.log" \
    DATABASE_URL="postgresql://postgres@127.0.0.1:$CAA_PG_PORT/$PREV_DB" REDIS_URL="${REDIS_URL%/*}/1"
  PREV_PID=$!
  pids+=("$PREV_PID")
  wait_port "$PREV_PORT" "the baseline service ($PREV_SHORT)"
  PREV_KEY=$(create_agent_key "$PREV_PORT" "$ADMIN_KEY" bench) || exit 1
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST -H "X-API-Key: $PREV_KEY" \
           -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
           -d '{"prompt":"bench events=1 rate=0","durability":"async"}' \
           "http://127.0.0.1:$PREV_PORT/api/v1/query") || true
  [[ $status == 200 ]] && PREV_DURABILITY=1
  say "baseline service of $PREV_SHORT on port $PREV_PORT; \"durability\": async" \
      "$( ((PREV_DURABILITY)) && echo served || echo "not known (HTTP $status): service-prev is sync only")"
}

[[ $SINGLE == 1 ]] && start_single_targets

# --- the suite ------------------------------------------------------------------------------------
# Targets: floor, node, proxy, and the service variants service (sync), service-async and, with
# BENCH_BASELINE_REV, service-prev and service-prev-async (the same against the baseline service).
port_of() {
  case $1 in
    service|service-async) echo "$SERVICE_PORT";; service-prev*) echo "$PREV_PORT";;
    floor) echo "$FLOOR_PORT";; node) echo "$NODE_PORT";; proxy) echo "$PROXY_PORT";;
  esac
}
pid_of() {
  case $1 in
    service|service-async) echo "$SERVICE_PID";; service-prev*) echo "$PREV_PID";;
    floor) echo "$FLOOR_PID";; node) echo "$NODE_PID";; proxy) echo "$PROXY_PID";;
  esac
}
key_of() { case $1 in service-prev*) echo "$PREV_KEY";; *) echo "$KEY";; esac; }
# The service variants of a scenario that compares both durability modes: this service sync and
# async, then the baseline's (async only when it knows the field).
service_targets() {
  echo service service-async
  [[ -n "$PREV_BIN" ]] && echo service-prev
  [[ -n "$PREV_BIN" && $PREV_DURABILITY == 1 ]] && echo service-prev-async
  return 0
}
# The service targets of the other comparable scenarios (sync only): this one and the baseline.
sync_targets() {
  echo service
  [[ -n "$PREV_BIN" ]] && echo service-prev
  return 0
}
run() {  # scenario target load_client-args...
  local scenario=$1 target=$2 kind=$2
  shift 2
  local extra=()
  case $target in
    service*) kind=service
      # Turns carry the mode (a read or an idle attach has no turn); a baseline that does not
      # know the field gets none (its default stores before it sends).
      if [[ " $* " != *" --mode read "* && " $* " != *" --mode attach "* ]]; then
        if [[ $target == *-async ]]; then
          extra=(--durability async)
        elif [[ $target == service || $PREV_DURABILITY == 1 ]]; then
          extra=(--durability sync)
        fi
      fi;;
  esac
  "$BIN/load_client" --target "$kind" --port "$(port_of "$target")" --pid "$(pid_of "$target")" \
    --key "$(key_of "$target")" --label "$scenario/$target" \
    --out "$WORK/results/$scenario-$target.json" "${extra[@]}" "$@" ||
    say "$scenario/$target: no turn completed (see the errors in its result)"
}
# persisted_total PORT: the service's caa_events_persisted_total (empty when it has none).
persisted_total() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^caa_events_persisted_total / {printf "%d\n", $2}'
}
# run_persisted scenario target args...: `run`, and the events the service committed meanwhile:
# from just before the run until the counter stops growing after it (async stores after it sent),
# added to the result as `persisted` {events, seconds, events_per_s}.
run_persisted() {
  local scenario=$1 target=$2 port before after last start end now still=0
  port=$(port_of "$target")
  before=$(persisted_total "$port" || true)
  start=$(date +%s%N)
  run "$@"
  end=$(date +%s%N)
  [[ -n "$before" ]] || return 0
  last=$(persisted_total "$port" || true)
  for _ in $(seq 1 400); do
    sleep 0.05
    now=$(persisted_total "$port" || true)
    if [[ "$now" == "$last" ]]; then
      (( ++still >= 4 )) && break
    else
      still=0
      last=$now
      end=$(date +%s%N)
    fi
  done
  after=$last
  [[ -n "$after" && -f "$WORK/results/$scenario-$target.json" ]] || return 0
  node -e '
    const fs = require("node:fs");
    const [file, events, ns] = process.argv.slice(1);
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    r.persisted = { events: +events, seconds: ns / 1e9, events_per_s: ns > 0 ? events / (ns / 1e9) : 0 };
    fs.writeFileSync(file, JSON.stringify(r) + "\n");
  ' "$WORK/results/$scenario-$target.json" "$(( after - before ))" "$(( end - start ))"
}
# The ids (comma-separated) of up to N sessions of a service target (default: service); makes N
# short sessions first when it has none (a scenario run alone).
session_ids() {  # N [target]
  local target=${2:-service} port key url
  port=$(port_of "$target")
  key=$(key_of "$target")
  url="http://127.0.0.1:$port/api/v1/sessions?page_size=$1"
  if ! curl -sf -H "X-API-Key: $key" "$url" | grep -q '"id":"'; then
    "$BIN/load_client" --target service --port "$port" --key "$key" --streams "$1" \
      --turns 1 --events 1 --label seed --out "$WORK/seed.json" 2>/dev/null || true
  fi
  curl -sf -H "X-API-Key: $key" "$url" | grep -o '"id":"[0-9a-f-]*"' |
    sed 's/"id":"\(.*\)"/\1/' | paste -sd, -
}

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  SIZES=(1 10); EVENTS=10; RATE=20; TP_EVENTS=200; READ_S=1; OPEN=200; OPEN_RAMP_MS=1000
  HIBERNATED=2000; REVIVED=200; CLUSTER_STREAMS=10; PARTIAL_STREAMS=10; PARTIAL_EVENTS=20
else
  SIZES=(1 100 1000); EVENTS=50; RATE=20; TP_EVENTS=2000; READ_S=5; OPEN=10000; OPEN_RAMP_MS=10000
  HIBERNATED=100000; REVIVED=5000; CLUSTER_STREAMS=100; PARTIAL_STREAMS=100; PARTIAL_EVENTS=200
fi
read -r -a SERVICE_TARGETS <<<"$(service_targets | paste -sd' ' -)"
read -r -a SYNC_TARGETS <<<"$(sync_targets | paste -sd' ' -)"
if want streams; then
  for n in "${SIZES[@]}"; do
    ramp=$(( n >= 1000 ? 5000 : n >= 100 ? 500 : 0 ))
    for target in floor "${SERVICE_TARGETS[@]}" node; do
      run "streams-$n" "$target" --streams "$n" --turns 2 --events "$EVENTS" --rate "$RATE" --ramp-ms "$ramp"
    done
    if (( n <= 100 )); then
      run "streams-$n" proxy --streams "$n" --turns 2 --events "$EVENTS" --rate "$RATE" --ramp-ms "$ramp"
    fi
  done
fi
if want throughput; then
  for target in floor "${SERVICE_TARGETS[@]}" node; do
    if [[ $target == service* ]]; then
      run_persisted throughput "$target" --streams 50 --turns 1 --events "$TP_EVENTS" --rate 0
    else
      run throughput "$target" --streams 50 --turns 1 --events "$TP_EVENTS" --rate 0
    fi
  done
fi
# Token deltas: the fake CLI runs with --include-partial-messages and writes each event as a
# `stream_event` text delta of about 250 bytes (no padding), 100 per second per stream; the
# service streams them as `partial` events. claude-max-api-proxy asks for partial messages on
# every request, so its request is the one of `streams`.
if want partial; then
  for target in floor "${SERVICE_TARGETS[@]}" node; do
    run partial "$target" --partial --streams "$PARTIAL_STREAMS" --turns 2 --events "$PARTIAL_EVENTS" \
      --bytes 0 --rate 100 --ramp-ms 500
  done
  run partial proxy --streams "$PARTIAL_STREAMS" --turns 2 --events "$PARTIAL_EVENTS" --bytes 0 \
    --rate 100 --ramp-ms 500
fi
if want ws; then
  for target in "${SYNC_TARGETS[@]}"; do
    run ws "$target" --mode ws --streams "${SIZES[1]}" --turns 2 --events "$EVENTS" --rate "$RATE" --ramp-ms 500
  done
fi
# Reads of one session in each of its two states, each read by id: `read` a session loaded on the
# node (a turn just before; it stays loaded SESSION_IDLE_TIMEOUT, 15 s, longer than the read),
# answered from its actor; `read-resting` a session whose row only is there (never loaded on
# the node), answered by one statement. Before, the scenario read the newest session of the
# run, which retired during the read or not, depending on the scenarios before it.
target_db() { case $1 in service-prev*) echo "$PREV_DB";; *) echo "$BENCH_DB";; esac; }
loaded_session_id() {  # target: a new session with one finished turn
  "$BIN/load_client" --target service --port "$(port_of "$1")" --key "$(key_of "$1")" --streams 1 \
    --turns 1 --events 1 --label seed --out "$WORK/seed.json" 2>/dev/null || true
  local ids
  ids=$(session_ids 1 "$1")
  echo "${ids%%,*}"
}
resting_session_id() {  # target: a row of the bench tenant, resting (needs one session of it)
  runuser -u postgres -- psql -q -At -h 127.0.0.1 -p "$CAA_PG_PORT" -U postgres -d "$(target_db "$1")" \
    -c "INSERT INTO sessions (tenant_id, cli_session_id, status)
        SELECT tenant_id, gen_random_uuid(), 'hibernated' FROM sessions
        ORDER BY created_at DESC LIMIT 1 RETURNING id"
}
if want read; then
  run read floor --mode read --streams 64 --duration "$READ_S"
  for target in "${SYNC_TARGETS[@]}"; do
    run read "$target" --mode read --streams 64 --duration "$READ_S" --session "$(loaded_session_id "$target")"
    run read-resting "$target" --mode read --streams 64 --duration "$READ_S" \
      --session "$(resting_session_id "$target")"
  done
fi
if want open-streams; then
  # Idle SSE streams attached to up to 100 of the sessions made above, held for 10 s after the
  # ramp: the service's RSS per open stream.
  run open-streams service --mode attach --streams "$OPEN" --ramp-ms "$OPEN_RAMP_MS" \
    --duration $(( OPEN_RAMP_MS / 1000 + 10 )) --session "$(session_ids 100)"
fi

# --- hibernated sessions: the service's memory against their number -------------------------------
# Rows of hibernated sessions go straight into the table; a stream each revives REVIVED of them
# (a session actor per stream), the streams end, and the actors retire after their quiet minute.
if want hibernated; then
  bench_sql() { runuser -u postgres -- psql -q -At -h 127.0.0.1 -p "$CAA_PG_PORT" -U postgres -d "$BENCH_DB" "$@"; }
  rss_mb() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }
  loaded() { curl -sf "http://127.0.0.1:$SERVICE_PORT/metrics" | awk '/^caa_sessions_loaded / {print $2}'; }
  bench_sql -c "INSERT INTO sessions (tenant_id, cli_session_id, status)
                SELECT '$TENANT_ID', gen_random_uuid(), 'hibernated' FROM generate_series(1, $HIBERNATED)"
  bench_sql -c "SELECT id FROM sessions WHERE tenant_id = '$TENANT_ID' AND total_turns = 0
                ORDER BY random() LIMIT $REVIVED" >"$WORK/revived.ids"
  RSS_BEFORE=$(rss_mb "$SERVICE_PID")
  run hibernated service --mode attach --streams "$REVIVED" --ramp-ms 5000 --duration 8 \
    --session "@$WORK/revived.ids"
  LOADED_ATTACHED=$(loaded)
  RSS_ATTACHED=$(rss_mb "$SERVICE_PID")
  say "waiting 75 s for the revived session actors to retire"
  sleep 75
  RSS_AFTER=$(rss_mb "$SERVICE_PID")
  LOADED_AFTER=$(loaded)
  say "hibernated: $HIBERNATED rows, $REVIVED revived by one stream each: service RSS $RSS_BEFORE MB" \
      "before, $RSS_ATTACHED MB attached ($LOADED_ATTACHED session actors), $RSS_AFTER MB" \
      "($LOADED_AFTER session actors) 75 s after the streams ended"
  printf '{"hibernated_rows":%s,"revived":%s,"rss_before_mb":%s,"rss_attached_mb":%s,"rss_after_mb":%s,"actors_attached":%s,"actors_after":%s}\n' \
    "$HIBERNATED" "$REVIVED" "$RSS_BEFORE" "$RSS_ATTACHED" "$RSS_AFTER" "${LOADED_ATTACHED:-null}" \
    "${LOADED_AFTER:-null}" >"$RESULTS/$STAMP-hibernated.json"
fi

# --- cluster: 2, then 3 nodes; warm turns read from the owner against another node -----------------
# Every node is the same binary with the same settings as the single service, plus its own
# NODE_ID, WORKSPACE_ROOT, HTTP port and CLUSTER_PORT and the shared secret (one PostgreSQL, one
# Redis). Stream k opens its session on node k mod N; half of the streams read their warm turns
# from that owner, the other half from another node (load_client --ports, bench/README.md).
CLUSTER_SECRET_VALUE="bench-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
# cluster_port EXCLUDED...: a free port that is none of the ones picked already (not listening yet).
cluster_port() {
  local port
  while :; do
    port=$(free_port)
    [[ " $* " == *" $port "* ]] || { echo "$port"; return 0; }
  done
}
# cluster_sees PORT IDS...: the node on PORT lists every one of IDS alive with its link up.
cluster_sees() {
  local port=$1 doc entry id
  shift
  doc=$(curl -sf -H "X-API-Key: $ADMIN_KEY" "http://127.0.0.1:$port/api/v1/cluster") || return 1
  for id in "$@"; do
    entry=$(grep -o "{[^{}]*\"id\":\"$id\"[^{}]*}" <<<"$doc") || return 1
    [[ $entry == *'"state":"alive"'* && $entry == *'"link":"up"'* ]] || return 1
  done
}
# forward_mode OWNER_PORT OTHER_PORT: `turn` when the other node serves a warm turn of a session
# the owner holds (forwarded), else `attach`.
forward_mode() {
  local body out sid status
  body='{"prompt":"bench events=1 rate=0"}'
  out=$(curl -sN -X POST -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
        -H 'Accept: text/event-stream' -d "$body" "http://127.0.0.1:$1/api/v1/query") || true
  sid=$(grep -o '"session_id":"[^"]*"' <<<"$out" | head -1 | sed 's/.*:"\(.*\)"/\1/') || true
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $KEY" \
           -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
           -d "{\"prompt\":\"bench events=1 rate=0\",\"session_id\":\"$sid\"}" \
           "http://127.0.0.1:$2/api/v1/query") || true
  [[ -n "$sid" && $status == 200 ]] && echo turn || echo attach
}
stop_cluster() {
  local pid
  for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  cluster_pids=()
}
cluster_run() {  # nodes
  local n=$1 i j port used=() ports=() ids=() others forward
  local dir="$WORK/cluster-$n"
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    port=$(cluster_port "${used[@]}")
    used+=("$port")
    ports+=("$port")
    ids+=("bench-$STAMP-$n-$i")
    local cluster_listen
    cluster_listen=$(cluster_port "${used[@]}")
    used+=("$cluster_listen")
    # A short WORKSPACE_ROOT: the sandboxes' unix sockets live under it (at most 107 bytes).
    start_service "$BIN/claude-agent-api" "$port" "$WORK/ws-$n-$i" "$dir/node-$i.log" NODE_ID="${ids[-1]}" \
      CLUSTER_PORT="$cluster_listen" CLUSTER_ADVERTISE_HOST=127.0.0.1 \
      CLUSTER_SECRET="$CLUSTER_SECRET_VALUE" CLUSTER_HEARTBEAT=0.5 CLUSTER_NODE_TTL=3
    cluster_pids+=("$!")
  done
  for port in "${ports[@]}"; do wait_port "$port" "a cluster node"; done
  # Every node sees the others alive, its links up (a link is made when this request asks).
  for i in "${!ports[@]}"; do
    others=()
    for j in "${!ids[@]}"; do (( j == i )) || others+=("${ids[j]}"); done
    for _ in $(seq 1 120); do cluster_sees "${ports[i]}" "${others[@]}" && break; sleep 0.25; done
    if ! cluster_sees "${ports[i]}" "${others[@]}"; then
      say "cluster-$n: node $((i + 1)) does not see the others alive with links up; skipped"
      stop_cluster
      return 0
    fi
  done
  make_key "${ports[0]}"
  forward=${BENCH_CLUSTER_FORWARD:-auto}
  [[ $forward == auto ]] && forward=$(forward_mode "${ports[0]}" "${ports[1]}")
  say "cluster-$n: $n nodes see each other; warm turns of forwarded streams: $forward"
  "$BIN/load_client" --target service --ports "$(IFS=,; echo "${ports[*]}")" \
    --pid "$(IFS=,; echo "${cluster_pids[*]}")" --forward "$forward" --key "$KEY" \
    --streams "${BENCH_CLUSTER_STREAMS:-$CLUSTER_STREAMS}" --turns "${BENCH_CLUSTER_TURNS:-3}" \
    --events "$EVENTS" --rate "$RATE" --ramp-ms 500 \
    --label "cluster-$n/service" --out "$WORK/results/cluster-$n-service.json" ||
    say "cluster-$n: no turn completed (see the errors in its result)"
  stop_cluster
}
if want cluster; then
  cluster_run 2
  cluster_run 3
fi

# --- the report -----------------------------------------------------------------------------------
# The command as run: the settings that change what is measured.
COMMAND="make bench"
for var in BENCH_QUICK BENCH_ONLY BENCH_BASELINE_REV BENCH_CLUSTER_FORWARD BENCH_CLUSTER_STREAMS \
           BENCH_CLUSTER_TURNS; do
  [[ -n "${!var:-}" ]] && COMMAND="$var=${!var} $COMMAND"
done
BASELINE_NOTE=""
[[ -n "$PREV_BIN" ]] && BASELINE_NOTE="$PREV_SHORT ($BENCH_BASELINE_REV)"
node "$CAA_ROOT/bench/report.mjs" "$WORK/results" "$RESULTS/$STAMP.json" "$COMMAND" "$BASELINE_NOTE"
say "result: bench/results/$STAMP.json (logs in $WORK)"
