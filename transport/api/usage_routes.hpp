#pragma once

// The usage and spend-cap routes: `GET /api/v1/usage` (agent scope: the caller's tenant; an
// admin key may name any tenant with `tenant=`; an agent key naming another tenant is 403), and
// `PUT`/`GET /api/v1/tenants/{tenant}/limits` (admin scope). PostgreSQL is read through the
// pg_actor from one-shot actors: no handler blocks an I/O thread.

#include "storage/postgres/pg_pool.hpp"
#include "transport/http/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace caa::api {

/// What the usage routes use.
struct usage_api_context {
  caf::actor_system* sys = nullptr;                     ///< where one-shot actors are spawned
  storage::pg_actor pg;                                 ///< the reports and the limits
  caf::timespan db_timeout = std::chrono::seconds{10};  ///< one pg_actor request
  /// Called after a PUT stored a tenant's limits (its share of agent processes, if any), so
  /// this node applies them at once.
  std::function<void(const std::string& tenant_id, std::optional<uint32_t> share)> limits_changed;
};

/// Adds the routes of the file comment.
void add_usage_routes(http::router& r, usage_api_context ctx);

}  // namespace caa::api
