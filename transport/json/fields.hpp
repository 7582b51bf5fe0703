#pragma once

// The one validation framework of request bodies: `field_errors` collects every invalid field
// of a request (so a 422 lists them all) under one unknown-member rule, the `read_*` functions
// check one JSON value against a type and its limits, and `field_reader` applies them to the
// members of one object. Field names in errors are fixed texts or names that passed a check: a
// malformed or long client-chosen name is never echoed.

#include "config/error_values.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::json {

/// Whether a client-chosen member name may be echoed in an error: `[A-Za-z0-9_]{1,64}`.
bool is_echoable_name(std::string_view name) noexcept;

/// The field name of member `name` of the object at `path` ("" for the top level).
std::string member_path(std::string_view path, std::string_view name);

/// The invalid fields of one request, in the order they were found.
class field_errors {
 public:
  /// Records that `field` is invalid; `field` and `message` are fixed texts or checked names.
  void fail(std::string field, std::string message);
  /// Records the unknown member `name` of the object at `path` ("" for the top level). The name
  /// is echoed only when `is_echoable_name`; otherwise the error names `path` (or "body").
  void unknown_member(std::string_view name, std::string_view path);
  /// Records every member of object `obj` (at `path`) whose name is not in `known`.
  void reject_unknown(const rapidjson::Value& obj, std::string_view path,
                      std::initializer_list<std::string_view> known);

  /// Whether no error was found.
  bool ok() const noexcept { return errors_.empty(); }
  /// How many errors were found.
  std::size_t count() const noexcept { return errors_.size(); }
  /// Every error found so far.
  const std::vector<field_error>& list() const noexcept { return errors_; }
  /// Moves the errors out.
  std::vector<field_error> take() noexcept { return std::move(errors_); }

 private:
  std::vector<field_error> errors_;
};

/// A string of `min_len`..`max_len` code points without NUL; else records an error at `field`.
std::optional<std::string> read_string(const rapidjson::Value& v, const std::string& field,
                                       std::size_t min_len, std::size_t max_len,
                                       field_errors& errors);
/// A list of at most `max_items` non-empty strings of at most `max_len` bytes.
std::optional<std::vector<std::string>> read_string_list(const rapidjson::Value& v,
                                                         const std::string& field,
                                                         std::size_t max_items, std::size_t max_len,
                                                         field_errors& errors);
/// An integer in [lo, hi].
std::optional<long long> read_integer(const rapidjson::Value& v, const std::string& field,
                                      long long lo, long long hi, field_errors& errors);
/// A finite number in (lo, hi] when `lo_exclusive`, else in [lo, hi].
std::optional<double> read_number(const rapidjson::Value& v, const std::string& field, double lo,
                                  double hi, bool lo_exclusive, field_errors& errors);
/// A boolean.
std::optional<bool> read_boolean(const rapidjson::Value& v, const std::string& field,
                                 field_errors& errors);
/// A canonical UUID (as written).
std::optional<std::string> read_uuid(const rapidjson::Value& v, const std::string& field,
                                     field_errors& errors);

/// Reads typed members of one JSON object into a `field_errors`; a JSON null is absent.
class field_reader {
 public:
  /// Reads members of `obj` (which, like `errors`, must outlive the reader); `prefix` is the
  /// object's path ("" for the top level), so errors name "prefix.member".
  field_reader(const rapidjson::Value& obj, field_errors& errors, std::string prefix = {});

  /// A string member (see `read_string`); `required` records an error when it is absent.
  std::optional<std::string> string(const char* name, bool required, std::size_t min_len = 0,
                                    std::size_t max_len = 10'000);
  /// A list of strings (see `read_string_list`).
  std::optional<std::vector<std::string>> string_list(const char* name, bool required,
                                                      std::size_t max_items = 100,
                                                      std::size_t max_len = 200);
  /// An integer member in [lo, hi].
  std::optional<long long> integer(const char* name, bool required, long long lo, long long hi);
  /// A number member in (lo, hi] when `lo_exclusive`, else [lo, hi].
  std::optional<double> number(const char* name, bool required, double lo, double hi,
                               bool lo_exclusive = false);
  /// A boolean member.
  std::optional<bool> boolean(const char* name, bool required);
  /// A member that must be a canonical UUID.
  std::optional<std::string> uuid(const char* name, bool required);
  /// Records every member whose name is not in `known` (see `field_errors::unknown_member`).
  void reject_unknown(std::initializer_list<std::string_view> known);
  /// The field name of member `name` of this object.
  std::string path(std::string_view name) const { return member_path(prefix_, name); }

 private:
  const rapidjson::Value* find(const char* name, bool required);

  const rapidjson::Value& obj_;
  field_errors& errors_;
  std::string prefix_;
};

}  // namespace caa::json
