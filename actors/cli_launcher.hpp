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
#include <functional>
#include <memory>
#include <mutex>
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
  /// Runs `f` once the process has been reaped (on an agent I/O thread), even when every handle
  /// is gone by then; at once when it already was. What gives a process's slot back after it was
  /// killed and forgotten: never while it still runs.
  virtual void when_reaped(std::function<void()> f) = 0;
};

/// A CLI process `cli_launcher::start` started that nobody serves yet: nothing of it is read
/// until `serve`. Destroyed unserved, the process is killed (and reaped).
class started_cli {
 public:
  virtual ~started_cli() = default;

  /// From now on the process's stdout lines and its exit go to `callbacks` (never after the
  /// handle is gone). Once only; the error names the failing step.
  virtual caf::expected<std::shared_ptr<cli_process>> serve(
      claude::process_callbacks callbacks) = 0;

  /// Instead of `serve`: kills the process; `gone` runs once it has been reaped (at once when
  /// nothing was started).
  virtual void discard(std::function<void()> gone) = 0;
};

/// What `cli_launcher::start` ends with: the started process, or why it could not start.
struct cli_start_result {
  std::unique_ptr<started_cli> cli;  ///< null on error
  caf::error error;
};

/// A start under way on a launch thread, shared by its owner and that thread. Dropped by both
/// unserved, its process is killed; `abandon` also says when it is gone.
class pending_start {
 public:
  /// On the launch thread: the start ended. False when the owner abandoned it meanwhile: the
  /// process is discarded here then.
  bool complete(cli_start_result r);
  /// The owner no longer wants it: its process (now, or when the start ends) is killed and
  /// `gone` runs once it has been reaped, at once when none was started. Once only.
  void abandon(std::function<void()> gone);
  /// What the start ended with: only after `complete` (the owner learns it by a message).
  cli_start_result& result() { return result_; }

 private:
  std::mutex mutex_;
  cli_start_result result_;          // written once, by `complete`
  bool done_ = false;                // guarded by mutex_
  bool abandoned_ = false;           // guarded by mutex_
  std::function<void()> when_gone_;  // guarded by mutex_: an abandon before the end
};

/// Starts CLI processes.
class cli_launcher {
 public:
  virtual ~cli_launcher() = default;

  /// Starts the CLI for `opts` with `driver`; its stdout lines and its exit go to `callbacks`
  /// (never after the handle is gone). The error names the failing step. Blocks while the
  /// process starts.
  virtual caf::expected<std::shared_ptr<cli_process>> launch(
      const claude::query_options& opts, const claude::driver_config& driver,
      claude::process_callbacks callbacks) = 0;

  /// Starts the CLI for `opts` with `driver` without blocking the caller: `done` gets the
  /// result, on a thread of the launcher's choosing (or at once, on the caller's). This one
  /// starts it in `serve`, on the thread that serves it (for launchers that do not block).
  virtual void start(const claude::query_options& opts, const claude::driver_config& driver,
                     const std::function<void(cli_start_result)>& done);
};

/// The service's launcher: real processes, prepared by `io`'s sandbox (when one is set) and
/// served by `io`'s threads. `io` must outlive the launcher and every process it started.
std::shared_ptr<cli_launcher> make_process_launcher(agent_io& io);

}  // namespace caa
