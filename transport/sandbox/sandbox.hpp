#pragma once

// The agent sandbox (SANDBOX.md): each CLI process runs as its tenant's unprivileged host uid,
// in bubblewrap with every namespace unshared and no capability, on a file system of its own
// (system directories read-only, private /tmp, /run, /home, the tenant's work/ and config/),
// with no network but a per-process unix socket to the service's model proxy (which holds the
// real key), inside a per-process cgroup with memory and process caps.

#include "transport/claude/argv.hpp"

#include <caf/expected.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace caa {
struct settings;
}  // namespace caa

namespace caa::sandbox {

class cgroup_manager;
class egress_proxy;
class model_proxy;
struct usage_record;

/// Where the pieces of one sandbox live on the host, and what it may use.
struct layout {
  std::string bwrap_path = "/usr/bin/bwrap";  ///< the bubblewrap binary
  std::string cli_path;                       ///< the pinned CLI, bound read-only
  std::vector<std::string> extra_ro_paths;    ///< more read-only binds (stdio MCP servers)
  std::string process_dir;                    ///< this process's runtime directory (host)
  std::string work_dir;                       ///< the tenant's work/ (host path = inside path)
  std::string config_dir;                     ///< the tenant's config/ (likewise)
};

/// Inside paths every sandbox has.
inline constexpr std::string_view inside_runtime_dir = "/run/caa";
inline constexpr std::string_view inside_model_socket = "/run/caa/model.sock";
inline constexpr std::string_view inside_home = "/home/agent";
inline constexpr std::string_view inside_relay = "/run/caa/relay";
inline constexpr std::string_view inside_egress_socket = "/run/caa/egress.sock";
inline constexpr std::string_view inside_proxy_url = "http://127.0.0.1:3128";

/// The name of the relay program, next to the service's own executable.
inline constexpr std::string_view relay_program = "caa-sandbox-relay";

/// The bubblewrap arguments (before `--chdir`) for `l`: every namespace unshared, no
/// capability, a new session, death with the parent; `/usr` and the usual symlinks, a few
/// files of `/etc`, the CLI, `/proc`, `/dev`, private tmpfs `/tmp`, `/run`, `/home`,
/// `/dev/shm`; the runtime directory read-only at `/run/caa` with its passwd and group files
/// over `/etc`'s; the tenant's work/ and config/ writable. Nothing else of the host.
std::vector<std::string> bwrap_args(const layout& l);

/// The environment of a sandboxed CLI: `env` ("NAME=VALUE") with the model reached through the
/// proxy socket with `placeholder` as its key, HOME, TMPDIR, USER and LOGNAME of the inside.
std::vector<std::string> sandbox_env(std::vector<std::string> env, const std::string& placeholder);

/// With egress: `argv` run under the relay (the sandbox's loopback port to the egress socket),
/// and the tools' proxy variables in `env` (the model stays direct: NO_PROXY=localhost).
void route_egress(std::vector<std::string>& argv, std::vector<std::string>& env);

/// The sandbox of one service: start-up checks, the model proxy, the cgroups, and the
/// per-process preparation of every CLI spawn. Thread-safe after `start`.
class host : public std::enable_shared_from_this<host> {
 public:
  /// Checks every requirement of AGENT_SANDBOX=strict (bubblewrap, user namespaces, cgroups,
  /// the uid range, directories the tenants' uids can reach) and starts the model proxy on
  /// `io`. The error says which requirement is missing. `on_usage` sees every model request.
  static caf::expected<std::shared_ptr<host>> start(
      boost::asio::io_context& io, const settings& cfg,
      std::function<void(const usage_record&)> on_usage);

  ~host();

  /// Confines `spec` (built from `driver`): the plan of the privilege drop, bubblewrap and the
  /// cgroup, the environment through the proxy, and the per-process resources (released when
  /// the process has been reaped). Refuses a driver without a tenant uid.
  caf::error prepare(claude::spawn_spec& spec, const claude::driver_config& driver);

  /// One line for the start-up log: what the sandbox uses.
  const std::string& description() const noexcept { return description_; }

 private:
  host() = default;
  caf::error start_egress(boost::asio::io_context& io, const settings& cfg);

  std::string runtime_dir_;
  std::string bwrap_path_;
  std::string cli_path_;
  std::vector<std::string> extra_ro_paths_;
  uint64_t memory_max_ = 0;
  uint64_t pids_max_ = 0;
  unsigned cpu_weight_ = 0;
  uint64_t file_size_limit_ = 0;
  std::unique_ptr<cgroup_manager> cgroups_;
  std::shared_ptr<model_proxy> proxy_;
  std::shared_ptr<egress_proxy> egress_;  ///< null without AGENT_EGRESS_ALLOW
  std::string relay_path_;                ///< the relay's copy in the runtime directory
  std::atomic<uint64_t> next_id_{0};
  std::string description_;
};

}  // namespace caa::sandbox
