#include "transport/api/limiter.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <chrono>

namespace caa::api {

redis_rate_limiter::redis_rate_limiter(caf::actor_system& sys, const storage::redis_actor& redis,
                                       const auth_settings& cfg, caf::timespan timeout)
    : buckets_(std::make_shared<storage::node_buckets>()),
      stats_(std::make_shared<storage::bucket_sync_stats>()),
      query_per_minute_(cfg.rate_limit_query_per_minute),
      general_per_minute_(cfg.rate_limit_general_per_minute) {
  if (!redis) return;
  storage::bucket_sync_options opts;
  opts.interval = std::chrono::milliseconds{cfg.rate_limit_sync_interval_ms};
  opts.timeout = timeout;
  sync_ = storage::spawn_bucket_sync(sys, redis, buckets_, stats_, opts);
}

redis_rate_limiter::~redis_rate_limiter() {
  if (sync_) caf::anon_send_exit(sync_, caf::exit_reason::user_shutdown);
}

void redis_rate_limiter::acquire(const http::principal& p, http::route_class cls,
                                 std::function<void(http::rate_decision)> done) {
  bool query = cls == http::route_class::query;
  // Buckets are keyed by the key's id, never by the key itself.
  auto bucket = p.key_id() + (query ? ":query" : ":general");
  auto d = buckets_->take(bucket, query ? query_per_minute_ : general_per_minute_,
                          storage::steady_seconds());
  done(http::rate_decision{d.allowed, d.retry_after_s});
}

uint64_t redis_rate_limiter::reconciled_rounds() const noexcept {
  return stats_->rounds.load(std::memory_order_relaxed);
}

uint64_t redis_rate_limiter::failed_rounds() const noexcept {
  return stats_->failures.load(std::memory_order_relaxed);
}

}  // namespace caa::api
