#pragma once

// The seam between a session and its CLI process: the session asks a `cli_launcher` for a
// `cli_process` and talks to it only through that interface. The service launches real
// processes (fork+execve, inside the sandbox, pipes served by `agent_io`); the session actor's
// unit tests launch fakes that record what the session wrote and whether it killed them, so the
// state machine is tested without processes or /proc.

#include "transport/claude/argv.hpp"
#include "transport/claude/process.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

namespace caa {

class agent_io;

/// One running CLI, as a session uses it. Destroying the handle kills the process if it still
/// runs (no callback afterwards).
class cli_process {
 public:
  virtual ~cli_process() = default;

  /// The pid of the process (for logs).
  virtual pid_t pid() const noexcept = 0;
  /// Queues one JSON line on the process's stdin; an error when it cannot (see
  /// `claude::agent_process::write_line`).
  virtual caf::error write_line(std::string json) = 0;
  /// Graceful stop: stdin closed now, SIGTERM after `grace`, SIGKILL `kill_after` later.
  virtual void stop(std::chrono::milliseconds grace,
                    std::chrono::milliseconds kill_after = std::chrono::seconds{5}) = 0;
  /// Kills the process (and its group) now.
  virtual void kill() = 0;
};

/// Starts CLI processes.
class cli_launcher {
 public:
  virtual ~cli_launcher() = default;

  /// Starts the CLI for `opts` with `driver`; its stdout lines and its exit go to `callbacks`
  /// (never after the handle is gone). The error names the failing step.
  virtual caf::expected<std::shared_ptr<cli_process>> launch(
      const claude::query_options& opts, const claude::driver_config& driver,
      claude::process_callbacks callbacks) = 0;
};

/// The service's launcher: real processes, prepared by `io`'s sandbox (when one is set) and
/// served by `io`'s threads. `io` must outlive the launcher and every process it started.
std::shared_ptr<cli_launcher> make_process_launcher(agent_io& io);

}  // namespace caa
