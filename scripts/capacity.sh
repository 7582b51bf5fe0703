#!/usr/bin/env bash
# `make capacity`: 100 concurrent sessions of the REAL Claude Code CLI against the scripted model
# (PERFORMANCE.md part B), on this machine. Builds the service, the scripted model and the load
# client, starts PostgreSQL/Redis like `make test` (a fresh database per run), the scripted model
# on loopback and the service with the pinned CLI pointed at it, then runs 100 streams of 2 turns
# (a new session, then a warm turn) while it samples the live CLI processes and the machine's
# memory. Prints admitted turns, 503 CAPACITY_EXHAUSTED (and whether they carry Retry-After),
# other errors, time to first event, the peak of live CLIs against the budget, MemAvailable.
# Stops everything it started. Nothing here asserts a time.
#   CAPACITY_STREAMS=N        concurrent sessions (default 100)
#   CAPACITY_TURNS=N          turns per session (default 2)
#   CAPACITY_RAMP_MS=N        stream starts spread over N ms (default 2000)
#   CAPACITY_MAX_PROCESSES=N  MAX_AGENT_PROCESSES (default: unset, the service derives it)
#   CAPACITY_BIN_DIR=DIR      use the binaries already built in DIR, build nothing
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BUILD_DIR="${1:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$CAA_ROOT/$BUILD_DIR"
BIN="${CAPACITY_BIN_DIR:-$BUILD_DIR/bin}"
STREAMS="${CAPACITY_STREAMS:-100}"
TURNS="${CAPACITY_TURNS:-2}"
RAMP_MS="${CAPACITY_RAMP_MS:-2000}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="$CAA_STATE/capacity/$STAMP"
RESULTS="$CAA_ROOT/bench/results"
mkdir -p "$WORK" "$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ -x "$CAA_CLI_PATH" ]] || { say "the pinned CLI is missing: run make setup"; exit 1; }

if [[ -z "${CAPACITY_BIN_DIR:-}" ]]; then
  say "building in $BUILD_DIR"
  cmake -S "$CAA_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target claude-agent-api scripted_model load_client
fi

own_services=1
bash "$CAA_ROOT/scripts/services.sh" status && own_services=0
bash "$CAA_ROOT/scripts/services.sh" start
# shellcheck disable=SC1090
source "$(bash "$CAA_ROOT/scripts/services.sh" env)"

pids=()
SERVICE_PID=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # CLIs the service started and left behind (it was killed hard): by pid, from the last sample.
  if [[ -f "$WORK/cli.pids" ]]; then
    while read -r pid; do
      grep -qa stream-json "/proc/$pid/cmdline" 2>/dev/null && kill "$pid" 2>/dev/null || true
    done <"$WORK/cli.pids"
  fi
  if [[ $own_services == 1 ]]; then bash "$CAA_ROOT/scripts/services.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mem_available_mb() { awk '/^MemAvailable:/ { printf "%d", $2 / 1024 }' /proc/meminfo; }

# Live CLI processes of the service: its outermost descendants whose command line has
# stream-json (the CLI may run under bubblewrap, and a CLI's own child processes repeat its
# arguments: each chain counts once). One line: count, summed RSS in MB of every process of those
# chains that has stream-json in its command line. Also writes the counted pids to cli.pids.
count_clis() {  # service pid
  ps -e -o pid=,ppid=,rss=,args= | awk -v root="$1" -v out="$WORK/cli.pids.new" '
    { pid[NR] = $1; parent[$1] = $2; rss[$1] = $3; cli[$1] = index($0, "stream-json") > 0 }
    END {
      n = 0; kb = 0
      for (i in pid) {
        p = pid[i]
        if (!cli[p]) continue
        outer = 1
        for (a = parent[p]; a != "" && a > 1 && a != root; a = parent[a]) if (cli[a]) outer = 0
        if (a != root) continue
        kb += rss[p]
        if (outer) { n++; print p > out }
      }
      printf "%d %d\n", n, kb / 1024
    }'
  touch "$WORK/cli.pids.new"
  mv "$WORK/cli.pids.new" "$WORK/cli.pids"
}

CAP_DB=claude_agent_api_capacity
fresh_database "$CAP_DB"

# --- the scripted model ---------------------------------------------------------------------------
"$BIN/scripted_model" --host 127.0.0.1 --port 0 --port-file "$WORK/model.port" --threads 2 \
  >"$WORK/model.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/model.port" ]] && break; sleep 0.05; done
[[ -s "$WORK/model.port" ]] || { say "the scripted model did not start"; exit 1; }
MODEL_PORT=$(cat "$WORK/model.port")

# --- the service, driving the real CLI --------------------------------------------------------------
SERVICE_PORT=$(free_port)
ADMIN_KEY=$(random_api_key)
mkdir -p "$WORK/workspaces"
MEM_BEFORE=$(mem_available_mb)
budget_env=()
[[ -n "${CAPACITY_MAX_PROCESSES:-}" ]] && budget_env=("MAX_AGENT_PROCESSES=$CAPACITY_MAX_PROCESSES")
env -u MAX_AGENT_PROCESSES \
    DATABASE_URL="postgresql://postgres@127.0.0.1:$CAA_PG_PORT/$CAP_DB" \
    API_HOST=127.0.0.1 API_PORT="$SERVICE_PORT" API_KEY="$ADMIN_KEY" LOG_LEVEL=info \
    CLAUDE_CLI_PATH="$CAA_AGENT_CLI" WORKSPACE_ROOT="$WORK/workspaces" \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" ANTHROPIC_API_KEY=offline-scripted-model \
    RATE_LIMIT_QUERY_PER_MINUTE=1000000 RATE_LIMIT_GENERAL_PER_MINUTE=1000000 \
    API_MAX_CONNECTIONS=8192 API_MAX_CONNECTIONS_PER_IP=8192 TENANT_MAX_AGENT_PROCESSES=4096 \
    "${budget_env[@]}" \
    "$BIN/claude-agent-api" >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
