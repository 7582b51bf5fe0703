// Unit tests of the model proxy's usage scanner: SSE and JSON bodies fed in arbitrary chunk
// splits, line endings, caps, hostile JSON. No sockets, no clock.

#include "transport/sandbox/usage_scanner.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace caa::sandbox {
namespace {

const std::string stream_body =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":)"
    R"("assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,)"
    R"("usage":{"input_tokens":25,"cache_creation_input_tokens":7,)"
    R"("cache_read_input_tokens":3,"output_tokens":1}}})"
    "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\n"
    ": a comment line\n"
    "event: ping\n"
    R"(data: {"type": "ping"})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
    R"("text":"usage: {\"output_tokens\": 999}"}})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","delta":{"usage":{"output_tokens":1000}}})"
    "\n\n"
    "event: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
    R"("usage":{"output_tokens":15}})"
    "\n\n"
    "event: message_delta\n"
    R"(data: {"type":"message_delta","delta":{},"usage":{"output_tokens":42}})"
    "\n\n"
    "event: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

const std::string json_body =
    R"({"id":"msg_2","type":"message","role":"assistant","content":[{"type":"tool_use",)"
    R"("id":"t","name":"x","input":{"usage":{"input_tokens":99}}}],"stop_reason":"end_turn",)"
    R"("usage":{"input_tokens":10,"cache_creation_input_tokens":null,)"
    R"("cache_read_input_tokens":4,"output_tokens":20}})";

token_usage scan(body_kind kind, const std::vector<std::string>& chunks,
                 std::size_t max_event = usage_scanner::default_max_event_bytes,
                 std::size_t max_json = usage_scanner::default_max_json_bytes) {
  usage_scanner s{kind, max_event, max_json};
  for (const auto& c : chunks) s.feed(c);
  s.finish();
  return s.usage();
}

void expect_usage(const token_usage& u, uint64_t in, uint64_t out, uint64_t cc, uint64_t cr) {
  EXPECT_EQ(u.input_tokens, in);
  EXPECT_EQ(u.output_tokens, out);
  EXPECT_EQ(u.cache_creation_input_tokens, cc);
  EXPECT_EQ(u.cache_read_input_tokens, cr);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

/// Every way to cut `body` in two, and the body one byte at a time.
void expect_all_splits(body_kind kind, const std::string& body, uint64_t in, uint64_t out,
                       uint64_t cc, uint64_t cr) {
  for (std::size_t i = 0; i <= body.size(); ++i) {
    SCOPED_TRACE("split at " + std::to_string(i));
    expect_usage(scan(kind, {body.substr(0, i), body.substr(i)}), in, out, cc, cr);
  }
  std::vector<std::string> bytes;
  for (char c : body) bytes.emplace_back(1, c);
  expect_usage(scan(kind, bytes), in, out, cc, cr);
}

TEST(usage_scanner, sse_in_one_chunk) {
  expect_usage(scan(body_kind::sse, {stream_body}), 25, 42, 7, 3);
}

TEST(usage_scanner, sse_every_split_point) {
  expect_all_splits(body_kind::sse, stream_body, 25, 42, 7, 3);
}

TEST(usage_scanner, sse_random_multi_splits) {
  std::mt19937 rng{12345};  // fixed seed: deterministic
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> chunks;
    for (std::size_t pos = 0; pos < stream_body.size();) {
      auto n = std::uniform_int_distribution<std::size_t>{0, 40}(rng);
      chunks.push_back(stream_body.substr(pos, n));
      pos += n;
    }
    expect_usage(scan(body_kind::sse, chunks), 25, 42, 7, 3);
  }
}

TEST(usage_scanner, sse_crlf_and_cr_line_endings) {
  expect_all_splits(body_kind::sse, replace_all(stream_body, "\n", "\r\n"), 25, 42, 7, 3);
  expect_all_splits(body_kind::sse, replace_all(stream_body, "\n", "\r"), 25, 42, 7, 3);
}

TEST(usage_scanner, sse_data_over_several_lines_is_joined) {
  std::string body =
      "data: {\"type\":\"message_delta\",\n"
      "data:\"usage\":{\"output_tokens\":5}}\n\n";
  expect_all_splits(body_kind::sse, body, 0, 5, 0, 0);
}

TEST(usage_scanner, sse_last_event_without_blank_line_counts_at_finish) {
  std::string body = R"(data: {"type":"message_delta","usage":{"output_tokens":8}})";
  expect_usage(scan(body_kind::sse, {body}), 0, 8, 0, 0);
  expect_usage(scan(body_kind::sse, {body + "\n"}), 0, 8, 0, 0);
}

TEST(usage_scanner, sse_cumulative_delta_fields_override) {
  std::string body =
      R"(data: {"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}})"
      "\n\n"
      R"(data: {"type":"message_delta","usage":{"input_tokens":30,"output_tokens":9}})"
      "\n\n";
  expect_usage(scan(body_kind::sse, {body}), 30, 9, 0, 0);
}

