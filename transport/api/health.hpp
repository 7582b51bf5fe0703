#pragma once

#include "transport/http/router.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace caa::api {

/// The last probe of one dependency.
struct dependency_status {
  bool checked = false;          ///< false until the first probe finished
  bool ok = false;               ///< whether it answered correctly
  double latency_ms = 0;         ///< how long the probe took
};

/// What readiness reports: each dependency and whether the service is draining.
struct health_snapshot {
  dependency_status postgres;
  dependency_status redis;
  dependency_status cli;
  bool draining = false;

  /// Ready: PostgreSQL and the CLI are up (Redis is optional: rate limits fall back) and the
  /// service is not draining.
  bool ready() const noexcept { return !draining && postgres.ok && cli.ok; }
};

/// The health state, written by the health monitor actor and read by the handlers: requests
/// never probe a dependency themselves (no per-request database query).
class health_board {
public:
  /// Records the probe of PostgreSQL.
  void set_postgres(bool ok, double latency_ms);
  /// Records the probe of Redis.
  void set_redis(bool ok, double latency_ms);
  /// Records the probe of the agent CLI.
  void set_cli(bool ok, double latency_ms);
  /// Marks the service as draining (readiness 503 from now on).
  void set_draining();
  /// A consistent copy of the current state.
  health_snapshot snapshot() const;

private:
  mutable std::mutex mtx_;
  health_snapshot state_;
};

/// Adds `GET /health` (liveness), `GET /health/ready` and `GET /api/v1/health` (readiness; the
/// latter for clients of the replaced service). All public; statuses and latencies only.
void add_health_routes(http::router& r, const health_board& board);

}  // namespace caa::api
