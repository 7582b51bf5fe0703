#pragma once

#include <caf/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace caa::claude {

/// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD (a copy of `s` when valid).
std::string sanitize_utf8(std::string_view s);

/// The deepest nesting `compact_json` accepts by default.
inline constexpr std::size_t default_max_json_depth = 128;

/// Re-serialises one JSON text compactly (no newline can survive), validating syntax, UTF-8
/// and nesting depth without recursion; numbers keep their exact text. Errors are
/// `errc::validation` values, never exceptions.
caf::expected<std::string> compact_json(std::string_view json,
                                        std::size_t max_depth = default_max_json_depth);

}  // namespace caa::claude
