// The control-protocol codec: builders produce one valid compact JSON line; classify handles
// the real line shapes of CLI 2.1.197 (captured from the binary, long arrays shortened).
#include "transport/claude/control.hpp"
#include "transport/claude/json_text.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <regex>
#include <set>

using namespace caa::claude;

namespace {

/// Parses `line`, failing the test unless it is one JSON object on one line.
rapidjson::Document parse_line(const std::string& line) {
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "<missing>";
}

}  // namespace

// -- builders
// ---------------------------------------------------------------------------------------

TEST(control_builders, user_message_has_content_and_sdk_envelope) {
  auto doc = parse_line(user_message("line one\nline \"two\"\t\x01", "u-1"));
  EXPECT_EQ(str(doc, "type"), "user");
  EXPECT_EQ(str(doc["message"], "role"), "user");
  EXPECT_EQ(str(doc["message"], "content"), "line one\nline \"two\"\t\x01");
  EXPECT_TRUE(doc["parent_tool_use_id"].IsNull());
  EXPECT_EQ(str(doc, "session_id"), "");
  EXPECT_EQ(str(doc, "uuid"), "u-1");
  auto empty = parse_line(user_message("", "u-2"));
  EXPECT_TRUE(empty["message"].HasMember("content")) << "content is never missing";
}

TEST(control_builders, ill_formed_utf8_becomes_replacement_characters) {
  auto line = user_message("ok \xC3\x28 \xED\xA0\x80 \xF4\x90\x80\x80 end", "u");
  auto doc = parse_line(line);
  EXPECT_TRUE(is_valid_utf8(line));
  std::string content = str(doc["message"], "content");
  EXPECT_EQ(content.rfind("ok \xEF\xBF\xBD(", 0), 0u) << content;
  EXPECT_NE(content.find(" end"), std::string::npos);
}

TEST(control_builders, user_message_with_images) {
  std::vector<image_input> images{{"image/png", "iVBORw0KGgo="}, {"image/jpeg", "/9j/4AAQ"}};
  auto doc = parse_line(user_message("what is this?", images, "u-3"));
  const auto& content = doc["message"]["content"];
  ASSERT_TRUE(content.IsArray());
  ASSERT_EQ(content.Size(), 3u);
  EXPECT_EQ(str(content[0], "type"), "image");
  EXPECT_EQ(str(content[0]["source"], "type"), "base64");
  EXPECT_EQ(str(content[0]["source"], "media_type"), "image/png");
  EXPECT_EQ(str(content[1]["source"], "data"), "/9j/4AAQ");
  EXPECT_EQ(str(content[2], "type"), "text");
  EXPECT_EQ(str(content[2], "text"), "what is this?");
}

TEST(control_builders, user_message_raw_checks_its_content) {
  auto ok = user_message_raw("[\n  {\"type\": \"text\", \"text\": \"hi\"}\n]", "u");
  ASSERT_TRUE(ok);
  auto doc = parse_line(*ok);
  EXPECT_TRUE(doc["message"]["content"].IsArray());
  EXPECT_TRUE(user_message_raw("\"plain\"", "u"));
  EXPECT_FALSE(user_message_raw("[]", "u"));
  EXPECT_FALSE(user_message_raw("{}", "u"));
  EXPECT_FALSE(user_message_raw("not json", "u"));
  EXPECT_FALSE(user_message_raw("", "u"));
}

TEST(control_builders, initialize_compacts_hooks_and_agents) {
  std::map<std::string, agent_definition> agents{
      {"reviewer", {"Reviews code", "You review.", {"Read", "Grep"}, std::string{"sonnet"}}},
      {"writer", {"Writes", "You write.", {}, std::nullopt}}};
  auto hooks =
      "{\n  \"PreToolUse\": [{\"matcher\": \"Bash\", \"hookCallbackIds\": [\"h1\"], "
      "\"timeout\": 30}]\n}";
  auto line = initialize("req_1_0000abcd", hooks, agents_json(agents));
  ASSERT_TRUE(line);
  auto doc = parse_line(*line);
  EXPECT_EQ(str(doc, "type"), "control_request");
  EXPECT_EQ(str(doc, "request_id"), "req_1_0000abcd");
  const auto& req = doc["request"];
  EXPECT_EQ(str(req, "subtype"), "initialize");
  EXPECT_EQ(str(req["hooks"]["PreToolUse"][0], "matcher"), "Bash");
  EXPECT_EQ(req["hooks"]["PreToolUse"][0]["timeout"].GetInt(), 30);
  EXPECT_EQ(str(req["agents"]["reviewer"], "model"), "sonnet");
  EXPECT_EQ(req["agents"]["reviewer"]["tools"].Size(), 2u);
  EXPECT_FALSE(req["agents"]["writer"].HasMember("tools"));
  EXPECT_FALSE(req["agents"]["writer"].HasMember("model"));
  auto bare = initialize("req_2_0000abcd", "", "");
  ASSERT_TRUE(bare);
  auto bare_doc = parse_line(*bare);
  EXPECT_FALSE(bare_doc["request"].HasMember("hooks"));
  EXPECT_FALSE(initialize("r", "[1]", ""));
  EXPECT_FALSE(initialize("r", "{\"a\":", ""));
  EXPECT_FALSE(initialize("r", "", "{\"x\":1} trailing"));
}

