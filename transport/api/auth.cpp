#include "transport/api/auth.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace caa::auth {

namespace {

digest sha256_of(const std::string& s) {
  digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

}  // namespace

key_authenticator::key_authenticator(key_lookup lookup, std::chrono::milliseconds ttl,
                                     std::size_t max_entries)
    : lookup_(std::move(lookup)),
      ttl_(ttl),
      known_(max_entries),
      unknown_(max_entries),
      vouched_(max_entries) {}

bool key_authenticator::plausible(const std::string& key) noexcept {
  if (key.empty() || key.size() > 256) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void key_authenticator::authenticate(
    std::string presented_key,
    std::function<void(std::optional<http::principal>, caf::error)> done) {
  if (!plausible(presented_key)) {
    done(std::nullopt, make_error(errc::unauthenticated, "malformed key"));
    return;
  }
  auto hash = sha256_of(presented_key);
  std::string hash_key{reinterpret_cast<const char*>(hash.data()), hash.size()};
  if (auto hit = cached(hash_key)) {
    answer(hit->row, hash, done);
    if (hit->row && !hit->row->revoked) {
      std::lock_guard<std::mutex> guard{mtx_};
      vouched_.put(hash_key, std::chrono::steady_clock::now());
    }
    return;
  }
  auto f = std::make_shared<flight>();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto [it, first] = in_flight_.try_emplace(hash_key, f);
    it->second->waiters.push_back(std::move(done));
    if (!first) return;  // a lookup of this key is on its way and will answer us too
  }
  auto self = shared_from_this();
  lookup_(hash, [self, hash_key, f](const std::optional<key_row>& row, const caf::error& err) {
    self->land(hash_key, f, row, err);
  });
}

void key_authenticator::land(const std::string& hash_key, const std::shared_ptr<flight>& f,
                             const std::optional<key_row>& row, const caf::error& err) {
  std::vector<callback> waiters;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto it = in_flight_.find(hash_key);
    if (it != in_flight_.end() && it->second == f) in_flight_.erase(it);
    if (!err && !f->detached) remember_locked(hash_key, row);
    if (!err && row && !row->revoked)
      vouched_.put(hash_key, std::chrono::steady_clock::now());
    else if (!err)
      vouched_.erase(hash_key);  // unknown or revoked now: no longer vouched for
    waiters.swap(f->waiters);
  }
  if (err) {
    // PostgreSQL trouble is not the caller's fault: 503, and nothing is cached.
    for (auto& done : waiters)
      done(std::nullopt, make_error(errc::unavailable, "key lookup failed"));
    return;
  }
  digest hash{};
  std::copy(hash_key.begin(), hash_key.end(), hash.begin());
  for (auto& done : waiters) answer(row, hash, done);
}

void key_authenticator::answer(
    const std::optional<key_row>& row, const digest& hash,
    const std::function<void(std::optional<http::principal>, caf::error)>& done) {
  // The lookup was by hash; compare the digests again in constant time as defence in depth.
  if (!row || row->revoked || CRYPTO_memcmp(row->key_hash.data(), hash.data(), hash.size()) != 0) {
    done(std::nullopt, make_error(errc::unauthenticated, "unknown or revoked key"));
    return;
  }
  done(http::principal{passkey_issuer::issue(), row->tenant_id, row->tenant_name, row->key_id,
                       row->agent, row->admin, row->agent_slot},
       caf::error{});
}

std::optional<key_authenticator::entry> key_authenticator::cached(const std::string& hash_key) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  for (auto* map : {&known_, &unknown_}) {
    auto* e = map->find(hash_key);
    if (e == nullptr) continue;
    if (e->expires <= now) {
      map->erase(hash_key);
      return std::nullopt;
    }
    return *e;
  }
  return std::nullopt;
}

