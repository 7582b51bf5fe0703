#include "transport/sandbox/cgroup.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "transport/sandbox/cgroup_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace caa::sandbox {

using namespace detail;

namespace {

std::chrono::steady_clock::time_point kill_deadline() {
  return std::chrono::steady_clock::now() + cgroup_kill_budget;
}

/// Writes `file` in `dir` when the kernel offers it (optional features such as swap accounting).
caf::error write_if_present(const std::string& dir, std::string_view file, std::string_view value) {
  auto path = join(dir, file);
  return exists(path) ? write_file(path, value) : caf::error{};
}

caf::error validate(std::string_view name, const cgroup_limits& limits) {
  if (!cgroup_manager::valid_name(name))
    return make_error(errc::validation, "cgroup name must be 1..128 of [A-Za-z0-9_-]");
  if (limits.memory_max == 0 || limits.pids_max == 0)
    return make_error(errc::validation, "cgroup limits must be positive");
  if (limits.cpu_weight && (*limits.cpu_weight < 1 || *limits.cpu_weight > 10000))
    return make_error(errc::validation, "cpu weight must be 1..10000");
  return {};
}

}  // namespace

caf::expected<std::unique_ptr<session_cgroup>> cgroup_manager::create(
    std::string_view name, const cgroup_limits& limits) const {
  if (mode_ == cgroup_mode::none) return make_error(errc::unavailable, description_);
  if (auto err = validate(name, limits)) return err;
  if (limits.cpu_weight && !cpu_)
    log::warn_once("cgroup-cpu-weight", "cpu weight ignored: no usable cpu controller",
                   {.component = "sandbox"});
  std::unique_ptr<session_cgroup> cg{new session_cgroup(mode_, hooks_)};
  std::string n{name};
  auto err = mode_ == cgroup_mode::v2 ? create_v2(*cg, n, limits) : create_v1(*cg, n, limits);
  if (err) return err;  // `cg` removes what was made
  for (auto& dir : cg->dirs_) {
    auto path = join(dir, "cgroup.procs");
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open " + path, errno);
    cg->procs_fds_.push_back(fd);
  }
  return cg;
}

caf::error cgroup_manager::make_dir(session_cgroup& cg, const std::string& dir) const {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno != EEXIST) return sys_error("mkdir " + dir, errno);
    // Left by an earlier process of the same name (the service crashed): start afresh.
    log::warn("stale cgroup replaced", {.component = "sandbox", .detail = dir});
    remove_tree(dir, mode_, hooks_, true, kill_deadline());
    if (::mkdir(dir.c_str(), 0755) != 0) return sys_error("mkdir " + dir, errno);
  }
  cg.dirs_.push_back(dir);
  if (hooks_.after_mkdir) hooks_.after_mkdir(dir);
  return {};
}

caf::error cgroup_manager::create_v2(session_cgroup& cg, const std::string& name,
                                     const cgroup_limits& limits) const {
  auto dir = join(node_dirs_[0], name);
  if (auto err = make_dir(cg, dir)) return err;
  cg.memory_dir_ = cg.pids_dir_ = dir;
  if (auto err = write_file(join(dir, "memory.max"), std::to_string(limits.memory_max))) return err;
  if (auto err = write_if_present(dir, "memory.swap.max", "0")) return err;
  if (auto err = write_file(join(dir, "pids.max"), std::to_string(limits.pids_max))) return err;
  if (limits.oom_group)
    if (auto err = write_if_present(dir, "memory.oom.group", "1")) return err;
  if (limits.cpu_weight && cpu_)
    if (auto err = write_file(join(dir, "cpu.weight"), std::to_string(*limits.cpu_weight)))
      return err;
  return {};
}

caf::error cgroup_manager::create_v1(session_cgroup& cg, const std::string& name,
                                     const cgroup_limits& limits) const {
  auto mem = join(node_dirs_[0], name);
  if (auto err = make_dir(cg, mem)) return err;
  cg.memory_dir_ = mem;
  auto bytes = std::to_string(limits.memory_max);
  // The kernel requires memsw >= limit: set the limit first.
  if (auto err = write_file(join(mem, "memory.limit_in_bytes"), bytes)) return err;
  if (auto err = write_if_present(mem, "memory.memsw.limit_in_bytes", bytes)) return err;
  auto pids = join(node_dirs_[1], name);
  if (auto err = make_dir(cg, pids)) return err;
  cg.pids_dir_ = pids;
  if (auto err = write_file(join(pids, "pids.max"), std::to_string(limits.pids_max))) return err;
  if (limits.cpu_weight && cpu_) {
    auto cpu = join(node_dirs_[2], name);
    if (auto err = make_dir(cg, cpu)) return err;
    auto shares = cpu_weight_to_shares(*limits.cpu_weight);
    if (auto err = write_file(join(cpu, "cpu.shares"), std::to_string(shares))) return err;
  }
  return {};
}

void cgroup_manager::remove_stale() const {
  for (auto& dir : node_dirs_) remove_tree(dir, mode_, hooks_, false, kill_deadline());
}

void cgroup_manager::remove_node() const {
  for (auto& dir : node_dirs_) remove_tree(dir, mode_, hooks_, true, kill_deadline());
}

session_cgroup::session_cgroup(cgroup_mode mode, cgroup_fs_hooks hooks)
    : mode_(mode), hooks_(std::move(hooks)) {
  // nop
}

session_cgroup::~session_cgroup() {
  close_procs_fds();
  auto deadline = kill_deadline();
  kill_all();
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it)
    remove_tree(*it, mode_, hooks_, true, deadline);
}

void session_cgroup::close_procs_fds() noexcept {
  for (int fd : procs_fds_) ::close(fd);
  procs_fds_.clear();
}

bool session_cgroup::kill_all() const {
  auto deadline = kill_deadline();
  bool ok = true;
  for (auto& dir : dirs_) ok &= kill_procs(dir, mode_, deadline);
  return ok;
}

cgroup_counters session_cgroup::counters() const {
  auto value = [](const std::string& dir, std::string_view file, std::string_view key) {
    if (dir.empty()) return uint64_t{0};
    auto text = read_text(join(dir, file));
    if (!text) return uint64_t{0};
    return (key.empty() ? parse_number(*text) : parse_keyed(*text, key)).value_or(0);
  };
  cgroup_counters out;
  bool v2 = mode_ == cgroup_mode::v2;
  out.oom_kills = value(memory_dir_, v2 ? "memory.events" : "memory.oom_control", "oom_kill");
  out.pids_max_events = value(pids_dir_, "pids.events", "max");
  out.memory_peak = value(memory_dir_, v2 ? "memory.peak" : "memory.max_usage_in_bytes", "");
  return out;
}

std::string session_cgroup::cap_hit(const cgroup_counters& baseline) const {
  auto now = counters();
  if (now.oom_kills > baseline.oom_kills) return "memory";
  if (now.pids_max_events > baseline.pids_max_events) return "pids";
  return {};
}

}  // namespace caa::sandbox
