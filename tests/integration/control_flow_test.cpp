// Black-box tests of interactive control: permission prompts, questions, live mode and model
// changes. The service binary drives the real CLI against the scripted model
// (control_flow_fixture.hpp).

#include "tests/integration/control_flow_fixture.hpp"

using namespace caa::test;
using namespace std::chrono_literals;

namespace caa::test {

TEST_F(control_flow_test, allow_runs_the_tool_and_a_second_answer_is_refused) {
  auto s = new_session(alpha_, "[[echo]] permission suite");
  auto word = unique_word("allowed");
  // `echo` alone is read-only and auto-allowed by the CLI: `touch` needs a permission.
  auto r = asked_and_answered(s, "[[bash touch " + word + ".txt && echo " + word + "]]",
                              R"({"request_id":"%ID%","behavior":"allow"})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto asks = named(r, "permission_request");
  ASSERT_EQ(asks.size(), 1u) << r.body;
  auto ask = parse_json(asks[0].data);
  EXPECT_STREQ(ask["tool_name"].GetString(), "Bash");
  EXPECT_NE(std::string{ask["input"]["command"].GetString()}.find(word), std::string::npos);
  EXPECT_TRUE(ask.HasMember("expires_at") && ask.HasMember("tool_use_id"));
  EXPECT_EQ(asks[0].data.find(env_.at("WORKSPACE_ROOT")), std::string::npos)
      << "no server path reaches the client";
  EXPECT_NE(tool_results(r).find(word), std::string::npos) << r.body;
  EXPECT_TRUE(std::filesystem::exists(work_file(word + ".txt")));
  auto again = answer(s, R"({"request_id":")" + last_answered_ + R"(","behavior":"allow"})");
  EXPECT_EQ(again.status, 409u);
  EXPECT_NE(again.body.find("SESSION_IDLE"), std::string::npos);
}

TEST_F(control_flow_test, deny_does_not_run_the_tool) {
  auto s = new_session(alpha_, "[[echo]] deny suite");
  auto word = unique_word("denied");
  auto r = asked_and_answered(
      s, "[[bash touch " + word + ".txt]]",
      R"({"request_id":"%ID%","behavior":"deny","message":"not today )" + word + "\"}");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_NE(tool_results(r).find("not today " + word), std::string::npos) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
  auto results = named(r, "result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].data.find("permission_denials"), std::string::npos);
}

TEST_F(control_flow_test, modified_input_runs_the_modified_command) {
  auto s = new_session(alpha_, "[[echo]] modify suite");
  auto original = unique_word("original");
  auto modified = unique_word("modified");
  auto r = asked_and_answered(s, "[[bash touch " + original + ".txt && echo " + original + "]]",
                              R"({"request_id":"%ID%","behavior":"allow","updated_input":)"
                              R"({"command":"echo )" +
                                  modified + R"("}})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto results = tool_results(r);
  EXPECT_NE(results.find(modified), std::string::npos) << r.body;
  EXPECT_EQ(results.find(original), std::string::npos) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(original + ".txt")));
}

TEST_F(control_flow_test, no_answer_within_the_timeout_denies_and_says_so) {
  auto s = new_session(alpha_, "[[echo]] timeout suite");
  auto word = unique_word("late");
  auto r = turn(alpha_, R"({"prompt":"[[bash touch )" + word + R"(.txt]]"})",
                "/api/v1/sessions/" + s + "/resume");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_EQ(named(r, "permission_request").size(), 1u);
  bool said = false;
  for (auto& m : named(r, "message"))
    said |= m.data.find("permission_timeout") != std::string::npos;
  EXPECT_TRUE(said) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
}

TEST_F(control_flow_test, a_question_is_answered_and_the_answer_reaches_the_model) {
  auto s = new_session(alpha_, "[[echo]] question suite");
  auto r = asked_and_answered(
      s, "[[ask]]", R"({"request_id":"%ID%","answers":{"Which color?":"Blue"}})", "question");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto qs = named(r, "question");
  ASSERT_EQ(qs.size(), 1u) << r.body;
  auto q = parse_json(qs[0].data);
  ASSERT_TRUE(q["questions"].IsArray());
  EXPECT_STREQ(q["questions"][0]["question"].GetString(), "Which color?");
  EXPECT_EQ(q["questions"][0]["options"].Size(), 2u);
  EXPECT_FALSE(q["questions"][0]["multi_select"].GetBool());
  EXPECT_NE(model_log().find(R"(\"Which color?\"=\"Blue\")"), std::string::npos);
}

TEST_F(control_flow_test, the_single_pending_question_takes_a_plain_answer) {
  auto s = new_session(alpha_, "[[echo]] plain answer suite");
  auto r = asked_and_answered(s, "[[ask]]", R"({"answer":"Red","request_id":"%ID%"})", "question");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_NE(model_log().find(R"(\"Which color?\"=\"Red\")"), std::string::npos);
}

TEST_F(control_flow_test, mode_and_model_changes_take_effect_on_the_next_turn) {
  auto s = new_session(alpha_, "[[echo]] control suite");
  auto mode = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                        R"({"type":"permission_mode_change","permission_mode":"acceptEdits"})");
  ASSERT_EQ(mode.status, 200u) << mode.body;
  EXPECT_NE(mode.body.find("\"applied\""), std::string::npos) << mode.body;
  auto model_id = "claude-control-" + std::to_string(std::rand() % 100000);
  auto model = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                         R"({"type":"model_change","model":")" + model_id + "\"}");
  ASSERT_EQ(model.status, 200u) << model.body;
  auto word = unique_word("after-control");
  auto r =
      turn(alpha_, R"({"prompt":"[[echo]] )" + word + "\"}", "/api/v1/sessions/" + s + "/resume");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto init = named(r, "init");
  ASSERT_EQ(init.size(), 1u);
  EXPECT_STREQ(parse_json(init[0].data)["permission_mode"].GetString(), "acceptEdits");
  auto log = model_log();
  EXPECT_NE(log.find("\"model\":\"" + model_id + "\""), std::string::npos);
  auto rec = http_call(port(), "GET", "/api/v1/sessions/" + s, auth(alpha_));
  EXPECT_NE(rec.body.find("acceptEdits"), std::string::npos) << rec.body;
  // The CLI accepts any mode string; the service does not.
  auto bad = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                       R"({"type":"permission_mode_change","permission_mode":"nonsense"})");
  EXPECT_EQ(bad.status, 422u);
  auto bypass =
      http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                R"({"type":"permission_mode_change","permission_mode":"bypassPermissions"})");
  EXPECT_EQ(bypass.status, 422u) << "bypass is not allowed for this tenant";
  auto other = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(beta_),
                         R"({"type":"model_change","model":"haiku"})");
  EXPECT_EQ(other.status, 404u);
}

}  // namespace caa::test
