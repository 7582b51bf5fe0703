#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace caa::claude {

/// Incremental NDJSON framer: bytes in, complete lines out. Splits only on '\n', strips one
/// trailing '\r', skips empty lines. A line longer than `max_line_bytes` is reported once
/// (`on_oversized`) and discarded up to its newline; there is no other cap. Pure and linear in
/// the input (each byte is scanned once).
class line_framer {
 public:
  /// Receives each complete line, without its terminator.
  using line_handler = std::function<void(std::string line)>;
  /// Receives the byte count seen so far of a line that exceeded the maximum.
  using oversized_handler = std::function<void(std::size_t bytes_seen)>;

  /// The default maximum: 64 MiB (a 3 MB line is normal for the CLI).
  static constexpr std::size_t default_max_line_bytes = 64u << 20;

  /// Creates a framer that accepts lines of at most `max_line_bytes` bytes (without '\n').
  explicit line_framer(std::size_t max_line_bytes = default_max_line_bytes);

  /// Feeds one chunk; calls `on_line` for every line it completes, in order.
  void feed(std::string_view chunk, const line_handler& on_line,
            const oversized_handler& on_oversized = {});

  /// End of input: delivers a final line that had no '\n' (if any) and resets the framer.
  void finish(const line_handler& on_line);

  /// Bytes buffered for the current, incomplete line.
  std::size_t pending_bytes() const noexcept { return partial_.size(); }

  /// Whether the framer is discarding the rest of an oversized line.
  bool discarding() const noexcept { return discarding_; }

 private:
  void deliver(std::string& line, const line_handler& on_line);
  void append(std::string_view bytes, const oversized_handler& on_oversized);

  std::size_t max_line_bytes_;
  std::string partial_;
  std::size_t discarded_ = 0;
  bool discarding_ = false;
};

}  // namespace caa::claude
