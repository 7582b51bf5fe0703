#include "transport/claude/mcp_config.hpp"
#include "config/json_parse.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace caa::claude {

namespace {

constexpr std::size_t max_variable_name_bytes = 128;

/// Expands the string members of `obj` in place; false when one cannot be expanded.
bool expand_members(rapidjson::Value& obj, const variable_lookup& lookup,
                    rapidjson::Document::AllocatorType& alloc) {
  if (!obj.IsObject()) return true;  // absent or not ours: the final `${` scan still applies
  for (auto& m : obj.GetObject()) {
    if (!m.value.IsString()) continue;
    auto r = expand_references({m.value.GetString(), m.value.GetStringLength()}, lookup);
    auto* text = std::get_if<std::string>(&r);
    if (text == nullptr) return false;
    m.value.SetString(text->data(), static_cast<rapidjson::SizeType>(text->size()), alloc);
  }
  return true;
}

}  // namespace

bool is_variable_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_variable_name_bytes) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::variant<std::string, reference_error> expand_references(std::string_view text,
                                                             const variable_lookup& lookup) {
  std::string out;
  std::size_t at = 0;
  for (auto open = text.find("${"); open != std::string_view::npos; open = text.find("${", at)) {
    out.append(text.substr(at, open - at));
    auto close = text.find('}', open + 2);
    if (close == std::string_view::npos) return reference_error::malformed;
    auto inner = text.substr(open + 2, close - open - 2);
    auto sep = inner.find(":-");
    auto name = inner.substr(0, sep);
    if (!is_variable_name(name)) return reference_error::malformed;
    std::optional<std::string_view> fallback;
    if (sep != std::string_view::npos) fallback = inner.substr(sep + 2);
    if (fallback && fallback->find("${") != std::string_view::npos)
      return reference_error::malformed;
    if (const auto* value = lookup(name))
      out.append(*value);
    else if (fallback)
      out.append(*fallback);
    else
      return reference_error::unknown;
    at = close + 1;
  }
  out.append(text.substr(at));
  if (out.find("${") != std::string::npos) return reference_error::unsafe;
  return out;
}

std::optional<std::string> expand_mcp_config(std::string_view config,
                                             const std::map<std::string, std::string>& vars) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(config, doc)) return std::nullopt;
  auto servers = doc.FindMember("mcpServers");
  if (servers == doc.MemberEnd() || !servers->value.IsObject()) return std::nullopt;
  variable_lookup lookup = [&](std::string_view name) -> const std::string* {
    auto it = vars.find(std::string{name});
    return it == vars.end() ? nullptr : &it->second;
  };
  auto& alloc = doc.GetAllocator();
  for (auto& server : servers->value.GetObject()) {
    if (!server.value.IsObject()) return std::nullopt;
    auto type = server.value.FindMember("type");
    bool stdio = type == server.value.MemberEnd() ||
                 (type->value.IsString() && std::string_view{type->value.GetString()} == "stdio");
    auto field = server.value.FindMember(stdio ? "env" : "headers");
    if (field != server.value.MemberEnd() && !expand_members(field->value, lookup, alloc))
      return std::nullopt;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  doc.Accept(w);
  std::string out{buf.GetString(), buf.GetSize()};
  if (out.find("${") != std::string::npos) return std::nullopt;
  return out;
}

}  // namespace caa::claude
