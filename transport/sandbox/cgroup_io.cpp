#include "transport/sandbox/cgroup_io.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <thread>

namespace caa::sandbox::detail {

namespace {

/// Control files are small; anything longer is not one.
constexpr std::size_t max_file_bytes = 1 << 20;

/// Pause between two looks at a cgroup that is emptying.
constexpr std::chrono::milliseconds poll_interval{5};

/// Calls `fn` with each line of `text` (without the newline).
template <class F>
void for_each_line(std::string_view text, F&& fn) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

std::optional<uint64_t> to_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto at = s.find(sep);
    if (auto part = s.substr(0, at); !part.empty()) out.emplace_back(part);
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

/// The names of the sub-directories of `dir` (child cgroups).
std::vector<std::string> child_dirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir =
          ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

/// rmdir of an emptied cgroup; retries while the kernel still counts exiting processes.
bool remove_dir(const std::string& dir, const cgroup_fs_hooks& hooks,
                std::chrono::steady_clock::time_point deadline) {
  if (hooks.before_rmdir) hooks.before_rmdir(dir);
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    int err = errno;
    if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      log::warn("cgroup not removed",
                {.component = "sandbox", .detail = dir + ": " + std::strerror(err)});
      return false;
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace

std::vector<proc_cgroup_entry> parse_proc_cgroup(std::string_view text) {
  std::vector<proc_cgroup_entry> out;
  for_each_line(text, [&](std::string_view line) {
    auto a = line.find(':');
    if (a == std::string_view::npos) return;
    auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) return;
    auto path = line.substr(b + 1);
    if (a == 0 || path.empty() || path.front() != '/') return;
    out.push_back({std::string{line.substr(0, a)}, split(line.substr(a + 1, b - a - 1), ','),
                   std::string{path}});
  });
  return out;
}

const proc_cgroup_entry* find_entry(const std::vector<proc_cgroup_entry>& entries,
                                    std::string_view controller) {
  for (auto& e : entries) {
    if (controller.empty() ? (e.id == "0" && e.controllers.empty())
                           : std::find(e.controllers.begin(), e.controllers.end(), controller) !=
                                 e.controllers.end())
      return &e;
  }
  return nullptr;
}

std::optional<uint64_t> parse_keyed(std::string_view text, std::string_view key) {
  std::optional<uint64_t> out;
  for_each_line(text, [&](std::string_view line) {
    if (out || line.size() <= key.size() || line.substr(0, key.size()) != key ||
        line[key.size()] != ' ')
      return;
    out = to_u64(line.substr(key.size() + 1));
  });
  return out;
}

std::optional<uint64_t> parse_number(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return to_u64(text);
}

bool has_word(std::string_view list, std::string_view word) {
  for (auto& w : split(list.substr(0, list.find('\n')), ' '))
    if (w == word) return true;
  return false;
}

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  for_each_line(text, [&](std::string_view line) {
    if (auto v = to_u64(line); v && *v > 0 && *v <= 0x7fffffff)
      out.push_back(static_cast<pid_t>(*v));
  });
  return out;
}

uint64_t cpu_weight_to_shares(uint32_t weight) noexcept {
  return std::clamp<uint64_t>(uint64_t{weight} * 1024 / 100, 2, 262144);
}

std::string join(std::string_view dir, std::string_view rel) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  std::string out{dir};
  if (rel.empty()) return out;
  if (out.empty() || out.back() != '/') out += '/';
  out += rel;
  return out;
}

bool exists(const std::string& path) noexcept {
  return ::access(path.c_str(), F_OK) == 0;
}

std::optional<std::string> read_text(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || out.size() + static_cast<std::size_t>(n) > max_file_bytes) {
      int err = n < 0 ? errno : EFBIG;
      ::close(fd);
      errno = err;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int write_value(const std::string& path, std::string_view value) noexcept {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);  // as a shell's ">" does
  if (fd < 0) return errno;
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : (static_cast<std::size_t>(n) == value.size() ? 0 : EIO);
  ::close(fd);
  return err;
}

caf::error write_file(const std::string& path, std::string_view value) {
  if (int err = write_value(path, value)) return sys_error("write " + path, err);
  return {};
}

caf::error sys_error(const std::string& what, int err) {
  return make_error(errc::unavailable, what + ": " + std::strerror(err));
}

bool kill_procs(const std::string& dir, cgroup_mode mode,
                std::chrono::steady_clock::time_point deadline) {
  auto kill_file = join(dir, "cgroup.kill");
  bool has_kill = mode == cgroup_mode::v2 && exists(kill_file);
  for (;;) {
    if (has_kill && write_value(kill_file, "1") != 0) has_kill = false;  // then one by one
    auto text = read_text(join(dir, "cgroup.procs"));
    if (!text) return errno == ENOENT;
    auto pids = parse_pids(*text);
    if (pids.empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      log::warn("cgroup processes survive SIGKILL",
                {.component = "sandbox", .detail = dir, .count = pids.size()});
      return false;
    }
    if (!has_kill)
      for (pid_t pid : pids)
        if (pid > 1 && pid != ::getpid()) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(poll_interval);
  }
}

bool remove_tree(const std::string& dir, cgroup_mode mode, const cgroup_fs_hooks& hooks,
                 bool remove_self, std::chrono::steady_clock::time_point deadline) {
  bool ok = true;
  for (auto& child : child_dirs(dir))
    ok &= remove_tree(join(dir, child), mode, hooks, true, deadline);
  if (!remove_self) return ok;
  ok &= kill_procs(dir, mode, deadline);
  return remove_dir(dir, hooks, deadline) && ok;
}

}  // namespace caa::sandbox::detail
