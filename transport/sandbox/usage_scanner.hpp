#pragma once

// The token counter of the model proxy: fed the bytes of an upstream response as they pass
// through, in chunks split at any byte, it picks out the usage the upstream reported. Pure logic
// (no I/O); the data is untrusted, so every buffer is capped and JSON is parsed with RapidJSON's
// iterative (stack-free) parser into a handler that keeps only the few numbers it needs.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace caa::sandbox {

/// Token counts as reported by the upstream.
struct token_usage {
  uint64_t input_tokens = 0;                 ///< `input_tokens`
  uint64_t output_tokens = 0;                ///< `output_tokens`
  uint64_t cache_creation_input_tokens = 0;  ///< `cache_creation_input_tokens`
  uint64_t cache_read_input_tokens = 0;      ///< `cache_read_input_tokens`
};

/// How a response body is read.
enum class body_kind : uint8_t {
  none,  ///< not scanned (no tokens)
  sse,   ///< `text/event-stream`: `message_start` and `message_delta` events
  json,  ///< `application/json`: the top-level `usage` object
};

/// The kind of a body with Content-Type `content_type` (case-insensitive, parameters ignored).
body_kind kind_of(std::string_view content_type) noexcept;

/// The usage fields found in one JSON document, by where they were.
struct usage_fields {
  std::string type;           ///< the top-level `type` (at most 32 bytes kept)
  token_usage top;            ///< numbers of the top-level `usage` object
  unsigned top_seen = 0;      ///< which of `top` were present (bit per field, see .cpp)
  token_usage message;        ///< numbers of `message.usage`
  unsigned message_seen = 0;  ///< which of `message` were present
};

/// Parses `json` and collects its usage fields; false (and `out` partly filled) when it is not
/// valid JSON. Never throws; nesting depth does not use the stack.
bool read_usage_fields(std::string_view json, usage_fields& out) noexcept;

/// Scans one response body incrementally.
class usage_scanner {
 public:
  /// Caps: longest SSE line or event data kept; largest JSON body parsed.
  static constexpr std::size_t default_max_event_bytes = 1u << 20;
  /// Largest JSON body that is buffered and parsed; a larger one yields no tokens.
  static constexpr std::size_t default_max_json_bytes = 8u << 20;

  /// A scanner for a body of `kind`.
  explicit usage_scanner(body_kind kind, std::size_t max_event_bytes = default_max_event_bytes,
                         std::size_t max_json_bytes = default_max_json_bytes);

  /// Feeds the next bytes of the body.
  void feed(std::string_view chunk);

  /// Ends the body: dispatches a last SSE event without its blank line, parses a JSON body.
  void finish();

  /// The usage seen so far (complete after `finish`).
  const token_usage& usage() const noexcept { return usage_; }

 private:
  void feed_sse(std::string_view chunk);
  void end_line();
  void on_line(std::string_view line);
  void dispatch_event();
  void apply(const usage_fields& f);

  body_kind kind_;
  std::size_t max_event_bytes_;
  std::size_t max_json_bytes_;
  token_usage usage_;
  std::string line_;            ///< the current SSE line (capped)
  bool line_overflow_ = false;  ///< the current line passed the cap
  bool after_cr_ = false;       ///< the last byte was a CR (a following LF belongs to it)
  std::string data_;            ///< the data of the current event (capped)
  bool has_data_ = false;       ///< the current event has a data field
  bool data_overflow_ = false;  ///< the current event's data passed the cap
  std::string json_;            ///< the JSON body so far (capped)
  bool json_overflow_ = false;  ///< the JSON body passed the cap
  bool finished_ = false;       ///< `finish` ran
};

}  // namespace caa::sandbox
