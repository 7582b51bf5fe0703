// The cgroup manager's parsers of kernel text files, and its small helpers.

#include "transport/sandbox/cgroup_io.hpp"

#include <gtest/gtest.h>

using namespace caa::sandbox;
using namespace caa::sandbox::detail;

TEST(cgroup_parse, proc_self_cgroup_v1_and_v2_lines) {
  auto entries = parse_proc_cgroup(
      "9:name=systemd:/\n8:pids:/\n4:memory:/some/path\n2:cpu,cpuacct:/a\n"
      "garbage\n3::relative\n0::/svc.service\n");
  ASSERT_EQ(entries.size(), 5u);
  auto* mem = find_entry(entries, "memory");
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->id, "4");
  EXPECT_EQ(mem->path, "/some/path");
  ASSERT_NE(find_entry(entries, "pids"), nullptr);
  EXPECT_EQ(find_entry(entries, "pids")->path, "/");
  ASSERT_NE(find_entry(entries, "cpu"), nullptr);
  EXPECT_EQ(find_entry(entries, "cpu")->path, "/a");
  EXPECT_EQ(find_entry(entries, "cpuacct"), find_entry(entries, "cpu"));
  EXPECT_EQ(find_entry(entries, "freezer"), nullptr);
  ASSERT_NE(find_entry(entries, ""), nullptr);
  EXPECT_EQ(find_entry(entries, "")->path, "/svc.service");
}

TEST(cgroup_parse, pure_v2_has_only_the_unified_line) {
  auto entries = parse_proc_cgroup("0::/user.slice/caa.service\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(find_entry(entries, "memory"), nullptr);
  EXPECT_EQ(find_entry(entries, "")->path, "/user.slice/caa.service");
}

TEST(cgroup_parse, memory_events_v2) {
  std::string text = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(parse_keyed(text, "oom_kill"), 1u);
  EXPECT_EQ(parse_keyed(text, "oom"), 2u);  // a key is a whole word, not a prefix
  EXPECT_EQ(parse_keyed(text, "max"), 17u);
  EXPECT_EQ(parse_keyed(text, "oom_group_kill"), 0u);
  EXPECT_EQ(parse_keyed(text, "missing"), std::nullopt);
}

TEST(cgroup_parse, memory_oom_control_v1) {
  std::string text = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
  EXPECT_EQ(parse_keyed(text, "oom_kill"), 3u);
  EXPECT_EQ(parse_keyed(text, "under_oom"), 0u);
  EXPECT_EQ(parse_keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), std::nullopt);
}

TEST(cgroup_parse, pids_events) {
  EXPECT_EQ(parse_keyed("max 42\n", "max"), 42u);
  EXPECT_EQ(parse_keyed("max 0", "max"), 0u);
  EXPECT_EQ(parse_keyed("max x\n", "max"), std::nullopt);
  EXPECT_EQ(parse_keyed("", "max"), std::nullopt);
}

TEST(cgroup_parse, numbers_and_pids) {
  EXPECT_EQ(parse_number("134217728\n"), 134217728u);
  EXPECT_EQ(parse_number("max\n"), std::nullopt);
  EXPECT_EQ(parse_number(""), std::nullopt);
  EXPECT_EQ(parse_pids("12\n345\n\nbad\n0\n-1\n7"), (std::vector<pid_t>{12, 345, 7}));
  EXPECT_TRUE(parse_pids("").empty());
}

TEST(cgroup_parse, controller_lists) {
  EXPECT_TRUE(has_word("cpuset cpu io memory pids\n", "memory"));
  EXPECT_TRUE(has_word("cpuset cpu io memory pids\n", "cpu"));
  EXPECT_FALSE(has_word("cpuset io memory\n", "cpu"));
  EXPECT_FALSE(has_word("", "pids"));
}

TEST(cgroup_parse, cpu_weight_maps_to_shares) {
  EXPECT_EQ(cpu_weight_to_shares(100), 1024u);
  EXPECT_EQ(cpu_weight_to_shares(200), 2048u);
  EXPECT_EQ(cpu_weight_to_shares(1), 10u);
  EXPECT_EQ(cpu_weight_to_shares(10000), 102400u);
}

TEST(cgroup_parse, joins_paths) {
  EXPECT_EQ(join("/sys/fs/cgroup/pids", "/"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(join("/sys/fs/cgroup/memory/", "/a/b"), "/sys/fs/cgroup/memory/a/b");
  EXPECT_EQ(join("/x", "node"), "/x/node");
  EXPECT_EQ(join("/", "a"), "/a");
}

TEST(cgroup_parse, safe_names_only) {
  EXPECT_TRUE(cgroup_manager::valid_name("3f1c2a9e-0000-4000-8000-000000000001"));
  EXPECT_TRUE(cgroup_manager::valid_name("caa_1"));
  for (auto bad : {"", ".", "..", "a/b", "../x", "a.b", "memory.max", "a b", "a\nb"})
    EXPECT_FALSE(cgroup_manager::valid_name(bad)) << bad;
  EXPECT_FALSE(cgroup_manager::valid_name(std::string(129, 'a')));
  EXPECT_TRUE(cgroup_manager::valid_name(std::string(128, 'a')));
}

TEST(cgroup_parse, mode_names) {
  EXPECT_EQ(to_string(cgroup_mode::none), "none");
  EXPECT_EQ(to_string(cgroup_mode::v1), "v1");
  EXPECT_EQ(to_string(cgroup_mode::v2), "v2");
}
