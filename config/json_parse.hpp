#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

/// The one way to parse JSON text that comes from outside the process: request bodies, WebSocket
/// frames, webhook answers, CLI stdout, MCP, transcripts, rows read back from PostgreSQL, Redis.
///
/// RapidJSON's default `Parse` recurses once per nesting level, so 250,000 `[` overflow the stack
/// of the thread that parses them; and every later walk of a document (a writer, a copy, our own
/// visitors) recurses too. This entry point counts the nesting first (a loop, no recursion),
/// refuses text deeper than the limit, and then parses with the iterative parser.
namespace caa::json {

/// The deepest nesting accepted from outside unless a caller asks for less. Deep enough for any
/// tool input or transcript entry the CLI writes, shallow enough that recursive walks of the
/// parsed document stay a few kilobytes of stack.
constexpr std::size_t input_max_depth = 128;

/// Nesting depth of the JSON text `text` (brackets outside strings); stops counting at `limit`.
std::size_t nesting_depth(std::string_view text, std::size_t limit) noexcept;

/// Why a parse failed.
enum class parse_failure { none, too_deep, syntax, not_object };

/// Parses `text` (one JSON value, nothing but whitespace after it) into `out` without recursion;
/// text nested deeper than `max_depth` is refused before parsing; `strict_utf8` also refuses
/// invalid UTF-8 (request bodies). Returns `parse_failure::none` on success; on failure `out` is
/// null and `error` (when given) names RapidJSON's reason.
parse_failure parse_value(std::string_view text, rapidjson::Document& out,
                          std::size_t max_depth = input_max_depth, bool strict_utf8 = false,
                          rapidjson::ParseErrorCode* error = nullptr);

/// `parse_value`, plus: the value must be an object.
parse_failure parse_object_value(std::string_view text, rapidjson::Document& out,
                                 std::size_t max_depth = input_max_depth);

/// Whether `parse_object_value` succeeded: the common "an object or nothing" use.
inline bool parse_untrusted_object(std::string_view text, rapidjson::Document& out,
                                   std::size_t max_depth = input_max_depth) {
  return parse_object_value(text, out, max_depth) == parse_failure::none;
}

}  // namespace caa::json
