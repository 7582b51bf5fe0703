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

say() { printf '[claude-agent-api] %s\n' "$*" >&2; }

# Prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  return 1
}
