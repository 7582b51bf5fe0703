#pragma once

// Start-up checks of the agent sandbox: each names the requirement that is missing.

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <string>

namespace caa {
struct settings;
}  // namespace caa

namespace caa::sandbox {

/// The absolute path of `name` (searched in PATH when it has no '/').
caf::expected<std::string> resolve_executable(const std::string& name);

/// Whether every directory from `/` down to `path` lets others search it (and `path` itself,
/// when `file`, lets others read and execute it): the tenants' uids must reach it. The error
/// names the first directory that does not.
caf::error check_reachable(const std::string& path, bool file);

/// Every requirement of AGENT_SANDBOX=strict: bubblewrap, a uid range no account of the host
/// uses, WORKSPACE_ROOT and `runtime_dir` created with mode 0711 and reachable, the CLI
/// reachable, and a trial sandbox (user namespace as the first uid of the range) that runs.
caf::error check_requirements(const settings& cfg, const std::string& bwrap, const std::string& cli,
                              const std::string& runtime_dir);

}  // namespace caa::sandbox
