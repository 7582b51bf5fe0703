#pragma once

// The warm pool (PERFORMANCE.md B "cold start"): CLI processes started ahead of demand for the
// spawn-time options that tenants use for new sessions, so a new session's first turn does not
// wait about a second for the CLI to start. Each warm process holds an admission slot (the
// budget is never exceeded) and is the first to go when a turn needs a slot.

#include "actors/cli_launcher.hpp"
#include "actors/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>

namespace caa {

/// How many processes the pool keeps warm.
struct warm_pool_config {
  uint32_t per_key = 1;   ///< WARM_POOL_SIZE: warm processes per tenant-and-options key
  uint32_t max_keys = 4;  ///< WARM_POOL_KEYS: keys kept warm, most recently used first
  std::shared_ptr<cli_launcher> launcher;  ///< starts the processes
  admission_actor admission;               ///< the process budget
};

/// Spawns the pool; it registers itself with `cfg.admission`.
warm_pool_actor spawn_warm_pool(caf::actor_system& sys, warm_pool_config cfg);

}  // namespace caa
