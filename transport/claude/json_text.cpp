#include "transport/claude/json_text.hpp"

#include "config/errc.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa::claude {

namespace {

/// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 when ill-formed.
std::size_t utf8_sequence_length(std::string_view s) noexcept {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((b0 == 0xE0 && byte(1) < 0xA0) || (b0 == 0xED && byte(1) > 0x9F))
      return 0;  // overlong, or a UTF-16 surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((b0 == 0xF0 && byte(1) < 0x90) || (b0 == 0xF4 && byte(1) > 0x8F))
      return 0;  // overlong, or above U+10FFFF
    return 4;
  }
  return 0;
}

/// Forwards SAX events to a compact writer, refusing nesting deeper than `max_depth`.
struct depth_limited_writer {
  rapidjson::Writer<rapidjson::StringBuffer>& out;
  std::size_t max_depth;
  std::size_t depth = 0;

  bool Null() { return out.Null(); }
  bool Bool(bool b) { return out.Bool(b); }
  bool Int(int i) { return out.Int(i); }
  bool Uint(unsigned i) { return out.Uint(i); }
  bool Int64(int64_t i) { return out.Int64(i); }
  bool Uint64(uint64_t i) { return out.Uint64(i); }
  bool Double(double d) { return out.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return out.RawValue(s, n, rapidjson::kNumberType);
  }
  bool String(const char* s, rapidjson::SizeType n, bool c) { return out.String(s, n, c); }
  bool Key(const char* s, rapidjson::SizeType n, bool c) { return out.Key(s, n, c); }
  bool StartObject() { return ++depth <= max_depth && out.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth;
    return out.EndObject(n);
  }
  bool StartArray() { return ++depth <= max_depth && out.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth;
    return out.EndArray(n);
  }
};

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  while (!s.empty()) {
    auto n = utf8_sequence_length(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string{s};
  std::string out;
  out.reserve(s.size() + 16);
  while (!s.empty()) {
    auto n = utf8_sequence_length(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      s.remove_prefix(1);
    } else {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
  return out;
}

caf::expected<std::string> compact_json(std::string_view json, std::size_t max_depth) {
  // RapidJSON takes a NUL for the end of the text: what follows it would be dropped unseen.
  if (json.find('\0') != std::string_view::npos)
    return make_error(errc::validation, "invalid JSON: a NUL byte");
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buf};
  depth_limited_writer handler{writer, max_depth};
  rapidjson::MemoryStream stream{json.data(), json.size()};
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseIterativeFlag |
                             rapidjson::kParseValidateEncodingFlag |
                             rapidjson::kParseNumbersAsStringsFlag;
  auto res = reader.Parse<flags>(stream, handler);
  if (res.IsError()) {
    if (handler.depth > max_depth)
      return make_error(errc::validation, "JSON nested deeper than " + std::to_string(max_depth));
    return make_error(errc::validation, std::string{"invalid JSON: "} +
                                            rapidjson::GetParseError_En(res.Code()) +
                                            " at offset " + std::to_string(res.Offset()));
  }
  return std::string{buf.GetString(), buf.GetSize()};
}

}  // namespace caa::claude
