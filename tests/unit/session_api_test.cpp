// The pure parts of the session routes: turn bodies per route and their stored options, the
// turn_spec (paths confined to the tenant, driver from the settings), and the response bodies.

#include "transport/api/session_json.hpp"
#include "transport/api/turn_builder.hpp"

#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace caa;
using namespace caa::api;
namespace fs = std::filesystem;

namespace {

const std::string tenant = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string sid = "11111111-2222-4333-8444-555555555555";

decoded_turn decode_ok(std::string_view body, turn_route route = turn_route::query,
                       std::string_view path_id = {}) {
  auto r = decode_turn_body(body, {}, route, path_id);
  if (!r) {
    ADD_FAILURE() << "refused " << body << ": " << to_string(errc_of(r.error()));
    return {};
  }
  return std::move(*r);
}

std::vector<caa::field_error> decode_refused(std::string_view body, turn_route route,
                                             std::string_view path_id = {}) {
  auto r = decode_turn_body(body, {}, route, path_id);
  if (r) {
    ADD_FAILURE() << "accepted " << body;
    return {};
  }
  EXPECT_EQ(errc_of(r.error()), errc::validation);
  return caa::fields_of(r.error());
}

bool has_field(const std::vector<caa::field_error>& errs, std::string_view field) {
  for (auto& e : errs)
    if (e.field == field) return true;
  return false;
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

TEST(turn_body, stored_options_leave_out_the_turn_fields) {
  auto t = decode_ok(R"({"prompt":"hi","session_id":")" + sid +
                     R"(","metadata":{"title":"t"},"model":"opus","max_turns":3})");
  EXPECT_TRUE(t.has_spawn_options);
  EXPECT_EQ(t.req.session_id, sid);
  auto d = parse(t.options_json);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d.MemberCount(), 2u);
  EXPECT_STREQ(d["model"].GetString(), "opus");
  EXPECT_EQ(d["max_turns"].GetInt(), 3);
}

TEST(turn_body, prompt_images_and_metadata_are_no_spawn_options) {
  EXPECT_FALSE(
      decode_ok(R"({"prompt":"hi","metadata":{"tags":["a"]},"model":null})").has_spawn_options);
  EXPECT_EQ(decode_ok(R"({"prompt":"hi"})").options_json, "{}");
}

TEST(turn_body, route_specific_members) {
  auto fork = decode_ok(R"({"prompt":"hi","at_message_id":"AAAAAAAA-0000-4000-8000-000000000001"})",
                        turn_route::fork, sid);
  EXPECT_EQ(fork.at_message_id, "aaaaaaaa-0000-4000-8000-000000000001");
  EXPECT_EQ(parse(fork.options_json).MemberCount(), 0u);
  EXPECT_TRUE(has_field(decode_refused(R"({"prompt":"hi","at_message_id":"x"})", turn_route::fork),
                        "at_message_id"));
  EXPECT_TRUE(has_field(
      decode_refused(R"({"prompt":"hi","session_id":")" + sid + "\"}", turn_route::fork, sid),
      "session_id"));
  EXPECT_TRUE(has_field(
      decode_refused(R"({"prompt":"hi","at_message_id":")" + sid + "\"}", turn_route::query),
      "at_message_id"));
  EXPECT_TRUE(has_field(
      decode_refused(R"({"prompt":"hi","session_id":"aaaaaaaa-0000-4000-8000-000000000001"})",
                     turn_route::resume, sid),
      "session_id"));
  decode_ok(R"({"prompt":"hi","session_id":")" + sid + "\"}", turn_route::resume, sid);
}

TEST(turn_body, every_bad_field_is_listed_with_the_route_checks) {
  auto errs = decode_refused(R"({"prompt":"","env":{"LD_PRELOAD":"x"},"at_message_id":1})",
                             turn_route::fork, sid);
  EXPECT_TRUE(has_field(errs, "prompt"));
  EXPECT_TRUE(has_field(errs, "env.LD_PRELOAD") || has_field(errs, "env"));
  EXPECT_TRUE(has_field(errs, "at_message_id"));
  auto bad = decode_turn_body("{not json", {}, turn_route::query);
  ASSERT_FALSE(bad);
  EXPECT_EQ(errc_of(bad.error()), errc::bad_request);
}

TEST(turn_body, stored_options_are_re_decoded_with_the_new_prompt) {
  auto turn = decode_ok(R"({"prompt":"second","session_id":")" + sid + "\"}");
  auto merged =
      with_stored_options(R"({"model":"haiku","max_turns":7,"prompt":"old"})", turn.req, {});
  ASSERT_TRUE(merged);
  auto& req = *merged;
  EXPECT_EQ(req.prompt, "second");
  EXPECT_EQ(req.model, "haiku");
  EXPECT_EQ(req.max_turns, 7);
  EXPECT_EQ(req.session_id, sid);
  auto broken = with_stored_options("[]", turn.req, {});
  ASSERT_FALSE(broken);
  EXPECT_EQ(errc_of(broken.error()), errc::internal);
  // An option the policy no longer allows is refused rather than silently dropped.
  auto bypass = with_stored_options(R"({"permission_mode":"bypassPermissions"})", turn.req, {});
  ASSERT_FALSE(bypass);
  EXPECT_EQ(errc_of(bypass.error()), errc::validation);
}

