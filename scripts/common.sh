# Shared helpers for the project's scripts. Sourced, not executed.
set -euo pipefail

CAA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PostgreSQL runs as the `postgres` user and must reach its data directory, but a checkout may
# sit under a mode-700 home. Keep service state in a world-traversable place, keyed by the
# checkout path, and link it from the project-local (git-ignored) `.run/`.
CAA_STATE="/var/tmp/claude-agent-api-$(printf '%s' "$CAA_ROOT" | sha1sum | cut -c1-12)"
CAA_RUN="$CAA_ROOT/.run"
CAA_CLI_VERSION="2.1.197"
CAA_CLI_PATH="$CAA_ROOT/node_modules/@anthropic-ai/claude-code-linux-x64/claude"
PG_BIN="/usr/lib/postgresql/15/bin"
# The agent sandbox runs the CLI as unprivileged per-tenant uids, which must reach the binary:
# a checkout under a mode-700 home is out of their reach, so the set-up keeps a copy here.
CAA_AGENT_CLI="$CAA_STATE/cli/claude-$CAA_CLI_VERSION"

say() { printf '[claude-agent-api] %s\n' "$*" >&2; }

# Copies executable `src` to `dest` (mode 0755, in directories others may pass through) unless
# an identical copy is there.
install_reachable() {  # src, dest
  if [[ -x "$2" ]] && cmp -s "$1" "$2"; then return 0; fi
  mkdir -p "$(dirname "$2")"
  chmod 755 "$CAA_STATE" "$(dirname "$2")"
  cp "$1" "$2.tmp.$$" && chmod 755 "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  # Below the kernel's ephemeral range: a port picked now and bound later cannot meanwhile
  # become the local end of some outgoing connection (the bench's Node baseline once failed
  # with EADDRINUSE on a port picked from inside that range).
  local port top=32767 eph
  eph=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
  [[ "$eph" =~ ^[0-9]+$ ]] && (( eph > 21000 )) && top=$(( eph - 1 ))
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % (top - 20000 + 1) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  return 1
}

# Waits until something listens on 127.0.0.1:port (about 10 s), else exits.
wait_port() {  # port, name
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  say "$2 did not start"
  exit 1
}

# Prints a fresh random API key in the service's format.
random_api_key() {
  printf 'caa_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
}

# Creates an agent key of `tenant` through the admin key; prints it.
create_agent_key() {  # port, admin key, tenant
  local key
  key=$(curl -sf -X POST -H "X-API-Key: $2" -d "{\"tenant\":\"$3\",\"scopes\":[\"agent\"],\"name\":\"$3\"}" \
        "http://127.0.0.1:$1/api/v1/keys" | sed 's/.*"key":"\([^"]*\)".*/\1/')
  [[ "$key" == caa_* ]] || { say "cannot create a key for tenant $3"; return 1; }
  echo "$key"
}

# Drops and creates database `name` on the private PostgreSQL (services.sh env sourced).
fresh_database() {  # name
  runuser -u postgres -- psql -q -h 127.0.0.1 -p "$CAA_PG_PORT" -U postgres \
    -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
}
