#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace caa::storage {

/// The outcome of taking one token.
struct token_decision {
  bool allowed = false;        ///< a token was taken
  double retry_after_s = 0.0;  ///< when refused: seconds until one token is available
};

/// A token bucket with capacity `per_minute` that refills `per_minute / 60` tokens per second.
/// Pure: time is passed in (seconds on any monotonic clock), so tests inject it. The Redis Lua
/// script of rate_limit.cpp does the same maths.
struct token_bucket {
  double tokens = 0.0;     ///< tokens available at `updated_s`
  double updated_s = 0.0;  ///< when `tokens` was computed

  /// A full bucket at `now_s`.
  static token_bucket full(unsigned per_minute, double now_s) noexcept;

  /// Refills up to `now_s` and takes one token if there is one. A clock that goes backwards
  /// refills nothing. `per_minute == 0` refuses everything with retry_after 60 s.
  token_decision take(unsigned per_minute, double now_s) noexcept;
};

/// In-process buckets by key, used when Redis is unavailable: thread-safe, at most
/// `max_entries` keys (least recently used evicted first), and a key idle for `idle_ttl_s`
/// starts again full (like the Redis key's 2-minute expiry).
class local_buckets {
 public:
  /// A map of at most `max_entries` buckets.
  explicit local_buckets(std::size_t max_entries = 100'000, double idle_ttl_s = 120.0);

  /// Takes one token from bucket `key` at `now_s`.
  token_decision take(const std::string& key, unsigned per_minute, double now_s);

  /// The number of buckets held.
  std::size_t size() const;

 private:
  struct entry {
    token_bucket bucket;
    std::list<std::string>::iterator lru_pos;
  };

  std::size_t max_entries_;
  double idle_ttl_s_;
  mutable std::mutex mtx_;
  std::list<std::string> lru_;  ///< most recently used first
  std::unordered_map<std::string, entry> map_;
};

/// Seconds on the steady clock (the clock of the fallback buckets).
double steady_seconds() noexcept;

}  // namespace caa::storage
