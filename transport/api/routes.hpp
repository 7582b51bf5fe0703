#pragma once

#include "actors/interfaces.hpp"
#include "config/settings.hpp"
#include "storage/postgres/key_repository.hpp"
#include "storage/postgres/pg_pool.hpp"
#include "storage/redis/redis_pool.hpp"
#include "transport/api/auth.hpp"
#include "transport/api/health.hpp"
#include "transport/http/router.hpp"
#include "transport/sandbox/workspace.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace caa::api {

/// Everything the API handlers use; built once by the root of the service.
struct api_context {
  caf::actor_system* sys = nullptr;
  const settings* cfg = nullptr;
  storage::pg_actor pg;
  storage::redis_actor redis;
  std::shared_ptr<storage::key_repository> keys;
  std::shared_ptr<auth::key_authenticator> authenticator;
  const health_board* health = nullptr;
  /// The session registry; the session routes (`add_session_routes`) are added only when set.
  registry_actor registry;
  /// WORKSPACE_ROOT and the tenants' directories (required with `registry`).
  const tenant_workspace* workspace = nullptr;
  /// Asks the engine what it offers a tenant (`GET /api/v1/capabilities`).
  capabilities_actor capabilities;
  /// The cluster membership (`GET /api/v1/cluster`, added only when set).
  cluster_actor cluster;
  /// Called when a PUT stored a tenant's limits (its own share of agent processes, if any).
  std::function<void(const std::string& tenant_id, std::optional<uint32_t> share)> limits_changed;
};

/// The router with every route of the API (the session routes only when `ctx.registry` is set;
/// their deadlines come from `set_session_timeouts`).
http::router make_router(const api_context& ctx);

/// The key lookup of the authenticator over the key repository (touching last_used_at on each
/// cache miss, i.e. at most once per cache TTL per key and node).
auth::key_lookup make_key_lookup(const std::shared_ptr<storage::key_repository>& keys);

/// The revocation check of the authenticator over the key repository.
auth::revoked_lookup make_revoked_lookup(const std::shared_ptr<storage::key_repository>& keys);

}  // namespace caa::api
