// Unit tests of the wire encoding, the router and the request log (no sockets).

#include "json.hpp"
#include "request_log.hpp"
#include "router.hpp"
#include "sse.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace scripted_model {
namespace {

/// The event names of an encoded stream, after checking each event's framing and JSON.
std::vector<std::string> event_names(const std::vector<sse_event>& events) {
  static const std::regex frame{"event: ([a-z_]+)\ndata: (.*)\n\n"};
  std::vector<std::string> names;
  for (const auto& e : events) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(e.bytes, m, frame)) << e.bytes;
    if (m.empty()) continue;
    rapidjson::Document doc;
    EXPECT_TRUE(json::parse(m[2].str(), doc)) << m[2];
    EXPECT_EQ(json::get_string(doc, "type"), m[1].str());
    names.push_back(m[1]);
  }
  return names;
}

reply text_and_tool() {
  reply r = text_reply("héllo wörld", 3);
  r.blocks.push_back(make_tool_use("Bash", R"({"command":"echo ü"})"));
  r.blocks.back().tool_id = "toolu_1";
  r.stop_reason = "tool_use";
  return r;
}

TEST(Sse, EventSequenceMatchesTheApi) {
  const auto events = encode_stream(text_and_tool(), {"msg_1", "claude-x", 10});
  const std::vector<std::string> expected{
      "message_start",       "content_block_start", "ping",
      "content_block_delta", "content_block_delta", "content_block_delta",
      "content_block_stop",  "content_block_start", "content_block_delta",
      "content_block_delta", "content_block_delta", "content_block_stop",
      "message_delta",       "message_stop"};
  EXPECT_EQ(event_names(events), expected);
  EXPECT_NE(events[0].bytes.find(R"("id":"msg_1")"), std::string::npos);
  EXPECT_NE(events[0].bytes.find(R"("model":"claude-x")"), std::string::npos);
  EXPECT_NE(events[7].bytes.find(R"("id":"toolu_1","name":"Bash","input":{})"), std::string::npos);
  EXPECT_NE(events[12].bytes.find(R"("stop_reason":"tool_use","stop_sequence":null)"),
            std::string::npos);
}

TEST(Sse, DeltasReassembleTextAndJson) {
  const auto events = encode_stream(text_and_tool(), {"msg_1", "m", 1});
  std::string text;
  std::string partial;
  for (const auto& e : events) {
    rapidjson::Document doc;
    const auto data = e.bytes.substr(e.bytes.find("data: ") + 6);
    ASSERT_TRUE(json::parse(data, doc));
    const auto* delta = json::find(doc, "delta");
    if (delta == nullptr) continue;
    text += json::get_string(*delta, "text");
    partial += json::get_string(*delta, "partial_json");
  }
  EXPECT_EQ(text, "héllo wörld");
  EXPECT_EQ(partial, R"({"command":"echo ü"})");
}

TEST(Sse, NonStreamingMessageAndErrors) {
  const auto body = encode_message(text_and_tool(), {"msg_2", "m", 7});
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(body, doc));
  EXPECT_EQ(json::get_string(doc, "id"), "msg_2");
  EXPECT_EQ(json::get_string(doc, "stop_reason"), "tool_use");
  ASSERT_EQ(doc["content"].Size(), 2u);
  EXPECT_EQ(json::get_string(doc["content"][0], "text"), "héllo wörld");
  EXPECT_EQ(json::get_string(doc["content"][1]["input"], "command"), "echo ü");
  EXPECT_EQ(encode_error(529, "busy"),
            R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})");
  EXPECT_EQ(error_type(400), "invalid_request_error");
  EXPECT_EQ(error_type(500), "api_error");
}

TEST(Sse, SlowDeltasCarryTheDelay) {
  reply r;
  r.blocks.push_back(content_block{});
  r.blocks[0].deltas = {"a", "b"};
  r.delta_delay = std::chrono::milliseconds(40);
  const auto events = encode_stream(r, {"msg", "m", 1});
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[3].delay.count(), 0);   // first delta
  EXPECT_EQ(events[4].delay.count(), 40);  // second delta
}

TEST(Router, RoutesAndLogs) {
  request_log log;
  router r{log, std::chrono::milliseconds(0)};
  EXPECT_EQ(r.handle({"GET", "/", {}, ""}).status, 404u);
  const auto count = r.handle({"POST", "/v1/messages/count_tokens?beta=true", {}, "{}"});
  EXPECT_EQ(count.body, R"({"input_tokens":1})");
  const auto msg = r.handle({"POST",
                             "/v1/messages?beta=true",
                             {{"x-api-key", "k"}},
                             R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"});
  EXPECT_EQ(msg.status, 200u);
  EXPECT_FALSE(msg.streamed);
  EXPECT_NE(msg.body.find("\"model\":\"m\""), std::string::npos);
  EXPECT_EQ(r.handle({"POST", "/v1/messages", {}, "not json"}).status, 400u);
  EXPECT_EQ(log.size(), 4u);

  const auto dump = r.handle({"GET", "/_log", {}, ""});
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(dump.body, doc));
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 4u);
  EXPECT_EQ(json::get_string(doc[2], "path"), "/v1/messages");
  EXPECT_EQ(json::get_string(doc[2], "query"), "beta=true");
  EXPECT_EQ(json::get_string(doc[2]["headers"], "x-api-key"), "k");
  EXPECT_EQ(json::get_string(doc[2]["body"], "model"), "m");
  EXPECT_EQ(json::get_string(doc[3], "body"), "not json");
  EXPECT_EQ(r.handle({"DELETE", "/_log", {}, ""}).body, R"({"cleared":4})");
  EXPECT_EQ(log.size(), 0u);
}

TEST(Router, MessageIdsAreUnique) {
  request_log log;
  router r{log, std::chrono::milliseconds(0)};
  const std::string body =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]})";
  const auto a = r.handle({"POST", "/v1/messages", {}, body});
  const auto b = r.handle({"POST", "/v1/messages", {}, body});
  ASSERT_TRUE(a.streamed);
  ASSERT_FALSE(a.events.empty());
  EXPECT_NE(a.events[0].bytes, b.events[0].bytes);
  EXPECT_EQ(a.content_type, "text/event-stream");
}

}  // namespace
}  // namespace scripted_model
