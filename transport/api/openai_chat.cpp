// Chat completion chunks and documents of one turn.

#include "transport/api/openai_json.hpp"
#include "transport/api/openai_render.hpp"

#include <utility>

namespace caa::api::openai {

using namespace detail;  // NOLINT(google-build-using-namespace): this file's own helpers

// -- chat ---------------------------------------------------------------------------------------

namespace {

void chat_head(writer& w, const chat_meta& m, const char* object) {
  put(w, "id", m.id);
  put(w, "object", object);
  w.Key("created");
  w.Int64(m.created);
  put(w, "model", m.model);
  w.Key("system_fingerprint");
  w.Null();
  put(w, "x_session_id", m.session_id);
}

void chat_usage(writer& w, const turn_reader& r) {
  w.Key("usage");
  w.StartObject();
  w.Key("prompt_tokens");
  w.Uint64(r.input_tokens);
  w.Key("completion_tokens");
  w.Uint64(r.output_tokens);
  w.Key("total_tokens");
  w.Uint64(r.input_tokens + r.output_tokens);
  w.Key("prompt_tokens_details");
  w.StartObject();
  w.Key("cached_tokens");
  w.Uint64(r.cached_tokens);
  w.EndObject();
  w.Key("completion_tokens_details");
  w.StartObject();
  w.Key("reasoning_tokens");
  w.Uint64(0);
  w.EndObject();
  w.EndObject();
  w.Key("x_cost_usd");
  w.Double(r.cost_usd);
}

/// A chunk with one choice: `delta` members written by `delta`, and a finish reason or null.
template <class F>
std::string chunk(const chat_meta& m, F delta, std::string_view finish_reason) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  chat_head(w, m, "chat.completion.chunk");
  w.Key("choices");
  w.StartArray();
  w.StartObject();
  w.Key("index");
  w.Uint(0);
  w.Key("delta");
  w.StartObject();
  delta(w);
  w.EndObject();
  w.Key("logprobs");
  w.Null();
  w.Key("finish_reason");
  if (finish_reason.empty())
    w.Null();
  else
    w.String(finish_reason.data(), static_cast<rapidjson::SizeType>(finish_reason.size()));
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return finish(buf);
}

/// A chunk without choices (OpenAI's usage chunk; our side channel), with members by `extra`.
template <class F>
std::string choiceless_chunk(const chat_meta& m, F extra) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  chat_head(w, m, "chat.completion.chunk");
  w.Key("choices");
  w.StartArray();
  w.EndArray();
  extra(w);
  w.EndObject();
  return finish(buf);
}

}  // namespace

std::string chat_role_chunk(const chat_meta& m) {
  return chunk(m,
               [](writer& w) {
                 put(w, "role", "assistant");
                 put(w, "content", "");
               },
               {});
}

std::string chat_text_chunk(const chat_meta& m, std::string_view text) {
  return chunk(m, [text](writer& w) { put(w, "content", text); }, {});
}

std::string chat_agent_chunk(const chat_meta& m, std::string_view event_json) {
  return choiceless_chunk(m, [event_json](writer& w) {
    w.Key("x_agent_event");
    w.RawValue(event_json.data(), event_json.size(), rapidjson::kObjectType);
  });
}

std::string chat_finish_chunk(const chat_meta& m, const turn_reader& r) {
  return chunk(
      m, [](writer&) {}, r.finish_reason());
}

std::string chat_usage_chunk(const chat_meta& m, const turn_reader& r) {
  return choiceless_chunk(m, [&r](writer& w) { chat_usage(w, r); });
}

std::string chat_completion(const chat_meta& m, const turn_reader& r,
                            const std::vector<std::string>& agent_events) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  chat_head(w, m, "chat.completion");
  w.Key("choices");
  w.StartArray();
  w.StartObject();
  w.Key("index");
  w.Uint(0);
  w.Key("message");
  w.StartObject();
  put(w, "role", "assistant");
  put(w, "content", r.text());
  w.Key("refusal");
  w.Null();
  w.Key("annotations");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.Key("logprobs");
  w.Null();
  put(w, "finish_reason", r.finish_reason());
  w.EndObject();
  w.EndArray();
  chat_usage(w, r);
  if (!agent_events.empty()) {
    w.Key("x_agent_events");
    w.StartArray();
    for (const auto& e : agent_events) w.RawValue(e.data(), e.size(), rapidjson::kObjectType);
    w.EndArray();
  }
  w.EndObject();
  return finish(buf);
}

}  // namespace caa::api::openai
