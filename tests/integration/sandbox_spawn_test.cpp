// The privilege drop and the bubblewrap plan together, on the real kernel: a sandboxed child is
// the tenant's uid with no capability and no_new_privs, sees only the system directories and
// its own tree, has no network but loopback, and cannot read a root-only file.

#include "transport/claude/spawn.hpp"
#include "transport/sandbox/host_checks.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace caa;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t test_uid = 299917;

class sandbox_spawn_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the privilege drop)";
    if (::access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap not installed";
    root_ = fs::path{"/tmp"} / ("caa-sbx-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    for (auto d : {"proc", "t/work", "t/config", "secret"}) fs::create_directories(root_ / d);
    ::chmod(root_.c_str(), 0711);
    ::chmod((root_ / "t").c_str(), 0711);
    ::chmod((root_ / "proc").c_str(), 0711);
    for (auto d : {"t/work", "t/config"}) {
      ASSERT_EQ(::chown((root_ / d).c_str(), test_uid, test_uid), 0);
      ::chmod((root_ / d).c_str(), 0700);
    }
    std::ofstream{root_ / "proc/passwd"} << "agent:x:" << test_uid << ":" << test_uid
                                         << "::/home/agent:/bin/bash\n";
    std::ofstream{root_ / "proc/group"} << "agent:x:" << test_uid << ":\n";
    std::ofstream{root_ / "secret/root-only"} << "root-secret-41";
    ::chmod((root_ / "secret/root-only").c_str(), 0600);
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  /// Runs `script` with bash in the sandbox; returns its stdout (stderr appended) and status.
  std::pair<std::string, int> run(const std::string& script) {
    sandbox::layout l;
    l.cli_path = "/usr/bin/bash";
    l.process_dir = (root_ / "proc").string();
    l.work_dir = (root_ / "t/work").string();
    l.config_dir = (root_ / "t/config").string();
    claude::spawn_spec spec;
    spec.argv = {"/usr/bin/bash", "-c", script + " 2>&1"};
    spec.env = {"PATH=/usr/bin:/bin", "HOME=/home/agent", "LANG=C.UTF-8"};
    spec.cwd = l.work_dir;
    spec.sandbox.enabled = true;
    spec.sandbox.uid = test_uid;
    spec.sandbox.gid = test_uid;
    spec.sandbox.bwrap_args = sandbox::bwrap_args(l);
    auto child = claude::spawn_child(spec);
    EXPECT_TRUE(child) << (child ? "" : caf::to_string(child.error()));
    if (!child) return {"", -1};
    std::string out;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    pollfd p{child->stdout_fd, POLLIN, 0};
    while (std::chrono::steady_clock::now() < deadline && ::poll(&p, 1, 100) >= 0) {
      if (p.revents == 0) continue;
      auto n = ::read(child->stdout_fd, buf, sizeof buf);
      if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
    }
    int status = 0;
    if (::waitpid(child->pid, &status, WNOHANG) == 0) {
      ::kill(child->pid, SIGKILL);
      ::waitpid(child->pid, &status, 0);
    }
    for (int fd : {child->pidfd, child->stdin_fd, child->stdout_fd, child->stderr_fd}) ::close(fd);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
  }

  fs::path root_;
};

TEST_F(sandbox_spawn_test, runs_as_the_tenant_uid_without_capabilities) {
  auto [out, code] =
      run("id -u; id -G; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(std::to_string(test_uid) + "\n" + std::to_string(test_uid) + "\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("CapPrm:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
}

TEST_F(sandbox_spawn_test, sees_only_the_system_and_its_own_tree) {
  auto secret = (root_ / "secret/root-only").string();
  auto [out, code] = run("cat " + secret + "; cat /etc/shadow; ls /; echo x > " +
                         (root_ / "t/work/mine").string() + " && echo WROTE; echo y > /usr/z");
  EXPECT_EQ(out.find("root-secret-41"), std::string::npos) << out;
  EXPECT_NE(out.find("WROTE"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(root_ / "t/work/mine"));
  EXPECT_FALSE(fs::exists("/usr/z"));
  EXPECT_EQ(out.find("\nroot\n"), std::string::npos) << "no /root inside: " << out;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "t/work/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, test_uid);
}

TEST_F(sandbox_spawn_test, has_only_its_own_loopback) {
  auto [out, code] = run("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
  EXPECT_EQ(out, "lo\n");
}

TEST_F(sandbox_spawn_test, the_host_check_accepts_this_host) {
  EXPECT_FALSE(sandbox::check_reachable("/usr/bin/bwrap", true));
  EXPECT_TRUE(sandbox::check_reachable((root_ / "secret/root-only").string(), true));
}

}  // namespace
