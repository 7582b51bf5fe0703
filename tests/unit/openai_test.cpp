// The OpenAI-compatible layer without sockets: request decoding into a turn, the rendering of a
// turn's API events as chat chunks and Responses events, response ids, and the error shape.

#include "transport/api/openai_render.hpp"
#include "transport/api/openai_request.hpp"
#include "transport/http/openai_error.hpp"

#include "config/error_values.hpp"
#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace caa::api::openai {
namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

request_error chat_error(const std::string& body) {
  auto r = decode_chat_request(body);
  EXPECT_TRUE(std::holds_alternative<request_error>(r)) << body;
  return std::holds_alternative<request_error>(r) ? std::get<request_error>(r) : request_error{};
}

turn_plan chat_plan(const std::string& body) {
  auto r = decode_chat_request(body);
  EXPECT_TRUE(std::holds_alternative<turn_plan>(r))
      << body << " -> " << std::get<request_error>(r).message;
  return std::holds_alternative<turn_plan>(r) ? std::get<turn_plan>(r) : turn_plan{};
}

TEST(openai_request, refuses_what_would_make_the_answer_silently_wrong) {
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  EXPECT_EQ(chat_error(R"({"model":"sonnet","n":2,)" + msgs + "}").param, "n");
  EXPECT_EQ(chat_error(R"({"model":"sonnet","logprobs":true,)" + msgs + "}").param, "logprobs");
  auto tools = chat_error(R"({"model":"sonnet","tools":[{"type":"function"}],)" + msgs + "}");
  EXPECT_EQ(tools.param, "tools");
  EXPECT_EQ(tools.status, 400u);
  EXPECT_EQ(
      chat_error(R"({"model":"sonnet","response_format":{"type":"json_object"},)" + msgs + "}")
          .param,
      "response_format");
  auto unknown = chat_error(R"({"model":"sonnet","frobnicate":1,)" + msgs + "}");
  EXPECT_EQ(unknown.param, "frobnicate");
  EXPECT_EQ(unknown.code, "unknown_parameter");
  auto model = chat_error(R"({"model":"gpt-4o",)" + msgs + "}");
  EXPECT_EQ(model.status, 404u);
  EXPECT_EQ(model.code, "model_not_found");
  EXPECT_EQ(chat_error(R"({"model":"sonnet","messages":[]})").param, "messages");
  EXPECT_EQ(
      chat_error(R"({"model":"sonnet","messages":[{"role":"assistant","content":"x"}]})").param,
      "messages");
  EXPECT_EQ(chat_error(R"({"model":"sonnet","messages":[{"role":"tool","content":"x"}]})").code,
            "unsupported_parameter");
  auto url = chat_error(
      R"({"model":"sonnet","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.invalid/a.png"}}]}]})");
  EXPECT_EQ(url.code, "unsupported_parameter");
  EXPECT_EQ(chat_error(R"({"model":"sonnet","temperature":"hot",)" + msgs + "}").param,
            "temperature");
}

