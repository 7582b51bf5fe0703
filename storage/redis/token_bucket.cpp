#include "storage/redis/token_bucket.hpp"

#include <algorithm>
#include <chrono>

namespace caa::storage {

token_bucket token_bucket::full(unsigned per_minute, double now_s) noexcept {
  return token_bucket{static_cast<double>(per_minute), now_s};
}

token_decision token_bucket::take(unsigned per_minute, double now_s) noexcept {
  if (per_minute == 0) return {false, 60.0};
  auto capacity = static_cast<double>(per_minute);
  auto rate = capacity / 60.0;
  if (now_s > updated_s) {
    tokens = std::min(capacity, tokens + (now_s - updated_s) * rate);
    updated_s = now_s;
  }
  if (tokens >= 1.0) {
    tokens -= 1.0;
    return {true, 0.0};
  }
  return {false, (1.0 - tokens) / rate};
}

local_buckets::local_buckets(std::size_t max_entries, double idle_ttl_s)
    : max_entries_(std::max<std::size_t>(1, max_entries)), idle_ttl_s_(idle_ttl_s) {
  // nop
}

token_decision local_buckets::take(const std::string& key, unsigned per_minute, double now_s) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = map_.find(key);
  if (i != map_.end() && now_s - i->second.bucket.updated_s > idle_ttl_s_) {
    lru_.erase(i->second.lru_pos);  // expired: starts again full
    map_.erase(i);
    i = map_.end();
  }
  if (i == map_.end()) {
    while (map_.size() >= max_entries_) {
      map_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    i = map_.emplace(key, entry{token_bucket::full(per_minute, now_s), lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, i->second.lru_pos);
  }
  return i->second.bucket.take(per_minute, now_s);
}

std::size_t local_buckets::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return map_.size();
}

double steady_seconds() noexcept {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace caa::storage
