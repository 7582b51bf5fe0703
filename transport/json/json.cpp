#include "transport/json/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <unordered_set>

namespace caa::json {

namespace {

/// Whether every number in `v` is finite (RapidJSON turns 1e400 into infinity).
bool all_finite(const rapidjson::Value& v) {
  if (v.IsDouble()) return std::isfinite(v.GetDouble());
  if (v.IsArray()) {
    for (auto& x : v.GetArray())
      if (!all_finite(x)) return false;
  } else if (v.IsObject()) {
    for (auto& m : v.GetObject())
      if (!all_finite(m.value)) return false;
  }
  return true;
}

}  // namespace

bool parse_object(std::string_view body, rapidjson::Document& out, std::string& why) {
  if (body.substr(0, 3) == "\xEF\xBB\xBF") {
    why = "invalid JSON: byte order mark";
    return false;
  }
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  switch (parse_value(body, out, max_depth, /*strict_utf8=*/true, &code)) {
    case parse_failure::too_deep:
      why = "JSON nesting is too deep";
      return false;
    case parse_failure::syntax:
      why = std::string{"invalid JSON: "} + rapidjson::GetParseError_En(code);
      return false;
    default:
      break;
  }
  if (!all_finite(out)) {
    why = "invalid JSON: number out of range";
    return false;
  }
  if (!out.IsObject()) {
    why = "the body must be a JSON object";
    return false;
  }
  std::unordered_set<std::string_view> seen;
  for (auto& m : out.GetObject()) {
    if (!seen.emplace(m.name.GetString(), m.name.GetStringLength()).second) {
      why = "duplicate key in JSON object";
      return false;
    }
  }
  return true;
}

const rapidjson::Value* member(const rapidjson::Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  for (auto& m : v.GetObject())
    if (std::string_view{m.name.GetString(), m.name.GetStringLength()} == name) return &m.value;
  return nullptr;
}

const rapidjson::Value* non_null_member(const rapidjson::Value& v, std::string_view name) {
  auto* m = member(v, name);
  return m != nullptr && !m->IsNull() ? m : nullptr;
}

std::string string_member(const rapidjson::Value& v, std::string_view name) {
  auto* m = member(v, name);
  return m != nullptr && m->IsString() ? std::string{m->GetString(), m->GetStringLength()}
                                       : std::string{};
}

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string to_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace caa::json
