#pragma once

// A child process with its stdin and stdout on pipes (the fake CLI, run as the service runs it).

#include <string>
#include <vector>

#include <sys/types.h>

namespace bench::floor {

/// A started child: its pid and our ends of its pipes (-1 when the start failed).
struct child {
  pid_t pid = -1;
  int stdin_fd = -1;   ///< write end of the child's stdin
  int stdout_fd = -1;  ///< read end of the child's stdout
};

/// Starts `argv` (argv[0] an absolute path) with stdin/stdout on pipes and stderr to /dev/null.
child spawn_child(const std::vector<std::string>& argv);

/// Writes all of `line` plus '\n' to `fd` (blocking); false on an error.
bool write_all(int fd, std::string line);

/// Reaps every exited child without blocking.
void reap_children();

}  // namespace bench::floor
