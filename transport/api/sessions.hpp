#pragma once

// The agent-session routes of API.md: turns (`POST /api/v1/query`, `/query/single`,
// `.../resume`, `.../fork`), the session resource (list, get, delete, interrupt), its event
// history (JSON pages, or an attached SSE stream with replay) and `GET /api/v1/capabilities`.
//
// Every route needs the `agent` scope and is scoped to the caller's tenant: another tenant's
// session answers 404 SESSION_NOT_FOUND exactly like a missing one. Handlers never block an I/O
// thread: sessions are reached through the registry's typed handle and PostgreSQL through the
// pg_actor, both from one-shot actors; disk checks of the request's paths run on CAF threads.

#include "actors/interfaces.hpp"
#include "config/settings.hpp"
#include "storage/postgres/pg_pool.hpp"
#include "transport/http/router.hpp"
#include "transport/sandbox/workspace.hpp"

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <chrono>

namespace caa::api {

/// What the session routes use; built once by the root of the service.
struct session_api_context {
  caf::actor_system* sys = nullptr;             ///< where one-shot actors are spawned
  const settings* cfg = nullptr;                ///< CLI path, Anthropic settings, policy
  registry_actor registry;                      ///< finds and creates session actors
  capabilities_actor capabilities;              ///< asks the engine what it offers
  storage::pg_actor pg;                         ///< reads of sessions and events
  const tenant_workspace* workspace = nullptr;  ///< WORKSPACE_ROOT, tenant directories
  caf::timespan request_timeout = std::chrono::seconds{10};  ///< find, create, remove, ...
  caf::timespan run_timeout = std::chrono::seconds{60};      ///< `run`: admission wait + spawn
  caf::timespan db_timeout = std::chrono::seconds{10};       ///< one pg_actor request
  /// Registers an open connection (WebSocket, SSE stream) of key `key_id`: `close` ends it when
  /// the key is revoked (unless `owner` is gone). Empty: connections are not watched.
  std::function<void(const std::string& key_id, std::weak_ptr<void> owner,
                     std::function<void()> close)>
      watch_connection;
};

/// The deadlines of `ctx` derived from `cfg`: actor requests get API_REQUEST_TIMEOUT (at least
/// 5 s), PostgreSQL reads `storage::pg_request_timeout` of the pool, `run` ADMISSION_WAIT + 30 s
/// (a spawn of the CLI and its `initialize`).
void set_session_timeouts(session_api_context& ctx, const settings& cfg);

/// Adds every session route (see the file comment). `ctx` must hold a system, settings, a
/// registry, a pg_actor and a workspace; it is copied.
void add_session_routes(http::router& r, const session_api_context& ctx);

}  // namespace caa::api
