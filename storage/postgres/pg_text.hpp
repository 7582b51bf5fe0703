#pragma once

// Text encodings between our values and PostgreSQL's text format: array literals for array
// parameters (`unnest($1::text[])`), JSON that jsonb accepts, and the parsing of result values.
// Pure functions, no I/O.

#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// Builds a one-dimensional PostgreSQL array literal, e.g. {"a","b \"c\""}: every element is
/// double-quoted with `"` and `\` backslash-escaped, so any text (commas, braces, spaces, the word
/// NULL, empty strings, UTF-8) round-trips. There is no way to add NULL.
class pg_array_builder {
 public:
  /// Reserves room for about `bytes` bytes of element text.
  explicit pg_array_builder(std::size_t bytes = 0);

  /// Appends one element.
  void add(std::string_view element);

  /// The literal; the builder is spent.
  std::string finish() &&;

 private:
  std::string out_;
  bool first_ = true;
};

/// The array literal of `elements` (see `pg_array_builder`).
std::string pg_array_literal(const std::vector<std::string>& elements);

/// `json` made acceptable to jsonb without changing what it means where that is possible:
/// `\u0000` and unpaired surrogate escapes become `\ufffd`, raw control characters inside strings
/// are escaped (NUL as `\ufffd`), and invalid UTF-8 bytes become U+FFFD. Valid JSON stays valid.
std::string jsonb_safe(std::string_view json);

/// Appends `jsonb_safe(json)` to `out`.
void append_jsonb_safe(std::string_view json, std::string& out);

/// The shortest text that reads back as `x` exactly; 0 for NaN and infinities.
std::string pg_double(double x);

/// A uuid parameter: `id` itself, or NULL (which matches nothing) when it is not a UUID.
db_value uuid_param(std::string_view id);

/// The optional text of a nullable value.
std::optional<std::string> opt_text(const db_value& v);

/// The integer of a non-NULL value. Errors: internal (NULL or not an integer).
caf::expected<int64_t> to_int64(const db_value& v);

/// The floating-point number of a non-NULL value. Errors: internal.
caf::expected<double> to_double(const db_value& v);

/// PostgreSQL's boolean text ("t" or "f") of a non-NULL value. Errors: internal.
caf::expected<bool> to_bool(const db_value& v);

/// The strings of a JSON array of strings, e.g. ["a","b"]. Errors: internal.
caf::expected<std::vector<std::string>> json_string_array(std::string_view json);

}  // namespace caa::storage
