#pragma once

// Failed authentications per client address (AUTH_FAILURES_PER_MINUTE): a token bucket per
// address that only failures drain. While an address's bucket is empty, its requests are
// answered 429 before any key lookup (PostgreSQL never sees the flood), except for keys that
// authenticated recently (the authenticator vouches for them): a flood from a shared address
// does not lock out a client that already proved its key.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace caa::http {

class auth_throttle {
 public:
  using clock = std::chrono::steady_clock;

  /// `per_minute` failures per address and minute (burst: the same number); at most
  /// `max_addresses` addresses are tracked (beyond, full buckets are forgotten first, then
  /// new addresses are not tracked until room frees).
  explicit auth_throttle(unsigned per_minute, std::size_t max_addresses = 100'000);

  /// Whether `address` may not try another key now; `retry_after` gets the seconds until it may.
  bool blocked(const std::string& address, clock::time_point now, double& retry_after);
  /// One failed authentication of `address`.
  void failed(const std::string& address, clock::time_point now);
  /// Addresses tracked (tests).
  std::size_t tracked() const;

 private:
  struct bucket {
    double tokens;
    clock::time_point at;
  };
  void refill(bucket& b, clock::time_point now) const;

  double capacity_;
  double per_second_;
  std::size_t max_addresses_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace caa::http
