#pragma once

#include "reply.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

/// Anthropic Messages API wire encoding: SSE streams, message objects and error bodies.
namespace scripted_model {

/// Message-level fields that do not come from the scenario.
struct message_meta {
  /// The unique message id, `msg_...`.
  std::string id;
  /// The model named in the request.
  std::string model;
  /// The estimated input token count.
  std::size_t input_tokens = 1;
};

/// One encoded SSE event and the pause to take before sending it.
struct sse_event {
  /// Pause before this event (the `slow` scenario).
  std::chrono::milliseconds delay{0};
  /// `event: <name>\ndata: <json>\n\n`.
  std::string bytes;
};

/// `event: <name>\ndata: <data_json>\n\n`.
std::string format_event(std::string_view name, std::string_view data_json);

/// The full event sequence of a streamed reply: message_start, per block content_block_start /
/// deltas / content_block_stop (one ping after the first start), message_delta, message_stop.
std::vector<sse_event> encode_stream(const reply& r, const message_meta& meta);

/// The non-streaming message object of a reply.
std::string encode_message(const reply& r, const message_meta& meta);

/// `{"type":"error","error":{"type":<type for status>,"message":...}}`.
std::string encode_error(unsigned status, std::string_view message);

/// The Anthropic error type of an HTTP status, e.g. 529 → `overloaded_error`.
std::string_view error_type(unsigned status);

/// A rough output token estimate (4 bytes a token, at least 1).
std::size_t output_tokens(const reply& r);

/// Splits `s` into at most `parts` non-empty pieces at UTF-8 boundaries (`input_json_delta`).
std::vector<std::string> split_pieces(std::string_view s, std::size_t parts);

}  // namespace scripted_model
