#pragma once

#include "transport/claude/argv.hpp"

#include <caf/expected.hpp>

#include <sys/types.h>

namespace caa::claude {

/// The parent's side of a freshly started child; the caller owns every fd.
struct spawned_child {
  pid_t pid = -1;      ///< the child, leader of its own session and process group
  int pidfd = -1;      ///< pidfd of the child (waitid P_PIDFD, pidfd_send_signal)
  int stdin_fd = -1;   ///< write end of the child's stdin, non-blocking, close-on-exec
  int stdout_fd = -1;  ///< read end of the child's stdout, non-blocking, close-on-exec
  int stderr_fd = -1;  ///< read end of the child's stderr, non-blocking, close-on-exec
};

/// Forks and execs `exec_argv(spec)` with exactly `spec.env`, in `spec.cwd`. Everything is
/// prepared before fork(); the child only makes async-signal-safe calls: setsid,
/// PR_SET_PDEATHSIG=SIGKILL, default signal dispositions and an empty mask, dup2 of the pipes,
/// close_range(3..) (close-on-exec), chdir, execve. A failing child step is reported through a
/// close-on-exec pipe, so exec failures come back here as `errc::agent_error` values.
caf::expected<spawned_child> spawn_child(const spawn_spec& spec);

/// Sends `sig` through a pidfd (race-free against pid reuse); false when it is gone.
bool pidfd_signal(int pidfd, int sig) noexcept;

}  // namespace caa::claude
