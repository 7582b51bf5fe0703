#include "storage/postgres/pg_text.hpp"
#include "config/json_parse.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"

#include <rapidjson/document.h>

#include <array>
#include <charconv>
#include <cmath>

namespace caa::storage {

namespace {

constexpr std::string_view replacement_escape = "\\ufffd";
constexpr std::string_view replacement_utf8 = "\xEF\xBF\xBD";

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// The code unit of the `\uXXXX` escape at `pos`, or -1 when there is none.
int escape_unit(std::string_view s, std::size_t pos) noexcept {
  if (pos + 6 > s.size() || s[pos] != '\\' || s[pos + 1] != 'u') return -1;
  int unit = 0;
  for (std::size_t i = pos + 2; i < pos + 6; ++i) {
    if (!is_hex(s[i])) return -1;
    auto c = s[i];
    unit = unit * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return unit;
}

bool is_high_surrogate(int unit) noexcept {
  return unit >= 0xD800 && unit <= 0xDBFF;
}

bool is_low_surrogate(int unit) noexcept {
  return unit >= 0xDC00 && unit <= 0xDFFF;
}

bool is_continuation(unsigned char c) noexcept {
  return (c & 0xC0) == 0x80;
}

/// The length of the valid UTF-8 sequence starting at `pos` (a byte >= 0x80), or 0.
std::size_t utf8_length(std::string_view s, std::size_t pos) noexcept {
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[pos + i]); };
  auto lead = at(0);
  std::size_t len = lead >= 0xC2 && lead <= 0xDF   ? 2
                    : lead >= 0xE0 && lead <= 0xEF ? 3
                    : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                   : 0;
  if (len == 0 || pos + len > s.size()) return 0;
  for (std::size_t i = 1; i < len; ++i)
    if (!is_continuation(at(i))) return 0;
  auto second = at(1);
  if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
  if (lead == 0xED && second > 0x9F) return 0;  // UTF-16 surrogate
  if (lead == 0xF0 && second < 0x90) return 0;  // overlong
  if (lead == 0xF4 && second > 0x8F) return 0;  // beyond U+10FFFF
  return len;
}

/// Copies the escape at `pos` into `out`, repaired; returns its length in `s`.
std::size_t copy_escape(std::string_view s, std::size_t pos, std::string& out) {
  auto unit = escape_unit(s, pos);
  if (unit < 0) {  // \" \\ \n ... (or a malformed escape, which jsonb reports)
    out.append(s.substr(pos, 2));
    return std::min<std::size_t>(2, s.size() - pos);
  }
  if (is_high_surrogate(unit) && is_low_surrogate(escape_unit(s, pos + 6))) {
    out.append(s.substr(pos, 12));
    return 12;
  }
  if (unit == 0 || is_high_surrogate(unit) || is_low_surrogate(unit))
    out.append(replacement_escape);
  else
    out.append(s.substr(pos, 6));
  return 6;
}

void append_control_escape(unsigned char c, std::string& out) {
  static constexpr char digits[] = "0123456789abcdef";
  if (c == 0) {
    out.append(replacement_escape);
    return;
  }
  out.append("\\u00");
  out.push_back(digits[c >> 4]);
  out.push_back(digits[c & 0xF]);
}

}  // namespace

pg_array_builder::pg_array_builder(std::size_t bytes) {
  out_.reserve(bytes + bytes / 16 + 2);
  out_.push_back('{');
}

void pg_array_builder::add(std::string_view element) {
  if (!first_) out_.push_back(',');
  first_ = false;
  out_.push_back('"');
  // Runs without `"` or `\` are copied whole; each of those two gets a backslash.
  std::size_t from = 0;
  for (std::size_t at = 0; at < element.size(); ++at) {
    char c = element[at];
    if (c != '"' && c != '\\') continue;
    out_.append(element.substr(from, at - from));
    out_.push_back('\\');
    from = at;
  }
  out_.append(element.substr(from));
  out_.push_back('"');
}

std::string pg_array_builder::finish() && {
  out_.push_back('}');
  return std::move(out_);
}

std::string pg_array_literal(const std::vector<std::string>& elements) {
  std::size_t bytes = 0;
  for (const auto& e : elements) bytes += e.size() + 3;
  pg_array_builder b{bytes};
  for (const auto& e : elements) b.add(e);
  return std::move(b).finish();
}

std::string jsonb_safe(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  append_jsonb_safe(json, out);
  return out;
}

void append_jsonb_safe(std::string_view json, std::string& out) {
  bool in_string = false;
  std::size_t i = 0;
  while (i < json.size()) {
    // The plain bytes (printable ASCII but `"` and `\`) mean the same in and out of strings:
    // they are copied as one run.
    auto run = i;
    while (run < json.size()) {
      auto b = static_cast<unsigned char>(json[run]);
      if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
      ++run;
    }
    out.append(json.substr(i, run - i));
    i = run;
    if (i == json.size()) break;
    auto c = static_cast<unsigned char>(json[i]);
    if (c == '\\' && in_string) {
      i += copy_escape(json, i, out);
    } else if (c >= 0x80) {
      auto len = utf8_length(json, i);
      out.append(len == 0 ? replacement_utf8 : json.substr(i, len));
      i += len == 0 ? 1 : len;
    } else {
      if (c == '"') in_string = !in_string;
      if (c < 0x20 && in_string)
        append_control_escape(c, out);
      else
        out.push_back(static_cast<char>(c));
      ++i;
    }
  }
}

std::string pg_double(double x) {
  if (!std::isfinite(x)) return "0";
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  return std::string{buf.data(), end};
}

db_value uuid_param(std::string_view id) {
  if (!caa::is_uuid(id)) return caf::none;
  return std::string{id};
}

std::optional<std::string> opt_text(const db_value& v) {
  return v ? std::optional<std::string>{*v} : std::nullopt;
}

caf::expected<int64_t> to_int64(const db_value& v) {
  int64_t out = 0;
  if (!v) return make_error(errc::internal, "unexpected NULL integer");
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc{} || end != v->data() + v->size())
    return make_error(errc::internal, "not an integer: " + *v);
  return out;
}

caf::expected<double> to_double(const db_value& v) {
  double out = 0;
  if (!v) return make_error(errc::internal, "unexpected NULL number");
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc{} || end != v->data() + v->size())
    return make_error(errc::internal, "not a number: " + *v);
  return out;
}

caf::expected<bool> to_bool(const db_value& v) {
  if (v && *v == "t") return true;
  if (v && *v == "f") return false;
  return make_error(errc::internal, "not a boolean");
}

caf::expected<std::vector<std::string>> json_string_array(std::string_view json) {
  rapidjson::Document doc;
  if (json::parse_value(json, doc) != json::parse_failure::none || !doc.IsArray())
    return make_error(errc::internal, "not a JSON array of strings");
  std::vector<std::string> out;
  out.reserve(doc.Size());
  for (const auto& v : doc.GetArray()) {
    if (!v.IsString()) return make_error(errc::internal, "not a JSON array of strings");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

}  // namespace caa::storage
