#pragma once

#include "config/settings.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Strict parsers and checks for configuration values; none of them throws.
namespace caa::config {

/// A decimal integer in [lo, hi]: digits only (no sign, blanks or trailing junk).
[[nodiscard]] std::optional<uint64_t> parse_uint(std::string_view text, uint64_t lo,
                                                 uint64_t hi) noexcept;

/// Seconds as a decimal number ("30", "0.5"): finite, > 0 and <= `max`.
[[nodiscard]] std::optional<double> parse_seconds(std::string_view text, double max) noexcept;

/// true/false/1/0/yes/no, case-insensitive.
[[nodiscard]] std::optional<bool> parse_bool(std::string_view text) noexcept;

/// debug/info/warn/error, case-insensitive.
[[nodiscard]] std::optional<log_level> parse_log_level(std::string_view text) noexcept;

/// The name of a level as written in config and logs ("warn").
[[nodiscard]] std::string_view to_string(log_level x) noexcept;

/// Splits a comma list and trims blanks around items; "" gives an empty list, an empty item
/// ("a,,b") gives nullopt.
[[nodiscard]] std::optional<std::vector<std::string>> split_list(std::string_view text);

/// A host name (RFC 1123 labels), an IPv4 address, or an IPv6 address (bracketed if
/// `bracketed_v6`).
[[nodiscard]] bool is_host(std::string_view text, bool bracketed_v6) noexcept;

/// An IPv4/IPv6 address, optionally with a prefix length in range ("10.0.0.0/8", "::1").
[[nodiscard]] bool is_cidr(std::string_view text) noexcept;

/// A browser origin `scheme://host[:port]` (http or https, no path); returns it lower-cased.
[[nodiscard]] std::optional<std::string> parse_origin(std::string_view text);

/// An absolute path without "." or ".." segments, control characters or a trailing '/'.
[[nodiscard]] bool is_absolute_path(std::string_view text) noexcept;

/// An http(s) URL with a valid host, optional port and path, and no credentials.
[[nodiscard]] bool is_http_url(std::string_view text) noexcept;

/// A `postgresql://` or `postgres://` URL without blanks or control characters.
[[nodiscard]] bool is_postgres_url(std::string_view text) noexcept;

/// A `redis://[[user]:password@]host[:port][/db]` URL.
[[nodiscard]] bool is_redis_url(std::string_view text) noexcept;

/// At least `min_len` characters of [A-Za-z0-9_-].
[[nodiscard]] bool is_key_text(std::string_view text, std::size_t min_len) noexcept;

/// Only printable ASCII characters other than space (tokens, ids).
[[nodiscard]] bool is_printable_token(std::string_view text) noexcept;

/// `url` with the password of its user info and its whole query replaced by "***".
[[nodiscard]] std::string mask_url(std::string_view url);

/// `text` in double quotes for an error message: escaped, at most 64 bytes.
[[nodiscard]] std::string quote(std::string_view text);

}  // namespace caa::config