class turn_spec_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("caa-turn-spec-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    ws_ = std::make_unique<tenant_workspace>(root_.string());
    cfg_.agent.cli_path = "/opt/claude/bin/claude";
    cfg_.agent.anthropic_api_key = secret{"sk-test"};
    cfg_.agent.anthropic_base_url = "http://127.0.0.1:9";
    cfg_.sandbox.strict = false;  // the sandboxed driver has tests of its own below
  }
  void TearDown() override { fs::remove_all(root_); }

  /// The turn_spec of `body`, or the first error on the way (decode, then paths on disk).
  caf::expected<turn_spec_ptr> spec_of(std::string_view body, int64_t slot = -1) {
    auto t = decode_turn_body(body, {}, turn_route::query);
    if (!t) return t.error();
    auto& d = *t;
    decode_policy policy;
    policy.agent_slot = slot;
    return make_turn_spec(d.req, d.options_json, cfg_, *ws_, tenant, policy);
  }

  fs::path root_;
  std::unique_ptr<tenant_workspace> ws_;
  settings cfg_;
};

TEST_F(turn_spec_test, paths_and_driver) {
  auto r = spec_of(R"({"prompt":"hi","cwd":"proj/a","model":"sonnet"})");
  ASSERT_TRUE(r);
  auto& spec = **r;
  auto work = fs::canonical(root_ / tenant / "work");
  EXPECT_EQ(spec.cwd_relative, "proj/a");
  EXPECT_EQ(spec.options.cwd, (work / "proj" / "a").string());
  EXPECT_EQ(spec.prompt, "hi");
  EXPECT_EQ(spec.options.model, "sonnet");
  EXPECT_EQ(spec.driver.cli_path, "/opt/claude/bin/claude");
  EXPECT_EQ(spec.driver.config_dir, fs::canonical(root_ / tenant / "config").string());
  EXPECT_EQ(spec.driver.home_dir, fs::canonical(root_ / tenant / "home").string());
  EXPECT_EQ(spec.driver.tmp_dir, fs::canonical(root_ / tenant / "tmp").string());
  EXPECT_EQ(spec.driver.anthropic_api_key, "sk-test");
  EXPECT_EQ(spec.driver.anthropic_base_url, "http://127.0.0.1:9");
  EXPECT_TRUE(spec.driver.use_bwrap);
  EXPECT_STREQ(parse(spec.options_json)["model"].GetString(), "sonnet");
  auto ns = make_new_session(
      decode_ok(R"({"prompt":"hi","metadata":{"title":"T","tags":["x"]}})").req, spec, tenant);
  EXPECT_EQ(ns.tenant_id, tenant);
  EXPECT_EQ(ns.cwd_relative, "proj/a");
  ASSERT_TRUE(ns.title);
  EXPECT_EQ(*ns.title, "T");
  EXPECT_EQ(ns.tags, std::vector<std::string>{"x"});
}

TEST_F(turn_spec_test, the_default_cwd_is_the_workspace_root) {
  auto r = spec_of(R"({"prompt":"hi"})");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->cwd_relative, ".");
}

TEST_F(turn_spec_test, escaping_paths_are_field_errors) {
  ASSERT_TRUE(ws_->ensure(tenant));
  fs::create_symlink("/etc", fs::path{root_} / tenant / "work" / "to-etc");
  for (auto body :
       {R"({"prompt":"hi","cwd":"../x"})", R"({"prompt":"hi","cwd":"/etc"})",
        R"({"prompt":"hi","add_dirs":["missing"]})", R"({"prompt":"hi","cwd":"to-etc/sub"})"}) {
    auto r = spec_of(body);
    ASSERT_FALSE(r) << body;
    auto& e = r.error();
    EXPECT_EQ(errc_of(e), errc::validation) << body;
    EXPECT_EQ(http::error_response(e, "c").status, 422u);
  }
  EXPECT_FALSE(fs::exists(root_ / tenant / "x"));
}

// -- response bodies ----------------------------------------------------------------------------

storage::session_record record() {
  storage::session_record s;
  s.id = sid;
  s.tenant_id = tenant;
  s.status = storage::session_status::hibernated;
  s.model = "sonnet";
  s.permission_mode = "default";
  s.cwd = "";
  s.total_turns = 2;
  s.total_cost_usd = 0.25;
  s.usage_json = R"({"input_tokens":10})";
  s.tags = {"a", "b"};
  s.last_seq = 9;
  s.created_at = "2024-01-01T00:00:00.000Z";
  s.updated_at = "2024-01-01T00:00:01.000Z";
  return s;
}

