#include "transport/api/limiter.hpp"

#include "storage/redis/rate_limit.hpp"

namespace caa::api {

redis_rate_limiter::redis_rate_limiter(caf::actor_system& sys, storage::redis_actor redis,
                                       const auth_settings& cfg, caf::timespan timeout)
    : sys_(sys),
      redis_(std::move(redis)),
      query_per_minute_(cfg.rate_limit_query_per_minute),
      general_per_minute_(cfg.rate_limit_general_per_minute),
      timeout_(timeout) {}

void redis_rate_limiter::acquire(const http::principal& p, http::route_class cls,
                                 std::function<void(http::rate_decision)> done) {
  bool query = cls == http::route_class::query;
  // Buckets are keyed by the key's id, never by the key itself.
  auto bucket = p.key_id() + (query ? ":query" : ":general");
  storage::take_token(
      sys_, redis_, bucket, query ? query_per_minute_ : general_per_minute_,
      [done = std::move(done)](bool allowed, double retry_after_s) {
        done(http::rate_decision{allowed, retry_after_s});
      },
      timeout_);
}

}  // namespace caa::api
