#include "mcp_server.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace mcp_test {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// The protocol version we answer when the client names none.
constexpr std::string_view default_protocol = "2025-06-18";

void key(writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void string(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

/// The string member `name` of object `v`, or nullopt.
std::optional<std::string> string_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return std::nullopt;
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string{text_of(it->value)};
}

/// `{"jsonrpc":"2.0","id":<id>,` then `body` writes the rest of the members, then `}`.
template <class Body>
std::string envelope(const rapidjson::Value& id, Body body) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  key(w, "jsonrpc");
  string(w, "2.0");
  key(w, "id");
  id.Accept(w);
  body(w);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string error(const rapidjson::Value& id, int code, std::string_view message) {
  return envelope(id, [&](writer& w) {
    key(w, "error");
    w.StartObject();
    key(w, "code");
    w.Int(code);
    key(w, "message");
    string(w, message);
    w.EndObject();
  });
}

std::string initialize(const rapidjson::Value& id, const rapidjson::Value& params) {
  auto version = string_member(params, "protocolVersion").value_or(std::string{default_protocol});
  return envelope(id, [&](writer& w) {
    key(w, "result");
    w.StartObject();
    key(w, "protocolVersion");
    string(w, version);
    key(w, "capabilities");
    w.StartObject();
    key(w, "tools");
    w.StartObject();
    w.EndObject();
    w.EndObject();
    key(w, "serverInfo");
    w.StartObject();
    key(w, "name");
    string(w, server_name);
    key(w, "version");
    string(w, "1.0.0");
    w.EndObject();
    w.EndObject();
  });
}

/// One tool of `tools/list` with a single required string argument.
void tool(writer& w, std::string_view name, std::string_view description, std::string_view arg) {
  w.StartObject();
  key(w, "name");
  string(w, name);
  key(w, "description");
  string(w, description);
  key(w, "inputSchema");
  w.StartObject();
  key(w, "type");
  string(w, "object");
  key(w, "properties");
  w.StartObject();
  key(w, arg);
  w.StartObject();
  key(w, "type");
  string(w, "string");
  w.EndObject();
  w.EndObject();
  key(w, "required");
  w.StartArray();
  string(w, arg);
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

std::string tools_list(const rapidjson::Value& id) {
  return envelope(id, [](writer& w) {
    key(w, "result");
    w.StartObject();
    key(w, "tools");
    w.StartArray();
    tool(w, "echo", "Returns its text, prefixed with \"echo: \".", "text");
    tool(w, "env", "Returns the value of one environment variable of the server.", "name");
    w.EndArray();
    w.EndObject();
  });
}

std::string tool_result(const rapidjson::Value& id, std::string_view text, bool is_error) {
  return envelope(id, [&](writer& w) {
    key(w, "result");
    w.StartObject();
    key(w, "content");
    w.StartArray();
    w.StartObject();
    key(w, "type");
    string(w, "text");
    key(w, "text");
    string(w, text);
    w.EndObject();
    w.EndArray();
    if (is_error) {
      key(w, "isError");
      w.Bool(true);
    }
    w.EndObject();
  });
}

std::string tools_call(const rapidjson::Value& id, const rapidjson::Value& params,
                       const env_lookup& env) {
  auto name = string_member(params, "name").value_or("");
  static const rapidjson::Value no_arguments{rapidjson::kObjectType};
  const auto* args = &no_arguments;
  if (params.IsObject())
    if (auto it = params.FindMember("arguments"); it != params.MemberEnd()) args = &it->value;
  if (name == "echo") {
    auto text = string_member(*args, "text");
    if (!text) return tool_result(id, "echo needs a string argument \"text\"", true);
    return tool_result(id, "echo: " + *text, false);
  }
  if (name == "env") {
    auto var = string_member(*args, "name");
    if (!var) return tool_result(id, "env needs a string argument \"name\"", true);
    auto value = env(*var);
    return tool_result(id, value ? *var + "=" + *value : *var + " is not set", false);
  }
  return error(id, -32602, "unknown tool");
}

}  // namespace

std::optional<std::string> handle_line(std::string_view line, const env_lookup& env) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  static const rapidjson::Value null_id;
  if (doc.HasParseError() || !doc.IsObject()) return error(null_id, -32700, "parse error");
  auto id = doc.FindMember("id");
  if (id == doc.MemberEnd()) return std::nullopt;  // a notification
  auto method = string_member(doc, "method");
  if (!method) return std::nullopt;  // a response to a request of ours: we send none
  auto params_it = doc.FindMember("params");
  static const rapidjson::Value no_params{rapidjson::kObjectType};
  const auto& params = params_it == doc.MemberEnd() ? no_params : params_it->value;
  if (*method == "initialize") return initialize(id->value, params);
  if (*method == "tools/list") return tools_list(id->value);
  if (*method == "tools/call") return tools_call(id->value, params, env);
  if (*method == "ping")
    return envelope(id->value, [](writer& w) {
      key(w, "result");
      w.StartObject();
      w.EndObject();
    });
  return error(id->value, -32601, "method not found");
}

}  // namespace mcp_test
