#include "transport/api/openai_render.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <utility>

namespace caa::api::openai {

namespace {

using rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string_view str_member(const Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

uint64_t uint_member(const Value& obj, const char* key) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsUint64()) return 0;
  return it->value.GetUint64();
}

bool is_main_agent(const Value& doc) {
  auto it = doc.FindMember("parent_tool_use_id");
  return it == doc.MemberEnd() || it->value.IsNull();
}

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

std::string side_event(std::string_view name, std::string_view data) {
  std::string out = R"({"event":")";
  out += name;  // an event name of the API: [a-z_]+
  out += R"(","data":)";
  out += data;
  out += '}';
  return out;
}

void put(writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string finish(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// -- turn_reader --------------------------------------------------------------------------------

void turn_reader::emit_text(std::string_view text, bool new_block, std::vector<piece>& out) {
  if (new_block) need_sep_ = !text_.empty();
  if (text.empty()) return;
  std::string body;
  if (need_sep_) body = "\n\n";
  need_sep_ = false;
  body += text;
  text_ += body;
  out.push_back({piece::text, std::move(body)});
}

void turn_reader::on_partial(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc) || !is_main_agent(doc)) return;
  auto ev = doc.FindMember("event");
  if (ev == doc.MemberEnd() || !ev->value.IsObject()) return;
  const auto& e = ev->value;
  auto type = str_member(e, "type");
  if (type == "message_start" && e.HasMember("message")) {
    if (auto m = str_member(e["message"], "model"); !m.empty()) model_ = std::string{m};
  } else if (type == "content_block_start" && e.HasMember("content_block")) {
    const auto& block = e["content_block"];
    if (str_member(block, "type") != "text") return;
    ++streamed_blocks_;
    emit_text(str_member(block, "text"), true, out);
  } else if (type == "content_block_delta" && e.HasMember("delta")) {
    const auto& delta = e["delta"];
    if (str_member(delta, "type") == "text_delta" && streamed_blocks_ > 0)
      emit_text(str_member(delta, "text"), false, out);
  }
}

void turn_reader::on_message(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc)) return;
  bool main_assistant = str_member(doc, "type") == "assistant" && is_main_agent(doc);
  bool only_text = main_assistant;
  if (main_assistant) {
    if (auto m = str_member(doc, "model"); !m.empty()) model_ = std::string{m};
    auto content = doc.FindMember("content");
    if (content != doc.MemberEnd() && content->value.IsArray()) {
      for (const auto& block : content->value.GetArray()) {
        auto type = str_member(block, "type");
        if (type == "text") {
          if (streamed_blocks_ > 0) {
            --streamed_blocks_;  // its deltas were sent
            continue;
          }
          emit_text(str_member(block, "text"), true, out);
        } else if (type == "tool_use") {
          only_text = false;
          if (agent_events_) continue;
          std::string line = "[tool: ";
          line += str_member(block, "name");
          if (block.HasMember("input")) {
            line += ' ';
            line += to_json(block["input"]);
          }
          line += ']';
          emit_text(line, true, out);
        } else if (type != "thinking" && type != "redacted_thinking") {
          only_text = false;
        }
      }
    }
  }
  if (agent_events_ && !only_text) out.push_back({piece::agent_event, side_event("message", data)});
}

void turn_reader::on_result(std::string_view data, std::vector<piece>& out) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(data, doc)) return;
  has_result_ = true;
  subtype_ = std::string{str_member(doc, "subtype")};
  stop_reason_ = std::string{str_member(doc, "stop_reason")};
  if (auto it = doc.FindMember("total_cost_usd"); it != doc.MemberEnd() && it->value.IsNumber())
    cost_usd = it->value.GetDouble();
  if (auto it = doc.FindMember("usage"); it != doc.MemberEnd() && it->value.IsObject()) {
    const auto& u = it->value;
    cached_tokens = uint_member(u, "cache_read_input_tokens");
    input_tokens = uint_member(u, "input_tokens") + cached_tokens +
                   uint_member(u, "cache_creation_input_tokens");
    output_tokens = uint_member(u, "output_tokens");
  }
  // A turn without assistant text (e.g. a slash command) answers with the result's text.
  if (text_.empty()) emit_text(str_member(doc, "result"), true, out);
}

