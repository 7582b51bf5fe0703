#pragma once

// Sessions and their turns as pure request builders and result parsers over the pg_actor
// protocol (events and transcripts: event_queries.hpp). An actor uses them directly:
//   self->request(pg, timeout, make_get_session_query(tenant, id))
//     .then([=](db_result& r) { auto rec = parse_session(r); });
// Code that is not an actor uses `session_repository` (callbacks), built on the same functions.
//
// Every statement that reads or changes a session row matches its tenant: another tenant's session
// is indistinguishable from a missing one (`errc::session_not_found`), and so is a malformed id.

#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::storage {

/// The stored status of a session (a deleted session has no row).
enum class session_status : uint8_t { starting, idle, running, hibernated, interrupted, error };

/// The status of one turn.
enum class turn_status : uint8_t { running, completed, interrupted, error };

/// The stable name of a session status, e.g. "hibernated" (as stored and in the API).
std::string_view to_string(session_status x) noexcept;

/// The stable name of a turn status, e.g. "completed".
std::string_view to_string(turn_status x) noexcept;

/// The session status called `name`, if any.
std::optional<session_status> session_status_from(std::string_view name) noexcept;

/// The deepest fork chain: a fork of a session at this depth is refused (validation).
inline constexpr int max_fork_depth = 32;

/// A session as stored.
struct session_record {
  std::string id;                                    ///< uuid (the API session id)
  std::string tenant_id;                             ///< uuid
  std::string cli_session_id;                        ///< uuid the CLI knows the session by
  std::optional<std::string> parent_session_id;      ///< the session this one was forked from
  int fork_depth = 0;                                ///< 0 for a root, parent's + 1 for a fork
  session_status status = session_status::starting;  ///< where its state machine is
  std::optional<std::string> model;                  ///< the model in use, when known
  std::string permission_mode;                       ///< e.g. "default", "acceptEdits"
  std::string cwd;                                   ///< relative to the tenant workspace
  std::string options_json;                          ///< spawn-time options (JSON object)
  std::optional<std::string> title;                  ///< metadata.title
  std::vector<std::string> tags;                     ///< metadata.tags
  int64_t total_turns = 0;                           ///< finished turns
  double total_cost_usd = 0;                         ///< sum of the turns' costs
  std::string usage_json;                            ///< summed usage (JSON object)
  uint64_t last_seq = 0;                             ///< the highest event seq stored
  std::optional<std::string> owner_node;             ///< the node hosting it
  std::string created_at;                            ///< RFC 3339 UTC with millis
  std::string updated_at;                            ///< RFC 3339 UTC with millis
  uint64_t epoch = 0;  ///< its lease epoch: raised by every claim (0: never leased)
  /// The high-water mark of the event ids it may have sent before storing them (async
  /// durability): a new actor continues above max(last_seq, this).
  uint64_t event_seq_reserved = 0;
};

/// A session before it is stored.
struct new_session {
  std::string tenant_id;                         ///< uuid of the owner
  std::string id;                                ///< uuid chosen by the caller; empty: generated
  std::string cli_session_id;                    ///< uuid
  std::optional<std::string> parent_session_id;  ///< set for a fork: a session of the tenant
  session_status status = session_status::starting;  ///< initial status
  std::optional<std::string> model;                  ///< requested model
  std::string permission_mode = "default";           ///< one of `valid_permission_mode`
  std::string cwd;                                   ///< relative to the tenant workspace
  std::string options_json = "{}";                   ///< spawn-time options (JSON object)
  std::optional<std::string> title;                  ///< metadata.title
  std::vector<std::string> tags;                     ///< metadata.tags
  std::optional<std::string> owner_node;             ///< the node that hosts it
  /// How long the owner's first lease lasts (with `owner_node`; it starts at epoch 1).
  std::chrono::milliseconds lease{0};
};

/// Which sessions to list: an optional status and a page.
struct session_filter {
  std::optional<session_status> status;  ///< only sessions in this status
  unsigned limit = 50;                   ///< clamped to [1, 100]
  unsigned offset = 0;                   ///< sessions to skip
  std::optional<std::string> tag;        ///< only sessions with this tag
};

/// One page of a tenant's sessions, newest first.
struct session_page {
  std::vector<session_record> sessions;  ///< this page
  uint64_t total = 0;                    ///< all sessions matching the filter
};

/// What `make_update_options_query` changes; unset fields stay.
struct options_update {
  std::optional<std::string> options_json;     ///< new spawn-time options (JSON object)
  std::optional<std::string> model;            ///< new model
  std::optional<std::string> permission_mode;  ///< new permission mode
};

