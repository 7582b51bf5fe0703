#pragma once

// Processes as /proc shows them, for black-box tests that check what the service started and
// what is left of it (agent processes, their tool processes, orphans).

#include <optional>
#include <string>
#include <vector>

namespace caa::test {

/// One process as /proc shows it.
struct proc_info {
  int pid = 0;
  int ppid = 0;
  char state = '?';              ///< R, S, D, Z, ...
  unsigned long long start = 0;  ///< start time (clock ticks after boot): tells reused pids apart
  std::string cmdline;           ///< argv joined with spaces ("" for zombies and kernel threads)
};

/// Process `pid`, or nullopt when it is gone.
std::optional<proc_info> read_proc(int pid);

/// Whether `p` is a zombie (dead, not yet reaped) or dying.
bool dead(const proc_info& p);

/// Every process of the machine that still runs (zombies left out).
std::vector<proc_info> all_processes();

/// The processes of session `id` (bubblewrap and the CLI name it in their argv) and everything
/// under them (the tools' processes).
std::vector<proc_info> session_processes(const std::string& id);

/// The processes whose argv contains `text`.
std::vector<proc_info> processes_with(const std::string& text);

/// The agent processes of the service `service_pid`: its children running the CLI in
/// streaming mode (bubblewrap around it, or the CLI itself; never the `claude -v` probe).
std::vector<proc_info> agent_processes(int service_pid);

/// Those of `snapshot` that still run (same pid and start time, not a zombie).
std::vector<proc_info> survivors(const std::vector<proc_info>& snapshot);

/// One line per process, for failure messages.
std::string describe(const std::vector<proc_info>& procs);

}  // namespace caa::test