TEST(openai_request, accepts_and_ignores_the_sampling_fields) {
  auto plan = chat_plan(
      R"({"model":"default","temperature":0.1,"top_p":1,"max_tokens":5,"stop":["x"],"seed":1,"n":1,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_TRUE(plan.stream);
  EXPECT_TRUE(plan.include_usage);
  EXPECT_EQ(plan.model, "default");
}

TEST(openai_request, a_new_session_gets_the_context_and_a_continued_one_only_the_new_message) {
  auto plan = chat_plan(
      R"({"model":"sonnet","user":"u1","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"first"},{"role":"assistant","content":"answer"},{"role":"user","content":[{"type":"text","text":"second"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})");
  EXPECT_EQ(earlier_user_messages(plan), 1u);
  EXPECT_EQ(plan.system_prompt, "Be terse.");
  auto fresh = parse(api_turn_body(plan, std::nullopt, false, {"openai", user_tag("u1")}, true));
  ASSERT_TRUE(fresh.IsObject());
  std::string prompt = fresh["prompt"].GetString();
  EXPECT_NE(prompt.find("<user>\nfirst\n</user>"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<assistant>\nanswer\n</assistant>"), std::string::npos) << prompt;
  EXPECT_EQ(prompt.substr(prompt.size() - 6), "second");
  EXPECT_EQ(std::string{fresh["model"].GetString()}, "sonnet");
  EXPECT_EQ(std::string{fresh["system_prompt"]["append"].GetString()}, "Be terse.");
  EXPECT_TRUE(fresh["include_partial_messages"].GetBool());
  EXPECT_EQ(std::string{fresh["images"][0]["media_type"].GetString()}, "image/png");
  EXPECT_EQ(fresh["metadata"]["tags"].Size(), 2u);
  EXPECT_FALSE(fresh.HasMember("session_id"));

  auto cont = parse(
      api_turn_body(plan, std::string{"0f8fad5b-d9cb-469f-a165-70867728950e"}, false, {}, true));
  EXPECT_EQ(std::string{cont["prompt"].GetString()}, "second");
  EXPECT_EQ(std::string{cont["session_id"].GetString()}, "0f8fad5b-d9cb-469f-a165-70867728950e");
  // Spawn options would replace the continued session's stored ones.
  EXPECT_FALSE(cont.HasMember("model"));
  EXPECT_FALSE(cont.HasMember("system_prompt"));
  EXPECT_FALSE(cont.HasMember("include_partial_messages"));
}

TEST(openai_request, user_tags_are_stable_digests) {
  EXPECT_EQ(user_tag("alice"), user_tag("alice"));
  EXPECT_NE(user_tag("alice"), user_tag("bob"));
  EXPECT_EQ(user_tag("alice").find("alice"), std::string::npos);
  EXPECT_LE(user_tag(std::string(256, 'x')).size(), 50u);  // a session tag's limit
}

TEST(openai_request, response_ids_round_trip_and_foreign_ids_are_refused) {
  auto id = response_id("0f8fad5b-d9cb-469f-a165-70867728950e", 42, 1700000000);
  auto ref = parse_response_id(id);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->session_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(ref->after_seq, 42u);
  EXPECT_EQ(ref->created, 1700000000);
  for (const char* bad : {"resp_nope", "msg_0f8fad5bd9cb469fa16570867728950e_1_2",
                          "resp_0f8fad5bd9cb469fa16570867728950e_x_2",
                          "resp_0f8fad5bd9cb469fa16570867728950e_1", "resp_zz"})
    EXPECT_FALSE(parse_response_id(bad)) << bad;
}

TEST(openai_request, responses_take_instructions_and_message_items) {
  auto r = decode_responses_request(
      R"({"model":"sonnet","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"b"}]},{"role":"user","content":"c"}]})");
  ASSERT_TRUE(std::holds_alternative<turn_plan>(r));
  auto& plan = std::get<turn_plan>(r);
  EXPECT_EQ(plan.system_prompt, "Be brief.");
  ASSERT_EQ(plan.messages.size(), 3u);
  // A chained response's input is new to the session: it keeps its context.
  auto body = parse(
      api_turn_body(plan, std::string{"0f8fad5b-d9cb-469f-a165-70867728950e"}, true, {}, true));
  std::string prompt = body["prompt"].GetString();
  EXPECT_NE(prompt.find("<assistant>\nb\n</assistant>"), std::string::npos) << prompt;
  auto bad = decode_responses_request(
      R"({"model":"sonnet","input":[{"type":"function_call_output","call_id":"x","output":"y"}]})");
  EXPECT_TRUE(std::holds_alternative<request_error>(bad));
  auto prev = decode_responses_request(
      R"({"model":"sonnet","input":"x","previous_response_id":"resp_unknown"})");
  ASSERT_TRUE(std::holds_alternative<request_error>(prev));
  EXPECT_EQ(std::get<request_error>(prev).status, 404u);
}

// -- rendering ----------------------------------------------------------------------------------

const char* partial_start =
    R"({"event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"parent_tool_use_id":null})";

std::string partial_delta(const std::string& text) {
  return R"({"event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" +
         text + R"("}},"parent_tool_use_id":null})";
}

std::string text_message(const std::string& text) {
  return R"({"type":"assistant","content":[{"type":"text","text":")" + text +
         R"("}],"model":"claude-x","parent_tool_use_id":null})";
}

const char* tool_message =
    R"({"type":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}],"parent_tool_use_id":null})";
const char* result_data =
    R"({"subtype":"success","is_error":false,"total_cost_usd":0.5,"usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":1,"output_tokens":7},"result":"two"})";