/// Whether `mode` is a permission mode of the API (default, acceptEdits, plan,
/// bypassPermissions, dontAsk).
bool valid_permission_mode(std::string_view mode) noexcept;

/// Stores a session. A fork's parent must be a session of the same tenant (checked in SQL;
/// otherwise the parser reports session_not_found) and no deeper than `max_fork_depth - 1`
/// (a check violation: validation). Errors: validation (malformed uuid, permission mode).
/// Reply: `parse_session`.
caf::expected<db_query> make_create_session_query(const new_session& s);

/// Reads one session. Reply: `parse_session`.
db_query make_get_session_query(std::string_view tenant_id, std::string_view id);

/// Lowers the session's `event_seq_reserved` to `seq` when it is above and `seq` is stored.
db_query make_release_events_query(std::string_view tenant_id, std::string_view id, uint64_t seq);

/// Raises the session's `event_seq_reserved` to at least `seq` (never lowers it).
db_query make_reserve_events_query(std::string_view tenant_id, std::string_view id, uint64_t seq);

/// Lists a tenant's sessions, newest first, with the total. Reply: `parse_session_page`.
db_query make_list_sessions_query(std::string_view tenant_id, const session_filter& filter);

/// Sets the status; when `from` is not empty only if the current status is one of them
/// (compare-and-set). Reply: `parse_status_update`.
db_query make_update_status_query(std::string_view tenant_id, std::string_view id,
                                  session_status to, const std::vector<session_status>& from = {});

/// Changes the spawn-time options, model and/or permission mode. Errors: validation (bad
/// permission mode). Reply: `parse_session`.
caf::expected<db_query> make_update_options_query(std::string_view tenant_id, std::string_view id,
                                                  const options_update& update);

/// Deletes a session; its events, turns and transcript go with it, its forks lose their parent
/// reference. Reply: `check_found`.
db_query make_delete_session_query(std::string_view tenant_id, std::string_view id);

/// Starts the next turn: inserts its row (number = highest so far + 1, status running) and sets
/// the session running, in one transaction. Reply: `parse_turn_started` (the turn number).
/// The batch builders leave room: statements appended to a batch (e.g. a status update) run in
/// the same transaction, and the parsers read only the results of their own statements.
db_batch make_turn_started_batch(std::string_view tenant_id, std::string_view id,
                                 std::string_view prompt_uuid);

/// Ends a running turn and adds it to the session in ONE atomic UPDATE (total_turns + 1,
/// total_cost_usd + cost, usage summed, model when given, status idle). Repeating it changes
/// nothing. Reply: `parse_turn_finished` (the session record).
db_batch make_turn_finished_batch(std::string_view tenant_id, std::string_view id, int turn,
                                  turn_status status, double cost_usd, std::string_view usage_json,
                                  const std::optional<std::string>& model = std::nullopt);

/// Start-up recovery, one statement: every session in status running or starting (of `node`
/// or of no node; every node's when `node` is unset) gets the events `error` (AGENT_ERROR, "the
/// service stopped during this turn") and `done` (interrupted) at last_seq + 1 and + 2, status
/// interrupted, and its running turns interrupted (counted in total_turns, as a finish would).
/// Reply: `parse_recovered` (the session ids).
db_batch make_recover_running_batch(const std::optional<std::string>& node);

/// The single session of `r`; no row means session_not_found.
caf::expected<session_record> parse_session(const db_result& r);

/// The session of `r`, if any (a create whose parent is not the tenant's, a get).
caf::expected<std::optional<session_record>> parse_optional_session(const db_result& r);

/// The page of a `make_list_sessions_query` reply.
caf::expected<session_page> parse_session_page(const db_result& r);

/// The status before a `make_update_status_query`. Errors: session_not_found; conflict when
/// the compare-and-set did not match (the context names the current status).
caf::expected<session_status> parse_status_update(const db_result& r);

/// No error when a DELETE or UPDATE matched a row, else session_not_found.
caf::error check_found(const db_result& r);

/// The number of the turn a `make_turn_started_batch` started.
caf::expected<int> parse_turn_started(const std::vector<db_result>& rs);

/// The session after a `make_turn_finished_batch`.
caf::expected<session_record> parse_turn_finished(const std::vector<db_result>& rs);

/// The ids of the sessions a `make_recover_running_batch` interrupted, ascending.
caf::expected<std::vector<std::string>> parse_recovered(const std::vector<db_result>& rs);

}  // namespace caa::storage
