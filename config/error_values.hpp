#pragma once

// Error values every layer makes and the edge reads: public detail travels inside the
// `caf::error` context as tagged elements, so it survives actor messages (and the network: only
// built-in types are used).
//   * `validation_error(fields)` makes an `errc::validation` error whose context is
//     (atom "fields", field_1, message_1, field_2, message_2, ...); field names and messages must
//     be fixed texts chosen by the code that makes them.
//   * `with_retry_after(e, seconds)` appends (atom "retry", uint32 seconds) to any error.
//   * `budget_error(cap, resets_at)` makes an `errc::budget_exceeded` error whose context is
//     (atom "budget", cap, resets_at).
// The edge (`transport/http/error_catalog`) turns them into `details.errors` and `Retry-After`.

#include "config/errc.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace caa {

/// One invalid request field, as listed in `details.errors` of a 422.
struct field_error {
  std::string field;    ///< e.g. "max_turns", "id"
  std::string message;  ///< fixed text, e.g. "must be between 1 and 1000"

  friend bool operator==(const field_error&, const field_error&) = default;
};

/// Makes a 422 VALIDATION_ERROR listing every bad field.
caf::error validation_error(std::vector<field_error> fields);

/// Returns `e` with a retry-after hint of `seconds` (rounded up, at least 1) appended.
caf::error with_retry_after(caf::error e, std::chrono::duration<double> seconds);

/// Which spend cap a tenant reached and when its window resets.
struct budget_detail {
  std::string cap;        ///< "daily_usd" or "monthly_usd"
  std::string resets_at;  ///< RFC 3339 UTC
};

/// Makes a 402 BUDGET_EXCEEDED naming the cap (a fixed text) and when its window resets.
caf::error budget_error(std::string cap, std::string resets_at);

/// The cap and reset time of an error made by `budget_error`, if it is one.
std::optional<budget_detail> budget_of(const caf::error& e);

/// The field list of a validation error made by `validation_error` (empty otherwise).
std::vector<field_error> fields_of(const caf::error& e);

/// The retry-after hint of `e` in whole seconds, if it carries one.
std::optional<uint32_t> retry_after_of(const caf::error& e);

/// Seconds for a `Retry-After` header: ceil(`seconds`), at least 1, capped at one day.
uint32_t retry_after_seconds(double seconds) noexcept;

}  // namespace caa
