#include "transport/json/event_mapper.hpp"
#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa {

namespace {

using rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes member `key` of `obj` as `out_key`, or null when absent.
void copy(writer& w, const Value& obj, const char* key, const char* out_key = nullptr) {
  w.Key(out_key ? out_key : key);
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd())
    w.Null();
  else
    it->value.Accept(w);
}

/// Copies every member of `obj` except `type` and `session_id`.
void copy_all_but_ids(writer& w, const Value& obj) {
  for (auto& m : obj.GetObject()) {
    std::string_view k{m.name.GetString(), m.name.GetStringLength()};
    if (k == "type" || k == "session_id") continue;
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
}

std::string finish(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

api_event init_event(const Value& obj, const mapper_state& st) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("session_id");
  w.String(st.session_id);
  copy(w, obj, "model");
  copy(w, obj, "tools");
  copy(w, obj, "mcp_servers");
  copy(w, obj, "permissionMode", "permission_mode");
  copy(w, obj, "slash_commands");
  copy(w, obj, "agents");
  copy(w, obj, "skills");
  copy(w, obj, "plugins");
  copy(w, obj, "claude_code_version");
  w.Key("cwd");
  w.String(st.cwd_relative.empty() ? "." : st.cwd_relative);
  w.EndObject();
  return {"init", finish(buf)};
}

void todo_events(const Value& content, std::vector<api_event>& out) {
  if (!content.IsArray()) return;
  for (auto& block : content.GetArray()) {
    if (!block.IsObject() || !block.HasMember("name") || !block["name"].IsString()) continue;
    std::string_view name = block["name"].GetString();
    if (name != "TodoWrite" || !block.HasMember("input") || !block["input"].IsObject()) continue;
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    copy(w, block["input"], "todos");
    w.EndObject();
    out.push_back({"todo", finish(buf)});
  }
}

/// Appends `"key":value` (after a comma unless it opens the object), the value being JSON text
/// taken from the line, or null when it is empty (the member is absent).
void put(std::string& out, std::string_view key, std::string_view json_text) {
  if (out.back() != '{') out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
  out.append(json_text.empty() ? std::string_view{"null"} : json_text);
}

/// The `todo` events of the TodoWrite tool uses in `content` (an assistant message's).
void todo_events(std::string_view content, std::vector<api_event>& out) {
  if (content.find("TodoWrite") == std::string_view::npos) return;  // the common case: none
  rapidjson::Document doc;
  if (json::parse_value(content, doc) != json::parse_failure::none) return;
  todo_events(doc, out);
}

/// A `message` event (and its `todo` events) built from the line's member spans: the line
/// was parsed once, by `classify`, and its values are copied as they came.
void message_events(const claude::cli_message& msg, std::string_view type,
                    std::vector<api_event>& out) {
  std::string data;
  data.reserve(msg.raw.size() + 64);
  data.append("{\"type\":\"");
  data.append(type);
  data.push_back('"');
  auto message = msg.member_text("message");
  bool has_message = !message.empty() && message.front() == '{';
  auto content = has_message ? msg.member_text("content", true) : std::string_view{};
  if (has_message) {
    put(data, "content", content);
    if (type == "assistant") {
      put(data, "model", msg.member_text("model", true));
      put(data, "usage", msg.member_text("usage", true));
    }
  }
  put(data, "parent_tool_use_id", msg.member_text("parent_tool_use_id"));
  put(data, "uuid", msg.member_text("uuid"));
  if (auto r = msg.member_text("tool_use_result"); !r.empty()) put(data, "tool_use_result", r);
  if (auto e = msg.member_text("error"); !e.empty()) put(data, "error", e);
  data.push_back('}');
  out.push_back({"message", std::move(data)});
  if (!content.empty()) todo_events(content, out);
}

/// A `partial` event (a raw API stream event), from the line's member spans.
api_event partial_event(const claude::cli_message& msg) {
  std::string data;
  auto event = msg.member_text("event");
  data.reserve(event.size() + 64);
  data.push_back('{');
  put(data, "event", event);
  put(data, "parent_tool_use_id", msg.member_text("parent_tool_use_id"));
  data.push_back('}');
  return {"partial", std::move(data)};
}

api_event system_event(const Value& obj, std::string_view subtype) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  if (subtype == "task_started" || subtype == "task_updated" || subtype == "task_notification") {
    w.Key("status");
    w.String(subtype == "task_started"   ? "started"
             : subtype == "task_updated" ? "updated"
                                         : "finished");
    copy_all_but_ids(w, obj);
    w.EndObject();
    return {"task", finish(buf)};
  }
  w.Key("type");
  w.String("system");
  copy_all_but_ids(w, obj);
  w.EndObject();
  return {"message", finish(buf)};
}

api_event result_event(const Value& obj, mapper_state& st) {
  double total = 0;
  if (auto it = obj.FindMember("total_cost_usd"); it != obj.MemberEnd() && it->value.IsNumber())
    total = it->value.GetDouble();
  // The CLI reports cost cumulatively per process; the API reports this turn's.
  double turn_cost = total >= st.process_cost_usd ? total - st.process_cost_usd : total;
  st.process_cost_usd = total;
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  copy(w, obj, "subtype");
  copy(w, obj, "is_error");
  copy(w, obj, "num_turns");
  copy(w, obj, "duration_ms");
  w.Key("total_cost_usd");
  w.Double(turn_cost);
  copy(w, obj, "usage");
  copy(w, obj, "modelUsage", "model_usage");
  copy(w, obj, "result");
  copy(w, obj, "structured_output");
  copy(w, obj, "permission_denials");
  copy(w, obj, "stop_reason");
  copy(w, obj, "terminal_reason");
  copy(w, obj, "errors");
  w.EndObject();
  return {"result", finish(buf)};
}

}  // namespace

std::vector<api_event> map_cli_message(const claude::cli_message& msg, mapper_state& st) {
  using claude::message_kind;
  std::vector<api_event> out;
  switch (msg.kind) {
    case message_kind::system_init:
    case message_kind::system_other:
    case message_kind::assistant:
    case message_kind::user:
    case message_kind::result:
    case message_kind::stream_event:
      break;
    case message_kind::control_request:
    case message_kind::control_response:
    case message_kind::control_cancel:
    case message_kind::transcript_mirror:
    case message_kind::keep_alive:
    case message_kind::other:
    case message_kind::invalid:
      return out;
  }
  if (msg.depth > json::input_max_depth) return out;  // refused like any input that deep
  // The streamed kinds are built from the spans `classify` found; the few lines per turn of
  // the others (init, system, result) are read through a document.
  switch (msg.kind) {
    case message_kind::assistant:
      message_events(msg, "assistant", out);
      return out;
    case message_kind::user:
      if (!msg.is_replay) message_events(msg, "user", out);
      return out;
    case message_kind::stream_event:
      out.push_back(partial_event(msg));
      return out;
    default:
      break;
  }
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(msg.raw, doc)) return out;
  switch (msg.kind) {
    case message_kind::system_init:
      out.push_back(init_event(doc, st));
      break;
    case message_kind::system_other:
      out.push_back(system_event(doc, msg.subtype));
      break;
    case message_kind::result:
      out.push_back(result_event(doc, st));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace caa
