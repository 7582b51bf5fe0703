#include "transport/http/auth_throttle.hpp"

#include <algorithm>

namespace caa::http {

auth_throttle::auth_throttle(unsigned per_minute, std::size_t max_addresses)
    : capacity_(std::max(1u, per_minute)),
      per_second_(capacity_ / 60.0),
      max_addresses_(max_addresses) {}

void auth_throttle::refill(bucket& b, clock::time_point now) const {
  if (now <= b.at) return;
  std::chrono::duration<double> dt = now - b.at;
  b.tokens = std::min(capacity_, b.tokens + dt.count() * per_second_);
  b.at = now;
}

bool auth_throttle::blocked(const std::string& address, clock::time_point now,
                            double& retry_after) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = buckets_.find(address);
  if (it == buckets_.end()) return false;
  refill(it->second, now);
  if (it->second.tokens >= 1) return false;
  retry_after = (1 - it->second.tokens) / per_second_;
  return true;
}

void auth_throttle::failed(const std::string& address, clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_addresses_) {
      // Full buckets say nothing: forget them first.
      std::erase_if(buckets_, [&](const auto& kv) {
        std::chrono::duration<double> dt = now - kv.second.at;
        return kv.second.tokens + dt.count() * per_second_ >= capacity_;
      });
      if (buckets_.size() >= max_addresses_) return;
    }
    it = buckets_.emplace(address, bucket{capacity_, now}).first;
  }
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
}

std::size_t auth_throttle::tracked() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return buckets_.size();
}

}  // namespace caa::http
