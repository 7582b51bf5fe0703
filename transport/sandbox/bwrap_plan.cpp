// The pure part of the sandbox: bubblewrap's arguments and the CLI's environment inside.

#include "transport/sandbox/sandbox.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace caa::sandbox {

namespace {

/// The files and directories of /etc the tools need, bound read-only when the host has them.
constexpr std::array<std::string_view, 24> etc_entries{"/etc/alternatives",
                                                       "/etc/bash.bashrc",
                                                       "/etc/ca-certificates",
                                                       "/etc/ca-certificates.conf",
                                                       "/etc/debian_version",
                                                       "/etc/gai.conf",
                                                       "/etc/host.conf",
                                                       "/etc/hosts",
                                                       "/etc/inputrc",
                                                       "/etc/ld.so.cache",
                                                       "/etc/ld.so.conf",
                                                       "/etc/ld.so.conf.d",
                                                       "/etc/locale.alias",
                                                       "/etc/localtime",
                                                       "/etc/login.defs",
                                                       "/etc/mime.types",
                                                       "/etc/nsswitch.conf",
                                                       "/etc/os-release",
                                                       "/etc/profile",
                                                       "/etc/protocols",
                                                       "/etc/services",
                                                       "/etc/shells",
                                                       "/etc/ssl",
                                                       "/etc/timezone"};

/// The top-level names that merged-/usr systems make symlinks into /usr.
constexpr std::array<std::string_view, 5> usr_links{"/bin", "/sbin", "/lib", "/lib32", "/lib64"};

void add(std::vector<std::string>& out, std::initializer_list<std::string_view> xs) {
  for (auto x : xs) out.emplace_back(x);
}

/// `/bin` and friends: the host's symlink target when it is one, else a read-only bind.
void add_usr_links(std::vector<std::string>& out) {
  for (auto name : usr_links) {
    std::string path{name};
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      std::array<char, 256> target{};
      auto n = ::readlink(path.c_str(), target.data(), target.size() - 1);
      if (n <= 0) continue;
      add(out, {"--symlink", std::string_view{target.data(), static_cast<std::size_t>(n)}, name});
    } else if (S_ISDIR(st.st_mode)) {
      add(out, {"--ro-bind", name, name});
    }
  }
}

}  // namespace

std::vector<std::string> bwrap_args(const layout& l) {
  std::vector<std::string> out;
  // Every namespace (user, pid, net, ipc, uts, cgroup); no capability even inside; a new
  // session (no TIOCSTI into the service's terminal); the tree dies with its parent.
  add(out, {"--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox"});
  add(out, {"--ro-bind", "/usr", "/usr"});
  add_usr_links(out);
  for (auto e : etc_entries) add(out, {"--ro-bind-try", e, e});
  add(out, {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"});
  add(out, {"--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/home"});
  add(out, {"--dir", inside_home});
  // After the tmpfs mounts, which would hide a CLI or workspace kept below /tmp.
  add(out, {"--ro-bind", l.cli_path, l.cli_path});
  for (const auto& p : l.extra_ro_paths) add(out, {"--ro-bind-try", p, p});
  add(out, {"--ro-bind", l.process_dir, inside_runtime_dir});
  add(out, {"--ro-bind", l.process_dir + "/passwd", "/etc/passwd"});
  add(out, {"--ro-bind", l.process_dir + "/group", "/etc/group"});
  add(out, {"--bind", l.work_dir, l.work_dir});
  add(out, {"--bind", l.config_dir, l.config_dir});
  return out;
}

std::vector<std::string> sandbox_env(std::vector<std::string> env, const std::string& placeholder) {
  auto drop = [](const std::string& var) {
    for (std::string_view name : {"ANTHROPIC_API_KEY=", "ANTHROPIC_AUTH_TOKEN=",
                                  "ANTHROPIC_BASE_URL=", "ANTHROPIC_UNIX_SOCKET=", "HOME=",
                                  "TMPDIR=", "USER=", "LOGNAME=", "CLAUDE_CODE_OAUTH_TOKEN="})
      if (var.compare(0, name.size(), name) == 0) return true;
    return false;
  };
  env.erase(std::remove_if(env.begin(), env.end(), drop), env.end());
  env.push_back("ANTHROPIC_API_KEY=" + placeholder);
  env.push_back("ANTHROPIC_BASE_URL=http://localhost");
  env.push_back("ANTHROPIC_UNIX_SOCKET=" + std::string{inside_model_socket});
  env.push_back("HOME=" + std::string{inside_home});
  env.push_back("TMPDIR=/tmp");
  env.push_back("USER=agent");
  env.push_back("LOGNAME=agent");
  std::sort(env.begin(), env.end());
  return env;
}

void route_egress(std::vector<std::string>& argv, std::vector<std::string>& env) {
  std::vector<std::string> wrapped{std::string{inside_relay},
                                   "--listen",
                                   std::string{inside_proxy_url.substr(7)},
                                   "--socket",
                                   std::string{inside_egress_socket},
                                   "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  argv = std::move(wrapped);
  auto drop = [](const std::string& var) {
    for (std::string_view name : {"HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=",
                                  "NO_PROXY=", "no_proxy=", "ALL_PROXY=", "all_proxy="})
      if (var.compare(0, name.size(), name) == 0) return true;
    return false;
  };
  env.erase(std::remove_if(env.begin(), env.end(), drop), env.end());
  for (std::string_view name : {"HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy="})
    env.push_back(std::string{name} + std::string{inside_proxy_url});
  env.push_back("NO_PROXY=localhost,127.0.0.1");
  env.push_back("no_proxy=localhost,127.0.0.1");
  std::sort(env.begin(), env.end());
}

}  // namespace caa::sandbox
