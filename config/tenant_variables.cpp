#include "config/tenant_variables.hpp"
#include "config/json_parse.hpp"

#include "config/parsers.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace caa::config {

namespace {

constexpr std::size_t max_name_bytes = 128;

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

bool is_variable_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_name_bytes || (name[0] >= '0' && name[0] <= '9'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_tenant_name(std::string_view name) noexcept {
  return name.size() <= max_name_bytes && is_printable_token(name);
}

bool is_safe_value(std::string_view value) noexcept {
  bool controls = std::any_of(value.begin(), value.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
  return value.size() <= max_variable_value_bytes && !controls &&
         value.find("${") == std::string_view::npos;
}

/// Whether the member names of `obj` are distinct (RapidJSON keeps duplicates).
bool distinct_names(const rapidjson::Value& obj) {
  std::set<std::string_view> seen;
  for (auto& m : obj.GetObject())
    if (!seen.insert(text_of(m.name)).second) return false;
  return true;
}

std::string parse_tenant(const rapidjson::Value& vars, const std::string& tenant,
                         tenant_variable_map& out) {
  auto where = "tenant " + quote(tenant);
  if (!vars.IsObject()) return where + ": must be an object of variables";
  if (!distinct_names(vars)) return where + ": a variable is named twice";
  if (vars.MemberCount() > max_variables_per_tenant)
    return where + ": at most " + std::to_string(max_variables_per_tenant) + " variables";
  for (auto& m : vars.GetObject()) {
    auto name = text_of(m.name);
    if (!is_variable_name(name))
      return where + ": variable names must match ^[A-Z_][A-Z0-9_]*$ (at most 128 bytes)";
    if (!m.value.IsString() || !is_safe_value(text_of(m.value)))
      return where + ", variable " + std::string{name} +
             ": must be a string of at most 4096 bytes without control characters or \"${\" "
             "(value not shown)";
    out.emplace(std::string{name}, secret{std::string{text_of(m.value)}});
  }
  return {};
}

}  // namespace

std::string parse_tenant_variables(std::string_view json,
                                   std::map<std::string, tenant_variable_map>& out) {
  rapidjson::Document doc;
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  switch (json::parse_value(json, doc, json::input_max_depth, false, &code)) {
    case json::parse_failure::too_deep:
      return "nested too deeply";
    case json::parse_failure::syntax:
      return std::string{"not valid JSON: "} + rapidjson::GetParseError_En(code);
    default:
      break;
  }
  if (!doc.IsObject()) return "must be a JSON object of tenants";
  if (!distinct_names(doc)) return "a tenant is named twice";
  std::map<std::string, tenant_variable_map> result;
  for (auto& m : doc.GetObject()) {
    auto tenant = text_of(m.name);
    if (!is_tenant_name(tenant))
      return "tenant names must be printable characters without blanks (at most 128)";
    auto err = parse_tenant(m.value, std::string{tenant}, result[std::string{tenant}]);
    if (!err.empty()) return err;
  }
  out = std::move(result);
  return {};
}

std::string read_tenant_variables(const std::string& path,
                                  std::map<std::string, tenant_variable_map>& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return "cannot be read";
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_tenant_variables_file_bytes) return "is larger than 1 MiB";
  }
  return parse_tenant_variables(text, out);
}

}  // namespace caa::config
