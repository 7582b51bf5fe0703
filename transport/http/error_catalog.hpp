#pragma once

// The error catalogue: every `errc` and every edge-only condition maps to one HTTP status, one
// public code and one fixed public message. The one error envelope is built here:
//   {"error":{"code":"SESSION_NOT_FOUND","message":"...","details":{...}}}
//
// Public detail (the fields of a validation error, a retry-after hint) travels inside the
// `caf::error` context, made and read by `config/error_values.hpp`: the envelope lists the fields
// under `details.errors`; 429 and 503 responses and SESSION_LOCKED always carry `Retry-After`
// (1 s when no hint was given). Any other context (e.g. the string of `make_error(x, "...")`) is
// internal: logged, never sent.

#include "config/errc.hpp"
#include "config/error_values.hpp"
#include "transport/http/types.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

/// What a client sees of one error condition.
struct catalog_entry {
  unsigned status;           ///< HTTP status
  std::string_view code;     ///< public code, e.g. "SESSION_NOT_FOUND"
  std::string_view message;  ///< fixed public text
};

/// Conditions that only the HTTP edge produces and that have no `errc`.
enum class edge_condition : uint8_t {
  request_timeout,    ///< 408 REQUEST_TIMEOUT: header or body not received in time
  uri_too_long,       ///< 414 URI_TOO_LONG
  headers_too_large,  ///< 431 HEADERS_TOO_LARGE
};

/// The catalogue row of `x` (`errc::none` and unknown values map to INTERNAL_ERROR).
const catalog_entry& catalog_of(errc x) noexcept;

/// The catalogue row of an edge-only condition.
const catalog_entry& catalog_of(edge_condition x) noexcept;

/// The public message of `e`: its catalogue row's, or for a BUDGET_EXCEEDED the cap it names and
/// when its window resets.
std::string public_message(const caf::error& e);

/// Builds the error response for `e`: status, envelope, and `Retry-After` when applicable.
/// A 500 carries only `details.correlation_id`.
response error_response(const caf::error& e, std::string_view correlation_id);

/// Builds the error response for an edge-only condition.
response error_response(edge_condition x, std::string_view correlation_id);

/// Builds the JSON envelope of a catalogue row with an already serialised `details` object.
std::string error_envelope(const catalog_entry& entry, std::string_view details_json);

}  // namespace caa::http
