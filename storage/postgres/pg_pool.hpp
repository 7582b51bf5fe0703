#pragma once

#include "config/settings.hpp"
#include "storage/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace caa::storage {

/// The PostgreSQL pool: one event-based router in front of detached workers that each own one
/// connection. Point reads (`statement_def::point_read`) go to a worker together, as one
/// pipeline of libpq (one round trip; each its own transaction and its own answer): at most
/// `read_pipelines` of them in flight, so that under load reads gather instead of each waking
/// a worker and a server process of their own. Everything else goes alone.
///
/// Errors are `errc`: unavailable (PostgreSQL down, pool queue full, deadline), timeout
/// (statement_timeout), conflict (unique or foreign-key violation), validation (check violation,
/// NUL in a parameter), fenced (`CAA01`), internal (anything else; SQL state in the context).
using pg_actor = caf::typed_actor<
    // One catalogue statement, autocommit.
    caf::replies_to<db_query>::with<db_result>,
    // Several catalogue statements in ONE transaction; one result per statement.
    caf::replies_to<db_batch>::with<std::vector<db_result>>,
    // SELECT 1 on some connection: true when PostgreSQL answered, false otherwise.
    caf::replies_to<atom::ping>::with<bool>>;

/// Point reads one worker sends together as one pipeline (one round trip), at most.
inline constexpr std::size_t pg_pipeline_max = 32;

/// Waiting requests the pool accepts per connection before it answers unavailable.
inline constexpr std::size_t pg_queue_per_connection = 64;

/// How a pool connects and how much it queues.
struct pg_pool_config {
  std::string database_url;                            ///< URI or key=value conninfo
  unsigned size = 4;                                   ///< workers (connections), at least 1
  caf::timespan db_timeout = std::chrono::seconds{5};  ///< statement_timeout; max queue wait
  std::chrono::seconds connect_timeout{2};             ///< libpq connect_timeout
  std::size_t max_queue = 256;                         ///< waiting requests; beyond: unavailable
  /// Pipelines of reads in flight (not slow) before further reads wait to share the next one;
  /// fewer round trips under load, each with more reads.
  unsigned read_pipelines = 1;
  /// A pipeline of reads in flight for longer than this is slow: it no longer holds back the
  /// queued reads (a slow read delays the others by this much at most).
  caf::timespan slow_read = std::chrono::milliseconds{5};

  /// The pool configuration of `s` (DATABASE_URL, DB_POOL_SIZE, DB_TIMEOUT); the queue holds
  /// `pg_queue_per_connection` requests per connection; a read pipeline per two cores (at
  /// least 1, at most the pool's size: each runs in one PostgreSQL process).
  static pg_pool_config from(const storage_settings& s);
};

/// The deadline the router gives one worker request (a connect attempt plus one statement).
caf::timespan pg_worker_timeout(const pg_pool_config& cfg) noexcept;

/// The deadline a caller should give a request to the pool: the longest queue wait plus
/// `pg_worker_timeout`, plus a margin. The pool itself always answers before it.
caf::timespan pg_request_timeout(const pg_pool_config& cfg) noexcept;

/// Spawns the router and its `cfg.size` workers (detached, linked to the router). Workers
/// connect lazily and reconnect with jittered exponential backoff, so this never blocks and
/// succeeds while PostgreSQL is down. Stop it with
/// `caf::anon_send_exit(pool, caf::exit_reason::user_shutdown)`; the workers follow.
pg_actor spawn_pg_pool(caf::actor_system& sys, pg_pool_config cfg);

}  // namespace caa::storage
