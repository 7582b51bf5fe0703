// The agent sandbox's pure parts: bubblewrap's arguments (no bind of `/`, every namespace, no
// capability, only the tenant's own directories writable) and the environment inside (the model
// reached through the proxy socket with a placeholder, never the operator's key); files the
// service writes into a tenant tree (confined, no symlink followed, owned by the tenant's uid).

#include "transport/sandbox/sandbox.hpp"
#include "transport/sandbox/tenant_files.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace caa::sandbox;
namespace fs = std::filesystem;

namespace {

layout sample_layout() {
  layout l;
  l.cli_path = "/opt/cli/claude";
  l.process_dir = "/srv/caa/.sandbox/7-1";
  l.work_dir = "/srv/caa/t1/work";
  l.config_dir = "/srv/caa/t1/config";
  l.extra_ro_paths = {"/opt/mcp/server"};
  return l;
}

/// The destinations of every option `opt` that takes (source, destination).
std::vector<std::pair<std::string, std::string>> binds(const std::vector<std::string>& args,
                                                       std::string_view opt) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 2 < args.size(); ++i)
    if (args[i] == opt) out.emplace_back(args[i + 1], args[i + 2]);
  return out;
}

bool has(const std::vector<std::string>& xs, std::string_view x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

TEST(sandbox_plan, unshares_everything_and_drops_every_capability) {
  auto args = bwrap_args(sample_layout());
  EXPECT_TRUE(has(args, "--unshare-all"));
  EXPECT_TRUE(has(args, "--die-with-parent"));
  EXPECT_TRUE(has(args, "--new-session"));
  auto cap = std::find(args.begin(), args.end(), "--cap-drop");
  ASSERT_NE(cap, args.end());
  EXPECT_EQ(*std::next(cap), "ALL");
  EXPECT_FALSE(has(args, "--share-net"));
}

TEST(sandbox_plan, binds_nothing_of_the_host_but_system_files_and_the_tenant_tree) {
  auto l = sample_layout();
  auto args = bwrap_args(l);
  for (auto opt : {"--bind", "--ro-bind", "--dev-bind", "--ro-bind-try", "--bind-try"})
    for (auto& [src, dst] : binds(args, opt)) EXPECT_NE(src, "/") << opt << " " << dst;
  auto writable = binds(args, "--bind");
  ASSERT_EQ(writable.size(), 2u);
  EXPECT_EQ(writable[0], std::make_pair(l.work_dir, l.work_dir));
  EXPECT_EQ(writable[1], std::make_pair(l.config_dir, l.config_dir));
  EXPECT_TRUE(binds(args, "--dev-bind").empty());
  for (auto& [src, dst] : binds(args, "--ro-bind")) {
    bool system = src == "/usr" || src.rfind("/etc", 0) == 0 || src == l.cli_path ||
                  src.rfind(l.process_dir, 0) == 0 || src == "/lib" || src == "/lib64" ||
                  src == "/bin" || src == "/sbin";
    EXPECT_TRUE(system) << src;
  }
  for (auto& [src, dst] : binds(args, "--ro-bind-try"))
    EXPECT_TRUE(src.rfind("/etc/", 0) == 0 || src == "/opt/mcp/server") << src;
  // Private tmpfs for /tmp, /run, /home; the runtime directory read-only at /run/caa.
  for (auto dir : {"/tmp", "/run", "/home", "/dev/shm"}) {
    auto it = std::find(args.begin(), args.end(), dir);
    ASSERT_NE(it, args.end()) << dir;
    EXPECT_EQ(*std::prev(it), "--tmpfs") << dir;
  }
  auto ro = binds(args, "--ro-bind");
  EXPECT_TRUE(std::find(ro.begin(), ro.end(),
                        std::make_pair(l.process_dir, std::string{"/run/caa"})) != ro.end());
}

TEST(sandbox_plan, the_environment_reaches_the_model_only_through_the_proxy) {
  std::vector<std::string> env{"ANTHROPIC_API_KEY=sk-real-operator-key",
                               "ANTHROPIC_BASE_URL=https://api.example",
                               "ANTHROPIC_AUTH_TOKEN=tok",
                               "HOME=/srv/caa/t1/home",
                               "PATH=/usr/bin",
                               "TMPDIR=/srv/caa/t1/tmp"};
  auto out = sandbox_env(env, "sk-ant-sandbox-abc");
  EXPECT_TRUE(has(out, "ANTHROPIC_API_KEY=sk-ant-sandbox-abc"));
  EXPECT_TRUE(has(out, "ANTHROPIC_BASE_URL=http://localhost"));
  EXPECT_TRUE(has(out, "ANTHROPIC_UNIX_SOCKET=/run/caa/model.sock"));
  EXPECT_TRUE(has(out, "HOME=/home/agent"));
  EXPECT_TRUE(has(out, "TMPDIR=/tmp"));
  EXPECT_TRUE(has(out, "PATH=/usr/bin"));
  for (const auto& v : out) {
    EXPECT_EQ(v.find("sk-real-operator-key"), std::string::npos) << v;
    EXPECT_EQ(v.find("ANTHROPIC_AUTH_TOKEN"), std::string::npos) << v;
    EXPECT_EQ(v.find("/srv/caa/t1/home"), std::string::npos) << v;
  }
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
}

class tenant_files_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("caa-tf-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "config");
    fs::create_directories(root_ / "outside");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string config() const { return (root_ / "config").string(); }
  fs::path root_;
};

TEST_F(tenant_files_test, writes_a_new_file_with_its_parents_and_keeps_an_existing_one) {
  ASSERT_FALSE(write_new_file_beneath(config(), "projects/p/s.jsonl", "{}\n", 0));
  std::ifstream in{root_ / "config/projects/p/s.jsonl"};
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "{}\n");
  EXPECT_FALSE(write_new_file_beneath(config(), "projects/p/s.jsonl", "other\n", 0));
  std::ifstream again{root_ / "config/projects/p/s.jsonl"};
  std::string kept((std::istreambuf_iterator<char>(again)), {});
  EXPECT_EQ(kept, "{}\n");
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "config/projects/p/s.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(tenant_files_test, a_planted_symlink_never_redirects_the_write) {
  fs::create_directories(root_ / "config/projects");
  fs::create_directory_symlink(root_ / "outside", root_ / "config/projects/p");
  EXPECT_TRUE(write_new_file_beneath(config(), "projects/p/s.jsonl", "x\n", 0));
  EXPECT_FALSE(fs::exists(root_ / "outside/s.jsonl"));
  // A symlink as the file itself (to a file outside) is refused too, and nothing is written.
  fs::create_directories(root_ / "config/projects/q");
  std::ofstream{root_ / "outside/target"} << "keep";
  fs::create_symlink(root_ / "outside/target", root_ / "config/projects/q/s.jsonl");
  EXPECT_FALSE(write_new_file_beneath(config(), "projects/q/s.jsonl", "x\n", 0))
      << "an existing name counts as existing: nothing is written through it";
  std::ifstream in{root_ / "outside/target"};
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "keep");
  EXPECT_TRUE(write_new_file_beneath(config(), "../outside/x", "x\n", 0));
  EXPECT_TRUE(write_new_file_beneath(config(), "/etc/x", "x\n", 0));
  EXPECT_FALSE(fs::exists(root_ / "outside/x"));
}

TEST_F(tenant_files_test, what_it_creates_belongs_to_the_owner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files away";
  ASSERT_FALSE(write_new_file_beneath(config(), "projects/o/s.jsonl", "{}\n", 200321));
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "config/projects/o").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200321u);
  ASSERT_EQ(::stat((root_ / "config/projects/o/s.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200321u);
  EXPECT_EQ(st.st_gid, 200321u);
}

TEST_F(tenant_files_test, tree_bytes_counts_the_tree_without_following_symlinks) {
  std::string big(256 * 1024, 'x');
  std::ofstream{root_ / "config/a.bin"} << big;
  fs::create_directories(root_ / "config/d");
  std::ofstream{root_ / "config/d/b.bin"} << big;
  std::ofstream{root_ / "outside/huge.bin"} << std::string(1024 * 1024, 'y');
  fs::create_directory_symlink(root_ / "outside", root_ / "config/link");
  auto n = tree_bytes(config());
  EXPECT_GE(n, 2u * 256 * 1024);
  EXPECT_LT(n, 1024u * 1024);
  EXPECT_LE(tree_bytes(config(), 100), 2u * 256 * 1024) << "stops early past the limit";
}

}  // namespace
