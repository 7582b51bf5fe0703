#include "storage/postgres/statements.hpp"

#include <algorithm>
#include <array>

namespace caa::storage {

namespace {

// SQL reads better as written than as clang-format would wrap it.
// clang-format off
// Timestamps leave the database as RFC 3339 text in UTC, e.g. 2024-05-01T12:00:00.123Z.
#define CAA_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

// The columns of a key record, in the order `parse_key_record` reads them; `k` is api_keys and
// `t` its tenant. Never the key_hash.
#define CAA_KEY_COLUMNS                                                                      \
  "k.id::text, k.tenant_id::text, t.name, k.name, array_to_string(k.scopes, ','), k.prefix, " \
  CAA_TS("k.created_at") ", " CAA_TS("k.last_used_at") ", " CAA_TS("k.revoked_at")

// Upsert of a tenant by name that returns the row in every case (a no-op update locks it).
#define CAA_TENANT_UPSERT(name_sql)                                                     \
  "INSERT INTO tenants (name) VALUES (" name_sql ") ON CONFLICT (name) DO UPDATE SET " \
  "name = EXCLUDED.name RETURNING id, name"

constexpr std::array<statement_def, 9> catalogue{{
  {stmt::ping, "SELECT 1"},
  {stmt::tenant_ensure, CAA_TENANT_UPSERT("$1")},
  {stmt::key_create,
   "WITH t AS (" CAA_TENANT_UPSERT("$1") "), "
   "k AS (INSERT INTO api_keys (tenant_id, name, scopes, key_hash, prefix) "
   "SELECT t.id, $2, string_to_array($3, ','), decode($4, 'hex'), $5 FROM t RETURNING *) "
   "SELECT " CAA_KEY_COLUMNS " FROM k JOIN t ON t.id = k.tenant_id"},
  {stmt::key_list,
   "SELECT " CAA_KEY_COLUMNS " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
   "WHERE ($1::text IS NULL OR t.name = $1::text) ORDER BY k.created_at, k.id "
   "LIMIT $2::integer OFFSET $3::integer"},
  {stmt::key_revoke,
   "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::uuid"},
  {stmt::key_find_by_hash,
   "SELECT " CAA_KEY_COLUMNS " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
   "WHERE k.key_hash = decode($1, 'hex')"},
  {stmt::key_touch, "UPDATE api_keys SET last_used_at = now() WHERE id = $1::uuid"},
  {stmt::bootstrap_upsert,
   "WITH t AS (" CAA_TENANT_UPSERT("'default'") "), "
   "k AS (INSERT INTO api_keys (tenant_id, name, scopes, key_hash, prefix) "
   "SELECT t.id, 'bootstrap', ARRAY['agent', 'admin'], decode($1, 'hex'), $2 FROM t "
   "ON CONFLICT (key_hash) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, name = EXCLUDED.name, "
   "scopes = EXCLUDED.scopes, revoked_at = NULL RETURNING *) "
   "SELECT " CAA_KEY_COLUMNS " FROM k JOIN t ON t.id = k.tenant_id"},
  {stmt::bootstrap_revoke_others,
   "UPDATE api_keys SET revoked_at = now() WHERE name = 'bootstrap' AND revoked_at IS NULL "
   "AND key_hash <> decode($1, 'hex') "
   "AND tenant_id = (SELECT id FROM tenants WHERE name = 'default')"},
}};
// clang-format on

#undef CAA_TENANT_UPSERT
#undef CAA_KEY_COLUMNS
#undef CAA_TS

}  // namespace

std::span<const statement_def> statement_catalogue() noexcept {
  return catalogue;
}

const statement_def* find_statement(std::string_view name) noexcept {
  auto i = std::find_if(catalogue.begin(), catalogue.end(),
                        [name](const statement_def& s) { return s.name == name; });
  return i == catalogue.end() ? nullptr : &*i;
}

}  // namespace caa::storage
