#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace caa::storage {

/// The outcome of taking one token.
struct token_decision {
  bool allowed = false;        ///< a token was taken
  double retry_after_s = 0.0;  ///< when refused: seconds until one token is available
};

/// A token bucket with capacity `per_minute` that refills `per_minute / 60` tokens per second.
/// Pure: time is passed in (seconds on any monotonic clock), so tests inject it. The
/// reconciliation script of rate_limit.cpp refills the cluster's buckets the same way.
struct token_bucket {
  double tokens = 0.0;     ///< tokens available at `updated_s`
  double updated_s = 0.0;  ///< when `tokens` was computed

  /// A full bucket at `now_s`.
  static token_bucket full(unsigned per_minute, double now_s) noexcept;

  /// Refills up to `now_s` and takes one token if there is one. A clock that goes backwards
  /// refills nothing. `per_minute == 0` refuses everything with retry_after 60 s.
  token_decision take(unsigned per_minute, double now_s) noexcept;

  /// Refills up to `now_s` (at most to `per_minute` tokens); takes nothing.
  void refill(unsigned per_minute, double now_s) noexcept;
};

/// What a node tells the cluster about one of its buckets at a reconciliation.
struct bucket_report {
  std::string key;          ///< the bucket, e.g. "<key id>:query"
  unsigned per_minute = 0;  ///< its limit (capacity; refill per_minute / 60 per second)
  uint64_t taken = 0;       ///< tokens this node took since its previous report
};

/// The cluster-wide bucket of one key as the reconciliation script of rate_limit.cpp keeps it in
/// Redis (same maths, so tests can simulate a cluster without Redis). It refills like a
/// `token_bucket` and is charged with what the nodes report; it may go negative: tokens the
/// nodes admitted before they learnt of each other are a debt that the refill pays back.
struct shared_bucket {
  double tokens = 0.0;     ///< tokens at `updated_s` (meaningless while `!exists`)
  double updated_s = 0.0;  ///< when `tokens` was computed
  bool exists = false;     ///< false: the first report starts it full

  /// Refills up to `now_s` (at most to `per_minute`), subtracts `taken`, and returns the tokens
  /// left: what every node should believe the bucket holds.
  double report(unsigned per_minute, uint64_t taken, double now_s) noexcept;
};

/// This node's buckets of the cluster-wide limits: the request path decides on them alone,
/// synchronously; a background reconciliation (rate_limit.hpp) reports what was taken and lowers
/// them to what the whole cluster took. Thread-safe (the map is split in mutex-guarded shards),
/// at most `max_entries` buckets (least recently used evicted first), and a bucket idle for
/// `idle_ttl_s` is dropped once it has refilled to full (a new one would be identical).
class node_buckets {
 public:
  /// A map of at most `max_entries` buckets (rounded up to a multiple of the shard count).
  explicit node_buckets(std::size_t max_entries = 100'000, double idle_ttl_s = 120.0);

  /// Takes one token from bucket `key` at `now_s`, deciding on this node's view alone.
  /// `per_minute == 0` means no limit. The bucket is reported at the next `collect`.
  token_decision take(const std::string& key, unsigned per_minute, double now_s);

  /// The buckets used since the previous call, with the tokens taken since then (their counts
  /// start again from zero: a report that never reaches Redis is forgotten, never sent twice).
  /// Also drops idle buckets that have refilled to full.
  std::vector<bucket_report> collect(double now_s);

  /// Applies the cluster's answer for bucket `key` of a `collect` made earlier: the bucket holds
  /// at most `cluster_tokens` minus what this node took since that `collect`. Only lowers.
  void apply(const std::string& key, double cluster_tokens, double now_s);

  /// The number of buckets held.
  std::size_t size() const;

 private:
  struct entry {
    token_bucket bucket;
    unsigned per_minute = 0;
    uint64_t taken = 0;   ///< tokens taken since the last `collect`
    double used_s = 0.0;  ///< last `take`
    bool used = false;    ///< taken from (or refused) since the last `collect`
    std::list<std::string>::iterator lru_pos;
  };

  struct shard {
    mutable std::mutex mtx;
    std::list<std::string> lru;  ///< most recently used first
    std::unordered_map<std::string, entry> map;
    std::vector<std::string> used;  ///< keys whose `used` went true since the last `collect`
  };

  static constexpr std::size_t shard_count = 16;
  /// Idle buckets examined per shard and `collect` (bounds the time a shard is locked).
  static constexpr std::size_t sweep_budget = 256;

  shard& shard_of(const std::string& key);

  std::size_t max_per_shard_;
  double idle_ttl_s_;
  std::array<shard, shard_count> shards_;
};

/// Seconds on the steady clock (the clock the service passes to `node_buckets`).
double steady_seconds() noexcept;

}  // namespace caa::storage