std::string texts(const std::vector<turn_reader::piece>& pieces) {
  std::string out;
  for (const auto& p : pieces)
    if (p.kind == turn_reader::piece::text) out += p.body;
  return out;
}

TEST(openai_render, deltas_and_whole_messages_give_the_same_text) {
  // With token deltas: the message of a streamed block adds nothing.
  turn_reader streamed{false};
  std::vector<turn_reader::piece> a;
  streamed.feed("message", text_message("one"), a);
  streamed.feed("message", tool_message, a);
  streamed.feed("partial", partial_start, a);
  streamed.feed("partial", partial_delta("tw"), a);
  streamed.feed("partial", partial_delta("o"), a);
  streamed.feed("message", text_message("two"), a);
  streamed.feed("result", result_data, a);
  streamed.feed("done", R"({"reason":"completed"})", a);
  // Without: the messages carry the text.
  turn_reader whole{false};
  std::vector<turn_reader::piece> b;
  whole.feed("message", text_message("one"), b);
  whole.feed("message", tool_message, b);
  whole.feed("message", text_message("two"), b);
  whole.feed("result", result_data, b);
  whole.feed("done", R"({"reason":"completed"})", b);
  std::string expected = "one\n\n[tool: Bash {\"command\":\"ls\"}]\n\ntwo";
  EXPECT_EQ(texts(a), expected);
  EXPECT_EQ(streamed.text(), expected);
  EXPECT_EQ(texts(b), expected);
  EXPECT_TRUE(streamed.done());
  EXPECT_EQ(streamed.input_tokens, 16u);
  EXPECT_EQ(streamed.cached_tokens, 5u);
  EXPECT_EQ(streamed.output_tokens, 7u);
  EXPECT_EQ(streamed.finish_reason(), "stop");
  EXPECT_EQ(streamed.model(), "claude-x");
}

TEST(openai_render, agent_events_move_tool_uses_to_the_side_channel) {
  turn_reader r{true};
  std::vector<turn_reader::piece> out;
  r.feed("init", R"({"model":"claude-x"})", out);
  r.feed("message", tool_message, out);
  r.feed("message", R"({"type":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]})",
         out);
  r.feed("message", text_message("done"), out);
  EXPECT_EQ(texts(out), "done");
  unsigned side = 0;
  for (const auto& p : out)
    if (p.kind == turn_reader::piece::agent_event) {
      ++side;
      EXPECT_TRUE(parse(p.body).HasMember("event")) << p.body;
    }
  EXPECT_EQ(side, 3u);  // init, the tool use, the tool result; the text message is text
}

TEST(openai_render, subagent_text_is_not_the_answer) {
  turn_reader r{false};
  std::vector<turn_reader::piece> out;
  r.feed(
      "message",
      R"({"type":"assistant","content":[{"type":"text","text":"inner"}],"parent_tool_use_id":"t1"})",
      out);
  r.feed("message", text_message("outer"), out);
  EXPECT_EQ(r.text(), "outer");
}

TEST(openai_render, limits_finish_with_length) {
  turn_reader r{false};
  std::vector<turn_reader::piece> out;
  r.feed("result", R"({"subtype":"error_max_turns","is_error":true})", out);
  EXPECT_EQ(r.finish_reason(), "length");
}

TEST(openai_render, chat_chunks_share_one_id_and_the_document_matches) {
  chat_meta m{"chatcmpl-1", 5, "sonnet", "s1"};
  turn_reader r{false};
  std::vector<turn_reader::piece> out;
  r.feed("message", text_message("hello"), out);
  r.feed("result", result_data, out);
  r.feed("done", R"({"reason":"completed"})", out);
  for (const auto& chunk : {chat_role_chunk(m), chat_text_chunk(m, "hello"),
                            chat_finish_chunk(m, r), chat_usage_chunk(m, r)}) {
    auto d = parse(chunk);
    ASSERT_TRUE(d.IsObject()) << chunk;
    EXPECT_EQ(std::string{d["id"].GetString()}, "chatcmpl-1");
    EXPECT_EQ(std::string{d["object"].GetString()}, "chat.completion.chunk");
  }
  auto finish = parse(chat_finish_chunk(m, r));
  EXPECT_EQ(std::string{finish["choices"][0]["finish_reason"].GetString()}, "stop");
  auto usage = parse(chat_usage_chunk(m, r));
  EXPECT_EQ(usage["choices"].Size(), 0u);
  EXPECT_EQ(usage["usage"]["total_tokens"].GetUint64(), 23u);
  auto doc = parse(chat_completion(m, r, {}));
  EXPECT_EQ(std::string{doc["choices"][0]["message"]["content"].GetString()}, "hello");
  EXPECT_FALSE(doc.HasMember("x_agent_events"));
}

