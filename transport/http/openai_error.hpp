#pragma once

// OpenAI's error shape, used on the OpenAI-compatible routes (`/v1/...`):
//   {"error":{"message":"...","type":"invalid_request_error","code":"...","param":null}}
//
// Every error of those routes goes through here, so a client of the official OpenAI libraries
// sees the shape it parses. The status and the public texts are the catalogue's (see
// `error_catalog.hpp`), with two changes OpenAI clients expect: a validation error is 400 (not
// 422) and names its first field in `param`; the type follows the status.

#include "transport/http/types.hpp"

#include <string>
#include <string_view>

namespace caa::http {

/// The body of one OpenAI-shaped error (`param` empty: null).
std::string openai_error_body(std::string_view message, std::string_view type,
                              std::string_view code, std::string_view param = {});

/// OpenAI's error type for an HTTP status (e.g. 401 -> "invalid_request_error" with code
/// "invalid_api_key", 429 -> "rate_limit_error", 5xx -> "server_error").
std::string_view openai_error_type(unsigned status) noexcept;

/// Rewrites a response of the one error envelope (`error_response`) into OpenAI's shape: the
/// code in lower case, the message with the fields of a validation error appended, `param` the
/// first field, a 422 answered as 400; headers (e.g. `Retry-After`) are kept.
response to_openai_error(response envelope);

}  // namespace caa::http
