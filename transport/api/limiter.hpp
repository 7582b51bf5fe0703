#pragma once

#include "config/settings.hpp"
#include "storage/redis/rate_limit.hpp"
#include "storage/redis/redis_pool.hpp"
#include "storage/redis/token_bucket.hpp"
#include "transport/http/types.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <cstdint>
#include <memory>

namespace caa::api {

/// The rate-limit stage: one token bucket per key and route class on this node, decided
/// synchronously on the caller's thread (no actor, no Redis on the request path). In the
/// background every RATE_LIMIT_SYNC_INTERVAL, the buckets used since the previous round are
/// reconciled with the cluster's buckets in Redis (one script call for all): what this node took
/// is added, what the other nodes took lowers this node's buckets. While Redis is down each node
/// limits alone with the full rate. Never fails a request. README "Rate limits across nodes" has
/// the worst-case over-admission of N nodes.
class redis_rate_limiter final : public http::rate_limiter {
 public:
  /// Limits with the per-minute rates of `cfg`; reconciles through `redis` (each call bounded
  /// by `timeout`) every `cfg.rate_limit_sync_interval_ms`. A null `redis`: this node alone.
  redis_rate_limiter(caf::actor_system& sys, const storage::redis_actor& redis,
                     const auth_settings& cfg, caf::timespan timeout);

  /// Stops the reconciliation.
  ~redis_rate_limiter() override;

  redis_rate_limiter(const redis_rate_limiter&) = delete;
  redis_rate_limiter& operator=(const redis_rate_limiter&) = delete;

  /// Decides at once and calls `done` on the caller's thread before returning.
  void acquire(const http::principal& p, http::route_class cls,
               std::function<void(http::rate_decision)> done) override;

  /// Reconciliation rounds that reached Redis so far.
  uint64_t reconciled_rounds() const noexcept;

  /// Reconciliation rounds that failed so far (Redis down or slow).
  uint64_t failed_rounds() const noexcept;

 private:
  std::shared_ptr<storage::node_buckets> buckets_;
  std::shared_ptr<storage::bucket_sync_stats> stats_;
  caf::actor sync_;
  unsigned query_per_minute_;
  unsigned general_per_minute_;
};

}  // namespace caa::api
