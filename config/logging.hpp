#pragma once

#include "config/settings.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

/// JSON-lines logging with typed, allow-listed fields. Every line is one JSON object:
/// `{"ts":"2026-11-26T06:47:51.123Z","level":"info","msg":"...",<fields>}`. All text is
/// JSON-escaped (CR/LF cannot start a forged line), invalid UTF-8 becomes U+FFFD, and long
/// text is truncated. There is no free-form map, and `caa::secret` converts to nothing here.
namespace caa::log {

/// The only fields a line may carry. Build it in the call, in declaration order:
/// `log::info("request", {.method = "GET", .route = "/v1/sessions/{id}", .status = 200});`
/// The views must outlive the call only.
struct log_fields {
  std::optional<std::string_view> component{};       ///< subsystem, e.g. "http", "redis"
  std::optional<std::string_view> correlation_id{};  ///< the request id
  std::optional<std::string_view> method{};          ///< HTTP method
  std::optional<std::string_view> route{};           ///< route *template*, never the raw target
  std::optional<unsigned> status{};                  ///< HTTP status
  std::optional<double> duration_ms{};               ///< elapsed milliseconds
  std::optional<std::string_view> tenant_id{};       ///< tenant
  std::optional<std::string_view> key_id{};          ///< public key id (never the key)
  std::optional<std::string_view> session_id{};      ///< agent session
  std::optional<std::string_view> client_ip{};       ///< peer or forwarded client address
  std::optional<std::string_view> error_code{};      ///< `errc` name
  std::optional<std::string_view> detail{};          ///< free text, truncated to 512 bytes
  std::optional<uint64_t> count{};                   ///< a generic counter (items, events)
  std::optional<uint64_t> bytes{};                   ///< a size in bytes
  std::optional<uint64_t> attempt{};                 ///< retry attempt number
  std::optional<uint64_t> pid{};                     ///< a process id (agent CLI)
  std::optional<uint64_t> port{};                    ///< a port number
};

/// Maximum bytes of `detail` (and of `msg`); longer text ends in "...".
inline constexpr std::size_t max_detail_bytes = 512;

/// Maximum bytes of every other string field.
inline constexpr std::size_t max_field_bytes = 256;

/// Receives each complete line, without the trailing newline.
using sink_fn = std::function<void(std::string_view line)>;

namespace detail {

/// The minimum level that is written (an `log_level` value).
extern std::atomic<uint8_t> min_level;

}  // namespace detail

/// Writes lines at `x` and above only.
void set_level(log_level x) noexcept;

/// The current minimum level.
[[nodiscard]] log_level level() noexcept;

/// Whether a line at `x` would be written; one relaxed atomic load.
[[nodiscard]] inline bool enabled(log_level x) noexcept {
  return static_cast<uint8_t>(x) >= detail::min_level.load(std::memory_order_relaxed);
}

/// Replaces the output (default: stderr with one write(2) per line); an empty function restores
/// the default. Lines reach the sink one at a time, under a mutex.
void set_sink(sink_fn sink);

/// Formats and writes one line regardless of the level; never throws.
void write(log_level x, std::string_view msg, const log_fields& fields) noexcept;

/// Logs at debug.
inline void debug(std::string_view msg, const log_fields& fields = {}) noexcept {
  if (enabled(log_level::debug)) write(log_level::debug, msg, fields);
}

/// Logs at info.
inline void info(std::string_view msg, const log_fields& fields = {}) noexcept {
  if (enabled(log_level::info)) write(log_level::info, msg, fields);
}

/// Logs at warn.
inline void warn(std::string_view msg, const log_fields& fields = {}) noexcept {
  if (enabled(log_level::warn)) write(log_level::warn, msg, fields);
}

/// Logs at error.
inline void error(std::string_view msg, const log_fields& fields = {}) noexcept {
  if (enabled(log_level::error)) write(log_level::error, msg, fields);
}

/// Logs at warn the first time `key` is seen (e.g. "redis-fallback"); returns whether it
/// logged. Nothing is recorded while warn is disabled.
bool warn_once(std::string_view key, std::string_view msg, const log_fields& fields = {}) noexcept;

/// Forgets `key`, so the next `warn_once(key, ...)` logs again (e.g. after Redis recovered).
void rearm_once(std::string_view key) noexcept;

/// Appends `text` to `out` as the body of a JSON string: escaped, invalid UTF-8 replaced by
/// U+FFFD, cut at a character boundary after at most `max_bytes` input bytes.
void append_json_escaped(std::string& out, std::string_view text, std::size_t max_bytes);

}  // namespace caa::log
