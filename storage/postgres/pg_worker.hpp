#pragma once

// INTERNAL to the pool: the detached worker that owns one connection (`pg_connection`).

#include "storage/postgres/pg_pool.hpp"

#include <caf/local_actor.hpp>

#include <chrono>
#include <string>

namespace caa::storage::detail {

/// The worker's interface: the pool's requests, pipelines, and its own reconnect timer.
using pg_worker_actor = caf::typed_actor<
    // One statement, autocommit.
    caf::replies_to<db_query>::with<db_result>,
    // Several statements in ONE transaction; one result per statement.
    caf::replies_to<db_batch>::with<std::vector<db_result>>,
    // SELECT 1: true when PostgreSQL answered.
    caf::replies_to<atom::ping>::with<bool>,
    // Independent statements in one round trip; one outcome each.
    caf::replies_to<db_pipeline>::with<db_outcomes>,
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
