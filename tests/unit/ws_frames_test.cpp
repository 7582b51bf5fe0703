// The WebSocket frames: decoding of client messages (every bad frame is a validation error
// naming its field) and the encoding of server messages.

#include "transport/api/ws_frames.hpp"

#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

using namespace caa;
using namespace caa::api;

namespace {

/// The fields of the validation error of `text` (fails when it decodes).
std::vector<std::string> bad_fields(std::string_view text, bool binary = false) {
  auto r = decode_ws_frame(text, binary);
  if (r) {
    ADD_FAILURE() << "decoded: " << text;
    return {};
  }
  EXPECT_EQ(errc_of(r.error()), errc::validation);
  std::vector<std::string> out;
  for (auto& f : caa::fields_of(r.error())) out.push_back(f.field);
  return out;
}

ws_frame good(std::string_view text) {
  auto r = decode_ws_frame(text, false);
  if (!r) {
    ADD_FAILURE() << "refused: " << text;
    return {};
  }
  return std::move(*r);
}

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

}  // namespace

TEST(ws_frames, bad_envelopes_name_their_field) {
  EXPECT_EQ(bad_fields("not json"), std::vector<std::string>{"frame"});
  EXPECT_EQ(bad_fields("[1,2]"), std::vector<std::string>{"frame"});
  EXPECT_EQ(bad_fields(R"({"type":"ping"})", true), std::vector<std::string>{"frame"});
  EXPECT_EQ(bad_fields(R"({"prompt":"x"})"), std::vector<std::string>{"type"});
  EXPECT_EQ(bad_fields(R"({"type":7})"), std::vector<std::string>{"type"});
  EXPECT_EQ(bad_fields(R"({"type":"dance"})"), std::vector<std::string>{"type"});
  EXPECT_EQ(bad_fields(R"({"type":"subscribe"})"), std::vector<std::string>{"session_id"});
  EXPECT_EQ(bad_fields(R"({"type":"subscribe","session_id":"x"})"),
            std::vector<std::string>{"session_id"});
  auto id = std::string{R"("session_id":"6a0f6a7e-2f55-4c1e-9d7e-2b0d8f3c1a11")"};
  EXPECT_EQ(bad_fields(R"({"type":"subscribe",)" + id + R"(,"after":-1})"),
            std::vector<std::string>{"after"});
  EXPECT_EQ(bad_fields(R"({"type":"interrupt","extra":1})"), std::vector<std::string>{"extra"});
  EXPECT_EQ(bad_fields(R"({"type":"ping","x":1})"), std::vector<std::string>{"x"});
}

TEST(ws_frames, envelopes_decode) {
  auto s = good(
      R"({"type":"subscribe","session_id":"6A0F6A7E-2F55-4C1E-9D7E-2B0D8F3C1A11","after":41})");
  EXPECT_EQ(s.type, ws_frame_type::subscribe);
  EXPECT_EQ(s.session_id, "6a0f6a7e-2f55-4c1e-9d7e-2b0d8f3c1a11");
  EXPECT_EQ(s.after, 41u);
  EXPECT_EQ(good(R"({"type":"ping"})").type, ws_frame_type::ping);
  auto i = good(R"({"type":"interrupt"})");
  EXPECT_EQ(i.type, ws_frame_type::interrupt);
  EXPECT_FALSE(i.session_id);
  auto a = good(R"({"type":"answer","request_id":"r1","behavior":"allow"})");
  ASSERT_TRUE(a.doc);
  EXPECT_TRUE(a.doc->HasMember("request_id"));
}

TEST(ws_frames, a_prompt_keeps_its_turn_fields_for_the_turn_decoder) {
  auto p = good(R"({"type":"prompt","prompt":"hi","max_turns":3})");
  EXPECT_EQ(p.type, ws_frame_type::prompt);
  auto body = parse(p.turn_body);
  EXPECT_FALSE(body.HasMember("type"));
  EXPECT_EQ(std::string{body["prompt"].GetString()}, "hi");
  EXPECT_EQ(body["max_turns"].GetInt(), 3);
}

TEST(ws_frames, an_event_frame_carries_the_event_data_verbatim) {
  auto text = ws_event_frame("s-1", 7, "done", R"({"reason":"completed"})");
  auto d = parse(text);
  EXPECT_EQ(std::string{d["type"].GetString()}, "event");
  EXPECT_EQ(std::string{d["session_id"].GetString()}, "s-1");
  EXPECT_EQ(d["id"].GetUint64(), 7u);
  EXPECT_EQ(std::string{d["event"].GetString()}, "done");
  EXPECT_EQ(std::string{d["data"]["reason"].GetString()}, "completed");
  EXPECT_FALSE(parse(ws_event_frame("s\"1", 1, "x\n", "")).HasParseError());
}

TEST(ws_frames, acks_errors_and_pongs) {
  auto ack = parse(ws_ack_frame("prompt", "s-1"));
  EXPECT_EQ(std::string{ack["type"].GetString()}, "ack");
  EXPECT_EQ(std::string{ack["for"].GetString()}, "prompt");
  EXPECT_EQ(std::string{ack["session_id"].GetString()}, "s-1");
  EXPECT_EQ(std::string{parse(ws_pong_frame())["type"].GetString()}, "pong");

  auto v = parse(
      ws_error_frame(caa::validation_error({{"prompt", "is required"}}), "prompt", "", "cid"));
  EXPECT_EQ(std::string{v["code"].GetString()}, "VALIDATION_ERROR");
  EXPECT_EQ(std::string{v["details"]["errors"][0]["field"].GetString()}, "prompt");
  EXPECT_FALSE(v.HasMember("session_id"));

  auto locked =
      parse(ws_error_frame(caa::with_retry_after(make_error(errc::session_locked, "internal text"),
                                                 std::chrono::seconds{2}),
                           "prompt", "s-1", "cid"));
  EXPECT_EQ(std::string{locked["code"].GetString()}, "SESSION_LOCKED");
  EXPECT_EQ(locked["details"]["retry_after"].GetUint(), 2u);
  EXPECT_EQ(std::string{locked["session_id"].GetString()}, "s-1");

  auto internal = ws_error_frame(make_error(errc::internal, "secret detail"), "", "", "cid-9");
  EXPECT_EQ(internal.find("secret detail"), std::string::npos);
  EXPECT_EQ(std::string{parse(internal)["details"]["correlation_id"].GetString()}, "cid-9");
}
