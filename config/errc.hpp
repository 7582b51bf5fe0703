#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace caa {

/// Error codes of the whole service. Each maps to one public error code and HTTP status in
/// `transport/http/error_catalog`; the context string of a `caf::error` is for logs only.
enum class errc : uint8_t {
  none = 0,
  validation,            ///< a request field is invalid (422)
  bad_request,           ///< malformed syntax, e.g. invalid JSON (400)
  unauthenticated,       ///< missing, unknown or revoked key (401)
  forbidden,             ///< key lacks the scope (403)
  not_found,             ///< generic missing resource (404)
  session_not_found,     ///< unknown session or another tenant's (404)
  checkpoint_not_found,  ///< rewind target unknown (404)
  method_not_allowed,    ///< route exists, method does not (405)
  session_locked,        ///< a turn is already running (409)
  session_idle,          ///< nothing to interrupt or answer (409)
  conflict,              ///< state conflict (409)
  payload_too_large,     ///< body over the limit (413)
  rate_limited,          ///< token bucket empty (429)
  capacity_exhausted,    ///< no agent process slot in time (503)
  unavailable,           ///< a dependency (PostgreSQL) is down, or draining (503)
  timeout,               ///< an internal deadline passed (503)
  agent_error,           ///< the agent process failed
  internal,              ///< a bug (500)
  quota_exceeded,        ///< the tenant's workspace is over TENANT_DISK_QUOTA (507)
  tenant_capacity,       ///< the tenant holds its share of agent processes (429)
  too_many_connections,  ///< the client address holds API_MAX_CONNECTIONS_PER_IP (429)
  fenced,           ///< a write under an old epoch: another node took the session over (503, retry)
  budget_exceeded,  ///< the tenant reached a spend cap (402)
};

/// The stable name of an error code, e.g. "session_locked".
std::string_view to_string(errc x) noexcept;

/// The CAF error category of `errc`.
constexpr caf::atom_value errc_category = caf::atom("caa");

/// Makes a `caf::error` of our category; `context` is internal detail for logs only.
caf::error make_error(errc x, std::string context = {});

/// Returns the `errc` of `e`, or `errc::internal` when `e` is of another category.
errc errc_of(const caf::error& e) noexcept;

/// Renders an error of our category for logs: "session_locked: <context>".
std::string render_errc(uint8_t code, const caf::message& context);

}  // namespace caa
