#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Per-session cgroups: caps on memory and process count of each sandboxed CLI process tree.
/// The parent makes the cgroup and opens its `cgroup.procs` files; the child joins by writing "0"
/// to each of them (async-signal-safe) before it drops privileges and execs.
namespace caa::sandbox {

/// Caps of one session's process tree.
struct cgroup_limits {
  uint64_t memory_max = 2ull << 30;      ///< bytes of memory (swap is capped to none)
  uint64_t pids_max = 512;               ///< processes and threads
  std::optional<uint32_t> cpu_weight{};  ///< 1..10000 (100 is the default share); unset: none
  bool oom_group = false;                ///< v2 only: an OOM kill takes the whole tree
};

/// Which cgroup interface the host offers.
enum class cgroup_mode : uint8_t { none, v1, v2 };

/// The name of `x`: "none", "v1" or "v2".
std::string_view to_string(cgroup_mode x) noexcept;

/// Which cap a process tree hit ("memory", "pids") since its cgroup was made.
struct cgroup_counters {
  uint64_t oom_kills = 0;        ///< processes killed by the OOM killer in the cgroup
  uint64_t pids_max_events = 0;  ///< forks refused because of `pids_max`
  uint64_t memory_peak = 0;      ///< highest memory use in bytes (0 when unknown)
};

/// Test seams standing in for what the kernel does by itself on a real cgroup file system.
struct cgroup_fs_hooks {
  /// Runs after each cgroup directory is made (a fake tree adds the control files here).
  std::function<void(const std::string& dir)> after_mkdir{};
  /// Runs before each cgroup directory is removed (a fake tree deletes its files here).
  std::function<void(const std::string& dir)> before_rmdir{};
};

/// How long killing and removing one cgroup may take before giving up.
inline constexpr std::chrono::milliseconds cgroup_kill_budget{3000};

class session_cgroup;

/// Finds the host's cgroup support once at start-up and makes one cgroup per CLI process. Its
/// const members may be called from several threads at once (they touch only the file system).
class cgroup_manager {
 public:
  /// Finds what the host offers for `node` (a name unique per running service, e.g. "caa-<pid>"):
  /// cgroup v2 when the unified hierarchy has the memory and pids controllers and the service's
  /// own cgroup (from /proc/self/cgroup, line "0::<path>") is writable/delegated; else v1 when the
  /// memory and pids hierarchies are mounted and writable; else mode none with a reason. Creates
  /// the node directories; for v2 it first moves the service's processes into the leaf
  /// `<own>/service` so controllers can be enabled for children (the "no internal processes"
  /// rule). Keep `node` the same across restarts so `remove_stale` finds what a crash left.
  /// `hooks` stand in for the kernel in tests of a fake tree.
  static cgroup_manager detect(const std::string& node,
                               const std::string& fs_root = "/sys/fs/cgroup",
                               const std::string& proc_self_cgroup = "/proc/self/cgroup",
                               cgroup_fs_hooks hooks = {});

  /// The interface in use (`none` when sessions run without caps).
  cgroup_mode mode() const noexcept { return mode_; }

  /// One line for the start-up log: what was found, or why nothing works.
  const std::string& description() const noexcept { return description_; }

  /// The directories below which session cgroups are made (one for v2; one per controller for
  /// v1: memory, pids, then cpu when usable); empty in mode none.
  const std::vector<std::string>& node_dirs() const noexcept { return node_dirs_; }

  /// A new cgroup `name` (a safe file name; refuse others) with `limits` set. Names must be
  /// unique among live session cgroups: a leftover of the same name is killed and replaced.
  caf::expected<std::unique_ptr<session_cgroup>> create(std::string_view name,
                                                        const cgroup_limits& limits) const;

  /// Removes cgroups left below this service's sub-tree by an earlier run (kills their processes
  /// first). Blocks up to `cgroup_kill_budget` per cgroup that will not empty.
  void remove_stale() const;

  /// Removes every cgroup below the node directories, then the node directories (shutdown).
  void remove_node() const;

  /// Whether `name` is usable as a cgroup directory name: 1..128 of [A-Za-z0-9_-].
  static bool valid_name(std::string_view name) noexcept;

 private:
  cgroup_mode mode_ = cgroup_mode::none;
  std::string description_;
  std::vector<std::string> node_dirs_;  ///< v2: one; v1: memory, pids[, cpu]
  bool cpu_ = false;                    ///< the cpu controller is usable
  cgroup_fs_hooks hooks_;

  caf::error create_v2(session_cgroup& cg, const std::string& name,
                       const cgroup_limits& limits) const;
  caf::error create_v1(session_cgroup& cg, const std::string& name,
                       const cgroup_limits& limits) const;
  caf::error make_dir(session_cgroup& cg, const std::string& dir) const;
};

/// One CLI process tree's cgroup; killing and removing it happens on destruction.
class session_cgroup {
 public:
  session_cgroup(const session_cgroup&) = delete;
  session_cgroup& operator=(const session_cgroup&) = delete;

  /// Kills whatever still runs in it (v2: cgroup.kill; v1: SIGKILL each pid of cgroup.procs,
  /// repeated until empty, bounded time), then rmdir; closes fds. May block up to
  /// `cgroup_kill_budget`; destroy it off latency-sensitive threads.
  ~session_cgroup();

  /// Open O_WRONLY|O_CLOEXEC fds of the `cgroup.procs` files the child writes "0" to (one for
  /// v2; memory and pids (and cpu if weighted) for v1).
  const std::vector<int>& procs_fds() const noexcept { return procs_fds_; }

  /// Closes the `procs_fds` once the child has joined (they close at exec in the child anyway).
  void close_procs_fds() noexcept;

  /// The cgroup directories, one per hierarchy (for logs and tests).
  const std::vector<std::string>& dirs() const noexcept { return dirs_; }

  /// Current counters (oom kills from memory.events `oom_kill` (v2) / memory.oom_control
  /// `oom_kill` (v1); pids "max" events from pids.events; memory peak if available).
  cgroup_counters counters() const;

  /// "memory", "pids" or "" : which cap was hit since creation (or since `baseline`).
  std::string cap_hit(const cgroup_counters& baseline = {}) const;

  /// Kills every process in it now and waits (bounded) until it is empty; true when empty.
  bool kill_all() const;

 private:
  friend class cgroup_manager;

  session_cgroup(cgroup_mode mode, cgroup_fs_hooks hooks);

  cgroup_mode mode_;
  cgroup_fs_hooks hooks_;
  std::vector<std::string> dirs_;  ///< made so far, parents of nothing; v1: memory first
  std::string memory_dir_;         ///< where memory counters are read
  std::string pids_dir_;           ///< where pids counters are read
  std::vector<int> procs_fds_;
};

}  // namespace caa::sandbox
