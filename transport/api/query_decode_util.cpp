#include "transport/api/query_decode.hpp"

#include <algorithm>

namespace caa::api::detail {

bool has_duplicate_keys(const rapidjson::Value& v) {
  if (v.IsArray())
    return std::any_of(v.Begin(), v.End(), [](const auto& x) { return has_duplicate_keys(x); });
  if (!v.IsObject()) return false;
  std::vector<std::string_view> names;
  names.reserve(v.MemberCount());
  for (auto& m : v.GetObject()) {
    if (has_duplicate_keys(m.value)) return true;
    names.push_back(text_of(m.name));
  }
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

bool has_control(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7F;
  });
}

bool is_segment(std::string_view s, std::size_t max) noexcept {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

void add_env_errors(const std::vector<claude::field_error>& errs, const std::string& path,
                    decode_context& ctx) {
  for (const auto& e : errs) {
    std::string_view field = e.field;
    if (field.substr(0, 3) == "env")
      field.remove_prefix(3);  // "" or ".NAME" (validate_env only names well-formed variables)
    ctx.fail(path + std::string{field}, e.message);
  }
}

std::map<std::string, std::string> read_env(const rapidjson::Value& v, const std::string& path,
                                            decode_context& ctx) {
  std::map<std::string, std::string> env;
  if (!v.IsObject()) {
    ctx.fail(path, "must be an object of string values");
    return env;
  }
  for (auto& m : v.GetObject()) {
    if (!m.value.IsString()) {
      ctx.fail(path, "must be an object of string values");
      return {};
    }
    env.emplace(std::string{text_of(m.name)}, std::string{text_of(m.value)});
  }
  auto errs = claude::validate_env(env);
  if (!errs.empty()) {
    add_env_errors(errs, path, ctx);
    return {};
  }
  return env;
}

std::vector<std::string> read_tools(const rapidjson::Value& v, const std::string& path,
                                    bool forbid_agents, decode_context& ctx) {
  std::vector<std::string> out;
  if (!v.IsArray() || v.Size() > turn_limits::tools) {
    ctx.fail(path,
             "must be a list of at most " + std::to_string(turn_limits::tools) + " tool names");
    return out;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    auto item = path + "[" + std::to_string(i) + "]";
    if (!v[i].IsString() || !is_tool_name(text_of(v[i]))) {
      ctx.fail(item, "must be a tool name such as Read, mcp__server__tool or Bash(npm test:*)");
      continue;
    }
    auto name = text_of(v[i]);
    auto base = name.substr(0, name.find('('));
    if (forbid_agents && (base == "Task" || base == "Agent")) {
      ctx.fail(item, "subagents may not use Task or Agent");
      continue;
    }
    out.emplace_back(name);
  }
  return out;
}

}  // namespace caa::api::detail