TEST(control_builders, simple_requests) {
  struct expect {
    std::string line;
    const char* subtype;
  };
  for (const auto& [line, subtype] :
       {expect{interrupt("req_3_a"), "interrupt"}, expect{end_session("req_3_a"), "end_session"},
        expect{mcp_status("req_3_a"), "mcp_status"},
        expect{set_permission_mode("req_3_a", "plan"), "set_permission_mode"},
        expect{set_model("req_3_a", "opus"), "set_model"},
        expect{rewind_files("req_3_a", "u-9", true), "rewind_files"}}) {
    auto doc = parse_line(line);
    EXPECT_EQ(str(doc, "type"), "control_request");
    EXPECT_EQ(str(doc, "request_id"), "req_3_a");
    EXPECT_EQ(str(doc["request"], "subtype"), subtype);
  }
  EXPECT_EQ(str(parse_line(set_permission_mode("r", "plan"))["request"], "mode"), "plan");
  EXPECT_EQ(str(parse_line(set_model("r", "opus"))["request"], "model"), "opus");
  EXPECT_FALSE(parse_line(set_model("r", ""))["request"].HasMember("model"));
  auto rewind = parse_line(rewind_files("r", "u-9", true));
  EXPECT_EQ(str(rewind["request"], "user_message_id"), "u-9");
  EXPECT_TRUE(rewind["request"]["dry_run"].GetBool());
}

TEST(control_builders, responses_to_cli_requests) {
  auto ok = control_success("6f1c-cli-id", "{\"continue\": true,\n \"n\": 1.50}");
  ASSERT_TRUE(ok);
  auto doc = parse_line(*ok);
  EXPECT_EQ(str(doc, "type"), "control_response");
  EXPECT_EQ(str(doc["response"], "subtype"), "success");
  EXPECT_EQ(str(doc["response"], "request_id"), "6f1c-cli-id");
  EXPECT_TRUE(doc["response"]["response"]["continue"].GetBool());
  EXPECT_NE(ok->find("1.50"), std::string::npos) << "numbers keep their text";
  auto empty = control_success("id", "");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(parse_line(*empty)["response"].HasMember("response"));
  EXPECT_FALSE(control_success("id", "[1]"));
  auto err = parse_line(control_error("id", "handler failed"));
  EXPECT_EQ(str(err["response"], "subtype"), "error");
  EXPECT_EQ(str(err["response"], "error"), "handler failed");
}

TEST(control_builders, can_use_tool_answers) {
  auto allow = can_use_tool_allow("tool-req", "{\"command\":\"ls -la\"}");
  ASSERT_TRUE(allow);
  auto doc = parse_line(*allow);
  const auto& payload = doc["response"]["response"];
  EXPECT_EQ(str(payload, "behavior"), "allow");
  EXPECT_EQ(str(payload["updatedInput"], "command"), "ls -la");
  EXPECT_FALSE(can_use_tool_allow("tool-req", ""));
  EXPECT_FALSE(can_use_tool_allow("tool-req", "\"ls\""));
  auto deny = parse_line(can_use_tool_deny("tool-req", "not allowed", true));
  EXPECT_EQ(str(deny["response"]["response"], "behavior"), "deny");
  EXPECT_EQ(str(deny["response"]["response"], "message"), "not allowed");
  EXPECT_TRUE(deny["response"]["response"]["interrupt"].GetBool());
  auto soft = parse_line(can_use_tool_deny("tool-req", "no", false));
  EXPECT_FALSE(soft["response"]["response"].HasMember("interrupt"));
}

