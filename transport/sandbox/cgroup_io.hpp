#pragma once

#include "transport/sandbox/cgroup.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The pieces of the cgroup manager below its API: parsers of the kernel's text files and small
/// file-system steps. Internal to transport/sandbox, public for the unit tests.
namespace caa::sandbox::detail {

/// The leaf cgroup (v2) that takes the service's own processes so its parent may have children
/// with controllers ("no internal processes").
inline constexpr std::string_view service_leaf = "service";

/// One line of /proc/<pid>/cgroup: "<id>:<controllers>:<path>".
struct proc_cgroup_entry {
  std::string id;                        ///< hierarchy id; "0" for the unified hierarchy
  std::vector<std::string> controllers;  ///< v1 controllers ("name=" entries kept); v2: none
  std::string path;                      ///< the cgroup below the hierarchy's root, "/..."
};

/// Parses /proc/<pid>/cgroup; malformed lines are skipped.
std::vector<proc_cgroup_entry> parse_proc_cgroup(std::string_view text);

/// The entry of the v1 hierarchy that has `controller`, or of the unified one when empty.
const proc_cgroup_entry* find_entry(const std::vector<proc_cgroup_entry>& entries,
                                    std::string_view controller);

/// The value of `key` in a flat keyed file ("key value" lines: memory.events, pids.events,
/// memory.oom_control, cgroup.events).
std::optional<uint64_t> parse_keyed(std::string_view text, std::string_view key);

/// The number a single-value file holds ("123\n"), or nullopt ("max", garbage).
std::optional<uint64_t> parse_number(std::string_view text);

/// Whether the space-separated `list` (cgroup.controllers, cgroup.subtree_control) has `word`.
bool has_word(std::string_view list, std::string_view word);

/// The pids of a cgroup.procs text, one per line; malformed lines are skipped.
std::vector<pid_t> parse_pids(std::string_view text);

/// cgroup v1 `cpu.shares` for a v2 `cpu.weight` (1..10000; 100 maps to 1024).
uint64_t cpu_weight_to_shares(uint32_t weight) noexcept;

/// `dir` + "/" + `rel` without doubled or trailing slashes ("/" as `rel` yields `dir`).
std::string join(std::string_view dir, std::string_view rel);

/// Whether `path` exists.
bool exists(const std::string& path) noexcept;

/// The whole text of a (small) file, or nullopt with errno set.
std::optional<std::string> read_text(const std::string& path);

/// Writes `value` to an existing file in one write(2); 0 or the errno.
int write_value(const std::string& path, std::string_view value) noexcept;

/// Like `write_value`, as an `errc::unavailable` error naming the file.
caf::error write_file(const std::string& path, std::string_view value);

/// An `errc::unavailable` error "<what>: <strerror(err)>".
caf::error sys_error(const std::string& what, int err);

/// Kills every process in cgroup `dir` (v2: cgroup.kill; else SIGKILL to each listed pid, never
/// to pid 1 or this process) until its cgroup.procs is empty or `deadline`; true when empty.
bool kill_procs(const std::string& dir, cgroup_mode mode,
                std::chrono::steady_clock::time_point deadline);

/// Kills and removes the cgroups below `dir` (depth first) and, when `remove_self`, `dir`;
/// gives up at `deadline`. True when all are gone.
bool remove_tree(const std::string& dir, cgroup_mode mode, const cgroup_fs_hooks& hooks,
                 bool remove_self, std::chrono::steady_clock::time_point deadline);

}  // namespace caa::sandbox::detail
