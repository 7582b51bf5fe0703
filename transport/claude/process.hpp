#pragma once

#include "transport/claude/argv.hpp"
#include "transport/claude/spawn.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace caa::claude {

/// How a CLI process ended. Under bubblewrap a CLI killed by signal N shows as exit code
/// 128 + N (bwrap's own status); `signal` is set only when bwrap itself was killed.
struct exit_info {
  int exit_code = -1;            ///< exit status when it exited normally, else -1
  int signal = 0;                ///< the signal that killed it, else 0
  std::string stderr_tail;       ///< the last `stderr_tail_bytes` of its stderr
  std::size_t stderr_bytes = 0;  ///< how many stderr bytes it wrote in total
  std::string cap_hit;           ///< the sandbox cap its tree hit ("memory", "pids"), or empty
};

/// What the process reports. Called on the io_context (one at a time, in order), never after
/// the `agent_process` handle is gone. They must not throw nor destroy the handle.
struct process_callbacks {
  std::function<void(std::string line)> on_line;        ///< each complete, non-empty stdout line
  std::function<void(exit_info)> on_exit;               ///< once, after stdout is fully drained
  std::function<void(std::size_t bytes)> on_oversized;  ///< a stdout line over the maximum
  /// When set, replaces `on_line`: the complete lines of each read, in order, in one call (a
  /// receiver in another thread then gets one hand-off per read, not per line).
  std::function<void(std::vector<std::string> lines)> on_lines;
};

namespace detail {
class process_core;
}  // namespace detail

/// One running CLI (or any program, for tests), driven by a Boost.Asio io_context that may run
/// on several threads (all handlers run on one strand). Spawned with fork+execve: new session
/// and process group, PR_SET_PDEATHSIG=SIGKILL, signals reset, every fd >= 3 closed, the
/// environment exactly `spec.env`; optionally inside bubblewrap with its own PID namespace.
/// Tracked by a pidfd: always reaped, never a zombie. Requires Linux >= 5.11 and SIGCHLD not
/// ignored and no `waitpid(-1)` elsewhere in the service; SIGPIPE is set to ignored on first use.
/// PR_SET_PDEATHSIG (and bwrap's --die-with-parent) fire when the *thread* that called `spawn`
/// exits: call it from a thread that lives as long as the service (CAF scheduler workers, the
/// agent I/O threads), never from a short-lived or detached-actor thread.
class agent_process {
 public:
  /// Starts `spec`; the error names the failing step (pipe, fork, chdir, exec) and errno.
  /// `spawn_child`, then `adopt`.
  static caf::expected<agent_process> spawn(boost::asio::io_context& io, const spawn_spec& spec,
                                            process_callbacks callbacks);

  /// Serves a child `spawn_child` started for `spec` on `io`: reads its output, watches its
  /// exit, and owns its fds from now on. Nothing is read before this call, so a child may be
  /// started on one thread and adopted on another that must see its output first.
  static agent_process adopt(boost::asio::io_context& io, const spawned_child& child,
                             const spawn_spec& spec, process_callbacks callbacks);

  agent_process(agent_process&&) noexcept;
  agent_process& operator=(agent_process&&) noexcept;
  agent_process(const agent_process&) = delete;
  agent_process& operator=(const agent_process&) = delete;

  /// Kills the process (and its group) with SIGKILL if it still runs; no callback afterwards.
  ~agent_process();

  /// The pid of the spawned program (bubblewrap's when wrapped); also its process group id.
  pid_t pid() const noexcept;

  /// Whether the process has not been reaped yet.
  bool running() const noexcept;

  /// Queues `json` plus '\n' on stdin (one write in flight). Refuses an empty or blank line,
  /// one containing '\n' or '\r', one not starting with '{' (any of these kills the CLI), a
  /// closed stdin, and more than 64 MiB queued.
  caf::error write_line(std::string json);

  /// Closes stdin after the queued lines are written: the CLI finishes its turn and exits 0.
  void close_stdin();

  /// Graceful stop: close stdin now (send `end_session` first if you like), SIGTERM to the
  /// process group after `grace`, SIGKILL to the process and its group `kill_after` later.
  void stop(std::chrono::milliseconds grace,
            std::chrono::milliseconds kill_after = std::chrono::seconds{5});

  /// SIGKILL to the process and its group now (bubblewrap takes its whole PID namespace).
  void kill();

  /// Runs `f` once the process has been reaped: on the io_context, even when this handle is
  /// gone by then (its callbacks are not), or at once on the caller's thread when it already
  /// was. `f` must not throw.
  void when_reaped(std::function<void()> f);

  /// Stops reading stdout (the CLI blocks when the pipe fills): credit-based back-pressure.
  void pause_reading();

  /// Resumes reading stdout.
  void resume_reading();

 private:
  explicit agent_process(std::shared_ptr<detail::process_core> core);

  std::shared_ptr<detail::process_core> core_;
};

}  // namespace caa::claude