TEST(control_builders, request_ids_follow_the_python_sdk_shape) {
  request_id_generator ids;
  std::regex shape{"^req_([0-9]+)_[0-9a-f]{8}$"};
  std::set<std::string> seen;
  for (int i = 1; i <= 100; ++i) {
    auto id = ids.next();
    std::smatch m;
    ASSERT_TRUE(std::regex_match(id, m, shape)) << id;
    EXPECT_EQ(m[1].str(), std::to_string(i));
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(json_text, compact_json_limits_depth_and_validates) {
  EXPECT_EQ(*compact_json("{ \"a\" : [ 1 , 2.0e3 , null ] }"), "{\"a\":[1,2.0e3,null]}");
  EXPECT_FALSE(compact_json(std::string(200, '[') + std::string(200, ']')));
  EXPECT_TRUE(compact_json(std::string(100, '[') + std::string(100, ']')));
  EXPECT_FALSE(compact_json("\"\xC3\x28\""));
  EXPECT_FALSE(compact_json("{} {}"));
  EXPECT_FALSE(compact_json(""));
}

// -- classify -----------------------------------------------------------------------------------

namespace {

const std::string real_init =
    R"({"type":"system","subtype":"init","cwd":"/tmp/cliexp/ws","session_id":"91a99244-caaa-49cf-904f-2d491e9f678f","tools":["Task","Bash","Edit","Read","Write"],"mcp_servers":[],"model":"claude-opus-4-8[1m]","permissionMode":"default","slash_commands":["compact","context"],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.197","output_style":"default","agents":["claude","Explore","general-purpose","Plan","statusline-setup"],"skills":["debug"],"plugins":[],"analytics_disabled":true,"product_feedback_disabled":true,"uuid":"98172d9f-2109-46b5-96f3-5438743e05c6","memory_paths":{"auto":"/tmp/cliexp/cfg/projects/-tmp-cliexp-ws/memory/"},"fast_mode_state":"off"})";
const std::string real_status =
    R"({"type":"system","subtype":"status","status":"requesting","uuid":"e17e6efe-4632-4ba2-b97d-dd853dd66a4b","session_id":"91a99244-caaa-49cf-904f-2d491e9f678f"})";
const std::string real_delta =
    R"({"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}},"session_id":"91a99244-caaa-49cf-904f-2d491e9f678f","parent_tool_use_id":null,"uuid":"5733619e-5ea9-4bf5-99d3-c92fb66fab7e"})";
const std::string real_replay =
    R"({"type":"user","message":{"role":"user","content":"hi"},"session_id":"91a99244-caaa-49cf-904f-2d491e9f678f","parent_tool_use_id":null,"uuid":"11111111-2222-4333-8444-555555555555","timestamp":"2026-11-26T07:00:06.894Z","isReplay":true})";
const std::string real_assistant =
    R"({"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-4-8","content":[{"type":"text","text":"hello"}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1},"context_management":null},"parent_tool_use_id":null,"session_id":"91a99244-caaa-49cf-904f-2d491e9f678f","uuid":"f2d2e9b1-5393-4ddf-9277-562505622fd1"})";
const std::string real_result =
    R"({"type":"result","subtype":"success","is_error":false,"api_error_status":null,"duration_ms":97,"duration_api_ms":35,"num_turns":1,"result":"hello","stop_reason":"end_turn","session_id":"91a99244-caaa-49cf-904f-2d491e9f678f","total_cost_usd":0.000075,"usage":{"input_tokens":5,"output_tokens":2},"modelUsage":{"claude-opus-4-8[1m]":{"inputTokens":5,"outputTokens":2,"costUSD":0.000075}},"permission_denials":[],"terminal_reason":"completed","fast_mode_state":"off","uuid":"6f8078d0-4d87-4102-975d-6f5de3c3a17d"})";
const std::string real_budget_result =
    R"json({"type":"result","subtype":"error_max_budget_usd","duration_ms":130,"duration_api_ms":0,"is_error":true,"num_turns":1,"stop_reason":"end_turn","session_id":"96744b1e-c716-4465-9d53-b6c65d228feb","total_cost_usd":0.000045,"errors":["Reached maximum budget ($1e-05)"],"uuid":"0d6f2a51-3a4e-4c5f-9a8b-7c6d5e4f3a2b"})json";
const std::string real_init_response =
    R"({"type":"control_response","response":{"subtype":"success","request_id":"req_1_abcdef01","response":{"commands":[{"name":"compact","description":"Clear conversation history","argumentHint":"<optional>"}],"agents":[{"name":"Explore","description":"Fast agent","model":"haiku"}],"output_style":"default","models":[],"account":{"apiKeySource":"ANTHROPIC_API_KEY"},"pid":4242}}})";
