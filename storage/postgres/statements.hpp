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
  /// A plain SELECT of a few rows found by key: quick, no write, no lock, nothing to commit. The
  /// pool sends these together, in one round trip (a long read would hold up the others).
  bool point_read = false;
};

/// Names of the catalogue's statements.
namespace stmt {
inline constexpr std::string_view ping = "ping";                    ///< SELECT 1
inline constexpr std::string_view tenant_ensure = "tenant_ensure";  ///< $1 name -> id, name
inline constexpr std::string_view key_create = "key_create";  ///< tenant,name,scopes,hash,prefix
inline constexpr std::string_view key_list = "key_list";      ///< tenant|NULL, limit, offset
inline constexpr std::string_view key_revoke = "key_revoke";  ///< $1 id|NULL
inline constexpr std::string_view key_find_by_hash = "key_find_by_hash";    ///< $1 hex sha256
inline constexpr std::string_view key_touch = "key_touch";                  ///< $1 id|NULL
inline constexpr std::string_view key_revoked_among = "key_revoked_among";  ///< $1 "id,id,..."
inline constexpr std::string_view bootstrap_upsert = "bootstrap_upsert";    ///< $1 hex, $2 prefix
inline constexpr std::string_view bootstrap_revoke_others = "bootstrap_revoke_others";  ///< $1 hex
// Sessions, turns, events, transcripts (parameters: session_queries.hpp, event_queries.hpp).
// Every statement that reads or changes a session row matches `tenant_id = $1`.
inline constexpr std::string_view session_create = "session_create";  ///< tenant, id, ...
inline constexpr std::string_view session_get = "session_get";        ///< tenant, id
inline constexpr std::string_view session_list = "session_list";      ///< t, status, lim, off, tag
inline constexpr std::string_view session_set_status = "session_set_status";  ///< t, id, to, from
inline constexpr std::string_view session_update_options = "session_update_options";  ///< t, id
inline constexpr std::string_view session_delete = "session_delete";        ///< tenant, id
inline constexpr std::string_view turn_start = "turn_start";                ///< tenant, id, prompt
inline constexpr std::string_view turn_finish = "turn_finish";              ///< t, id, turn, ...
inline constexpr std::string_view sessions_recover = "sessions_recover";    ///< node|NULL
inline constexpr std::string_view events_append = "events_append";          ///< five arrays
inline constexpr std::string_view events_read = "events_read";              ///< t, id, after, n
inline constexpr std::string_view events_reserve = "events_reserve";        ///< t, id, seq
inline constexpr std::string_view events_release = "events_release";        ///< t, id, seq
inline constexpr std::string_view transcript_append = "transcript_append";  ///< id, sub, n, []
inline constexpr std::string_view transcript_read = "transcript_read";      ///< tenant, id
inline constexpr std::string_view checkpoint_mark = "checkpoint_mark";      ///< t, id, uuid
inline constexpr std::string_view checkpoint_files = "checkpoint_files";    ///< t, id, uuid, []
inline constexpr std::string_view checkpoint_list = "checkpoint_list";      ///< t, id, uuid|NULL
// The ownership lease of a live session (parameters: lease_queries.hpp).
inline constexpr std::string_view lease_claim = "lease_claim";        ///< t, id, node, ttl ms
inline constexpr std::string_view lease_takeover = "lease_takeover";  ///< t, id, node
inline constexpr std::string_view lease_renew = "lease_renew";        ///< id, node, epoch, ttl
inline constexpr std::string_view lease_release = "lease_release";    ///< id, node, epoch
inline constexpr std::string_view lease_fence = "lease_fence";        ///< id, epoch
// Usage and spend caps (parameters: usage_queries.hpp).
inline constexpr std::string_view usage_report = "usage_report";        ///< t, from, to, group_by
inline constexpr std::string_view usage_model_add = "usage_model_add";  ///< nine arrays
inline constexpr std::string_view budget_check = "budget_check";        ///< tenant
inline constexpr std::string_view limits_get = "limits_get";            ///< tenant
inline constexpr std::string_view limits_put = "limits_put";            ///< t, m, d, procs, hard
inline constexpr std::string_view limits_shares = "limits_shares";      ///< (none)
}  // namespace stmt

/// Every statement of the catalogue.
std::span<const statement_def> statement_catalogue() noexcept;

/// The statement called `name`, or nullptr when the catalogue has none.
const statement_def* find_statement(std::string_view name) noexcept;

}  // namespace caa::storage
