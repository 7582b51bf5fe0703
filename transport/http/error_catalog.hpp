#pragma once

// The error catalogue: every `errc` and every edge-only condition maps to one HTTP status, one
// public code and one fixed public message. The one error envelope is built here:
//   {"error":{"code":"SESSION_NOT_FOUND","message":"...","details":{...}}}
//
// Public detail travels inside the `caf::error` context as tagged elements, so it survives actor
// messages (and the network: only built-in types are used):
//   * `validation_error(fields)` makes an `errc::validation` error whose context is
//     (atom "fields", field_1, message_1, field_2, message_2, ...). The envelope lists them under
//     `details.errors`; field names and messages must be fixed texts chosen by the handler.
//   * `with_retry_after(e, seconds)` appends (atom "retry", uint32 seconds) to any error: the
//     response then carries `Retry-After`. 429 and 503 responses and SESSION_LOCKED always carry
//     it (1 s when no hint was given).
// Any other context (e.g. the string of `make_error(x, "...")`) is internal: logged, never sent.

#include "config/errc.hpp"
#include "transport/http/types.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

/// One invalid request field, as listed in `details.errors` of a 422.
struct field_error {
  std::string field;    ///< e.g. "max_turns", "id"
  std::string message;  ///< fixed text, e.g. "must be between 1 and 1000"

  friend bool operator==(const field_error&, const field_error&) = default;
};

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

/// Makes a 422 VALIDATION_ERROR listing every bad field.
caf::error validation_error(std::vector<field_error> fields);

/// Returns `e` with a retry-after hint of `seconds` (rounded up, at least 1) appended.
caf::error with_retry_after(caf::error e, std::chrono::duration<double> seconds);

/// The field list of a validation error made by `validation_error` (empty otherwise).
std::vector<field_error> fields_of(const caf::error& e);

/// The retry-after hint of `e` in whole seconds, if it carries one.
std::optional<uint32_t> retry_after_of(const caf::error& e);

/// Seconds for a `Retry-After` header: ceil(`seconds`), at least 1, capped at one day.
uint32_t retry_after_seconds(double seconds) noexcept;

/// Builds the error response for `e`: status, envelope, and `Retry-After` when applicable.
/// A 500 carries only `details.correlation_id`.
response error_response(const caf::error& e, std::string_view correlation_id);

/// Builds the error response for an edge-only condition.
response error_response(edge_condition x, std::string_view correlation_id);

/// Builds the JSON envelope of a catalogue row with an already serialised `details` object.
std::string error_envelope(const catalog_entry& entry, std::string_view details_json);

}  // namespace caa::http