const std::string real_end_response =
    R"({"type":"control_response","response":{"subtype":"success","request_id":"req_2_abcdef02"}})";

}  // namespace

TEST(classify, real_stdout_lines) {
  auto init = classify(real_init);
  EXPECT_EQ(init.kind, message_kind::system_init);
  EXPECT_EQ(init.session_id, "91a99244-caaa-49cf-904f-2d491e9f678f");
  EXPECT_EQ(init.uuid, "98172d9f-2109-46b5-96f3-5438743e05c6");
  EXPECT_EQ(init.raw, real_init);
  auto status = classify(real_status);
  EXPECT_EQ(status.kind, message_kind::system_other);
  EXPECT_EQ(status.subtype, "status");
  EXPECT_EQ(classify(real_delta).kind, message_kind::stream_event);
  auto replay = classify(real_replay);
  EXPECT_EQ(replay.kind, message_kind::user);
  EXPECT_TRUE(replay.is_replay);
  EXPECT_EQ(replay.uuid, "11111111-2222-4333-8444-555555555555");
  auto assistant = classify(real_assistant);
  EXPECT_EQ(assistant.kind, message_kind::assistant);
  EXPECT_EQ(assistant.uuid, "f2d2e9b1-5393-4ddf-9277-562505622fd1");
  EXPECT_TRUE(assistant.parent_tool_use_id.empty());
  auto result = classify(real_result);
  EXPECT_EQ(result.kind, message_kind::result);
  EXPECT_EQ(result.subtype, "success");
  EXPECT_FALSE(result.is_error);
  auto budget = classify(real_budget_result);
  EXPECT_EQ(budget.subtype, "error_max_budget_usd");
  EXPECT_TRUE(budget.is_error);
  auto init_resp = classify(real_init_response);
  EXPECT_EQ(init_resp.kind, message_kind::control_response);
  EXPECT_EQ(init_resp.subtype, "success");
  EXPECT_EQ(init_resp.request_id, "req_1_abcdef01");
  auto end_resp = classify(real_end_response);
  EXPECT_EQ(end_resp.request_id, "req_2_abcdef02");
}

TEST(classify, documented_control_shapes) {
  auto can_use = classify(
      R"({"type":"control_request","request_id":"4b8a0c1e-7f7e-4c1c-9a8e-3d2f1e0c9b8a","request":{"subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash","input":{"command":"rm -rf x","subtype":"nested"},"permission_suggestions":[{"type":"addRules","destination":"session"}],"tool_use_id":"toolu_01"}})");
  EXPECT_EQ(can_use.kind, message_kind::control_request);
  EXPECT_EQ(can_use.subtype, "can_use_tool");
  EXPECT_EQ(can_use.tool_name, "Bash");
  EXPECT_EQ(can_use.request_id, "4b8a0c1e-7f7e-4c1c-9a8e-3d2f1e0c9b8a");
  auto hook = classify(
      R"({"type":"control_request","request_id":"h-1","request":{"subtype":"hook_callback","callback_id":"h1","input":{"hook_event_name":"PreToolUse"},"tool_use_id":"toolu_02"}})");
  EXPECT_EQ(hook.subtype, "hook_callback");
  auto error = classify(
      R"({"type":"control_response","response":{"subtype":"error","request_id":"req_7_00aa11bb","error":"File rewinding is not enabled."}})");
  EXPECT_EQ(error.kind, message_kind::control_response);
  EXPECT_EQ(error.subtype, "error");
  EXPECT_EQ(error.request_id, "req_7_00aa11bb");
  EXPECT_EQ(error.error, "File rewinding is not enabled.");
  auto cancel = classify(R"({"type":"control_cancel_request","request_id":"4b8a"})");
  EXPECT_EQ(cancel.kind, message_kind::control_cancel);
  EXPECT_EQ(cancel.request_id, "4b8a");
  EXPECT_EQ(classify(R"({"type":"transcript_mirror","filePath":"/x.jsonl","entries":[{}]})").kind,
            message_kind::transcript_mirror);
  EXPECT_EQ(classify(R"({"type":"keep_alive"})").kind, message_kind::keep_alive);
  auto sub = classify(
      R"({"type":"assistant","message":{"content":[]},"parent_tool_use_id":"toolu_agent","session_id":"s","uuid":"u"})");
  EXPECT_EQ(sub.parent_tool_use_id, "toolu_agent");
}

