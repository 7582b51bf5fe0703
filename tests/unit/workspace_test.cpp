// Tenancy on disk (RELIABILITY R15, T8): the tenant tree, and hostile relative paths refused by
// the kernel-confined resolver.

#include "transport/sandbox/workspace.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace caa;
namespace fs = std::filesystem;

namespace {

const std::string tenant_a = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string tenant_b = "bbbbbbbb-0000-4000-8000-000000000002";

class workspace_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("caa-ws-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    ws_ = std::make_unique<tenant_workspace>(root_.string());
    ASSERT_TRUE(ws_->ensure(tenant_a));
    ASSERT_TRUE(ws_->ensure(tenant_b));
    work_a_ = fs::canonical(root_ / tenant_a / "work");
    work_b_ = fs::canonical(root_ / tenant_b / "work");
    fs::create_directories(work_a_ / "proj" / "src");
    fs::create_directories(work_a_ / "a" / "b");
    std::ofstream{work_a_ / "file.txt"} << "x";
    std::ofstream{work_b_ / "secret.txt"} << "tenant b";
    auto link = [&](const std::string& target, const std::string& name) {
      fs::create_symlink(target, work_a_ / name);
    };
    link(work_b_.string(), "to-b");
    link("../../" + tenant_b + "/work", "to-b-rel");
    link("/etc", "to-etc");
    link("/", "to-root");
    link("/proc/self/root", "to-proc");
    link("loop", "loop");
    link("..", "up");
    link("../..", "proj/up2");
    link("file.txt", "to-file");
    link("proj", "inner");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::variant<workspace_path, path_error> resolve(std::string_view rel,
                                                   if_missing m = if_missing::refuse) {
    return ws_->resolve(tenant_a, rel, m);
  }

  fs::path root_;
  fs::path work_a_;
  fs::path work_b_;
  std::unique_ptr<tenant_workspace> ws_;
};

std::string show(const std::variant<workspace_path, path_error>& r) {
  if (auto* p = std::get_if<workspace_path>(&r)) return "accepted as " + p->absolute();
  return std::string{message_of(std::get<path_error>(r))};
}

}  // namespace

