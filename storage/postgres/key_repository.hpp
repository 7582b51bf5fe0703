#pragma once

#include "storage/postgres/key_queries.hpp"
#include "storage/postgres/pg_pool.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace caa::storage {

/// Tenants and API keys for code that is not an actor (Beast handlers, main). Every operation
/// is asynchronous: exactly one of the two callbacks runs, on a CAF thread, or on the caller's
/// thread for an argument that fails validation. Errors are `errc` (`unavailable` also for a
/// missed deadline). Actors use the builders and parsers of key_queries.hpp instead.
class key_repository {
 public:
  /// Receives a value.
  template <class T>
  using on_value = std::function<void(T)>;

  /// Receives an error.
  using on_error = std::function<void(caf::error)>;

  /// Operates on `pg` with `timeout` per request (use `pg_request_timeout`).
  key_repository(caf::actor_system& sys, pg_actor pg, caf::timespan timeout);

  /// Creates tenant `name` unless it exists; returns it.
  void ensure_tenant(const std::string& name, on_value<tenant> ok, on_error fail) const;

  /// Creates a key for `tenant_name` (creating the tenant if needed). Only its SHA-256 is stored;
  /// the plaintext exists only in the reply.
  void create_key(const std::string& tenant_name, const std::vector<std::string>& scopes,
                  const std::string& name, on_value<created_key> ok, on_error fail) const;

  /// Lists keys (never a key or its hash).
  void list_keys(const key_filter& filter, on_value<std::vector<key_record>> ok,
                 on_error fail) const;

  /// Revokes key `id`; true when it exists (also when it was revoked already).
  void revoke_key(const std::string& id, on_value<bool> ok, on_error fail) const;

  /// The key whose plaintext hashes to `digest`, revoked ones included (check `revoked()`).
  void find_by_hash(sha256_digest digest, on_value<std::optional<key_record>> ok,
                    on_error fail) const;

  /// The ids among `ids` whose keys are revoked.
  void revoked_among(const std::vector<std::string>& ids, on_value<std::vector<std::string>> ok,
                     on_error fail) const;

  /// Sets last_used_at = now(); true when the key exists. Throttling is the caller's job.
  void touch_last_used(const std::string& id, on_value<bool> ok, on_error fail) const;

  /// Seeds or rotates the bootstrap admin key (API_KEY); see `make_seed_bootstrap_batch`.
  void seed_bootstrap_key(const secret& plaintext, on_value<key_record> ok, on_error fail) const;

 private:
  caf::actor_system& sys_;
  pg_actor pg_;
  caf::timespan timeout_;
};

/// `seed_bootstrap_key`, BLOCKING the calling thread until done: for `main` before the server
/// starts, and tests; never on a CAF or I/O thread.
caf::expected<key_record> seed_bootstrap_key_blocking(caf::actor_system& sys, const pg_actor& pg,
                                                      caf::timespan timeout,
                                                      const secret& plaintext);

}  // namespace caa::storage