pids+=("$SERVICE_PID")
wait_port "$SERVICE_PORT" "the service"
KEY=$(create_agent_key "$SERVICE_PORT" "$ADMIN_KEY" capacity)
BUDGET=$(grep -m1 'agent process budget' "$WORK/service.log" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
say "service pid $SERVICE_PID, agent process budget ${BUDGET:-unknown}" \
    "($([[ -n "${CAPACITY_MAX_PROCESSES:-}" ]] && echo "MAX_AGENT_PROCESSES=$CAPACITY_MAX_PROCESSES" || echo "derived from memory"))," \
    "MemAvailable ${MEM_BEFORE} MB, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the sampler: live CLIs and MemAvailable twice a second -----------------------------------------
(
  while kill -0 "$SERVICE_PID" 2>/dev/null; do
    printf '%s %s %s\n' "$(date +%s.%N | cut -c1-14)" "$(count_clis "$SERVICE_PID")" "$(mem_available_mb)"
    sleep 0.5
  done
) >"$WORK/samples.txt" 2>/dev/null &
SAMPLER_PID=$!
pids=("$SAMPLER_PID" "${pids[@]}")

# --- the run ---------------------------------------------------------------------------------------
say "running $STREAMS concurrent sessions x $TURNS turns (ramp $RAMP_MS ms); logs in $WORK"
LOAD_AVG_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
"$BIN/load_client" --mode sse --target service --port "$SERVICE_PORT" --key "$KEY" \
  --streams "$STREAMS" --turns "$TURNS" --ramp-ms "$RAMP_MS" --pid "$SERVICE_PID" --no-stamps \
  --timeout 300 --label "capacity-$STREAMS" --out "$WORK/result.json" 2>"$WORK/load_client.log" ||
  say "no turn completed (see the errors in the result)"
LOAD_AVG_AFTER=$(cut -d' ' -f1 /proc/loadavg)
sleep 1
MEM_AFTER=$(mem_available_mb)
cp "$WORK/result.json" "$RESULTS/capacity-$STAMP.json"

# --- the report ------------------------------------------------------------------------------------
BUDGET="${BUDGET:-unknown}" MEM_BEFORE="$MEM_BEFORE" MEM_AFTER="$MEM_AFTER" \
LOAD_BEFORE="$LOAD_AVG_BEFORE" LOAD_AFTER="$LOAD_AVG_AFTER" \
  node - "$WORK/result.json" "$WORK/samples.txt" "$WORK/service.log" <<'EOF' | tee "$WORK/report.txt"
const fs = require('fs');
const os = require('os');
const env = process.env;
const [result, samples, log] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(result, 'utf8'));
// samples: time, live CLIs, their RSS MB, MemAvailable MB
const rows = fs.readFileSync(samples, 'utf8').trim().split('\n').filter(Boolean)
  .map(l => l.split(' ').map(Number));
const peak = rows.reduce((m, x) => (x[1] > m[1] ? x : m), [0, 0, 0, 0]);
const memMin = Math.min(...rows.map(x => x[3]).filter(x => x > 0));
const errs = r.errors || {};
const codes = r.error_codes || {};
const cap503 = codes['503 CAPACITY_EXHAUSTED'] || 0;
const other = Object.entries(errs).filter(([k]) => k !== '503');
if ((errs['503'] || 0) > cap503) other.push(['503 other than CAPACITY_EXHAUSTED', errs['503'] - cap503]);
const oom = (fs.readFileSync(log, 'utf8').match(/out of memory|\boom\b/gi) || []).length;
const q = s => (s && s.n ? ['p50', 'p95', 'max'].map(k => s[k].toFixed(0)).join(' / ') : '-');
const lines = [
  ['machine', `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB RAM, ` +
              `load average ${env.LOAD_BEFORE} before, ${env.LOAD_AFTER} after the run`],
  ['sessions x turns', `${r.streams} x ${r.turns} (wall ${r.wall_s.toFixed(1)} s)`],
  ['admitted turns completed', `${r.turns_ok} of ${r.turns_expected} ` +
                               `(new ${r.ttfe_new_ms.n}, warm ${r.ttfe_warm_ms.n})`],
  ['503 CAPACITY_EXHAUSTED', `${cap503} (Retry-After on ${r.refused_with_retry_after} of ` +
                             `${(errs['429'] || 0) + (errs['503'] || 0)} 429/503 responses)`],
  ['other errors', other.length ? other.map(([k, n]) => `${k}: ${n}`).join(', ') : '0'],
  ['error codes', JSON.stringify(codes)],
  ['TTFE new ms p50 / p95 / max', q(r.ttfe_new_ms)],
  ['TTFE warm ms p50 / p95 / max', q(r.ttfe_warm_ms)],
  ['turn ms p50 / p95 / max', q(r.turn_ms)],
  ['peak live CLI processes', `${peak[1]} (budget ${env.BUDGET}); their RSS then ${peak[2]} MB`],
  ['service CPU / peak RSS', `${r.proc.cpu_pct.toFixed(0)} % of a core / ` +
                             `${r.proc.rss_peak_mb.toFixed(0)} MB`],
  ['MemAvailable MB before / lowest / after', `${env.MEM_BEFORE} / ` +
                                              `${Number.isFinite(memMin) ? memMin : '-'} / ${env.MEM_AFTER}`],
  ['"out of memory"/"oom" in the service log', String(oom)],
];
for (const [k, v] of lines) console.log(k.padEnd(44) + v);
EOF
say "result: bench/results/capacity-$STAMP.json (logs in $WORK)"
