// libFuzzer target for what the service reads from the CLI's stdout and re-serialises:
// `claude::classify` (one stdout line) and `claude::compact_json`, `sanitize_utf8`,
// `is_valid_utf8` (transport/claude). Properties:
//   * classify never throws, keeps the line untouched in `raw`, calls a line that does not start
//     with '{' (after spaces and tabs) `other`, and never calls `invalid` a line that the JSON
//     entry point accepts; its member spans are each one JSON value of a member the document
//     has, and its depth is the line's nesting depth;
//   * compact_json either refuses with an error or returns valid UTF-8 without a line break,
//     nested at most `max_depth` deep, which compact_json returns unchanged (a fixed point) and
//     which means the same document as the input when the JSON entry point parses both;
//   * sanitize_utf8 returns valid UTF-8, and the input itself when it was valid.
#include "config/json_parse.hpp"
#include "transport/claude/control.hpp"
#include "transport/claude/json_text.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string serialised(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace caa::claude;
  if (size < 1) return 0;
  // First byte: the depth limit of compact_json (1..63, or the default 128).
  std::size_t max_depth = (data[0] & 0x3f) == 0 ? default_max_json_depth : (data[0] & 0x3f);
  std::string_view line{reinterpret_cast<const char*>(data) + 1, size - 1};

  // -- classify
  cli_message msg;
  try {
    msg = classify(std::string{line});
  } catch (...) {
    check(false);
  }
  check(msg.raw == line);
  check(!to_string(msg.kind).empty());
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '{') check(msg.kind == message_kind::other);
  rapidjson::Document doc;
  bool entry_accepts = caa::json::parse_value(line, doc) == caa::json::parse_failure::none;
  if (entry_accepts && first != std::string_view::npos && line[first] == '{')
    check(msg.kind != message_kind::invalid);
  // Each recorded member span is one JSON value as the line has it, and the same value the
  // document holds under that name (the event mapper copies these spans instead of parsing).
  if (entry_accepts && doc.IsObject() && line[first] == '{') {
    check(msg.depth == caa::json::nesting_depth(line, std::numeric_limits<std::size_t>::max()));
    for (const auto& m : msg.members) {
      check(m.begin <= m.end && m.end <= line.size());
      rapidjson::Document value;
      check(caa::json::parse_value(line.substr(m.begin, m.end - m.begin), value) ==
            caa::json::parse_failure::none);
      const rapidjson::Value* owner = &doc;
      if (m.in_message) {
        const rapidjson::Value* message = caa::json::member(doc, "message");
        check(message != nullptr && message->IsObject());
        owner = message;
      }
      rapidjson::Value name{m.key.data(), static_cast<rapidjson::SizeType>(m.key.size())};
      check(owner->HasMember(name));
    }
  }

  // -- compact_json
  auto compact = compact_json(line, max_depth);
  if (!compact) {
    check(compact.error() != caf::none);
  } else {
    const std::string& out = *compact;
    check(out.find('\n') == std::string::npos && out.find('\r') == std::string::npos);
    check(is_valid_utf8(out));
    check(caa::json::nesting_depth(out, std::numeric_limits<std::size_t>::max()) <= max_depth);
    auto again = compact_json(out, max_depth);
    check(again && *again == out);
    rapidjson::Document a;
    rapidjson::Document b;
    if (caa::json::parse_value(line, a, max_depth) == caa::json::parse_failure::none &&
        caa::json::parse_value(out, b, max_depth) == caa::json::parse_failure::none)
      check(serialised(a) == serialised(b));
  }

  // -- UTF-8
  auto clean = sanitize_utf8(line);
  check(is_valid_utf8(clean));
  if (is_valid_utf8(line))
    check(clean == line);
  else
    check(clean != line);
  return 0;
}
