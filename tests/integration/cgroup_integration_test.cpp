// The cgroup manager against this host's real cgroups (v1 or v2): real processes hit the caps,
// destruction kills what still runs, remove_stale clears leftovers. Skipped unless root and the
// host offers writable cgroups. Every cgroup made here is removed in TearDown.

#include "transport/sandbox/cgroup.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

using namespace caa::sandbox;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t mib = 1ull << 20;

std::string read_all(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class cgroup_integration_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make cgroups";
    manager_.emplace(cgroup_manager::detect(node_));
    RecordProperty("cgroups", manager_->description());
    if (manager_->mode() == cgroup_mode::none)
      GTEST_SKIP() << "no writable cgroups: " << manager_->description();
  }

  void TearDown() override {
    if (!manager_ || manager_->mode() == cgroup_mode::none) return;
    manager_->remove_node();
    for (auto& d : manager_->node_dirs()) EXPECT_FALSE(fs::exists(d)) << d;
  }

  /// Forks a child that joins the cgroup through `fds` (as the spawner's child does) and runs
  /// `script` with bash, its stderr discarded.
  static pid_t start(const std::vector<int>& fds, const char* script) {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (int fd : fds)
        if (::write(fd, "0", 1) != 1) ::_exit(126);
      int null_fd = ::open("/dev/null", O_WRONLY);
      if (null_fd >= 0) ::dup2(null_fd, 2);
      ::execl("/bin/bash", "bash", "-c", script, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }

  /// The wait status of our child `pid` within `limit`; on timeout kills it and fails.
  static std::optional<int> wait_exit(pid_t pid, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) return status;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "child " << pid << " still running after " << limit.count() << " s";
    return std::nullopt;
  }

  /// Waits up to `limit` for `pred`.
  template <class F>
  static bool eventually(F pred, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  static bool killed_by_sigkill(std::optional<int> status) {
    return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
  }

  std::string node_ = "caa-test-" + std::to_string(::getpid());
  std::optional<cgroup_manager> manager_;
};

TEST_F(cgroup_integration_test, pids_cap_refuses_forks) {
  auto cg = manager_->create("pids", {.memory_max = 128 * mib, .pids_max = 32});
  ASSERT_TRUE(cg) << manager_->description();
  auto dirs = (*cg)->dirs();
  pid_t pid = start((*cg)->procs_fds(), "for i in $(seq 60); do sleep 5 & done; wait");
  ASSERT_GT(pid, 0);
  (*cg)->close_procs_fds();
  bool hit = eventually([&] { return (*cg)->counters().pids_max_events > 0; }, 20s);
  EXPECT_TRUE(hit);
  EXPECT_EQ((*cg)->cap_hit(), "pids");
  EXPECT_EQ((*cg)->counters().oom_kills, 0u);
  cg->reset();  // kills bash and its sleeps while bash still retries forks
  EXPECT_TRUE(killed_by_sigkill(wait_exit(pid, 10s)));
  for (auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << d;
}

TEST_F(cgroup_integration_test, memory_cap_kills_the_hog) {
  auto cg = manager_->create("memory", {.memory_max = 128 * mib, .pids_max = 32});
  ASSERT_TRUE(cg);
  pid_t pid =
      start((*cg)->procs_fds(), "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}");
  ASSERT_GT(pid, 0);
  auto status = wait_exit(pid, 120s);
  EXPECT_TRUE(killed_by_sigkill(status)) << (status ? *status : -1);
  auto c = (*cg)->counters();
  EXPECT_GT(c.oom_kills, 0u);
  EXPECT_EQ((*cg)->cap_hit(), "memory");
  EXPECT_EQ((*cg)->cap_hit(c), "");
  if (c.memory_peak > 0) {
    EXPECT_LE(c.memory_peak, 129 * mib);
  }
}

TEST_F(cgroup_integration_test, destruction_kills_and_removes) {
  auto cg = manager_->create("running", {.memory_max = 64 * mib, .pids_max = 16, .cpu_weight = 50});
  ASSERT_TRUE(cg);
  auto dirs = (*cg)->dirs();
  pid_t pid = start((*cg)->procs_fds(), "sleep 60 & sleep 60");
  ASSERT_GT(pid, 0);
  auto in_cgroup = [&] {
    auto procs = read_all(fs::path{dirs.front()} / "cgroup.procs");
    return procs.find(std::to_string(pid) + "\n") != std::string::npos;
  };
  ASSERT_TRUE(eventually(in_cgroup, 5s));
  auto t0 = std::chrono::steady_clock::now();
  cg->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, cgroup_kill_budget);
  EXPECT_TRUE(killed_by_sigkill(wait_exit(pid, 10s)));
  for (auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << d;
}

TEST_F(cgroup_integration_test, remove_stale_clears_leftovers) {
  // What a crashed earlier run leaves: a cgroup per hierarchy with a process still inside.
  std::vector<int> fds;
  std::vector<fs::path> stale;
  for (auto& d : manager_->node_dirs()) {
    stale.push_back(fs::path{d} / "stale-1");
    ASSERT_EQ(::mkdir(stale.back().c_str(), 0755), 0) << stale.back();
    fds.push_back(::open((stale.back() / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_GE(fds.back(), 0);
  }
  pid_t pid = start(fds, "sleep 60");
  for (int fd : fds) ::close(fd);
  ASSERT_GT(pid, 0);
  auto in_cgroup = [&] { return !read_all(stale.front() / "cgroup.procs").empty(); };
  ASSERT_TRUE(eventually(in_cgroup, 5s));
  manager_->remove_stale();
  EXPECT_TRUE(killed_by_sigkill(wait_exit(pid, 10s)));
  for (auto& d : stale) EXPECT_FALSE(fs::exists(d)) << d;
  for (auto& d : manager_->node_dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
}

TEST_F(cgroup_integration_test, detect_twice_is_idempotent) {
  auto again = cgroup_manager::detect(node_);
  EXPECT_EQ(again.mode(), manager_->mode()) << again.description();
  EXPECT_EQ(again.node_dirs(), manager_->node_dirs());
}

}  // namespace