TEST(session_json, one_session) {
  auto d = parse(session_json(record()));
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["id"].GetString(), sid.c_str());
  EXPECT_STREQ(d["status"].GetString(), "hibernated");
  EXPECT_STREQ(d["cwd"].GetString(), ".");
  EXPECT_TRUE(d["parent_session_id"].IsNull());
  EXPECT_TRUE(d["title"].IsNull());
  EXPECT_EQ(d["total_turns"].GetInt(), 2);
  EXPECT_EQ(d["usage"]["input_tokens"].GetInt(), 10);
  EXPECT_EQ(d["tags"].Size(), 2u);
  EXPECT_EQ(d["last_event_id"].GetInt(), 9);
  EXPECT_FALSE(d.HasMember("tenant_id"));
  EXPECT_FALSE(d.HasMember("options"));
}

TEST(session_json, list_and_event_pages) {
  storage::session_page page{{record(), record()}, 7};
  auto l = parse(session_list_json(page, 2, 2));
  EXPECT_EQ(l["sessions"].Size(), 2u);
  EXPECT_EQ(l["total"].GetInt(), 7);
  EXPECT_EQ(l["page"].GetInt(), 2);
  EXPECT_EQ(l["page_size"].GetInt(), 2);
  storage::event_page events{{{sid, 4, "message", R"({"type":"assistant"})"},
                              {sid, 5, "done", R"({"reason":"completed"})"}},
                             9};
  auto e = parse(event_page_json(events, 3));
  ASSERT_EQ(e["events"].Size(), 2u);
  EXPECT_EQ(e["events"][0]["id"].GetInt(), 4);
  EXPECT_STREQ(e["events"][1]["event"].GetString(), "done");
  EXPECT_STREQ(e["events"][1]["data"]["reason"].GetString(), "completed");
  EXPECT_EQ(e["next_after"].GetInt(), 5);
  EXPECT_TRUE(e["has_more"].GetBool());
  auto empty = parse(event_page_json(storage::event_page{{}, 9}, 9));
  EXPECT_EQ(empty["next_after"].GetInt(), 9);
  EXPECT_FALSE(empty["has_more"].GetBool());
}

TEST(session_json, capabilities_carry_the_engine_and_follow_the_policy) {
  auto d = parse(capabilities_json({}, R"({"tools":["Bash"]})"));
  EXPECT_STREQ(d["engine"]["tools"][0].GetString(), "Bash");
  EXPECT_STREQ(d["cli_version"].GetString(), "2.1.197");
  for (auto& m : d["permission_modes"].GetArray()) EXPECT_STRNE(m.GetString(), "bypassPermissions");
  decode_policy open;
  open.allow_bypass = true;
  auto o = parse(capabilities_json(open, "{}"));
  EXPECT_EQ(o["permission_modes"].Size(), 5u);
  EXPECT_FALSE(o["mcp_servers_enabled"].GetBool());
}

TEST_F(turn_spec_test, sandboxed_driver_has_the_tenant_uid_and_never_the_key) {
  cfg_.sandbox.strict = true;
  cfg_.sandbox.uid_base = 250000;
  cfg_.sandbox.uid_count = 10;
  auto r = spec_of(R"({"prompt":"hi","cwd":"proj/b"})", 3);
  ASSERT_TRUE(r);
  auto& spec = **r;
  EXPECT_EQ(spec.driver.agent_uid, 250003u);
  EXPECT_EQ(spec.driver.tenant_id, tenant);
  EXPECT_TRUE(spec.driver.anthropic_api_key.empty());
  EXPECT_TRUE(spec.driver.anthropic_base_url.empty());
  if (::geteuid() == 0) {
    struct stat st {};
    for (auto dir : {"work", "config", "work/proj", "work/proj/b"}) {
      ASSERT_EQ(::stat((root_ / tenant / dir).c_str(), &st), 0) << dir;
      EXPECT_EQ(st.st_uid, 250003u) << dir;
    }
    ASSERT_EQ(::stat((root_ / tenant).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "the tenant directory stays the service's";
    EXPECT_EQ(st.st_mode & 0777, 0711u);
  }
}

TEST_F(turn_spec_test, sandboxed_turn_without_a_uid_is_refused) {
  cfg_.sandbox.strict = true;
  cfg_.sandbox.uid_count = 10;
  for (int64_t slot : {int64_t{-1}, int64_t{10}}) {
    auto r = spec_of(R"({"prompt":"hi"})", slot);
    ASSERT_FALSE(r) << slot;
  }
}

TEST_F(turn_spec_test, a_tenant_over_its_disk_quota_is_refused_with_507) {
  cfg_.sandbox.disk_quota = 64 * 1024;
  ASSERT_TRUE(spec_of(R"({"prompt":"hi"})"));
  std::ofstream{root_ / tenant / "work" / "big.bin"} << std::string(200 * 1024, 'x');
  auto r = spec_of(R"({"prompt":"hi"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(errc_of(r.error()), errc::quota_exceeded);
  EXPECT_TRUE(fs::exists(root_ / tenant / "work" / "big.bin")) << "nothing is deleted";
}

}  // namespace
