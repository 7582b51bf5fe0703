#pragma once

// INTERNAL to the pool: the detached worker that owns one pqxx::connection.

#include "storage/postgres/pg_pool.hpp"

#include <caf/local_actor.hpp>

#include <chrono>
#include <string>

namespace caa::storage::detail {

/// The worker's interface: the pool's, plus its own reconnect timer.
using pg_worker_actor = pg_actor::extend<
    // INTERNAL: try to (re)connect now unless connected.
    caf::reacts_to<atom::reconnect>>;

/// What a worker needs to connect.
struct pg_worker_config {
  std::string conninfo;                         ///< full libpq conninfo (see make_conninfo)
  std::chrono::milliseconds statement_timeout;  ///< SET statement_timeout on every connection
};

/// Spawns a worker on its own thread, linked to `parent` (the router).
pg_worker_actor spawn_pg_worker(caf::local_actor* parent, pg_worker_config cfg);

}  // namespace caa::storage::detail