TEST_F(workspace_test, ensure_creates_private_dirs_and_is_idempotent) {
  auto dirs = ws_->ensure(tenant_a);
  ASSERT_TRUE(dirs);
  EXPECT_EQ(dirs->work, work_a_.string());
  EXPECT_EQ(dirs->root, fs::canonical(root_ / tenant_a).string());
  for (const auto& d : {dirs->root, dirs->work, dirs->config, dirs->home, dirs->tmp}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  EXPECT_EQ(dirs->config, fs::canonical(root_ / tenant_a / "config").string());
}

TEST_F(workspace_test, ensure_refuses_bad_tenant_ids_and_symlinked_tenants) {
  for (auto id : {"", "../etc", "AAAAAAAA-0000-4000-8000-000000000001", "not-a-uuid",
                  "aaaaaaaa-0000-4000-8000-00000000000/"})
    EXPECT_FALSE(ws_->ensure(id)) << id;
  const std::string c = "cccccccc-0000-4000-8000-000000000003";
  fs::create_symlink(work_b_, root_ / c);
  EXPECT_FALSE(ws_->ensure(c));
  EXPECT_EQ(std::get<path_error>(ws_->resolve(c, ".")), path_error::unavailable);
}

TEST_F(workspace_test, good_paths_resolve_inside_work) {
  auto w = work_a_.string();
  std::pair<std::string, std::string> cases[] = {
      {".", w},
      {"proj", w + "/proj"},
      {"proj/src", w + "/proj/src"},
      {"./proj", w + "/proj"},
      {"proj/src/", w + "/proj/src"},
      {"a/./b", w + "/a/b"},
      {"proj/../a", w + "/a"},
      {"inner", w + "/proj"},
      {"inner/src", w + "/proj/src"},
  };
  for (const auto& [rel, want] : cases) {
    auto r = resolve(rel);
    ASSERT_TRUE(std::holds_alternative<workspace_path>(r)) << rel << ": " << show(r);
    EXPECT_EQ(std::get<workspace_path>(r).absolute(), want) << rel;
  }
  EXPECT_EQ(std::get<workspace_path>(resolve(".")).relative(), ".");
  EXPECT_EQ(std::get<workspace_path>(resolve("inner/src")).relative(), "proj/src");
}

TEST_F(workspace_test, hostile_paths_are_refused) {
  using pe = path_error;
  const std::string b = tenant_b;
  std::pair<std::string, pe> cases[] = {
      {"../x", pe::escapes},
      {"..", pe::escapes},
      {"a/../../b", pe::escapes},
      {"proj/../../x", pe::escapes},
      {"./../x", pe::escapes},
      {"proj/src/../../..", pe::escapes},
      {"../" + b + "/work", pe::escapes},
      {"../../" + b + "/work", pe::escapes},
      {"/etc", pe::absolute},
      {"/proc/self/root", pe::absolute},
      {"/", pe::absolute},
      {"//etc", pe::absolute},
      {"proc/self/root", pe::not_found},
      {"%2e%2e/", pe::not_found},
      {"%2e%2e%2fetc", pe::not_found},
      {"..%2f" + b, pe::not_found},
      {"\xEF\xBC\x8E\xEF\xBC\x8E/x", pe::not_found},  // fullwidth dots
      {"\xE2\x80\xA5/x", pe::not_found},              // two-dot leader
      {"..\\x", pe::not_found},
      {"~/x", pe::not_found},
      {"$HOME", pe::not_found},
      {" /etc", pe::not_found},
      {std::string{"a\0b", 3}, pe::malformed},
      {"a\nb", pe::malformed},
      {"a\tb", pe::malformed},
      {"proj/\x7f", pe::malformed},
      {"a//b", pe::malformed},
      {"", pe::empty},
      {std::string(4097, 'a'), pe::too_long},  // PATH_MAX + 1
      {std::string(1025, 'a'), pe::too_long},
      {"x/" + std::string(256, 'n'), pe::too_long},
      {"to-b", pe::escapes},
      {"to-b/", pe::escapes},
      {"to-b-rel", pe::escapes},
      {"to-etc", pe::escapes},
      {"to-etc/ssl", pe::escapes},
      {"to-root", pe::escapes},
      {"to-proc", pe::escapes},
      {"loop", pe::escapes},
      {"up", pe::escapes},
      {"proj/up2", pe::escapes},
      {"file.txt", pe::not_directory},
      {"file.txt/x", pe::not_directory},
      {"to-file", pe::not_directory},
  };
  for (const auto& [rel, want] : cases) {
    auto r = resolve(rel);
    ASSERT_TRUE(std::holds_alternative<path_error>(r)) << rel << ": " << show(r);
    EXPECT_EQ(std::get<path_error>(r), want) << rel << ": " << show(r);
  }
}

TEST_F(workspace_test, another_tenant_is_unreachable) {
  std::vector<std::string> rels{"to-b", "to-b-rel", "../../" + tenant_b + "/work",
                                "up/../" + tenant_b};
  for (const auto& rel : rels) EXPECT_TRUE(std::holds_alternative<path_error>(resolve(rel))) << rel;
  // B resolves its own tree and cannot see A's.
  auto own = ws_->resolve(tenant_b, ".");
  ASSERT_TRUE(std::holds_alternative<workspace_path>(own));
  EXPECT_EQ(std::get<workspace_path>(own).absolute(), work_b_.string());
  EXPECT_EQ(std::get<path_error>(ws_->resolve(tenant_b, "proj")), path_error::not_found);
  std::vector<std::string> ids{"../" + tenant_b, tenant_b + "/..",
                               "AAAAAAAA-0000-4000-8000-000000000001"};
  for (const auto& id : ids)
    EXPECT_EQ(std::get<path_error>(ws_->resolve(id, ".")), path_error::unavailable) << id;
}

TEST_F(workspace_test, missing_directories_are_created_only_when_asked_and_confined) {
  EXPECT_EQ(std::get<path_error>(resolve("new/deep")), path_error::not_found);
  auto r = resolve("new/deep", if_missing::create);
  ASSERT_TRUE(std::holds_alternative<workspace_path>(r)) << show(r);
  EXPECT_EQ(std::get<workspace_path>(r).absolute(), (work_a_ / "new" / "deep").string());
  EXPECT_TRUE(fs::is_directory(work_a_ / "new" / "deep"));
  EXPECT_EQ(std::get<path_error>(resolve("to-etc/caa-new", if_missing::create)),
            path_error::escapes);
  EXPECT_FALSE(fs::exists("/etc/caa-new"));
  EXPECT_EQ(std::get<path_error>(resolve("to-b/made", if_missing::create)), path_error::escapes);
  EXPECT_FALSE(fs::exists(work_b_ / "made"));
  EXPECT_EQ(std::get<path_error>(resolve("../made", if_missing::create)), path_error::escapes);
  EXPECT_EQ(std::get<path_error>(resolve("file.txt/x", if_missing::create)),
            path_error::not_directory);
  EXPECT_EQ(std::get<path_error>(resolve("gone/../x", if_missing::create)), path_error::not_found);
  EXPECT_FALSE(fs::exists(work_a_ / "gone"));
}

TEST_F(workspace_test, swapping_a_directory_and_a_symlink_never_escapes) {
  fs::create_directory(work_a_ / "swap");
  fs::create_symlink(work_b_, work_a_ / "swap-alt");
  std::atomic<bool> stop{false};
  std::thread racer{[&] {
    while (!stop.load())
      ::renameat2(AT_FDCWD, (work_a_ / "swap").c_str(), AT_FDCWD, (work_a_ / "swap-alt").c_str(),
                  RENAME_EXCHANGE);
  }};
  int accepted = 0;
  auto inside = work_a_.string() + "/";
  for (int i = 0; i < 5000; ++i) {
    auto r = resolve("swap");
    if (auto* p = std::get_if<workspace_path>(&r)) {
      ++accepted;
      ASSERT_EQ(p->absolute().compare(0, inside.size(), inside), 0) << p->absolute();
    }
  }
  stop = true;
  racer.join();
  EXPECT_GT(accepted, 0);
}

TEST(workspace_text, check_relative_path_without_disk) {
  EXPECT_FALSE(check_relative_path("a/b"));
  EXPECT_FALSE(check_relative_path("a/../b"));
  EXPECT_EQ(check_relative_path("a/../../b"), path_error::escapes);
  EXPECT_EQ(check_relative_path("/a"), path_error::absolute);
  EXPECT_FALSE(is_tenant_id("AAAAAAAA-0000-4000-8000-000000000001"));
  EXPECT_TRUE(is_tenant_id(tenant_a));
}
