#pragma once

// The health state: written by the health monitor actor, read by the readiness handlers, so
// requests never probe a dependency themselves (no per-request database query).

#include <mutex>

namespace caa {

/// The last probe of one dependency.
struct dependency_status {
  bool checked = false;   ///< false until the first probe finished
  bool ok = false;        ///< whether it answered correctly
  double latency_ms = 0;  ///< how long the probe took
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

}  // namespace caa
