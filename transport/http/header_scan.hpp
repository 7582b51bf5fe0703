#pragma once

// A strict, resumable pre-scan of a raw request header, run before Beast's parser. It finds the
// end of the header and classifies what Beast cannot (or accepts too leniently):
//   * request target > 8 KiB -> uri_too_long (414), also while the request line is still arriving;
//   * a field line > 8 KiB, a field block > 8 KiB, or > 100 fields -> headers_too_large (431);
//   * bare CR, bare LF, obs-fold, a NUL or other control character, a field name that is not a
//     token or contains '_' -> bad_request (400).
// Beast then parses the exact header bytes and checks the request line and framing fields.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace caa::http {

/// The limits of one request header.
struct header_limits {
  std::size_t max_target = 8192;       ///< request-target bytes
  std::size_t max_field_line = 8192;   ///< bytes of one field line (without CRLF)
  std::size_t max_field_block = 8192;  ///< bytes of all field lines (with their CRLFs)
  std::size_t max_fields = 100;        ///< number of fields
};

/// The verdict of a scan.
enum class scan_status : uint8_t {
  incomplete,         ///< need more bytes
  complete,           ///< `header_size()` bytes form a clean header
  bad_request,        ///< malformed: 400
  uri_too_long,       ///< 414
  headers_too_large,  ///< 431
};

/// Scans a growing buffer; call `scan` again with the same (longer) buffer after each read.
class header_scanner {
 public:
  /// A scanner enforcing `limits`.
  explicit header_scanner(header_limits limits = {}) : limits_(limits) {}

  /// Scans `buf` (all bytes of this request so far) from where the last call stopped.
  scan_status scan(std::string_view buf);

  /// Bytes up to and including the empty line that ends the header (after `complete`).
  std::size_t header_size() const noexcept { return header_size_; }

  /// Whether any byte of this request was seen.
  bool started() const noexcept { return pos_ > 0; }

  /// Starts over for the next request.
  void reset() noexcept { *this = header_scanner{limits_}; }

 private:
  scan_status on_line_end(std::string_view line);
  scan_status check_request_line(std::string_view line) const;
  scan_status check_field_line(std::string_view line) const;
  scan_status check_partial(std::string_view buf) const;

  header_limits limits_;
  std::size_t pos_ = 0;          ///< next byte to examine
  std::size_t line_start_ = 0;   ///< first byte of the current line
  std::size_t lines_ = 0;        ///< complete lines so far (the request line included)
  std::size_t block_bytes_ = 0;  ///< bytes of complete field lines, CRLF included
  std::size_t header_size_ = 0;
};

}  // namespace caa::http
