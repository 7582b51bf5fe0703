#pragma once

#include "transport/http/types.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace caa::auth {

/// A SHA-256 digest.
using digest = std::array<uint8_t, 32>;

/// What the key store knows of a key, looked up by the SHA-256 of the presented key.
struct key_row {
  std::string key_id;
  std::string tenant_id;
  std::string tenant_name;
  int64_t agent_slot = -1;  ///< the tenant's slot in the sandbox uid range (-1: unknown)
  digest key_hash{};
  bool agent = false;
  bool admin = false;
  bool revoked = false;
};

/// Looks a key up by hash; calls `done` once with the row (nullopt: unknown) or an error.
using key_lookup = std::function<void(
    const digest& hash, std::function<void(std::optional<key_row>, caf::error)> done)>;

/// Asks which of the key ids are revoked; calls `done` once with them or an error.
using revoked_lookup =
    std::function<void(std::vector<std::string> key_ids,
                       std::function<void(std::vector<std::string>, caf::error)> done)>;

/// The only maker of `principal`s: it holds the passkey's friendship.
class passkey_issuer {
  friend class key_authenticator;
  friend struct test_access;
  static http::auth_passkey issue() { return {}; }
};

/// A map with a bounded number of entries that forgets the least recently used one first.
template <class V>
class lru_map {
 public:
  explicit lru_map(std::size_t capacity) : capacity_(capacity) {}
  /// The value of `k` (made the most recently used), or null.
  V* find(const std::string& k) {
    auto it = index_.find(k);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  /// Sets `k` to `v` (the most recently used); forgets the least recently used beyond capacity.
  void put(const std::string& k, V v) {
    if (auto* x = find(k)) {
      *x = std::move(v);
      return;
    }
    order_.emplace_front(k, std::move(v));
    index_[k] = order_.begin();
    while (index_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }
  void erase(const std::string& k) {
    if (auto it = index_.find(k); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }
  /// Erases every entry for which `pred(key, value)` holds.
  template <class Pred>
  void erase_if(Pred pred) {
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(it->first, it->second)) {
        index_.erase(it->first);
        it = order_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::size_t size() const noexcept { return index_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::pair<std::string, V>> order_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, V>>::iterator> index_;
};

/// Authenticates API keys: SHA-256 lookup in PostgreSQL, constant-time comparison of the stored
/// digest, and a short in-process cache (TTL <= 5 s, so a revoked key stops working in time).
/// Known keys and unknown ones (the negative cache) are kept in two separate LRU maps, so a flood
/// of random keys can only push out other random keys, never a key that works.
/// Concurrent cache misses of one key share a single lookup (single flight); its waiters all get
/// its result, and a failed lookup is neither cached nor shared with later requests.
/// Create it with `std::make_shared`: pending lookups keep it alive.
class key_authenticator final : public http::authenticator,
                                public std::enable_shared_from_this<key_authenticator> {
 public:
  /// Creates an authenticator that resolves cache misses through `lookup`.
  key_authenticator(key_lookup lookup, std::chrono::milliseconds ttl,
                    std::size_t max_entries = 10'000);

  void authenticate(std::string presented_key,
                    std::function<void(std::optional<http::principal>, caf::error)> done) override;

  /// Drops every cached entry of `key_id` (called after a revoke on this node); lookups already in
  /// flight still answer their waiters but are neither cached nor joined by later requests.
  void invalidate(const std::string& key_id);

  /// Whether `key` has the shape of one of our keys (cheap pre-check before hashing).
  static bool plausible(const std::string& key) noexcept;

  /// Whether `presented_key` authenticated successfully within the last `vouch_window`.
  bool vouched(const std::string& presented_key) override;

  /// How long a key that worked is vouched for against its address's failure limit.
  static constexpr std::chrono::minutes vouch_window{10};

  /// Entries in the positive and negative caches (tests).
  std::pair<std::size_t, std::size_t> cache_sizes();

  // -- open connections of a key ----------------------------------------------------------------

  /// How `check_revocations` learns which keys were revoked (on any node: PostgreSQL decides).
  void set_revocation_check(revoked_lookup f);
  /// A connection (WebSocket, SSE stream) authenticated with key `key_id`: `close` runs once,
  /// on any thread, when the key is revoked, unless `owner` is gone by then.
  void watch(const std::string& key_id, std::weak_ptr<void> owner, std::function<void()> close);
  /// Asks which keys of open connections are revoked and closes those connections. Called every
  /// half KEY_CACHE_TTL: a revoke on any node closes them within the TTL.
  void check_revocations();
  /// Open connections watched (tests).
  std::size_t watched();

 private:
  struct entry {
    std::optional<key_row> row;  // nullopt: negative entry (unknown key)
    std::chrono::steady_clock::time_point expires;
  };

  using callback = std::function<void(std::optional<http::principal>, caf::error)>;

  /// One lookup in progress and the requests waiting for it.
  struct flight {
    std::vector<callback> waiters;
    bool detached = false;  // invalidated while in flight: do not cache its result
  };

  std::optional<entry> cached(const std::string& hash_key);
  /// Drops the cached entries and lookups in flight of `key_id`.
  void forget(const std::string& key_id);
  void remember_locked(const std::string& hash_key, std::optional<key_row> row);
  void land(const std::string& hash_key, const std::shared_ptr<flight>& f,
            const std::optional<key_row>& row, const caf::error& err);
  static void answer(const std::optional<key_row>& row, const digest& hash,
                     const std::function<void(std::optional<http::principal>, caf::error)>& done);

  key_lookup lookup_;
  std::chrono::milliseconds ttl_;
  std::mutex mtx_;
  lru_map<entry> known_;    // keys found (valid or revoked), by hash
  lru_map<entry> unknown_;  // keys not found (the negative cache), by hash
  lru_map<std::chrono::steady_clock::time_point> vouched_;  // hash -> last success
  struct watcher {
    std::weak_ptr<void> owner;
    std::function<void()> close;
  };
  /// Closes (outside the lock) the open connections of `key_ids`.
  void close_connections(const std::vector<std::string>& key_ids);
  std::unordered_multimap<std::string, watcher> watchers_;  // by key id
  revoked_lookup revoked_lookup_;
  bool checking_ = false;  // a revocation check is in flight
  std::unordered_map<std::string, std::shared_ptr<flight>> in_flight_;
};

}  // namespace caa::auth