TEST(classify, tolerates_anything) {
  EXPECT_EQ(classify(R"({"type":"rate_limit_event","x":1})").kind, message_kind::other);
  EXPECT_EQ(classify(R"({"no_type":true})").kind, message_kind::other);
  EXPECT_EQ(classify("{}").kind, message_kind::other);
  EXPECT_EQ(classify("[1,2]").kind, message_kind::other);
  EXPECT_EQ(classify("debug: starting up").kind, message_kind::other);
  EXPECT_EQ(classify("").kind, message_kind::other);
  EXPECT_EQ(classify("{\"type\":").kind, message_kind::invalid);
  EXPECT_EQ(classify("{\"type\":\"result\"} trailing").kind, message_kind::invalid);
  EXPECT_EQ(classify("  {\"type\":\"result\",\"is_error\":true}").kind, message_kind::result);
  auto deep = classify("{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_EQ(deep.kind, message_kind::other) << "deep nesting parses without recursion";
  auto typed_number = classify(R"({"type":5,"subtype":{"type":"system"}})");
  EXPECT_EQ(typed_number.kind, message_kind::other);
  auto invalid = classify("{\"type\":\"result\",\"x\":tru}");
  EXPECT_EQ(invalid.kind, message_kind::invalid);
  EXPECT_TRUE(invalid.type.empty());
  EXPECT_EQ(invalid.raw, "{\"type\":\"result\",\"x\":tru}");
}

TEST(classify, big_line_keeps_raw) {
  std::string line = R"({"type":"assistant","message":{"content":[{"type":"text","text":")" +
                     std::string(3u << 20, 'q') + R"("}]},"uuid":"u-big"})";
  auto msg = classify(line);
  EXPECT_EQ(msg.kind, message_kind::assistant);
  EXPECT_EQ(msg.uuid, "u-big");
  EXPECT_EQ(msg.raw, line);
}

TEST(classify, kind_names) {
  EXPECT_EQ(to_string(message_kind::control_cancel), "control_cancel");
  EXPECT_EQ(to_string(message_kind::system_init), "system_init");
}

TEST(control_codec, a_nul_byte_never_cuts_a_line_or_a_json_text_short) {
  // RapidJSON stops at a NUL: without the check the part before it would be taken for the whole.
  std::string line{"{\"type\":\"result\"}\0junk", 22};
  EXPECT_EQ(classify(line).kind, message_kind::invalid);
  EXPECT_FALSE(compact_json(std::string{"{\"a\":1}\0{\"b\":2}", 15}));
}

TEST(classify, records_where_each_member_lies_in_the_line) {
  // Blanks around colons, nested containers, escapes and numbers as written: each span is the
  // value's text exactly, so the mapper can copy it without parsing the line again.
  std::string line =
      "{\"type\" : \"assistant\", \"message\":{ \"model\":\"m\",\"content\" "
      ":[{\"t\":\"a\\\"b\"},1e2],"
      "\"usage\":{\"in\":{}}} ,\"parent_tool_use_id\":null,\"n\": -0.5 ,\"ok\":true,\"e\":[],"
      "\"uuid\":\"u\\u00e9\"}";
  auto msg = classify(line);
  ASSERT_EQ(msg.kind, message_kind::assistant);
  EXPECT_EQ(msg.member_text("type"), "\"assistant\"");
  EXPECT_EQ(msg.member_text("message"),
            "{ \"model\":\"m\",\"content\" :[{\"t\":\"a\\\"b\"},1e2],\"usage\":{\"in\":{}}}");
  EXPECT_EQ(msg.member_text("model", true), "\"m\"");
  EXPECT_EQ(msg.member_text("content", true), "[{\"t\":\"a\\\"b\"},1e2]");
  EXPECT_EQ(msg.member_text("usage", true), "{\"in\":{}}");
  EXPECT_EQ(msg.member_text("parent_tool_use_id"), "null");
  EXPECT_EQ(msg.member_text("n"), "-0.5");
  EXPECT_EQ(msg.member_text("ok"), "true");
  EXPECT_EQ(msg.member_text("e"), "[]");
  EXPECT_EQ(msg.member_text("uuid"), "\"u\\u00e9\"");
  EXPECT_EQ(msg.uuid, "u\xC3\xA9");
  // Only the top level and `message` are recorded; the depth counts every level.
  EXPECT_TRUE(msg.member_text("t", true).empty());
  EXPECT_TRUE(msg.member_text("model").empty());
  EXPECT_EQ(msg.depth, 4u);
  // An invalid line records nothing.
  auto bad = classify("{\"type\":\"assistant\",\"message\":{\"model\":\"m\"},");
  EXPECT_EQ(bad.kind, message_kind::invalid);
  EXPECT_TRUE(bad.members.empty());
}
