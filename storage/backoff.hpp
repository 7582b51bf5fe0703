#pragma once

#include <caf/timespan.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace caa::storage {

/// Jittered exponential backoff for reconnects: the n-th delay is drawn uniformly from
/// [d/2, d] with d = min(cap, base * 2^n), so a fleet of workers does not reconnect in lockstep.
class backoff {
 public:
  /// A backoff starting at `base` and never exceeding `cap`.
  backoff(caf::timespan base, caf::timespan cap, uint64_t seed = std::random_device{}())
      : base_(base), cap_(cap), rng_(seed) {
    // nop
  }

  /// The delay before the next attempt; each call doubles the ceiling up to the cap.
  caf::timespan next() {
    auto ceiling = base_ * (int64_t{1} << std::min(attempt_, 20u));
    ceiling = std::min(ceiling, cap_);
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist{ceiling.count() / 2, ceiling.count()};
    return caf::timespan{dist(rng_)};
  }

  /// Starts over after a success.
  void reset() noexcept { attempt_ = 0; }

  /// The number of delays handed out since the last reset.
  unsigned attempts() const noexcept { return attempt_; }

 private:
  caf::timespan base_;
  caf::timespan cap_;
  unsigned attempt_ = 0;
  std::minstd_rand rng_;
};

}  // namespace caa::storage
