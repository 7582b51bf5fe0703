#pragma once

#include "config/json_parse.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/json/fields.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace caa::json {

/// One invalid field of a request, as listed in a 422 `details.errors`.
using field_error = caa::field_error;

/// The deepest nesting a request body may have.
constexpr std::size_t max_depth = 64;

/// Parses `body` as one JSON object: UTF-8 validated, depth <= `max_depth`, no duplicate keys at
/// the top level, no trailing garbage. On failure returns false and sets `why` (a public text).
bool parse_object(std::string_view body, rapidjson::Document& out, std::string& why);

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
