#include "sse.hpp"

#include "json.hpp"

#include <rapidjson/document.h>

#include <algorithm>

namespace scripted_model {

namespace {

using json::writer;

void write_usage(writer& w, std::size_t input_tokens, std::size_t output) {
  w.Key("usage");
  w.StartObject();
  w.Key("input_tokens");
  w.Uint64(input_tokens);
  w.Key("cache_creation_input_tokens");
  w.Uint(0);
  w.Key("cache_read_input_tokens");
  w.Uint(0);
  w.Key("output_tokens");
  w.Uint64(output);
  w.EndObject();
}

/// Writes a content block; `complete` gives text and input in full (non-streaming), otherwise
/// the empty start form used by content_block_start.
void write_block(writer& w, const content_block& b, bool complete) {
  w.StartObject();
  w.Key("type");
  if (b.type == content_block::kind::text) {
    w.String("text");
    w.Key("text");
    json::write_string(w, complete ? b.text() : std::string{});
  } else {
    w.String("tool_use");
    w.Key("id");
    json::write_string(w, b.tool_id);
    w.Key("name");
    json::write_string(w, b.tool_name);
    w.Key("input");
    const auto input = complete ? b.input_json : std::string("{}");
    w.RawValue(input.data(), input.size(), rapidjson::kObjectType);
  }
  w.EndObject();
}

/// Writes the message object; `final` includes content, stop reason and full usage.
void write_message(writer& w, const reply& r, const message_meta& meta, bool final) {
  w.StartObject();
  w.Key("id");
  json::write_string(w, meta.id);
  w.Key("type");
  w.String("message");
  w.Key("role");
  w.String("assistant");
  w.Key("model");
  json::write_string(w, meta.model);
  w.Key("content");
  w.StartArray();
  if (final)
    for (const auto& b : r.blocks) write_block(w, b, true);
  w.EndArray();
  w.Key("stop_reason");
  if (final)
    json::write_string(w, r.stop_reason);
  else
    w.Null();
  w.Key("stop_sequence");
  w.Null();
  write_usage(w, meta.input_tokens, final ? output_tokens(r) : 1);
  w.EndObject();
}

template <class Fn>
std::string build(Fn&& fn) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  fn(w);
  return {buf.GetString(), buf.GetSize()};
}

std::string block_event(std::string_view type, std::size_t index) {
  return R"({"type":")" + std::string(type) + R"(","index":)" + std::to_string(index) + "}";
}

std::string delta_event(std::size_t index, std::string_view kind, std::string_view field,
                        std::string_view value) {
  return R"({"type":"content_block_delta","index":)" + std::to_string(index) +
         R"(,"delta":{"type":")" + std::string(kind) + R"(",")" + std::string(field) + R"(":)" +
         json::quote(value) + "}}";
}

void append_block(std::vector<sse_event>& out, const reply& r, std::size_t index) {
  const auto& b = r.blocks[index];
  out.push_back({{}, format_event("content_block_start", build([&](writer& w) {
                                    w.StartObject();
                                    w.Key("type");
                                    w.String("content_block_start");
                                    w.Key("index");
                                    w.Uint64(index);
                                    w.Key("content_block");
                                    write_block(w, b, false);
                                    w.EndObject();
                                  }))});
  if (index == 0) out.push_back({{}, format_event("ping", R"({"type":"ping"})")});
  if (b.type == content_block::kind::text) {
    for (std::size_t i = 0; i < b.deltas.size(); ++i)
      out.push_back({i == 0 ? std::chrono::milliseconds{0} : r.delta_delay,
                     format_event("content_block_delta",
                                  delta_event(index, "text_delta", "text", b.deltas[i]))});
  } else {
    for (const auto& piece : split_pieces(b.input_json, 3))
      out.push_back({{},
                     format_event("content_block_delta",
                                  delta_event(index, "input_json_delta", "partial_json", piece))});
  }
  out.push_back({{}, format_event("content_block_stop", block_event("content_block_stop", index))});
}

}  // namespace

std::string format_event(std::string_view name, std::string_view data_json) {
  std::string out;
  out.reserve(name.size() + data_json.size() + 16);
  out.append("event: ").append(name).append("\ndata: ").append(data_json).append("\n\n");
  return out;
}

std::vector<sse_event> encode_stream(const reply& r, const message_meta& meta) {
  std::vector<sse_event> out;
  out.push_back({{}, format_event("message_start", build([&](writer& w) {
                                    w.StartObject();
                                    w.Key("type");
                                    w.String("message_start");
                                    w.Key("message");
                                    write_message(w, r, meta, false);
                                    w.EndObject();
                                  }))});
  if (r.blocks.empty()) out.push_back({{}, format_event("ping", R"({"type":"ping"})")});
  for (std::size_t i = 0; i < r.blocks.size(); ++i) append_block(out, r, i);
  out.push_back(
      {{},
       format_event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":)" +
                                         json::quote(r.stop_reason) +
                                         R"(,"stop_sequence":null},"usage":{"output_tokens":)" +
                                         std::to_string(output_tokens(r)) + "}}")});
  out.push_back({{}, format_event("message_stop", R"({"type":"message_stop"})")});
  return out;
}

std::string encode_message(const reply& r, const message_meta& meta) {
  return build([&](writer& w) { write_message(w, r, meta, true); });
}

std::string encode_error(unsigned status, std::string_view message) {
  return R"({"type":"error","error":{"type":")" + std::string(error_type(status)) +
         R"(","message":)" + json::quote(message) + "}}";
}

std::string_view error_type(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::size_t output_tokens(const reply& r) {
  std::size_t bytes = 0;
  for (const auto& b : r.blocks)
    for (const auto& d : b.deltas) bytes += d.size();
  for (const auto& b : r.blocks) bytes += b.input_json.size();
  return std::max<std::size_t>(1, bytes / 4);
}

std::vector<std::string> split_pieces(std::string_view s, std::size_t parts) {
  if (s.empty()) return {};
  return make_text(std::string(s), parts).deltas;
}

}  // namespace scripted_model
