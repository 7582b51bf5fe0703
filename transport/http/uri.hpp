#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caa::http {

/// How `percent_decode` treats its input.
enum class decode_mode : uint8_t {
  path_segment,     ///< one path segment: '+' stays '+'; an encoded '/' is refused
  query_component,  ///< a query key or value: '+' means a space
};

/// Decodes the %XX escapes of `in`. Returns nothing for a malformed escape, a NUL (raw or
/// encoded), or an encoded '/' in a path segment.
std::optional<std::string> percent_decode(std::string_view in, decode_mode mode);

/// The value of the first `name=value` pair of a raw query string, decoded; nothing when absent
/// or malformed. A key without '=' has the empty value.
std::optional<std::string> find_query_param(std::string_view query, std::string_view name);

}  // namespace caa::http
