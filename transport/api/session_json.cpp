#include "transport/api/session_json.hpp"
#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_opt(writer& w, const char* key, const std::optional<std::string>& value) {
  w.Key(key);
  if (value)
    w.String(value->data(), static_cast<rapidjson::SizeType>(value->size()));
  else
    w.Null();
}

/// Writes stored JSON text `json` as a value; `fallback` when it is not valid JSON.
void put_raw(writer& w, const char* key, std::string_view json, const char* fallback) {
  w.Key(key);
  rapidjson::Document doc;
  if (json::parse_value(json, doc) != json::parse_failure::none) json::parse_value(fallback, doc);
  doc.Accept(w);
}

std::string text(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

void write_session(writer& w, const storage::session_record& s) {
  w.StartObject();
  put(w, "id", s.id);
  put(w, "status", storage::to_string(s.status));
  put_opt(w, "model", s.model);
  put(w, "permission_mode", s.permission_mode);
  put(w, "cwd", s.cwd.empty() ? std::string_view{"."} : std::string_view{s.cwd});
  put_opt(w, "parent_session_id", s.parent_session_id);
  put(w, "created_at", s.created_at);
  put(w, "updated_at", s.updated_at);
  w.Key("total_turns");
  w.Int64(s.total_turns);
  w.Key("total_cost_usd");
  w.Double(s.total_cost_usd);
  put_raw(w, "usage", s.usage_json.empty() ? std::string_view{"{}"} : s.usage_json, "{}");
  put_opt(w, "title", s.title);
  w.Key("tags");
  w.StartArray();
  for (auto& t : s.tags) w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  w.EndArray();
  w.Key("last_event_id");
  w.Uint64(s.last_seq);
  w.EndObject();
}

}  // namespace

std::string session_json(const storage::session_record& s) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  write_session(w, s);
  return text(buf);
}

std::string session_list_json(const storage::session_page& page, long long page_no,
                              long long page_size) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("sessions");
  w.StartArray();
  for (auto& s : page.sessions) write_session(w, s);
  w.EndArray();
  w.Key("total");
  w.Uint64(page.total);
  w.Key("page");
  w.Int64(page_no);
  w.Key("page_size");
  w.Int64(page_size);
  w.EndObject();
  return text(buf);
}

std::string event_page_json(const storage::event_page& page, uint64_t after) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("events");
  w.StartArray();
  for (auto& e : page.events) {
    w.StartObject();
    w.Key("id");
    w.Uint64(e.seq);
    put(w, "event", e.type);
    put_raw(w, "data", e.payload_json, "null");
    w.EndObject();
  }
  w.EndArray();
  uint64_t next = page.events.empty() ? after : page.events.back().seq;
  w.Key("next_after");
  w.Uint64(next);
  w.Key("has_more");
  w.Bool(!page.events.empty() && next < page.last_seq);
  w.EndObject();
  return text(buf);
}

std::string capabilities_json(const decode_policy& policy, const std::string& engine_json) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  // What the engine itself reported (tools, commands, agents, models, output styles...).
  w.Key("engine");
  w.RawValue(engine_json.data(), engine_json.size(), rapidjson::kObjectType);
  put(w, "cli_version", cli_version);
  w.Key("models");
  w.StartObject();
  w.Key("aliases");
  w.StartArray();
  for (const char* m : {"sonnet", "opus", "haiku"}) w.String(m);
  w.EndArray();
  put(w, "ids", "claude-[a-z0-9.-]{1,64}, optionally followed by [1m]");
  w.EndObject();
  w.Key("permission_modes");
  w.StartArray();
  for (const char* m : {"default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"})
    if (policy.allow_bypass || std::string_view{m} != "bypassPermissions") w.String(m);
  w.EndArray();
  w.Key("setting_sources");
  w.StartArray();
  w.String("user");
  w.String("project");
  w.EndArray();
  w.Key("mcp_servers_enabled");
  w.Bool(policy.mcp_servers_enabled);
  w.Key("hooks_enabled");
  w.Bool(policy.hooks_enabled);
  w.Key("output_formats");
  w.StartArray();
  w.String("json_schema");
  w.EndArray();
  put(w, "engine_details",
      "tools, agents, skills, slash_commands, plugins and mcp_servers come in the init event of "
      "every turn");
  w.EndObject();
  return text(buf);
}

}  // namespace caa::api
