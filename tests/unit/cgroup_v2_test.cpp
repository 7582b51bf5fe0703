// The cgroup manager against a fake cgroup v2 tree: delegation (the service's processes move to
// a leaf), limits, counters, cgroup.kill on destruction.

#include "tests/unit/cgroup_fake_tree.hpp"

using namespace caa::sandbox;
using namespace caa::sandbox::fakes;

namespace {

TEST_F(cgroup_fake_test, v2_moves_own_processes_to_a_leaf_and_delegates) {
  make_v2_host();
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v2) << m.description();
  auto own = sys_ / "caa.service";
  EXPECT_EQ(m.node_dirs(), std::vector<std::string>{(own / "node").string()});
  auto moved = leaf_writes();
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(moved.substr(0, 8), "42424243");  // each pid in its own write, every round
  EXPECT_EQ(moved.size() % 8, 0u);
  EXPECT_EQ(get(own / "cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(get(own / "node" / "cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_NE(m.description().find("cgroup v2: memory, pids, cpu"), std::string::npos);
}

TEST_F(cgroup_fake_test, v2_writes_limits_and_kills_on_destruction) {
  make_v2_host();
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v2) << m.description();
  auto cg = m.create(
      "s1", {.memory_max = 128 * mib, .pids_max = 32, .cpu_weight = 50, .oom_group = true});
  ASSERT_TRUE(cg);
  auto dir = sys_ / "caa.service/node/s1";
  EXPECT_EQ(get(dir / "memory.max"), "134217728");
  EXPECT_EQ(get(dir / "memory.swap.max"), "0");
  EXPECT_EQ(get(dir / "pids.max"), "32");
  EXPECT_EQ(get(dir / "cpu.weight"), "50");
  EXPECT_EQ(get(dir / "memory.oom.group"), "1");
  ASSERT_EQ((*cg)->procs_fds().size(), 1u);
  put(dir / "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
  put(dir / "memory.peak", "134217728\n");
  auto c = (*cg)->counters();
  EXPECT_EQ(c.oom_kills, 1u);
  EXPECT_EQ(c.memory_peak, 134217728u);
  EXPECT_EQ((*cg)->cap_hit(), "memory");
  cg->reset();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(kill_at_rmdir_[dir.string()], "1");
}

TEST_F(cgroup_fake_test, v2_sees_through_its_own_leaf) {
  put(proc_, "0::/caa.service/service\n");
  put(sys_ / "cgroup.controllers", "memory pids\n");
  populate(sys_ / "caa.service");
  put(sys_ / "caa.service/cgroup.controllers", "memory pids\n");
  put(sys_ / "caa.service/cgroup.subtree_control", "memory pids\n");
  put(sys_ / "caa.service/cgroup.procs", "");
  record_leaf_ = false;
  populate(sys_ / "caa.service/service");
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v2) << m.description();
  EXPECT_EQ(m.node_dirs(), std::vector<std::string>{(sys_ / "caa.service/node").string()});
  EXPECT_EQ(get(sys_ / "caa.service/cgroup.subtree_control"), "memory pids\n");  // untouched
}

TEST_F(cgroup_fake_test, v2_root_cgroup_keeps_its_processes) {
  put(proc_, "0::/\n");
  populate(sys_ / "x");  // v2 files, then move them to the root
  for (auto& e : fs::directory_iterator{sys_ / "x"})
    fs::rename(e.path(), sys_ / e.path().filename());
  put(sys_ / "cgroup.procs", "1\n");
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v2) << m.description();
  EXPECT_FALSE(fs::exists(sys_ / "service"));
  EXPECT_EQ(m.node_dirs(), std::vector<std::string>{(sys_ / "node").string()});
}

TEST_F(cgroup_fake_test, v2_without_pids_falls_back) {
  make_v2_host();
  put(sys_ / "caa.service/cgroup.controllers", "cpu memory\n");
  auto m = detect();
  EXPECT_EQ(m.mode(), cgroup_mode::none);
  EXPECT_NE(m.description().find("needs memory and pids"), std::string::npos) << m.description();
  EXPECT_FALSE(fs::exists(sys_ / "caa.service/service"));
}

TEST_F(cgroup_fake_test, v2_namespace_root_is_not_the_real_root) {
  put(proc_, "0::/\n");  // a cgroup namespace: "/" is an ordinary cgroup with cgroup.type
  populate(sys_ / "x");
  for (auto& e : fs::directory_iterator{sys_ / "x"})
    fs::rename(e.path(), sys_ / e.path().filename());
  put(sys_ / "cgroup.type", "domain\n");
  put(sys_ / "cgroup.procs", "4242\n");
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v2) << m.description();
  EXPECT_EQ(leaf_writes().substr(0, 4), "4242");
  EXPECT_EQ(get(sys_ / "cgroup.subtree_control"), "+memory +pids +cpu");
}

}  // namespace
