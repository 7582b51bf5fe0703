#pragma once

#include "storage/postgres/pg_pool.hpp"
#include "storage/redis/redis_pool.hpp"
#include "transport/api/health.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <string>

namespace caa {

/// What the health monitor probes and where it writes.
struct health_monitor_deps {
  storage::pg_actor pg;
  storage::redis_actor redis;
  std::string cli_path;
  api::health_board* board = nullptr;
};

/// Spawns the health monitor: every 2 s it pings PostgreSQL and Redis, every 30 s it runs
/// `<cli> -v` (on a detached helper: blocking), and writes the results to the board. Readiness
/// requests only read the board.
caf::actor spawn_health_monitor(caf::actor_system& sys, health_monitor_deps deps);

/// Runs `<cli_path> -v` with a deadline; true when it exits 0 and prints a version. BLOCKING.
bool cli_runs(const std::string& cli_path);

}  // namespace caa