void turn_reader::feed(std::string_view name, std::string_view data, std::vector<piece>& out) {
  if (done_) return;
  if (name == "partial") return on_partial(data, out);
  if (name == "message") return on_message(data, out);
  if (name == "result") return on_result(data, out);
  if (name == "done") {
    rapidjson::Document doc;
    if (json::parse_untrusted_object(data, doc))
      done_reason_ = std::string{str_member(doc, "reason")};
    if (done_reason_.empty()) done_reason_ = "error";
    done_ = true;
    return;
  }
  if (name == "init" || name == "error") {
    rapidjson::Document doc;
    if (json::parse_untrusted_object(data, doc)) {
      if (name == "init") {
        if (auto m = str_member(doc, "model"); !m.empty()) model_ = std::string{m};
      } else {
        error_code_ = std::string{str_member(doc, "code")};
        error_message_ = std::string{str_member(doc, "message")};
      }
    }
  }
  if (agent_events_ && name != "gap") out.push_back({piece::agent_event, side_event(name, data)});
}

std::string_view turn_reader::finish_reason() const noexcept {
  if (subtype_ == "error_max_turns" || subtype_ == "error_max_budget_usd" ||
      stop_reason_ == "max_tokens")
    return "length";
  return "stop";
}

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

// -- responses ----------------------------------------------------------------------------------

response_builder::response_builder(response_meta meta, bool agent_events)
    : meta_(std::move(meta)), reader_(agent_events) {}

std::string_view response_builder::status(bool queued) const {
  if (!reader_.done()) return queued ? "queued" : "in_progress";
  if (reader_.done_reason() == "interrupted") return "cancelled";
  if (reader_.done_reason() != "completed") return "failed";
  return reader_.finish_reason() == "length" ? "incomplete" : "completed";
}

std::string response_builder::item_json(bool done, bool with_text) const {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "id", "msg_" + meta_.id.substr(5));
  put(w, "type", "message");
  put(w, "status", done ? "completed" : "in_progress");
  put(w, "role", "assistant");
  w.Key("content");
  w.StartArray();
  if (with_text) {
    w.StartObject();
    put(w, "type", "output_text");
    put(w, "text", reader_.text());
    w.Key("annotations");
    w.StartArray();
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return finish(buf);
}

