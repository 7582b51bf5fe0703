#pragma once

// Tenants and API keys as pure request builders and result parsers over the pg_actor protocol.
// An actor uses them directly:
//   auto q = make_find_by_hash_query(digest);
//   self->request(pg, timeout, q).then([=](db_result& r) { auto rec = parse_optional_key(r); });
// Code that is not an actor uses `key_repository` (callbacks), built on the same functions.

#include "config/secret.hpp"
#include "storage/crypto.hpp"
#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// A tenant.
struct tenant {
  std::string id;    ///< uuid
  std::string name;  ///< ^[a-z0-9][a-z0-9_-]{0,62}$
};

/// An API key as stored: never the key itself, never its hash.
struct key_record {
  std::string id;                           ///< uuid
  std::string tenant_id;                    ///< uuid
  std::string tenant_name;                  ///< the tenant's name
  std::string name;                         ///< a label, 1-100 characters
  std::vector<std::string> scopes;          ///< subset of {"agent", "admin"}, not empty
  std::string prefix;                       ///< first 12 characters of the key (display only)
  std::string created_at;                   ///< RFC 3339 UTC, e.g. 2024-05-01T12:00:00.123Z
  std::optional<std::string> last_used_at;  ///< RFC 3339 UTC
  std::optional<std::string> revoked_at;    ///< RFC 3339 UTC; set means the key is refused
  int64_t agent_slot = -1;                  ///< the tenant's slot in the sandbox uid range

  /// Whether the key has been revoked.
  bool revoked() const noexcept { return revoked_at.has_value(); }

  /// Whether the key carries `scope`.
  bool has_scope(std::string_view scope) const noexcept;
};

/// A freshly created key: the record and the plaintext, which is shown once and never stored.
struct created_key {
  key_record record;  ///< as stored
  secret plaintext;   ///< "caa_" + 43 base64url characters
};

/// A new key before it is stored.
struct key_material {
  secret plaintext;      ///< the full key
  std::string hash_hex;  ///< hex SHA-256 of the full key (what is stored, as bytea)
  std::string prefix;    ///< first 12 characters
};

/// Which keys to list: an optional tenant, and a page (limit 1-100).
struct key_filter {
  std::optional<std::string> tenant_name;  ///< only this tenant's keys
  unsigned limit = 50;                     ///< clamped to [1, 100]
  unsigned offset = 0;                     ///< rows to skip
};

/// The length of a key's display prefix.
inline constexpr std::size_t key_prefix_length = 12;

/// Whether `name` is a valid tenant name (^[a-z0-9][a-z0-9_-]{0,62}$).
bool valid_tenant_name(std::string_view name) noexcept;

/// A new random key: "caa_" + base64url of 32 bytes from RAND_bytes, its hash and prefix.
key_material generate_key_material();

/// The hash, hex-encoded, and prefix of an existing plaintext key.
key_material key_material_of(const secret& plaintext);

/// Upserts the tenant called `name`. Errors: validation (bad name).
caf::expected<db_query> make_ensure_tenant_query(std::string_view name);

/// Stores `key` for tenant `tenant_name` (created if missing) with `scopes` and label `name`.
/// Errors: validation (bad tenant name, label, or scopes).
caf::expected<db_query> make_create_key_query(std::string_view tenant_name,
                                              const std::vector<std::string>& scopes,
                                              std::string_view name, const key_material& key);

/// Lists keys by creation time.
db_query make_list_keys_query(const key_filter& filter);

/// Sets revoked_at (idempotent). A malformed id matches nothing.
db_query make_revoke_key_query(std::string_view id);

/// Looks a key up by the SHA-256 of its plaintext.
db_query make_find_by_hash_query(const sha256_digest& digest);

/// Sets last_used_at = now(). A malformed id matches nothing.
db_query make_touch_last_used_query(std::string_view id);

/// Which of the keys `ids` are revoked (malformed ids are left out; at most 1,000 ids).
caf::expected<db_query> make_revoked_among_query(const std::vector<std::string>& ids);

/// The ids of a `make_revoked_among_query` result.
std::vector<std::string> parse_id_list(const db_result& r);

/// Makes sure tenant `default` has an admin key (scopes agent+admin, name "bootstrap") with
/// exactly the hash of `plaintext`, not revoked, and revokes every other "bootstrap" key of
/// tenant `default`: one transaction. Errors: validation (empty key).
caf::expected<db_batch> make_seed_bootstrap_batch(const secret& plaintext);

/// The tenant of a `make_ensure_tenant_query` result.
caf::expected<tenant> parse_tenant(const db_result& r);

/// The single key record of `r` (create, seed).
caf::expected<key_record> parse_key_record(const db_result& r);

/// The key record of `r`, if any (find_by_hash).
caf::expected<std::optional<key_record>> parse_optional_key(const db_result& r);

/// Every key record of `r` (list).
caf::expected<std::vector<key_record>> parse_key_list(const db_result& r);

/// Whether an UPDATE matched a row (revoke, touch).
bool parse_found(const db_result& r) noexcept;

/// The bootstrap key of a `make_seed_bootstrap_batch` result.
caf::expected<key_record> parse_seed_result(const std::vector<db_result>& rs);

}  // namespace caa::storage