TEST(usage_scanner, sse_malformed_event_is_ignored) {
  std::string body =
      "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":\n\n" +
      stream_body + "data: not json usage\n\n";
  expect_usage(scan(body_kind::sse, {body}), 25, 42, 7, 3);
}

TEST(usage_scanner, sse_oversized_event_is_skipped_and_later_ones_count) {
  std::string big = R"(data: {"type":"message_delta","usage":{"output_tokens":77},"pad":")" +
                    std::string(600, 'x') + "\"}\n\n";
  std::string long_comment = ":" + std::string(700, 'c') + "\n";
  auto body = long_comment + big + stream_body;
  for (std::size_t i = 0; i <= body.size(); i += 13)
    expect_usage(scan(body_kind::sse, {body.substr(0, i), body.substr(i)}, 512), 25, 42, 7, 3);
  // Several data lines that together pass the cap spoil their event too.
  std::string joined = "data: {\"type\":\"message_delta\",\n" + std::string("data: ") +
                       std::string(300, ' ') + "\n" + "data: \"usage\":{\"output_tokens\":6}" +
                       std::string(300, ' ') + "}\n\n";
  expect_usage(scan(body_kind::sse, {joined}, 512), 0, 0, 0, 0);
  expect_usage(scan(body_kind::sse, {joined}, 4096), 0, 6, 0, 0);
}

TEST(usage_scanner, sse_deep_nesting_does_not_use_the_stack) {
  std::string body = "data: {\"usage\":" + std::string(200000, '[') + "\n\n" + stream_body;
  expect_usage(scan(body_kind::sse, {body}), 25, 42, 7, 3);
}

TEST(usage_scanner, json_every_split_point) {
  expect_all_splits(body_kind::json, json_body, 10, 20, 0, 4);
}

TEST(usage_scanner, json_count_tokens_answer_carries_no_tokens) {
  expect_usage(scan(body_kind::json, {R"({"input_tokens":12})"}), 0, 0, 0, 0);
}

TEST(usage_scanner, json_over_the_cap_yields_nothing) {
  expect_usage(scan(body_kind::json, {json_body}, 1024, 64), 0, 0, 0, 0);
  expect_usage(scan(body_kind::json, {json_body}, 1024, json_body.size()), 10, 20, 0, 4);
}

TEST(usage_scanner, json_error_and_garbage_yield_nothing) {
  expect_usage(scan(body_kind::json, {R"({"type":"error","error":{"type":"api_error"}})"}), 0, 0, 0,
               0);
  expect_usage(scan(body_kind::json, {"{\"usage\":{\"input_tokens\":5"}), 0, 0, 0, 0);
  expect_usage(scan(body_kind::json, {std::string(100000, '{')}), 0, 0, 0, 0);
}

TEST(usage_scanner, numbers_that_are_not_counts_are_ignored) {
  auto u = scan(body_kind::json, {R"({"usage":{"input_tokens":-5,"output_tokens":1.5,)"
                                  R"("cache_read_input_tokens":18446744073709551615,)"
                                  R"("cache_creation_input_tokens":"7"}})"});
  expect_usage(u, 0, 0, 0, 18446744073709551615ull);
}

TEST(usage_scanner, none_kind_and_feeding_after_finish_do_nothing) {
  expect_usage(scan(body_kind::none, {json_body}), 0, 0, 0, 0);
  usage_scanner s{body_kind::sse};
  s.finish();
  s.feed(stream_body);
  s.finish();
  expect_usage(s.usage(), 0, 0, 0, 0);
}

TEST(usage_scanner, kind_of_content_types) {
  EXPECT_EQ(kind_of("text/event-stream"), body_kind::sse);
  EXPECT_EQ(kind_of("text/event-stream; charset=utf-8"), body_kind::sse);
  EXPECT_EQ(kind_of("Application/JSON"), body_kind::json);
  EXPECT_EQ(kind_of("application/json ;charset=utf-8"), body_kind::json);
  EXPECT_EQ(kind_of("text/plain"), body_kind::none);
  EXPECT_EQ(kind_of(""), body_kind::none);
}

TEST(usage_scanner, read_usage_fields_by_place) {
  usage_fields f;
  ASSERT_TRUE(read_usage_fields(R"({"type":"message_start","message":{"usage":)"
                                R"({"output_tokens":2}},"usage":{"input_tokens":1}})",
                                f));
  EXPECT_EQ(f.type, "message_start");
  EXPECT_EQ(f.message.output_tokens, 2u);
  EXPECT_EQ(f.top.input_tokens, 1u);
  usage_fields g;
  EXPECT_FALSE(read_usage_fields("[1,2", g));
  usage_fields h;
  EXPECT_TRUE(read_usage_fields(R"([{"usage":{"input_tokens":1}}])", h));
  EXPECT_EQ(h.top_seen, 0u);
}

}  // namespace
}  // namespace caa::sandbox
