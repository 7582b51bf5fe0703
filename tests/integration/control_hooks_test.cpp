// Black-box tests of hooks as webhooks and of file checkpoints and rewind: the service binary
// drives the real CLI against the scripted model; a webhook receiver listens on loopback
// (control_flow_fixture.hpp).

#include "tests/integration/control_flow_fixture.hpp"

using namespace caa::test;
using namespace std::chrono_literals;

namespace caa::test {

TEST_F(control_flow_test, a_pre_tool_use_webhook_sees_the_input_and_its_deny_blocks_the_tool) {
  auto word = unique_word("hooked");
  webhook_receiver hook{200, R"({"decision":"deny","reason":"vetoed )" + word + "\"}"};
  auto body = R"({"prompt":"[[bash touch )" + word +
              R"(.txt]]","allowed_tools":["Bash"],)"
              R"("hooks":{"PreToolUse":[{"url":"http://127.0.0.1:)" +
              std::to_string(hook.port()) +
              R"(/hook","matcher":"Bash","headers":{"X-Hook-Secret":"s3cret"}}]}})";
  auto r = turn(alpha_, body);
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
  EXPECT_NE(tool_results(r).find("vetoed " + word), std::string::npos) << r.body;
  auto bodies = hook.bodies();
  ASSERT_GE(bodies.size(), 1u);
  auto call = parse_json(bodies[0]);
  EXPECT_STREQ(call["hook_event"].GetString(), "PreToolUse");
  EXPECT_STREQ(call["tool_name"].GetString(), "Bash");
  EXPECT_NE(std::string{call["tool_input"]["command"].GetString()}.find(word), std::string::npos);
  EXPECT_EQ(call["session_id"].GetString(), session_of(r));
  EXPECT_FALSE(call.HasMember("transcript_path")) << "no server paths go out";
  EXPECT_NE(hook.heads()[0].find("s3cret"), std::string::npos) << "configured headers are sent";
  EXPECT_EQ(service_->log().find("s3cret"), std::string::npos) << "header values are never logged";
}

TEST_F(control_flow_test, a_pre_tool_use_webhook_allow_lets_the_tool_run_without_a_prompt) {
  auto word = unique_word("hook-allowed");
  webhook_receiver hook{200, R"({"decision":"allow"})"};
  auto body = R"({"prompt":"[[bash echo )" + word +
              R"(]]",)"
              R"("hooks":{"PreToolUse":[{"url":"http://127.0.0.1:)" +
              std::to_string(hook.port()) + R"(/hook"}]}})";
  auto r = turn(alpha_, body);
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_TRUE(named(r, "permission_request").empty()) << "the webhook decided";
  EXPECT_NE(tool_results(r).find(word), std::string::npos) << r.body;
  EXPECT_GE(hook.bodies().size(), 1u);
}

TEST_F(control_flow_test, an_unreachable_webhook_blocks_pre_tool_use_but_not_stop) {
  // A port that was free a moment ago: nothing listens there.
  uint16_t dead = 0;
  {
    webhook_receiver probe{200, "{}"};
    dead = probe.port();
  }
  auto word = unique_word("unreachable");
  auto url = "http://127.0.0.1:" + std::to_string(dead) + "/hook";
  auto r = turn(alpha_, R"({"prompt":"[[bash touch )" + word +
                            R"(.txt]]","allowed_tools":["Bash"],)"
                            R"("hooks":{"PreToolUse":[{"url":")" +
                            url +
                            R"(","timeout":3}],)"
                            R"("Stop":[{"url":")" +
                            url + R"(","timeout":3}]}})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt"))) << "PreToolUse fails closed";
  std::string failures;
  for (auto& m : named(r, "message"))
    if (m.data.find("hook_failed") != std::string::npos) failures += m.data;
  EXPECT_NE(failures.find("PreToolUse"), std::string::npos) << r.body;
  EXPECT_NE(failures.find("Stop"), std::string::npos) << r.body;
  EXPECT_EQ(named(r, "result").size(), 1u) << "Stop's failure lets the turn end normally";
}

TEST_F(control_flow_test, a_hook_url_on_a_forbidden_address_is_refused_at_validation) {
  auto r =
      http_call(port(), "POST", "/api/v1/query", auth(alpha_),
                R"({"prompt":"x","hooks":{"Stop":[{"url":"http://169.254.169.254/latest"}]}})");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_NE(r.body.find("hooks.Stop[0].url"), std::string::npos) << r.body;
}

TEST_F(control_flow_test, rewind_restores_each_checkpoint_also_after_hibernation) {
  auto file = unique_word("ckpt") + ".txt";
  auto [s, ids] = two_checkpoints(file);
  ASSERT_EQ(ids.size(), 2u);
  auto c1 = ids[0], c2 = ids[1];
  auto read = [&] { return read_work_file(file); };
  ASSERT_NE(read().find("v3"), std::string::npos);

  auto rewind = [&](const std::string& id, bool dry) {
    return http_call(
        port(), "POST", "/api/v1/sessions/" + s + "/rewind", auth(alpha_),
        R"({"checkpoint_id":")" + id + R"(","dry_run":)" + (dry ? "true" : "false") + "}");
  };
  auto dry = rewind(c2, true);
  ASSERT_EQ(dry.status, 200u) << dry.body;
  EXPECT_NE(dry.body.find(file), std::string::npos) << dry.body;
  EXPECT_NE(read().find("v3"), std::string::npos) << "a dry run changes nothing";
  auto to2 = rewind(c2, false);
  ASSERT_EQ(to2.status, 200u) << to2.body;
  EXPECT_NE(read().find("v2"), std::string::npos);

  // Hibernated (idle timeout): the rewind resumes a process to do it.
  ASSERT_TRUE(eventually([&] { return status_of(alpha_, s) == "hibernated"; }, 30s));
  auto to1 = rewind(c1, false);
  ASSERT_EQ(to1.status, 200u) << to1.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(file))) << "the file did not exist before turn 1";

  auto unknown = rewind("00000000-0000-4000-8000-000000000000", false);
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_NE(unknown.body.find("CHECKPOINT_NOT_FOUND"), std::string::npos);
  auto other = http_call(port(), "GET", "/api/v1/sessions/" + s + "/checkpoints", auth(beta_));
  EXPECT_EQ(other.status, 404u);
}

TEST_F(control_flow_test, a_rewind_that_restores_nothing_is_not_reported_as_success) {
  auto file = unique_word("lost") + ".txt";
  auto [s, ids] = two_checkpoints(file);
  ASSERT_EQ(ids.size(), 2u);
  auto c2 = ids[1];
  // The CLI's backups of this session are gone (a lost disk, a careless clean-up).
  auto history = env_.at("WORKSPACE_ROOT") + "/" + alpha_.tenant_id + "/config/file-history/" + s;
  ASSERT_TRUE(std::filesystem::exists(history)) << history;
  std::filesystem::remove_all(history);
  auto r = http_call(port(), "POST", "/api/v1/sessions/" + s + "/rewind", auth(alpha_),
                     R"({"checkpoint_id":")" + c2 + R"("})");
  EXPECT_NE(r.status, 200u) << r.body;
  EXPECT_NE(read_work_file(file).find("v3"), std::string::npos) << "nothing was restored";
}

}  // namespace caa::test
