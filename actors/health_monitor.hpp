#pragma once

#include "actors/health_board.hpp"
#include "actors/types.hpp"
#include "storage/postgres/pg_pool.hpp"
#include "storage/redis/redis_pool.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace caa {

/// What the health monitor probes and where it writes.
struct health_monitor_deps {
  storage::pg_actor pg;
  storage::redis_actor redis;
  std::string cli_path;
  health_board* board = nullptr;
};

/// The health monitor. It has no public messages: INTERNAL `probe` is its own tick (a message
/// from elsewhere only probes early).
using health_monitor_actor = caf::typed_actor<caf::reacts_to<atom::probe>>;

/// Spawns the health monitor: every 2 s it pings PostgreSQL and Redis, every 30 s it runs
/// `<cli> -v` (on a detached helper: blocking), and writes the results to the board. Readiness
/// requests only read the board.
health_monitor_actor spawn_health_monitor(caf::actor_system& sys, health_monitor_deps deps);

/// Runs `<cli_path> -v` with a deadline; true when it exits 0 and prints a version. BLOCKING.
bool cli_runs(const std::string& cli_path);

}  // namespace caa
