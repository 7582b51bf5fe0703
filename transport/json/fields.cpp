#include "transport/json/fields.hpp"

#include "config/uuid.hpp"
#include "transport/json/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace caa::json {

namespace {

/// `x` in its shortest plain form ("0", "0.5", "1000").
std::string number_text(double x) {
  char buf[32];
  auto n = std::snprintf(buf, sizeof buf, "%.15g", x);
  return {buf, n > 0 ? static_cast<std::size_t>(n) : 0};
}

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace

bool is_echoable_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string member_path(std::string_view path, std::string_view name) {
  std::string out{path};
  if (!out.empty()) out += '.';
  out += name;
  return out;
}

void field_errors::fail(std::string field, std::string message) {
  errors_.push_back({std::move(field), std::move(message)});
}

void field_errors::unknown_member(std::string_view name, std::string_view path) {
  if (is_echoable_name(name))
    fail(member_path(path, name), "is not a known field");
  else
    fail(path.empty() ? std::string{"body"} : std::string{path},
         "contains a field that is not known");
}

void field_errors::reject_unknown(const rapidjson::Value& obj, std::string_view path,
                                  std::initializer_list<std::string_view> known) {
  if (!obj.IsObject()) return;
  for (auto& m : obj.GetObject())
    if (std::find(known.begin(), known.end(), text_of(m.name)) == known.end())
      unknown_member(text_of(m.name), path);
}

std::optional<std::string> read_string(const rapidjson::Value& v, const std::string& field,
                                       std::size_t min_len, std::size_t max_len,
                                       field_errors& errors) {
  if (!v.IsString()) {
    errors.fail(field, "must be a string");
    return std::nullopt;
  }
  auto s = text_of(v);
  auto n = utf8_length(s);
  if (n < min_len || n > max_len) {
    errors.fail(field, "must have between " + std::to_string(min_len) + " and " +
                           std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  if (s.find('\0') != std::string_view::npos) {
    errors.fail(field, "must not contain NUL characters");
    return std::nullopt;
  }
  return std::string{s};
}

std::optional<std::vector<std::string>> read_string_list(const rapidjson::Value& v,
                                                         const std::string& field,
                                                         std::size_t max_items, std::size_t max_len,
                                                         field_errors& errors) {
  if (!v.IsArray() || v.Size() > max_items) {
    errors.fail(field, "must be a list of at most " + std::to_string(max_items) + " strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (auto& item : v.GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0 || item.GetStringLength() > max_len) {
      errors.fail(field, "every entry must be a non-empty string of at most " +
                             std::to_string(max_len) + " characters");
      return std::nullopt;
    }
    out.emplace_back(text_of(item));
  }
  return out;
}

std::optional<long long> read_integer(const rapidjson::Value& v, const std::string& field,
                                      long long lo, long long hi, field_errors& errors) {
  if (!v.IsInt64() || v.GetInt64() < lo || v.GetInt64() > hi) {
    errors.fail(field,
                "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
    return std::nullopt;
  }
  return v.GetInt64();
}

std::optional<double> read_number(const rapidjson::Value& v, const std::string& field, double lo,
                                  double hi, bool lo_exclusive, field_errors& errors) {
  if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() > hi ||
      (lo_exclusive ? v.GetDouble() <= lo : v.GetDouble() < lo)) {
    errors.fail(field, lo_exclusive ? "must be a number greater than " + number_text(lo) +
                                          " and at most " + number_text(hi)
                                    : "must be a number between " + number_text(lo) + " and " +
                                          number_text(hi));
    return std::nullopt;
  }
  return v.GetDouble();
}

std::optional<bool> read_boolean(const rapidjson::Value& v, const std::string& field,
                                 field_errors& errors) {
  if (!v.IsBool()) {
    errors.fail(field, "must be true or false");
    return std::nullopt;
  }
  return v.GetBool();
}

std::optional<std::string> read_uuid(const rapidjson::Value& v, const std::string& field,
                                     field_errors& errors) {
  if (!v.IsString() || !caa::is_uuid(text_of(v))) {
    errors.fail(field, "must be a UUID");
    return std::nullopt;
  }
  return std::string{text_of(v)};
}

field_reader::field_reader(const rapidjson::Value& obj, field_errors& errors, std::string prefix)
    : obj_(obj), errors_(errors), prefix_(std::move(prefix)) {}

const rapidjson::Value* field_reader::find(const char* name, bool required) {
  if (!obj_.IsObject()) return nullptr;
  auto* v = non_null_member(obj_, name);
  if (v == nullptr && required) errors_.fail(path(name), "is required");
  return v;
}

std::optional<std::string> field_reader::string(const char* name, bool required,
                                                std::size_t min_len, std::size_t max_len) {
  auto* v = find(name, required);
  return v == nullptr ? std::nullopt : read_string(*v, path(name), min_len, max_len, errors_);
}

std::optional<std::vector<std::string>> field_reader::string_list(const char* name, bool required,
                                                                  std::size_t max_items,
                                                                  std::size_t max_len) {
  auto* v = find(name, required);
  if (v == nullptr) return std::nullopt;
  return read_string_list(*v, path(name), max_items, max_len, errors_);
}

std::optional<long long> field_reader::integer(const char* name, bool required, long long lo,
                                               long long hi) {
  auto* v = find(name, required);
  return v == nullptr ? std::nullopt : read_integer(*v, path(name), lo, hi, errors_);
}

std::optional<double> field_reader::number(const char* name, bool required, double lo, double hi,
                                           bool lo_exclusive) {
  auto* v = find(name, required);
  return v == nullptr ? std::nullopt : read_number(*v, path(name), lo, hi, lo_exclusive, errors_);
}

std::optional<bool> field_reader::boolean(const char* name, bool required) {
  auto* v = find(name, required);
  return v == nullptr ? std::nullopt : read_boolean(*v, path(name), errors_);
}

std::optional<std::string> field_reader::uuid(const char* name, bool required) {
  auto* v = find(name, required);
  return v == nullptr ? std::nullopt : read_uuid(*v, path(name), errors_);
}

void field_reader::reject_unknown(std::initializer_list<std::string_view> known) {
  errors_.reject_unknown(obj_, prefix_, known);
}

}  // namespace caa::json
