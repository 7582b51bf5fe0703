// The cgroup manager against a fake cgroup tree: detection of none and v1, which v1 control
// files are written with which values, counters, names, removal.

#include "config/errc.hpp"
#include "tests/unit/cgroup_fake_tree.hpp"

using namespace caa::sandbox;
using namespace caa::sandbox::fakes;

namespace {

TEST_F(cgroup_fake_test, none_without_any_hierarchy) {
  put(proc_, "0::/\n");
  auto m = detect();
  EXPECT_EQ(m.mode(), cgroup_mode::none);
  EXPECT_NE(m.description().find("v2: no unified hierarchy"), std::string::npos) << m.description();
  EXPECT_NE(m.description().find("v1: no memory hierarchy"), std::string::npos);
  auto cg = m.create("s1", {});
  ASSERT_FALSE(cg);
  EXPECT_EQ(caa::errc_of(cg.error()), caa::errc::unavailable);
}

TEST_F(cgroup_fake_test, none_without_proc_file_or_with_bad_node) {
  EXPECT_EQ(detect().mode(), cgroup_mode::none);  // no proc file
  make_v1_host();
  for (auto bad : {"", "../up", "service", "a/b"}) EXPECT_EQ(detect(bad).mode(), cgroup_mode::none);
  EXPECT_FALSE(fs::exists(sys_ / "pids" / "service"));
}

TEST_F(cgroup_fake_test, v1_detected_below_own_cgroups) {
  make_v1_host();
  auto m = detect();
  ASSERT_EQ(m.mode(), cgroup_mode::v1) << m.description();
  EXPECT_EQ(m.node_dirs(), (std::vector<std::string>{(sys_ / "memory/svc/x/node").string(),
                                                     (sys_ / "pids/node").string(),
                                                     (sys_ / "cpu,cpuacct/node").string()}));
  for (auto& d : m.node_dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
  EXPECT_NE(m.description().find("offers controllers \"\""), std::string::npos) << m.description();
}

TEST_F(cgroup_fake_test, v1_without_pids_is_none_and_undoes_memory) {
  make_v1_host();
  fs::remove_all(sys_ / "pids");
  auto m = detect();
  EXPECT_EQ(m.mode(), cgroup_mode::none);
  EXPECT_NE(m.description().find("pids hierarchy not mounted"), std::string::npos)
      << m.description();
  EXPECT_FALSE(fs::exists(sys_ / "memory/svc/x/node"));
}

TEST_F(cgroup_fake_test, v1_writes_limits_and_hands_out_procs_fds) {
  make_v1_host();
  auto m = detect();
  auto cg = m.create("s1", {.memory_max = 128 * mib, .pids_max = 32, .cpu_weight = 200});
  ASSERT_TRUE(cg) << caa::to_string(caa::errc_of(cg.error()));
  auto mem = sys_ / "memory/svc/x/node/s1";
  EXPECT_EQ(get(mem / "memory.limit_in_bytes"), "134217728");
  EXPECT_EQ(get(mem / "memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(get(sys_ / "pids/node/s1/pids.max"), "32");
  EXPECT_EQ(get(sys_ / "cpu,cpuacct/node/s1/cpu.shares"), "2048");
  ASSERT_EQ((*cg)->procs_fds().size(), 3u);
  for (int fd : (*cg)->procs_fds()) {
    EXPECT_EQ(::fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
    ASSERT_EQ(::write(fd, "0", 1), 1);
  }
  for (auto d : {mem, sys_ / "pids/node/s1", sys_ / "cpu,cpuacct/node/s1"})
    EXPECT_EQ(get(d / "cgroup.procs"), "0") << d;
  cg->reset();
  EXPECT_FALSE(fs::exists(mem));
  EXPECT_FALSE(fs::exists(sys_ / "pids/node/s1"));
  EXPECT_FALSE(fs::exists(sys_ / "cpu,cpuacct/node/s1"));
  EXPECT_EQ(removed_.size(), 3u);
}

TEST_F(cgroup_fake_test, v1_without_swap_accounting_or_weight) {
  memsw_ = false;
  make_v1_host();
  auto m = detect();
  auto cg = m.create("s1", {.memory_max = 64 * mib, .pids_max = 8});
  ASSERT_TRUE(cg);
  EXPECT_EQ(get(sys_ / "memory/svc/x/node/s1/memory.limit_in_bytes"), "67108864");
  EXPECT_FALSE(fs::exists(sys_ / "memory/svc/x/node/s1/memory.memsw.limit_in_bytes"));
  EXPECT_FALSE(fs::exists(sys_ / "cpu,cpuacct/node/s1"));
  EXPECT_EQ((*cg)->procs_fds().size(), 2u);
}

TEST_F(cgroup_fake_test, v1_counters_and_cap_hit) {
  make_v1_host();
  auto m = detect();
  auto cg = m.create("s1", {});
  ASSERT_TRUE(cg);
  EXPECT_EQ((*cg)->cap_hit(), "");
  put(sys_ / "pids/node/s1/pids.events", "max 5\n");
  EXPECT_EQ((*cg)->cap_hit(), "pids");
  put(sys_ / "memory/svc/x/node/s1/memory.oom_control",
      "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put(sys_ / "memory/svc/x/node/s1/memory.max_usage_in_bytes", "1234\n");
  auto c = (*cg)->counters();
  EXPECT_EQ(c.oom_kills, 2u);
  EXPECT_EQ(c.pids_max_events, 5u);
  EXPECT_EQ(c.memory_peak, 1234u);
  EXPECT_EQ((*cg)->cap_hit(), "memory");
  EXPECT_EQ((*cg)->cap_hit({.oom_kills = 2}), "pids");
  EXPECT_EQ((*cg)->cap_hit(c), "");
}

TEST_F(cgroup_fake_test, refuses_unsafe_names_and_bad_limits) {
  make_v1_host();
  auto m = detect();
  for (auto bad : {"", "..", "../../etc", "a/b", "memory.max", "tasks x"}) {
    auto cg = m.create(bad, {});
    ASSERT_FALSE(cg) << bad;
    EXPECT_EQ(caa::errc_of(cg.error()), caa::errc::validation);
  }
  EXPECT_FALSE(m.create("s", {.memory_max = 0}));
  EXPECT_FALSE(m.create("s", {.pids_max = 0}));
  EXPECT_FALSE(m.create("s", {.cpu_weight = 0}));
  EXPECT_FALSE(m.create("s", {.cpu_weight = 10001}));
  EXPECT_FALSE(fs::exists(sys_ / "pids/node/s"));
}

TEST_F(cgroup_fake_test, replaces_a_stale_cgroup_of_the_same_name) {
  make_v1_host();
  auto m = detect();
  populate(sys_ / "pids/node/s1");
  put(sys_ / "pids/node/s1/pids.events", "max 9\n");
  auto cg = m.create("s1", {.pids_max = 16});
  ASSERT_TRUE(cg);
  EXPECT_EQ(get(sys_ / "pids/node/s1/pids.max"), "16");
  EXPECT_EQ((*cg)->counters().pids_max_events, 0u);
}

TEST_F(cgroup_fake_test, remove_stale_and_remove_node) {
  make_v1_host();
  auto m = detect();
  for (auto d : {sys_ / "memory/svc/x/node/old1", sys_ / "pids/node/old1", sys_ / "pids/node/old2",
                 sys_ / "pids/node/old2/nested"})
    populate(d);
  m.remove_stale();
  auto has_children = [](const fs::path& d) {
    for (auto& e : fs::directory_iterator{d})
      if (e.is_directory()) return true;
    return false;
  };
  EXPECT_FALSE(has_children(sys_ / "memory/svc/x/node"));
  EXPECT_FALSE(has_children(sys_ / "pids/node"));
  EXPECT_EQ(removed_.size(), 4u);
  EXPECT_EQ(removed_.front(), (sys_ / "memory/svc/x/node/old1").string());
  m.remove_node();
  for (auto& d : m.node_dirs()) EXPECT_FALSE(fs::exists(d)) << d;
  EXPECT_TRUE(fs::exists(sys_ / "pids"));
}

}  // namespace
