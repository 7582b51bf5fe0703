#pragma once

#include "transport/claude/options.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace caa::claude {

/// The PATH every CLI process gets (never the service's own).
inline constexpr std::string_view default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `CLAUDE_CODE_ENTRYPOINT` of our processes. "sdk-cli" is what the CLI sets itself when run
/// headless, and one of the three values it recognises as an SDK (billing surface
/// "claude_code_sdk"); an unknown value such as "sdk-cpp" would count as the interactive CLI.
inline constexpr std::string_view cli_entrypoint = "sdk-cli";

/// Per-process resources of a sandboxed CLI (cgroup, proxy endpoint, runtime directory): owned
/// by the process until it has been reaped, then released.
class process_resources {
 public:
  virtual ~process_resources() = default;
  /// Which cap ended the process tree ("memory", "pids"), or empty.
  virtual std::string cap_hit() const = 0;
};

/// How one spawn is confined by the agent sandbox (`enabled` false: the legacy wrapper).
struct sandbox_plan {
  bool enabled = false;                 ///< drop to `uid`/`gid`, then bwrap with `bwrap_args`
  uint32_t uid = 0;                     ///< the tenant's unprivileged host uid
  uint32_t gid = 0;                     ///< its gid (no supplementary groups)
  std::vector<std::string> bwrap_args;  ///< namespaces and file system, before `--chdir`
  std::vector<int> cgroup_fds;          ///< `cgroup.procs` fds the child joins (writes "0")
  uint64_t file_size_limit = 0;         ///< RLIMIT_FSIZE of the tree (0: none)
  std::shared_ptr<process_resources> resources;  ///< released when the process is reaped
};

/// How the service runs CLI processes for one tenant (server-side, never from a request).
struct driver_config {
  std::string cli_path;            ///< absolute path of the pinned `claude` binary
  std::string config_dir;          ///< the tenant's CLAUDE_CONFIG_DIR
  std::string home_dir;            ///< the tenant's HOME
  std::string tmp_dir;             ///< the tenant's TMPDIR
  std::string tenant_id;           ///< the tenant's UUID (names its sandbox resources)
  std::string session_id;          ///< the session's UUID (names its model usage counts)
  uint32_t agent_uid = 0;          ///< the tenant's sandbox uid (0: not sandboxed)
  std::string anthropic_api_key;   ///< ANTHROPIC_API_KEY for the CLI (empty: unset)
  std::string anthropic_base_url;  ///< ANTHROPIC_BASE_URL for the CLI (empty: unset)
  bool use_bwrap = true;           ///< run inside bubblewrap (own PID namespace, no orphans)
  /// With bubblewrap: the file system is read-only except `/tmp`, `/dev` and this directory (the
  /// tenant's root), and `hidden_dir` (WORKSPACE_ROOT: every other tenant) is replaced by an
  /// empty tmpfs. Empty: the whole file system stays writable (process containment only).
  std::string writable_dir;
  std::string hidden_dir;                     ///< see `writable_dir`
  std::string bwrap_path = "/usr/bin/bwrap";  ///< the bubblewrap binary
  std::string path_env{default_path};         ///< PATH of the CLI
  std::size_t max_line_bytes = 64u << 20;     ///< longest stdout line accepted
  std::size_t stderr_tail_bytes = 8u << 10;   ///< stderr bytes kept for diagnostics
  /// The tenant's variables for `${NAME}` references in `query_options::mcp_config` (secrets:
  /// expanded only into the argv of a spawn, never stored or logged).
  std::map<std::string, std::string> variables;
};

/// Everything `agent_process::spawn` needs; plain data, so tests can run any program.
struct spawn_spec {
  std::vector<std::string> argv;              ///< argv[0] is the absolute program path
  std::vector<std::string> env;               ///< the complete environment, "NAME=VALUE"
  std::string cwd;                            ///< absolute working directory
  bool use_bwrap = true;                      ///< wrap `argv` in bubblewrap (see `exec_argv`)
  std::string writable_dir;                   ///< see `driver_config::writable_dir`
  std::string hidden_dir;                     ///< see `driver_config::hidden_dir`
  std::string bwrap_path = "/usr/bin/bwrap";  ///< the bubblewrap binary
  std::size_t max_line_bytes = 64u << 20;     ///< longest stdout line accepted
  std::size_t stderr_tail_bytes = 8u << 10;   ///< stderr bytes kept
  sandbox_plan sandbox;                       ///< the agent sandbox, when enabled
};

/// The CLI argv for `opts`: streaming-input mode as the SDKs start it (never `-p`, the prompt
/// never on the command line), then one flag per set option (CLI-PROTOCOL §1.2, pinned 2.1.197).
std::vector<std::string> build_argv(const query_options& opts, const driver_config& cfg);

/// The CLI environment, "NAME=VALUE" sorted by name, built only from an allow-list: the
/// request's (validated) `env` first, then the server's variables, which therefore win: PATH,
/// HOME, TMPDIR, LANG, PWD, CLAUDE_CONFIG_DIR, ANTHROPIC_API_KEY/BASE_URL, traffic and updater
/// switches, CLAUDE_CODE_ENTRYPOINT, checkpointing, and IS_SANDBOX=1 only for bypassPermissions.
std::vector<std::string> build_env(const query_options& opts, const driver_config& cfg);

/// `build_argv`, `build_env`, cwd and limits in one spec for `agent_process::spawn`.
spawn_spec make_spawn_spec(const query_options& opts, const driver_config& cfg);

/// The argv actually executed: with `sandbox.enabled`, `bwrap <sandbox.bwrap_args> --chdir <cwd>
/// -- <argv...>`; else `spec.argv`, or, with `use_bwrap`, `bwrap --dev-bind / / --proc /proc
/// --unshare-pid --die-with-parent --chdir <cwd> -- <argv...>`.
std::vector<std::string> exec_argv(const spawn_spec& spec);

}  // namespace caa::claude
