#include "transport/claude/control.hpp"

#include "config/errc.hpp"
#include "transport/claude/json_text.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

namespace caa::claude {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view s) {
  if (is_valid_utf8(s)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    auto clean = sanitize_utf8(s);
    w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
  }
}

void put(json_writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  put(w, value);
}

void put_key(json_writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

/// Embeds already-compacted JSON text.
void put_raw(json_writer& w, std::string_view key, const std::string& compact,
             rapidjson::Type type) {
  put_key(w, key);
  w.RawValue(compact.data(), compact.size(), type);
}

std::string text_of(const rapidjson::StringBuffer& buf) {
  return std::string{buf.GetString(), buf.GetSize()};
}

/// `{"type":"user","message":{"role":"user","content":<content()>},...}`.
template <class Content>
std::string user_envelope(std::string_view uuid, Content&& content) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "type", "user");
  put_key(w, "message");
  w.StartObject();
  put(w, "role", "user");
  put_key(w, "content");
  content(w);
  w.EndObject();
  put_key(w, "parent_tool_use_id");
  w.Null();
  put(w, "session_id", "");
  put(w, "uuid", uuid);
  w.EndObject();
  return text_of(buf);
}

/// `{"type":"control_request","request_id":id,"request":{"subtype":subtype,<fields()>}}`.
template <class Fields>
std::string request_envelope(std::string_view id, std::string_view subtype, Fields&& fields) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "type", "control_request");
  put(w, "request_id", id);
  put_key(w, "request");
  w.StartObject();
  put(w, "subtype", subtype);
  fields(w);
  w.EndObject();
  w.EndObject();
  return text_of(buf);
}

/// `{"type":"control_response","response":{"subtype":subtype,"request_id":id,<fields()>}}`.
template <class Fields>
std::string response_envelope(std::string_view id, std::string_view subtype, Fields&& fields) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "type", "control_response");
  put_key(w, "response");
  w.StartObject();
  put(w, "subtype", subtype);
  put(w, "request_id", id);
  fields(w);
  w.EndObject();
  w.EndObject();
  return text_of(buf);
}

/// Compacts `json` and checks that it is of one of the `allowed` kinds ('{', '[', '"').
caf::expected<std::string> compact_of_kind(std::string_view json, std::string_view allowed,
                                           std::string_view what) {
  auto compact = compact_json(json);
  if (!compact) return compact.error();
  if (compact->empty() || allowed.find(compact->front()) == std::string_view::npos)
    return make_error(errc::validation, std::string{what} + " has the wrong JSON type");
  return compact;
}

void no_fields(json_writer&) {
  // nop
}

}  // namespace

request_id_generator::request_id_generator() : rng_(std::random_device{}()) {
  // nop
}

std::string request_id_generator::next() {
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", static_cast<unsigned>(rng_()));
  return "req_" + std::to_string(++counter_) + "_" + hex;
}

std::string user_message(std::string_view text, std::string_view uuid) {
  return user_envelope(uuid, [&](json_writer& w) { put(w, text); });
}

std::string user_message(std::string_view text, const std::vector<image_input>& images,
                         std::string_view uuid) {
  if (images.empty()) return user_message(text, uuid);
  return user_envelope(uuid, [&](json_writer& w) {
    w.StartArray();
    for (const auto& img : images) {
      w.StartObject();
      put(w, "type", "image");
      put_key(w, "source");
      w.StartObject();
      put(w, "type", "base64");
      put(w, "media_type", img.media_type);
      put(w, "data", img.data);
      w.EndObject();
      w.EndObject();
    }
    w.StartObject();
    put(w, "type", "text");
    put(w, "text", text);
    w.EndObject();
    w.EndArray();
  });
}

caf::expected<std::string> user_message_raw(std::string_view content_json, std::string_view uuid) {
  auto content = compact_of_kind(content_json, "[\"", "content");
  if (!content) return content.error();
  if (*content == "[]") return make_error(errc::validation, "content is empty");
  auto type = content->front() == '[' ? rapidjson::kArrayType : rapidjson::kStringType;
  return user_envelope(uuid,
                       [&](json_writer& w) { w.RawValue(content->data(), content->size(), type); });
}

