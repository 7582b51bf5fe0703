#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 machine: apt packages and the pinned CLI.
# Idempotent: a second run installs nothing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

APT_PACKAGES=(
  build-essential ccache pkg-config ca-certificates ninja-build
  libcaf-dev rapidjson-dev libpqxx-dev libpq-dev libhiredis-dev libboost1.81-dev libssl-dev
  libgtest-dev libgmock-dev googletest
  postgresql redis-server redis-tools bubblewrap procps iproute2
  clang-format clang-tidy
)
# Tools that may come from elsewhere than Debian (e.g. a newer Node.js): install the Debian
# package only when the command is missing, so an existing install is never fought with.
declare -A COMMAND_PACKAGES=([cmake]=cmake [git]=git [curl]=curl [node]=nodejs [npm]=npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for c in "${!COMMAND_PACKAGES[@]}"; do
  command -v "$c" >/dev/null 2>&1 || missing+=("${COMMAND_PACKAGES[$c]}")
done
if ((${#missing[@]})); then
  say "installing apt packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The agent engine, pinned. The npm postinstall step is not needed: the native binary ships in
# the platform package.
# The tests' pinned clients (package.json's devDependencies: the `openai` client, the OpenAPI
# validator) come with it.
npm_pins_present() {
  node -e '
    const root = process.argv[1], pkg = require(root + "/package.json");
    for (const [name, want] of Object.entries(pkg.devDependencies || {})) {
      let got = "";
      try { got = require(root + "/node_modules/" + name + "/package.json").version; } catch (e) {}
      if (got !== want) process.exit(1);
    }' "$CAA_ROOT" 2>/dev/null
}
if [[ ! -x "$CAA_CLI_PATH" ]] || ! "$CAA_CLI_PATH" -v 2>/dev/null | grep -q "^$CAA_CLI_VERSION " ||
   ! npm_pins_present; then
  say "installing @anthropic-ai/claude-code@$CAA_CLI_VERSION and the test clients into the project"
  (cd "$CAA_ROOT" && npm install --no-audit --no-fund --ignore-scripts --no-package-lock \
     --loglevel=error >/dev/null)
fi
"$CAA_CLI_PATH" -v >/dev/null || { say "the CLI at $CAA_CLI_PATH does not run"; exit 1; }
install_reachable "$CAA_CLI_PATH" "$CAA_AGENT_CLI"
