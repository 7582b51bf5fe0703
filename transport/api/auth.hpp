#pragma once

#include "transport/http/types.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
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

/// The only maker of `principal`s: it holds the passkey's friendship.
class passkey_issuer {
  friend class key_authenticator;
  friend struct test_access;
  static http::auth_passkey issue() { return {}; }
};

/// Authenticates API keys: SHA-256 lookup in PostgreSQL, constant-time comparison of the stored
/// digest, and a short in-process cache (TTL <= 5 s, so a revoked key stops working in time).
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
  void remember_locked(const std::string& hash_key, std::optional<key_row> row);
  void land(const std::string& hash_key, const std::shared_ptr<flight>& f,
            const std::optional<key_row>& row, const caf::error& err);
  static void answer(const std::optional<key_row>& row, const digest& hash,
                     const std::function<void(std::optional<http::principal>, caf::error)>& done);

  key_lookup lookup_;
  std::chrono::milliseconds ttl_;
  std::size_t max_entries_;
  std::mutex mtx_;
  std::unordered_map<std::string, entry> cache_;
  std::unordered_map<std::string, std::shared_ptr<flight>> in_flight_;
};

}  // namespace caa::auth