/// All events of a builder fed `events`, started first.
std::vector<response_builder::event> run_builder(
    const std::vector<std::pair<std::string, std::string>>& events) {
  response_builder b{{"resp_abc", 1, "sonnet", "s1", std::nullopt, "", false}, false};
  std::vector<response_builder::event> out;
  b.start(false, out);
  for (const auto& [name, data] : events) b.feed(name, data, out);
  return out;
}

TEST(openai_render, response_events_are_numbered_without_gaps_and_reproducible) {
  std::vector<std::pair<std::string, std::string>> turn{
      {"partial", partial_start},      {"partial", partial_delta("a")},
      {"partial", partial_delta("b")}, {"message", text_message("ab")},
      {"result", result_data},         {"done", R"({"reason":"completed"})"}};
  auto first = run_builder(turn);
  auto again = run_builder(turn);
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].sequence_number, i);
    EXPECT_EQ(first[i].json, again[i].json);  // a replay resumes exactly
    EXPECT_EQ(parse(first[i].json)["sequence_number"].GetUint64(), i);
  }
  EXPECT_EQ(first.front().type, "response.created");
  EXPECT_EQ(first.back().type, "response.completed");
  auto done = parse(first.back().json);
  EXPECT_EQ(std::string{done["response"]["output_text"].GetString()}, "ab");
  EXPECT_EQ(std::string{done["response"]["status"].GetString()}, "completed");
  std::string deltas;
  for (const auto& e : first)
    if (e.type == "response.output_text.delta") deltas += parse(e.json)["delta"].GetString();
  EXPECT_EQ(deltas, "ab");
}

TEST(openai_render, interrupted_and_failed_turns_have_their_status) {
  auto cancelled = run_builder({{"partial", partial_start},
                                {"partial", partial_delta("a")},
                                {"done", R"({"reason":"interrupted"})"}});
  EXPECT_EQ(std::string{parse(cancelled.back().json)["response"]["status"].GetString()},
            "cancelled");
  auto failed = run_builder({{"error", R"({"code":"AGENT_ERROR","message":"The agent failed."})"},
                             {"done", R"({"reason":"error"})"}});
  EXPECT_EQ(failed.back().type, "response.failed");
  auto obj = parse(failed.back().json)["response"].GetObject();
  EXPECT_EQ(std::string{obj["error"]["code"].GetString()}, "agent_error");
}

TEST(openai_error_shape, a_validation_error_becomes_a_400_naming_its_field) {
  auto r = http::to_openai_error(
      http::error_response(validation_error({{"prompt", "must not be empty"}}), "cid"));
  EXPECT_EQ(r.status, 400u);
  auto d = parse(r.body);
  EXPECT_EQ(std::string{d["error"]["param"].GetString()}, "prompt");
  EXPECT_EQ(std::string{d["error"]["code"].GetString()}, "validation_error");
  EXPECT_EQ(std::string{d["error"]["type"].GetString()}, "invalid_request_error");
  EXPECT_NE(std::string{d["error"]["message"].GetString()}.find("must not be empty"),
            std::string::npos);
  auto unauth = http::to_openai_error(http::error_response(make_error(errc::unauthenticated), ""));
  EXPECT_EQ(unauth.status, 401u);
  EXPECT_EQ(std::string{parse(unauth.body)["error"]["code"].GetString()}, "invalid_api_key");
  auto busy = http::to_openai_error(http::error_response(make_error(errc::rate_limited), ""));
  EXPECT_EQ(std::string{parse(busy.body)["error"]["type"].GetString()}, "rate_limit_error");
  bool retry_after = false;
  for (const auto& [name, value] : busy.headers) retry_after = retry_after || name == "Retry-After";
  EXPECT_TRUE(retry_after);
}

}  // namespace
}  // namespace caa::api::openai
