#include "config/json_parse.hpp"

namespace caa::json {

std::size_t nesting_depth(std::string_view text, std::size_t limit) noexcept {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > deepest && (deepest = depth) >= limit) return deepest;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

parse_failure parse_value(std::string_view text, rapidjson::Document& out, std::size_t max_depth,
                          bool strict_utf8, rapidjson::ParseErrorCode* error) {
  // A raw NUL is never valid JSON, and RapidJSON takes it for the end of the text: without this
  // check `{"a":1}\0{"b":2}` would parse as its first half (two readers, two meanings).
  if (text.find('\0') != std::string_view::npos) {
    if (error != nullptr) *error = rapidjson::kParseErrorDocumentRootNotSingular;
    out.SetNull();
    return parse_failure::syntax;
  }
  // The count is a superset of the parser's view (it also counts brackets of invalid text), so
  // nothing deeper than `max_depth` ever reaches the parser.
  if (nesting_depth(text, max_depth + 1) > max_depth) {
    out.SetNull();
    return parse_failure::too_deep;
  }
  // Without kParseStopWhenDoneFlag, anything but whitespace after the value is an error.
  constexpr unsigned iterative = rapidjson::kParseIterativeFlag;
  constexpr unsigned validated = iterative | rapidjson::kParseValidateEncodingFlag;
  if (strict_utf8)
    out.Parse<validated>(text.data(), text.size());
  else
    out.Parse<iterative>(text.data(), text.size());
  if (out.HasParseError()) {
    if (error != nullptr) *error = out.GetParseError();
    out.SetNull();
    return parse_failure::syntax;
  }
  return parse_failure::none;
}

parse_failure parse_object_value(std::string_view text, rapidjson::Document& out,
                                 std::size_t max_depth) {
  auto r = parse_value(text, out, max_depth);
  if (r == parse_failure::none && !out.IsObject()) return parse_failure::not_object;
  return r;
}

}  // namespace caa::json