std::string response_builder::object(bool queued) const {
  auto st = status(queued);
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "id", meta_.id);
  put(w, "object", "response");
  w.Key("created_at");
  w.Int64(meta_.created_at);
  put(w, "status", st);
  w.Key("background");
  w.Bool(meta_.background);
  w.Key("error");
  if (st == "failed") {
    w.StartObject();
    put(w, "code", lower(reader_.error_code().empty() ? "AGENT_ERROR" : reader_.error_code()));
    put(w, "message",
        reader_.error_message().empty() ? "The agent turn failed." : reader_.error_message());
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("incomplete_details");
  if (st == "incomplete") {
    w.StartObject();
    put(w, "reason", "max_output_tokens");
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("instructions");
  if (meta_.instructions.empty())
    w.Null();
  else
    w.String(meta_.instructions.data(),
             static_cast<rapidjson::SizeType>(meta_.instructions.size()));
  w.Key("max_output_tokens");
  w.Null();
  put(w, "model", meta_.model.empty() || meta_.model == "default" ? reader_.model() : meta_.model);
  w.Key("output");
  w.StartArray();
  if (item_open_ || item_done_) {
    auto item = item_json(item_done_, true);
    w.RawValue(item.data(), item.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  put(w, "output_text", reader_.text());
  w.Key("parallel_tool_calls");
  w.Bool(false);
  w.Key("previous_response_id");
  if (meta_.previous_response_id)
    w.String(meta_.previous_response_id->data(),
             static_cast<rapidjson::SizeType>(meta_.previous_response_id->size()));
  else
    w.Null();
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  w.Key("temperature");
  w.Null();
  w.Key("top_p");
  w.Null();
  w.Key("text");
  w.StartObject();
  w.Key("format");
  w.StartObject();
  put(w, "type", "text");
  w.EndObject();
  w.EndObject();
  put(w, "tool_choice", "auto");
  w.Key("tools");
  w.StartArray();
  w.EndArray();
  put(w, "truncation", "disabled");
  w.Key("usage");
  if (reader_.has_result()) {
    w.StartObject();
    w.Key("input_tokens");
    w.Uint64(reader_.input_tokens);
    w.Key("input_tokens_details");
    w.StartObject();
    w.Key("cached_tokens");
    w.Uint64(reader_.cached_tokens);
    w.EndObject();
    w.Key("output_tokens");
    w.Uint64(reader_.output_tokens);
    w.Key("output_tokens_details");
    w.StartObject();
    w.Key("reasoning_tokens");
    w.Uint64(0);
    w.EndObject();
    w.Key("total_tokens");
    w.Uint64(reader_.input_tokens + reader_.output_tokens);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("user");
  w.Null();
  put(w, "x_session_id", meta_.session_id);
  w.Key("x_cost_usd");
  w.Double(reader_.cost_usd);
  w.EndObject();
  return finish(buf);
}

void response_builder::push(std::vector<event>& out, std::string type, const std::string& members) {
  std::string json = R"({"type":")";
  json += type;
  json += R"(","sequence_number":)";
  json += std::to_string(next_seq_);
  if (!members.empty()) {
    json += ',';
    json += members;
  }
  json += '}';
  out.push_back({std::move(type), std::move(json), next_seq_++});
}

namespace {

/// `"item_id":"msg_..","output_index":0,"content_index":0` and more members.
std::string part_members(const std::string& item_id) {
  return R"("item_id":")" + item_id + R"(","output_index":0,"content_index":0)";
}

std::string text_part(std::string_view text) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "type", "output_text");
  put(w, "text", text);
  w.Key("annotations");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  return finish(buf);
}

std::string string_json(std::string_view s) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return finish(buf);
}

}  // namespace

void response_builder::open_item(std::vector<event>& out) {
  if (item_open_ || item_done_) return;
  item_open_ = true;
  auto item = item_json(false, false);
  push(out, "response.output_item.added", R"("output_index":0,"item":)" + item);
  auto id = "msg_" + meta_.id.substr(5);
  push(out, "response.content_part.added", part_members(id) + R"(,"part":)" + text_part(""));
}

void response_builder::close_item(std::vector<event>& out) {
  if (item_done_) return;
  open_item(out);
  auto id = "msg_" + meta_.id.substr(5);
  push(out, "response.output_text.done",
       part_members(id) + R"(,"text":)" + string_json(reader_.text()) + R"(,"logprobs":[])");
  push(out, "response.content_part.done",
       part_members(id) + R"(,"part":)" + text_part(reader_.text()));
  item_open_ = false;
  item_done_ = true;
  push(out, "response.output_item.done", R"("output_index":0,"item":)" + item_json(true, true));
}

void response_builder::start(bool queued, std::vector<event>& out) {
  push(out, "response.created", R"("response":)" + object(queued));
  push(out, "response.in_progress", R"("response":)" + object(false));
}

void response_builder::feed(std::string_view name, std::string_view data, std::vector<event>& out) {
  if (reader_.done()) return;
  std::vector<turn_reader::piece> pieces;
  reader_.feed(name, data, pieces);
  auto id = "msg_" + meta_.id.substr(5);
  for (auto& p : pieces) {
    if (p.kind == turn_reader::piece::agent_event) {
      push(out, "response.x_agent_event", R"("event":)" + p.body);
      continue;
    }
    open_item(out);
    push(out, "response.output_text.delta",
         part_members(id) + R"(,"delta":)" + string_json(p.body) + R"(,"logprobs":[])");
  }
  if (!reader_.done()) return;
  if (item_open_ || reader_.done_reason() == "completed") close_item(out);
  auto st = status();
  const char* type = st == "completed" ? "response.completed"
                     : st == "failed"  ? "response.failed"
                                       : "response.incomplete";
  push(out, type, R"("response":)" + object());
}

}  // namespace caa::api::openai
