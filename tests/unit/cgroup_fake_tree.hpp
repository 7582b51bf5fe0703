#pragma once

// A fake cgroup tree in a temporary directory for the cgroup manager's unit tests: the hooks
// stand in for the kernel (control files appear on mkdir and vanish before rmdir).

#include "transport/sandbox/cgroup.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace caa::sandbox::fakes {

namespace fs = std::filesystem;

/// One mebibyte.
inline constexpr uint64_t mib = 1ull << 20;

/// Each test gets its own tree below the temporary directory; TearDown removes it.
class cgroup_fake_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("caa-cgroup-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(root_);
    sys_ = root_ / "sys";
    proc_ = root_ / "proc_self_cgroup";
    fs::create_directories(sys_);
  }
  void TearDown() override {
    if (fifo_fd_ >= 0) ::close(fifo_fd_);
    fs::remove_all(root_);
  }

  static void put(const fs::path& p, std::string_view text) {
    fs::create_directories(p.parent_path());
    std::ofstream{p} << text;
  }
  static std::string get(const fs::path& p) {
    std::ifstream in{p};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  /// The control files the kernel shows in a new cgroup `dir`, by hierarchy.
  void populate(const fs::path& dir) {
    auto hierarchy = fs::relative(dir, sys_).begin()->string();
    put(dir / "cgroup.procs", "");
    if (hierarchy == "memory") {
      put(dir / "memory.limit_in_bytes", "9223372036854771712\n");
      if (memsw_) put(dir / "memory.memsw.limit_in_bytes", "9223372036854771712\n");
      put(dir / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
      put(dir / "memory.max_usage_in_bytes", "0\n");
    } else if (hierarchy == "pids") {
      put(dir / "pids.max", "max\n");
      put(dir / "pids.events", "max 0\n");
    } else if (hierarchy == "cpu,cpuacct") {
      put(dir / "cpu.shares", "1024\n");
    } else if (dir.filename() == "service" && record_leaf_) {
      fs::remove(dir / "cgroup.procs");  // records every write, see `leaf_writes`
      ASSERT_EQ(::mkfifo((dir / "cgroup.procs").c_str(), 0600), 0);
      fifo_fd_ = ::open((dir / "cgroup.procs").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    } else {  // v2
      for (auto [file, text] : std::initializer_list<std::pair<const char*, const char*>>{
               {"cgroup.controllers", "cpu memory pids\n"},
               {"cgroup.subtree_control", ""},
               {"cgroup.kill", ""},
               {"cgroup.events", "populated 0\nfrozen 0\n"},
               {"memory.max", "max\n"},
               {"memory.swap.max", "max\n"},
               {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
               {"memory.peak", "0\n"},
               {"memory.oom.group", "0\n"},
               {"pids.max", "max\n"},
               {"pids.events", "max 0\n"},
               {"cpu.weight", "100\n"}})
        put(dir / file, text);
    }
  }

  /// Stands in for the kernel: control files appear on mkdir and vanish on rmdir.
  cgroup_fs_hooks hooks() {
    return {[this](const std::string& d) { populate(d); },
            [this](const std::string& d) {
              removed_.push_back(d);
              if (fs::exists(fs::path{d} / "cgroup.kill"))
                kill_at_rmdir_[d] = get(d + "/cgroup.kill");
              for (auto& e : fs::directory_iterator{d})
                if (!e.is_directory()) fs::remove(e.path());
            }};
  }

  /// Everything written to the fake leaf's cgroup.procs so far.
  std::string leaf_writes() {
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(fifo_fd_, buf, sizeof(buf))) > 0;) out.append(buf, n);
    return out;
  }

  /// A host with v1 memory, pids and cpu,cpuacct hierarchies and a v2 mount without controllers.
  void make_v1_host() {
    put(proc_, "9:name=systemd:/\n8:pids:/\n4:memory:/svc/x\n1:cpu,cpuacct:/\n0::/\n");
    populate(sys_ / "memory" / "svc" / "x");
    populate(sys_ / "pids");
    populate(sys_ / "cpu,cpuacct");
    put(sys_ / "unified" / "cgroup.controllers", "\n");
  }

  /// A pure v2 host; the service runs in /caa.service with two processes.
  void make_v2_host() {
    put(proc_, "0::/caa.service\n");
    put(sys_ / "cgroup.controllers", "cpuset cpu io memory pids\n");
    populate(sys_ / "caa.service");
    put(sys_ / "caa.service" / "cgroup.procs", "4242\n4243\n");
  }

  cgroup_manager detect(std::string node = "node") {
    return cgroup_manager::detect(std::move(node), sys_.string(), proc_.string(), hooks());
  }

  fs::path root_, sys_, proc_;
  bool memsw_ = true;
  bool record_leaf_ = true;
  int fifo_fd_ = -1;
  std::vector<std::string> removed_;
  std::map<std::string, std::string> kill_at_rmdir_;
};

}  // namespace caa::sandbox::fakes
