#pragma once

// The catalogue of every SQL statement the service runs through the pool. Each entry is
// registered as a prepared statement on every new connection; a `db_query` names one. SQL text
// is a string literal here and never comes from a request, so injection cannot be written.

#include <span>
#include <string_view>

namespace caa::storage {

/// A named SQL statement with positional parameters $1, $2, ...
struct statement_def {
  std::string_view name;  ///< the prepared-statement name used in `db_query::statement_name`
  std::string_view sql;   ///< the SQL text (a literal)
};

/// Names of the catalogue's statements.
namespace stmt {
inline constexpr std::string_view ping = "ping";                    ///< SELECT 1
inline constexpr std::string_view tenant_ensure = "tenant_ensure";  ///< $1 name -> id, name
inline constexpr std::string_view key_create = "key_create";  ///< tenant,name,scopes,hash,prefix
inline constexpr std::string_view key_list = "key_list";      ///< tenant|NULL, limit, offset
inline constexpr std::string_view key_revoke = "key_revoke";  ///< $1 id|NULL
inline constexpr std::string_view key_find_by_hash = "key_find_by_hash";  ///< $1 hex sha256
inline constexpr std::string_view key_touch = "key_touch";                ///< $1 id|NULL
inline constexpr std::string_view bootstrap_upsert = "bootstrap_upsert";  ///< $1 hex, $2 prefix
inline constexpr std::string_view bootstrap_revoke_others = "bootstrap_revoke_others";  ///< $1 hex
}  // namespace stmt

/// Every statement of the catalogue.
std::span<const statement_def> statement_catalogue() noexcept;

/// The statement called `name`, or nullptr when the catalogue has none.
const statement_def* find_statement(std::string_view name) noexcept;

}  // namespace caa::storage
