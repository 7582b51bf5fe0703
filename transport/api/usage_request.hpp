#pragma once

// The requests of the usage routes, decoded and validated without I/O: the query of
// `GET /api/v1/usage` (time window, grouping, tenant) and the body of
// `PUT /api/v1/tenants/{tenant}/limits`. Every bad field is listed (422 VALIDATION_ERROR).

#include "storage/postgres/usage_queries.hpp"
#include "transport/http/types.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace caa::api {

/// A point in time with millisecond precision (UTC).
using utc_time = std::chrono::sys_time<std::chrono::milliseconds>;

/// Which end of a window a time bound is: a bare date as `to` means the end of that day.
enum class bound_end : uint8_t { from, to };

/// An RFC 3339 time (`2026-05-01T12:00:00Z`, `...+02:00`, fractions allowed) or a date
/// (`2026-05-01`: its UTC midnight as `from`, the next UTC midnight as `to`), if valid.
std::optional<utc_time> parse_time_bound(std::string_view text, bound_end end);

/// RFC 3339 in UTC with milliseconds, e.g. 2026-05-01T00:00:00.000Z.
std::string format_utc(utc_time t);

/// The current UTC calendar month around `now`: [first day 00:00, first day of the next month).
std::pair<utc_time, utc_time> month_of(utc_time now);

/// A decoded `GET /api/v1/usage`.
struct usage_query {
  std::string tenant_id;             ///< whose usage (the caller's unless an admin named one)
  utc_time from;                     ///< inclusive
  utc_time to;                       ///< exclusive
  storage::usage_grouping group_by;  ///< day (default), session or model
};

/// Decodes the query of `req` for its caller at `now`. Errors: validation (every bad field:
/// from, to, group_by, tenant), forbidden (an agent key naming another tenant).
caf::expected<usage_query> decode_usage_query(const http::request& req, utc_time now);

/// Decodes the body of a limits PUT for `tenant_id`. Errors: bad_request (not a JSON object),
/// validation (every bad field).
caf::expected<storage::tenant_limits> decode_limits(std::string_view body,
                                                    const std::string& tenant_id);

}  // namespace caa::api
