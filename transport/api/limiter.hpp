#pragma once

#include "config/settings.hpp"
#include "storage/redis/redis_pool.hpp"
#include "transport/http/types.hpp"

#include <caf/actor_system.hpp>

namespace caa::api {

/// The rate-limit stage: one token bucket per key and route class in Redis (one Lua round trip),
/// falling back to in-process buckets while Redis is down. Never fails a request.
class redis_rate_limiter final : public http::rate_limiter {
 public:
  /// Limits with the per-minute rates of `cfg`, through `redis`.
  redis_rate_limiter(caf::actor_system& sys, storage::redis_actor redis, const auth_settings& cfg,
                     caf::timespan timeout);

  void acquire(const http::principal& p, http::route_class cls,
               std::function<void(http::rate_decision)> done) override;

 private:
  caf::actor_system& sys_;
  storage::redis_actor redis_;
  unsigned query_per_minute_;
  unsigned general_per_minute_;
  caf::timespan timeout_;
};

}  // namespace caa::api
