#pragma once

// INTERNAL to the Redis pool: the detached worker that owns one hiredis context.

#include "storage/redis/redis_pool.hpp"

#include <caf/local_actor.hpp>

namespace caa::storage::detail {

/// What a worker needs to connect.
struct redis_worker_config {
  redis_endpoint endpoint;  ///< the server
  caf::timespan timeout;    ///< connect timeout and socket timeout of every command
};

/// Spawns a worker on its own thread, linked to `parent` (the router).
redis_actor spawn_redis_worker(caf::local_actor* parent, redis_worker_config cfg);

}  // namespace caa::storage::detail
