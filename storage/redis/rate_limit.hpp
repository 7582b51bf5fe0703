#pragma once

#include "config/defaults.hpp"
#include "storage/redis/redis_pool.hpp"
#include "storage/redis/token_bucket.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// The Redis key of bucket `bucket_key`.
std::string rate_limit_key(std::string_view bucket_key);

// -- reconciliation of this node's buckets with the cluster ------------------------------------

/// The Lua reconciliation script: KEYS are buckets (`rate_limit_key`); ARGV holds, per bucket,
/// its per-minute limit and the tokens this node took since its previous report. Each bucket
/// is a hash {tokens, ts} refilled like a `token_bucket` (Redis TIME is the clock), then
/// charged with the report; it may go negative (a debt). It expires once it would be full again
/// (at least 120 s after the last report). Returns the tokens left of every bucket, as text.
extern const std::string_view reconcile_script;

/// The EVALSHA (`by_sha`) or EVAL command reconciling `reports[first, first + count)`.
redis_command reconcile_command(const std::vector<bucket_report>& reports, std::size_t first,
                                std::size_t count, bool by_sha);

/// The tokens left of the `n` buckets of a reply to `reconcile_command`; nothing when the reply
/// is not an array of `n` numbers.
std::optional<std::vector<double>> parse_reconcile_reply(const redis_reply& r, std::size_t n);

/// How often and how a node reconciles its buckets.
struct bucket_sync_options {
  /// Pause between the end of one reconciliation and the start of the next
  /// (RATE_LIMIT_SYNC_INTERVAL).
  caf::timespan interval = std::chrono::milliseconds{defaults::rate_limit_sync_interval_ms};
  /// Deadline of each Redis call (REDIS_TIMEOUT).
  caf::timespan timeout = std::chrono::milliseconds{500};
  /// Buckets per Redis call (a round with more sends several calls at once).
  std::size_t buckets_per_call = 1000;
};

/// Counters of the reconciliation, readable from any thread.
struct bucket_sync_stats {
  std::atomic<uint64_t> rounds{0};    ///< rounds whose every call reached Redis
  std::atomic<uint64_t> failures{0};  ///< rounds with a call that failed (Redis down, timeout)
};

/// Spawns the actor that reconciles `buckets` with Redis: every `interval`, the buckets used
/// since the previous round are reported in one script call (per `buckets_per_call`), and each
/// is lowered to what the cluster has left. When Redis fails, the round's reports are dropped,
/// the buckets decide alone (logged once per outage), and the next round tries again. Each round
/// is also counted in the service's metrics (`caa_rate_limit_sync_*`). Stop it with
/// `caf::anon_send_exit(a, caf::exit_reason::user_shutdown)`.
caf::actor spawn_bucket_sync(caf::actor_system& sys, redis_actor redis,
                             std::shared_ptr<node_buckets> buckets,
                             std::shared_ptr<bucket_sync_stats> stats,
                             const bucket_sync_options& opts);

}  // namespace caa::storage
