#include "transport/json/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "config/uuid.hpp"

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

field_reader::field_reader(const rapidjson::Value& obj, std::string prefix)
    : obj_(obj), prefix_(std::move(prefix)) {}

std::string field_reader::path(const char* name) const {
  return prefix_.empty() ? std::string{name} : prefix_ + "." + name;
}

void field_reader::add_error(const std::string& name, std::string message) {
  errors_.push_back({prefix_.empty() ? name : prefix_ + "." + name, std::move(message)});
}

const rapidjson::Value* field_reader::find(const char* name, bool required) {
  if (!obj_.IsObject()) return nullptr;
  auto* v = non_null_member(obj_, name);
  if (v == nullptr && required) errors_.push_back({path(name), "is required"});
  return v;
}

std::optional<std::string> field_reader::string(const char* name, bool required,
                                                std::size_t min_len, std::size_t max_len) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    errors_.push_back({path(name), "must be a string"});
    return std::nullopt;
  }
  std::string_view s{v->GetString(), v->GetStringLength()};
  auto n = utf8_length(s);
  if (n < min_len || n > max_len) {
    errors_.push_back({path(name), "must have between " + std::to_string(min_len) + " and " +
                                       std::to_string(max_len) + " characters"});
    return std::nullopt;
  }
  if (s.find('\0') != std::string_view::npos) {
    errors_.push_back({path(name), "must not contain NUL characters"});
    return std::nullopt;
  }
  return std::string{s};
}

std::optional<std::vector<std::string>> field_reader::string_list(const char* name, bool required,
                                                                  std::size_t max_items,
                                                                  std::size_t max_len) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray() || v->Size() > max_items) {
    errors_.push_back(
        {path(name), "must be a list of at most " + std::to_string(max_items) + " strings"});
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (auto& item : v->GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0 || item.GetStringLength() > max_len) {
      errors_.push_back({path(name), "every entry must be a non-empty string of at most " +
                                         std::to_string(max_len) + " characters"});
      return std::nullopt;
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

std::optional<long long> field_reader::integer(const char* name, bool required, long long lo,
                                               long long hi) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsInt64() || v->GetInt64() < lo || v->GetInt64() > hi) {
    errors_.push_back({path(name), "must be an integer between " + std::to_string(lo) + " and " +
                                       std::to_string(hi)});
    return std::nullopt;
  }
  return v->GetInt64();
}

std::optional<double> field_reader::number(const char* name, bool required, double lo, double hi,
                                           bool lo_exclusive) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsNumber() || !std::isfinite(v->GetDouble()) || v->GetDouble() > hi ||
      (lo_exclusive ? v->GetDouble() <= lo : v->GetDouble() < lo)) {
    errors_.push_back({path(name), std::string{"must be a number "} +
                                       (lo_exclusive ? "greater than " : "of at least ") +
                                       std::to_string(lo)});
    return std::nullopt;
  }
  return v->GetDouble();
}

std::optional<bool> field_reader::boolean(const char* name, bool required) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsBool()) {
    errors_.push_back({path(name), "must be true or false"});
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::string> field_reader::uuid(const char* name, bool required) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString() || !caa::is_uuid({v->GetString(), v->GetStringLength()})) {
    errors_.push_back({path(name), "must be a UUID"});
    return std::nullopt;
  }
  return std::string{v->GetString(), v->GetStringLength()};
}

void field_reader::reject_unknown(const std::set<std::string_view>& known) {
  if (!obj_.IsObject()) return;
  for (auto& m : obj_.GetObject()) {
    std::string_view n{m.name.GetString(), m.name.GetStringLength()};
    if (known.count(n) == 0)
      errors_.push_back({path(std::string{n}.c_str()), "is not a known field"});
  }
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
