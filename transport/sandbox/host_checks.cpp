#include "transport/sandbox/host_checks.hpp"

#include "config/errc.hpp"
#include "config/settings.hpp"
#include "transport/claude/spawn.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace caa::sandbox {

namespace {

namespace fs = std::filesystem;

caf::error fail(std::string text) {
  return make_error(errc::agent_error, "AGENT_SANDBOX=strict: " + std::move(text));
}

/// Creates `dir` if needed and gives it mode 0711 (the service keeps it; tenants pass through).
caf::error make_passable_dir(const std::string& dir, const char* what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(std::string{"cannot create "} + what + ": " + ec.message());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail(std::string{"cannot stat "} + what);
  if ((st.st_mode & S_IXOTH) == 0 && ::chmod(dir.c_str(), (st.st_mode & 07777) | 0711) != 0)
    return fail(std::string{"cannot make "} + what + " passable (chmod o+x)");
  return check_reachable(dir, false);
}

/// No account of the host may own a uid of the tenants' range, nor may the service itself.
caf::error check_uid_range(uint32_t base, uint32_t count) {
  auto inside = [&](uint64_t uid) { return uid >= base && uid < uint64_t{base} + count; };
  if (inside(::geteuid())) return fail("the service's own uid lies in AGENT_UID_BASE/COUNT");
  ::setpwent();
  while (auto* pw = ::getpwent()) {
    if (inside(pw->pw_uid)) {
      std::string name = pw->pw_name;
      ::endpwent();
      return fail("account " + name + " owns a uid inside AGENT_UID_BASE/COUNT");
    }
  }
  ::endpwent();
  return {};
}

/// Runs `/usr/bin/true` in a minimal sandbox as `uid`: proves the privilege drop, bubblewrap
/// and unprivileged user namespaces work together on this host.
caf::error trial_run(const std::string& bwrap, uint32_t uid) {
  claude::spawn_spec spec;
  spec.argv = {"/usr/bin/true"};
  spec.cwd = "/";
  spec.bwrap_path = bwrap;
  spec.sandbox.enabled = true;
  spec.sandbox.uid = uid;
  spec.sandbox.gid = uid;
  spec.sandbox.bwrap_args = {"--unshare-all", "--die-with-parent",
                             "--cap-drop",    "ALL",
                             "--ro-bind",     "/usr",
                             "/usr",          "--proc",
                             "/proc",         "--dev",
                             "/dev"};
  for (const char* link : {"/lib", "/lib64", "/bin"}) {
    struct stat st {};
    if (::lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
      spec.sandbox.bwrap_args.insert(spec.sandbox.bwrap_args.end(),
                                     {"--symlink", std::string{"usr"} + link, link});
  }
  auto child = claude::spawn_child(spec);
  if (!child) return fail("cannot start bubblewrap as an unprivileged uid");
  std::string err;
  char buf[512];
  pollfd p{child->stderr_fd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (std::chrono::steady_clock::now() < deadline && ::poll(&p, 1, 100) >= 0) {
    if (p.revents == 0) continue;
    auto n = ::read(child->stderr_fd, buf, sizeof buf);
    if (n > 0 && err.size() < 2048) err.append(buf, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN)) break;
  }
  int status = 0;
  if (::waitpid(child->pid, &status, WNOHANG) == 0) {
    ::kill(child->pid, SIGKILL);
    ::waitpid(child->pid, &status, 0);
  }
  for (int fd : {child->pidfd, child->stdin_fd, child->stdout_fd, child->stderr_fd}) ::close(fd);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  return fail("bubblewrap with an unprivileged user namespace does not run here (" +
              (err.empty() ? std::string{"no message"} : err) + ")");
}

}  // namespace

caf::expected<std::string> resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return fs::absolute(name).lexically_normal().string();
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    auto candidate = fs::path{dirs.substr(start, end - start)} / name;
    if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
    start = end + 1;
  }
  return fail("CLAUDE_CLI_PATH " + name + " is not found in PATH");
}

caf::error check_reachable(const std::string& path, bool file) {
  fs::path p = fs::absolute(path).lexically_normal();
  fs::path walk = "/";
  for (auto it = std::next(p.begin()); it != p.end(); ++it) {
    struct stat st {};
    if (::stat(walk.c_str(), &st) != 0) return fail(walk.string() + " does not exist");
    if ((st.st_mode & S_IXOTH) == 0)
      return fail(walk.string() + " is not searchable by other users (needs o+x) on the way to " +
                  p.string());
    walk /= *it;
  }
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return fail(p.string() + " does not exist");
  mode_t need = file ? (S_IROTH | S_IXOTH) : S_IXOTH;
  if ((st.st_mode & need) != need)
    return fail(p.string() + (file ? " must be readable and executable by other users"
                                   : " is not searchable by other users (needs o+x)"));
  return {};
}

caf::error check_requirements(const settings& cfg, const std::string& bwrap, const std::string& cli,
                              const std::string& runtime_dir) {
  if (::access(bwrap.c_str(), X_OK) != 0) return fail("bubblewrap (" + bwrap + ") is missing");
  bool root = cfg.sandbox.service_uid == 0;
  if (root)
    if (auto err = check_uid_range(cfg.sandbox.uid_base, cfg.sandbox.uid_count)) return err;
  if (auto err = make_passable_dir(cfg.agent.workspace_root, "WORKSPACE_ROOT")) return err;
  if (auto err = make_passable_dir(runtime_dir, "AGENT_RUNTIME_DIR")) return err;
  if (auto err = check_reachable(cli, true)) return err;
  return trial_run(bwrap, root ? cfg.sandbox.uid_base : cfg.sandbox.service_uid);
}

}  // namespace caa::sandbox