std::string agents_json(const std::map<std::string, agent_definition>& agents) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  for (const auto& [name, def] : agents) {
    put_key(w, name);
    w.StartObject();
    put(w, "description", def.description);
    put(w, "prompt", def.prompt);
    if (!def.tools.empty()) {
      put_key(w, "tools");
      w.StartArray();
      for (const auto& tool : def.tools) put(w, tool);
      w.EndArray();
    }
    if (def.model) put(w, "model", *def.model);
    w.EndObject();
  }
  w.EndObject();
  return text_of(buf);
}

caf::expected<std::string> initialize(std::string_view request_id, std::string_view hooks_json,
                                      std::string_view agents_json) {
  std::string hooks;
  std::string agents;
  if (!hooks_json.empty()) {
    auto x = compact_of_kind(hooks_json, "{", "hooks");
    if (!x) return x.error();
    hooks = std::move(*x);
  }
  if (!agents_json.empty()) {
    auto x = compact_of_kind(agents_json, "{", "agents");
    if (!x) return x.error();
    agents = std::move(*x);
  }
  return request_envelope(request_id, "initialize", [&](json_writer& w) {
    if (!hooks.empty()) put_raw(w, "hooks", hooks, rapidjson::kObjectType);
    if (!agents.empty()) put_raw(w, "agents", agents, rapidjson::kObjectType);
  });
}

std::string interrupt(std::string_view request_id) {
  return request_envelope(request_id, "interrupt", no_fields);
}

std::string end_session(std::string_view request_id) {
  return request_envelope(request_id, "end_session", no_fields);
}

std::string set_permission_mode(std::string_view request_id, std::string_view mode) {
  return request_envelope(request_id, "set_permission_mode",
                          [&](json_writer& w) { put(w, "mode", mode); });
}

std::string set_model(std::string_view request_id, std::string_view model) {
  return request_envelope(request_id, "set_model", [&](json_writer& w) {
    if (!model.empty()) put(w, "model", model);
  });
}

std::string rewind_files(std::string_view request_id, std::string_view user_message_id,
                         bool dry_run) {
  return request_envelope(request_id, "rewind_files", [&](json_writer& w) {
    put(w, "user_message_id", user_message_id);
    put_key(w, "dry_run");
    w.Bool(dry_run);
  });
}

std::string mcp_status(std::string_view request_id) {
  return request_envelope(request_id, "mcp_status", no_fields);
}

caf::expected<std::string> control_success(std::string_view request_id,
                                           std::string_view payload_json) {
  std::string payload;
  if (!payload_json.empty()) {
    auto x = compact_of_kind(payload_json, "{", "payload");
    if (!x) return x.error();
    payload = std::move(*x);
  }
  return response_envelope(request_id, "success", [&](json_writer& w) {
    if (!payload.empty()) put_raw(w, "response", payload, rapidjson::kObjectType);
  });
}

std::string control_error(std::string_view request_id, std::string_view message) {
  return response_envelope(request_id, "error", [&](json_writer& w) { put(w, "error", message); });
}

caf::expected<std::string> can_use_tool_allow(std::string_view request_id,
                                              std::string_view updated_input_json) {
  auto input = compact_of_kind(updated_input_json, "{", "updated_input");
  if (!input) return input.error();
  return response_envelope(request_id, "success", [&](json_writer& w) {
    put_key(w, "response");
    w.StartObject();
    put(w, "behavior", "allow");
    put_raw(w, "updatedInput", *input, rapidjson::kObjectType);
    w.EndObject();
  });
}

std::string can_use_tool_deny(std::string_view request_id, std::string_view message,
                              bool interrupt) {
  return response_envelope(request_id, "success", [&](json_writer& w) {
    put_key(w, "response");
    w.StartObject();
    put(w, "behavior", "deny");
    put(w, "message", message);
    if (interrupt) {
      put_key(w, "interrupt");
      w.Bool(true);
    }
    w.EndObject();
  });
}

}  // namespace caa::claude
