#include "transport/json/event_mapper.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

using namespace caa;

namespace {

std::vector<api_event> map(const std::string& line, mapper_state& st) {
  return map_cli_message(claude::classify(line), st);
}

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

}  // namespace

TEST(event_mapper, init_uses_our_session_id_and_relative_cwd) {
  mapper_state st{"api-id", "proj/a", 0};
  auto evs = map(R"({"type":"system","subtype":"init","cwd":"/srv/ws/t/work/proj/a",)"
                 R"("session_id":"cli-id","tools":["Bash"],"model":"m","permissionMode":"plan"})",
                 st);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].name, "init");
  auto d = parse(evs[0].data);
  EXPECT_STREQ(d["session_id"].GetString(), "api-id");
  EXPECT_STREQ(d["cwd"].GetString(), "proj/a");
  EXPECT_STREQ(d["permission_mode"].GetString(), "plan");
  EXPECT_EQ(evs[0].data.find("/srv/ws"), std::string::npos);  // no server path leaks
}

TEST(event_mapper, assistant_and_user_become_messages_and_todo) {
  mapper_state st{"s", "", 0};
  auto evs = map(R"({"type":"assistant","message":{"model":"m","content":[{"type":"tool_use",)"
                 R"("name":"TodoWrite","input":{"todos":[{"content":"x","status":"pending"}]}}],)"
                 R"("usage":{}},"parent_tool_use_id":null,"uuid":"u1","session_id":"c"})",
                 st);
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].name, "message");
  EXPECT_EQ(evs[1].name, "todo");
  auto user = map(R"({"type":"user","message":{"content":[{"type":"tool_result",)"
                  R"("tool_use_id":"t","content":"ok"}]},"uuid":"u2","session_id":"c"})",
                  st);
  ASSERT_EQ(user.size(), 1u);
  EXPECT_STREQ(parse(user[0].data)["type"].GetString(), "user");
}

TEST(event_mapper, result_cost_is_per_turn) {
  mapper_state st{"s", "", 0};
  auto r1 = map(R"({"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.5,)"
                R"("num_turns":1,"result":"a","session_id":"c","uuid":"r"})",
                st);
  auto r2 = map(R"({"type":"result","subtype":"success","is_error":false,"total_cost_usd":0.75,)"
                R"("num_turns":1,"result":"b","session_id":"c","uuid":"r"})",
                st);
  ASSERT_EQ(r1.size(), 1u);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_DOUBLE_EQ(parse(r1[0].data)["total_cost_usd"].GetDouble(), 0.5);
  EXPECT_DOUBLE_EQ(parse(r2[0].data)["total_cost_usd"].GetDouble(), 0.25);
}

TEST(event_mapper, control_and_mirror_lines_map_to_nothing) {
  mapper_state st{"s", "", 0};
  EXPECT_TRUE(
      map(R"({"type":"control_response","response":{"subtype":"success","request_id":"r"}})", st)
          .empty());
  EXPECT_TRUE(map(R"({"type":"transcript_mirror","filePath":"/x","entries":[]})", st).empty());
  EXPECT_TRUE(map("not json", st).empty());
  EXPECT_TRUE(map(R"({"type":"keep_alive"})", st).empty());
}

TEST(event_mapper, task_lifecycle_and_partials) {
  mapper_state st{"s", "", 0};
  auto t = map(R"({"type":"system","subtype":"task_started","task_id":"k","session_id":"c"})", st);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "task");
  EXPECT_STREQ(parse(t[0].data)["status"].GetString(), "started");
  auto p = map(R"({"type":"stream_event","event":{"type":"message_start"},"session_id":"c"})", st);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].name, "partial");
}

TEST(event_mapper, done_and_error_events) {
  EXPECT_EQ(done_event("interrupted").data, R"({"reason":"interrupted"})");
  auto e = error_event("AGENT_ERROR", "quote \" and\nnewline");
  EXPECT_EQ(e.data.find('\n'), std::string::npos);
}
