#include "storage/redis/token_bucket.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

namespace caa::storage {

token_bucket token_bucket::full(unsigned per_minute, double now_s) noexcept {
  return token_bucket{static_cast<double>(per_minute), now_s};
}

void token_bucket::refill(unsigned per_minute, double now_s) noexcept {
  if (now_s <= updated_s) return;
  auto capacity = static_cast<double>(per_minute);
  tokens = std::min(capacity, tokens + (now_s - updated_s) * capacity / 60.0);
  updated_s = now_s;
}

token_decision token_bucket::take(unsigned per_minute, double now_s) noexcept {
  if (per_minute == 0) return {false, 60.0};
  auto rate = static_cast<double>(per_minute) / 60.0;
  refill(per_minute, now_s);
  if (tokens >= 1.0) {
    tokens -= 1.0;
    return {true, 0.0};
  }
  return {false, (1.0 - tokens) / rate};
}

double shared_bucket::report(unsigned per_minute, uint64_t taken, double now_s) noexcept {
  auto capacity = static_cast<double>(per_minute);
  if (!exists) {
    tokens = capacity;
    updated_s = now_s;
    exists = true;
  }
  if (now_s > updated_s) {
    tokens = std::min(capacity, tokens + (now_s - updated_s) * capacity / 60.0);
    updated_s = now_s;
  }
  tokens -= static_cast<double>(taken);
  return tokens;
}

node_buckets::node_buckets(std::size_t max_entries, double idle_ttl_s)
    : max_per_shard_(std::max<std::size_t>(1, (max_entries + shard_count - 1) / shard_count)),
      idle_ttl_s_(idle_ttl_s) {
  // nop
}

node_buckets::shard& node_buckets::shard_of(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % shard_count];
}

token_decision node_buckets::take(const std::string& key, unsigned per_minute, double now_s) {
  if (per_minute == 0) return {true, 0.0};
  auto& s = shard_of(key);
  std::lock_guard<std::mutex> guard{s.mtx};
  auto i = s.map.find(key);
  if (i == s.map.end()) {
    while (s.map.size() >= max_per_shard_) {
      s.map.erase(s.lru.back());
      s.lru.pop_back();
    }
    s.lru.push_front(key);
    entry e;
    e.bucket = token_bucket::full(per_minute, now_s);
    e.per_minute = per_minute;
    e.lru_pos = s.lru.begin();
    i = s.map.emplace(key, e).first;
  } else {
    s.lru.splice(s.lru.begin(), s.lru, i->second.lru_pos);
  }
  auto& e = i->second;
  e.used_s = std::max(e.used_s, now_s);
  if (!e.used) {
    e.used = true;
    s.used.push_back(key);
    if (s.used.size() > 2 * max_per_shard_) {
      // Nobody collects (no reconciliation) while buckets come and go: forget the evicted ones.
      std::erase_if(s.used, [&s](const std::string& k) { return !s.map.contains(k); });
    }
  }
  auto d = e.bucket.take(e.per_minute, now_s);
  if (d.allowed) ++e.taken;
  return d;
}

std::vector<bucket_report> node_buckets::collect(double now_s) {
  std::vector<bucket_report> out;
  for (auto& s : shards_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    for (auto& key : s.used) {
      auto i = s.map.find(key);
      if (i == s.map.end() || !i->second.used) continue;  // evicted, or listed twice
      auto& e = i->second;
      out.push_back(bucket_report{std::move(key), e.per_minute, e.taken});
      e.taken = 0;
      e.used = false;
    }
    s.used.clear();
    // Idle buckets, oldest first: a full one is dropped (a new bucket would be the same); one
    // still refilling (e.g. paying back a debt) stays until it is full.
    std::size_t examined = 0;
    for (auto pos = s.lru.end(); pos != s.lru.begin() && examined < sweep_budget; ++examined) {
      --pos;
      auto i = s.map.find(*pos);
      auto& e = i->second;
      if (now_s - e.used_s < idle_ttl_s_) break;  // this one and all newer ones are in use
      if (e.used) continue;
      auto b = e.bucket;
      b.refill(e.per_minute, now_s);
      if (b.tokens < static_cast<double>(e.per_minute)) continue;
      s.map.erase(i);
      pos = s.lru.erase(pos);
    }
  }
  return out;
}

void node_buckets::apply(const std::string& key, double cluster_tokens, double now_s) {
  auto& s = shard_of(key);
  std::lock_guard<std::mutex> guard{s.mtx};
  auto i = s.map.find(key);
  if (i == s.map.end()) return;
  auto& e = i->second;
  e.bucket.refill(e.per_minute, now_s);
  e.bucket.tokens = std::min(e.bucket.tokens, cluster_tokens - static_cast<double>(e.taken));
}

std::size_t node_buckets::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    n += s.map.size();
  }
  return n;
}

double steady_seconds() noexcept {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace caa::storage
