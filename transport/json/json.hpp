#pragma once

#include "config/json_parse.hpp"
#include "transport/http/error_catalog.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace caa::json {

/// One invalid field of a request, as listed in a 422 `details.errors`.
using field_error = caa::field_error;

/// The deepest nesting a request body may have.
constexpr std::size_t max_depth = 64;

/// Parses `body` as one JSON object: UTF-8 validated, depth <= `max_depth`, no duplicate keys at
/// the top level, no trailing garbage. On failure returns false and sets `why` (a public text).
bool parse_object(std::string_view body, rapidjson::Document& out, std::string& why);

/// Reads typed fields of a JSON object and collects every problem, so a 422 lists them all.
class field_reader {
 public:
  /// Reads fields of `obj` (which must outlive the reader); `prefix` names nested objects.
  explicit field_reader(const rapidjson::Value& obj, std::string prefix = {});

  /// A string field; `required` adds an error when absent; length in code points is bounded.
  std::optional<std::string> string(const char* name, bool required, std::size_t min_len = 0,
                                    std::size_t max_len = 10'000);
  /// A list of strings, each of at most `max_len` characters and at most `max_items` entries.
  std::optional<std::vector<std::string>> string_list(const char* name, bool required,
                                                      std::size_t max_items = 100,
                                                      std::size_t max_len = 200);
  /// An integer field in [lo, hi].
  std::optional<long long> integer(const char* name, bool required, long long lo, long long hi);
  /// A number field in (lo, hi] when `lo_exclusive`, else [lo, hi].
  std::optional<double> number(const char* name, bool required, double lo, double hi,
                               bool lo_exclusive = false);
  /// A boolean field.
  std::optional<bool> boolean(const char* name, bool required);
  /// A field that must be a canonical UUID.
  std::optional<std::string> uuid(const char* name, bool required);
  /// Adds an error for every member whose name is not in `known`.
  void reject_unknown(const std::set<std::string_view>& known);
  /// Adds a custom error for field `name`.
  void add_error(const std::string& name, std::string message);

  /// Whether no error was found.
  bool ok() const noexcept { return errors_.empty(); }
  /// Every error found so far.
  const std::vector<field_error>& errors() const noexcept { return errors_; }
  /// Moves the errors out.
  std::vector<field_error> take_errors() { return std::move(errors_); }

 private:
  const rapidjson::Value* find(const char* name, bool required);
  std::string path(const char* name) const;

  const rapidjson::Value& obj_;
  std::string prefix_;
  std::vector<field_error> errors_;
};

/// Member `name` of `v`, or nullptr when `v` is not an object or has no such member (a JSON
/// null is returned as a member).
const rapidjson::Value* member(const rapidjson::Value& v, std::string_view name);

/// Member `name` of `v`, or nullptr when `v` is not an object, has no such member or it is null.
const rapidjson::Value* non_null_member(const rapidjson::Value& v, std::string_view name);

/// The string member `name` of `v`, or "" when it is absent or not a string.
std::string string_member(const rapidjson::Value& v, std::string_view name);

/// Number of Unicode code points of valid UTF-8 text `s`.
std::size_t utf8_length(std::string_view s) noexcept;

/// Serialises `v` compactly.
std::string to_string(const rapidjson::Value& v);

/// `s` as a JSON string literal with quotes.
std::string quote(std::string_view s);

}  // namespace caa::json
