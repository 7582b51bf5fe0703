#include "transport/json/event_mapper.hpp"
#include "config/json_parse.hpp"

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

TEST(event_mapper, streamed_events_copy_the_lines_values_as_they_came) {
  // The message and partial events are built from the spans of the one parse: numbers keep
  // their spelling, escapes stay escapes, absent members read null.
  mapper_state st{"s", "", 0};
  auto a = map(R"({"type":"assistant","message":{"model":"m","content":[{"type":"text",)"
               R"("text":"caf\u00e9 \"q\""}],"usage":{"output_tokens":1e1}},"uuid":"u1",)"
               R"("session_id":"c","error":"rate_limit"})",
               st);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].data,
            R"({"type":"assistant","content":[{"type":"text","text":"caf\u00e9 \"q\""}],)"
            R"("model":"m","usage":{"output_tokens":1e1},"parent_tool_use_id":null,"uuid":"u1",)"
            R"("error":"rate_limit"})");
  auto u = map(R"({"type":"user","message":{"role":"user","content":"hi"},)"
               R"("parent_tool_use_id":"t1","tool_use_result":{"stdout":"x"}})",
               st);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].data, R"({"type":"user","content":"hi","parent_tool_use_id":"t1","uuid":null,)"
                       R"("tool_use_result":{"stdout":"x"}})");
  // No `message` object: no content keys (as before).
  auto bare = map(R"({"type":"user","message":"x","uuid":"u3"})", st);
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].data, R"({"type":"user","parent_tool_use_id":null,"uuid":"u3"})");
  auto p = map(R"({"type":"stream_event", "event" : {"type":"content_block_delta","index":0,)"
               R"("delta":{"type":"text_delta","text":"a"}}})",
               st);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].data, R"({"event":{"type":"content_block_delta","index":0,)"
                       R"("delta":{"type":"text_delta","text":"a"}},"parent_tool_use_id":null})");
  // A replayed user message is not streamed again.
  EXPECT_TRUE(map(R"({"type":"user","isReplay":true,"message":{"content":"x"}})", st).empty());
}

TEST(event_mapper, a_line_nested_deeper_than_the_input_limit_maps_to_nothing) {
  // As every JSON input: what no document would accept is not copied through either.
  mapper_state st{"s", "", 0};
  auto nested = [](std::size_t levels) {
    return R"({"type":"assistant","message":{"content":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}}";
  };
  EXPECT_EQ(map(nested(json::input_max_depth - 2), st).size(), 1u);
  EXPECT_TRUE(map(nested(json::input_max_depth - 1), st).empty());
}

TEST(event_mapper, done_and_error_events) {
  EXPECT_EQ(done_event("interrupted").data, R"({"reason":"interrupted"})");
  auto e = error_event("AGENT_ERROR", "quote \" and\nnewline");
  EXPECT_EQ(e.data.find('\n'), std::string::npos);
}