void key_authenticator::remember_locked(const std::string& hash_key, std::optional<key_row> row) {
  // Bounded: each map forgets its least recently used entry first.
  auto expires = std::chrono::steady_clock::now() + ttl_;
  if (row) {
    unknown_.erase(hash_key);
    known_.put(hash_key, entry{std::move(row), expires});
  } else {
    known_.erase(hash_key);
    unknown_.put(hash_key, entry{std::nullopt, expires});
  }
}

bool key_authenticator::vouched(const std::string& presented_key) {
  if (!plausible(presented_key)) return false;
  auto hash = sha256_of(presented_key);
  std::string hash_key{reinterpret_cast<const char*>(hash.data()), hash.size()};
  std::lock_guard<std::mutex> guard{mtx_};
  auto* at = vouched_.find(hash_key);
  return at != nullptr && std::chrono::steady_clock::now() - *at < vouch_window;
}

std::pair<std::size_t, std::size_t> key_authenticator::cache_sizes() {
  std::lock_guard<std::mutex> guard{mtx_};
  return {known_.size(), unknown_.size()};
}

void key_authenticator::set_revocation_check(revoked_lookup f) {
  std::lock_guard<std::mutex> guard{mtx_};
  revoked_lookup_ = std::move(f);
}

void key_authenticator::watch(const std::string& key_id, std::weak_ptr<void> owner,
                              std::function<void()> close) {
  std::lock_guard<std::mutex> guard{mtx_};
  // Forget connections that ended before adding one (bounded by the open connections).
  if (watchers_.size() >= 64 && watchers_.size() % 64 == 0)
    std::erase_if(watchers_, [](const auto& kv) { return kv.second.owner.expired(); });
  watchers_.emplace(key_id, watcher{std::move(owner), std::move(close)});
}

std::size_t key_authenticator::watched() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::erase_if(watchers_, [](const auto& kv) { return kv.second.owner.expired(); });
  return watchers_.size();
}

void key_authenticator::close_connections(const std::vector<std::string>& key_ids) {
  std::vector<std::function<void()>> closers;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& id : key_ids) {
      auto [from, to] = watchers_.equal_range(id);
      for (auto it = from; it != to; ++it)
        if (!it->second.owner.expired()) closers.push_back(std::move(it->second.close));
      watchers_.erase(from, to);
    }
  }
  for (auto& close : closers)
    if (close) close();
}

void key_authenticator::check_revocations() {
  std::vector<std::string> ids;
  revoked_lookup lookup;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    std::erase_if(watchers_, [](const auto& kv) { return kv.second.owner.expired(); });
    if (checking_ || !revoked_lookup_ || watchers_.empty()) return;
    for (auto it = watchers_.begin(); it != watchers_.end();
         it = watchers_.equal_range(it->first).second)
      ids.push_back(it->first);
    if (ids.size() > 1000) ids.resize(1000);  // the rest at the next check
    checking_ = true;
    lookup = revoked_lookup_;
  }
  auto self = shared_from_this();
  lookup(std::move(ids), [self](const std::vector<std::string>& revoked, const caf::error& err) {
    {
      std::lock_guard<std::mutex> guard{self->mtx_};
      self->checking_ = false;
    }
    if (err) return;  // PostgreSQL trouble: the next check asks again
    for (auto& id : revoked) self->invalidate(id);
  });
}

void key_authenticator::invalidate(const std::string& key_id) {
  // The cache forgets the key before its connections close: a client that reconnects the moment
  // it sees the close must not be let in by an entry from before the revoke.
  forget(key_id);
  close_connections({key_id});
}

void key_authenticator::forget(const std::string& key_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> gone;
  known_.erase_if([&](const std::string& hash_key, const entry& e) {
    bool of_key = e.row && e.row->key_id == key_id;
    if (of_key) gone.push_back(hash_key);
    return of_key;
  });
  for (auto& hash_key : gone) vouched_.erase(hash_key);
  // A lookup in flight may have read the row before the revoke: its result is not cached and
  // later requests start a fresh lookup. Flights carry only hashes, so all of them are detached.
  for (auto& [hash_key, f] : in_flight_) f->detached = true;
  in_flight_.clear();
}

}  // namespace caa::auth
