#pragma once

// Serialisation of HTTP/1.1 response heads and bodies as raw bytes (one write path for plain
// responses, interim responses and streams).

#include "transport/http/cors.hpp"

#include <string>
#include <string_view>

namespace caa::http {

/// Whether `name: value` may be sent: `name` is a token, `value` has no CR, LF, NUL or other
/// control character (no response splitting), and `name` is not one the edge manages itself
/// (Connection, Content-Length, Transfer-Encoding, Keep-Alive, Upgrade, Trailer, TE).
bool is_sendable_header(std::string_view name, std::string_view value) noexcept;

/// The status line, e.g. "HTTP/1.1 404 Not Found\r\n".
std::string status_line(unsigned status);

/// A complete response: status line, `headers`, and — unless `head_only` or a status without
/// content (1xx, 204, 304) — `Content-Length` and `body`.
std::string serialize_response(unsigned status, const header_list& headers, std::string_view body,
                               bool head_only = false);

/// A response head without framing headers: the caller adds `Transfer-Encoding` or
/// `Connection: close` to `headers` itself.
std::string serialize_head(unsigned status, const header_list& headers);

/// One chunk of a chunked body: "<hex size>\r\n<data>\r\n" (`data` must not be empty).
std::string frame_chunk(std::string_view data);

/// The last chunk of a chunked body.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace caa::http
