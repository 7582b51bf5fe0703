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
  CAA_TS("k.created_at") ", " CAA_TS("k.last_used_at") ", " CAA_TS("k.revoked_at") ", " \
  "t.agent_slot"

// Upsert of a tenant by name that returns the row in every case (a no-op update locks it).
#define CAA_TENANT_UPSERT(name_sql)                                                     \
  "INSERT INTO tenants (name) VALUES (" name_sql ") ON CONFLICT (name) DO UPDATE SET " \
  "name = EXCLUDED.name RETURNING id, name, agent_slot"

// The columns of a session record, in the order `parse_session` reads them (21);
// `s` is sessions.
#define CAA_SESSION_COLUMNS                                                                     \
  "s.id::text, s.tenant_id::text, s.cli_session_id::text, s.parent_session_id::text, "        \
  "s.fork_depth, s.status, s.model, s.permission_mode, s.cwd, s.options::text, s.title, "      \
  "array_to_json(s.tags)::text, s.total_turns, s.total_cost_usd, s.usage::text, s.last_seq, " \
  "s.owner_node, " CAA_TS("s.created_at") ", " CAA_TS("s.updated_at") ", s.epoch, "         \
  "s.event_seq_reserved"

// The sessions of tenant $1 matching the optional status $2.
// The report key of a usage row: its UTC day, session or model ($4 names which).
#define CAA_USAGE_KEY(day, session, model) \
  "CASE $4::text WHEN 'day' THEN to_char(" day ", 'YYYY-MM-DD') WHEN 'session' THEN " \
  session "::text ELSE " model " END"

// The columns of a tenant_limits record, in the order `parse_limits` reads them.
#define CAA_LIMITS_COLUMNS \
  "l.tenant_id::text, l.monthly_usd, l.daily_usd, l.max_agent_processes, l.hard, " \
  CAA_TS("l.updated_at")

#define CAA_SESSION_FILTER \
  "FROM sessions WHERE tenant_id = $1::uuid AND ($2::text IS NULL OR status = $2::text) " \
  "AND ($5::text IS NULL OR $5::text = ANY (tags))"

/// Marks a point read (`statement_def::point_read`): the pool pipelines those together.
constexpr bool point_read = true;

constexpr std::array<statement_def, 39> catalogue{{
  {stmt::ping, "SELECT 1", point_read},
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
   "WHERE k.key_hash = decode($1, 'hex')", point_read},
  {stmt::key_touch, "UPDATE api_keys SET last_used_at = now() WHERE id = $1::uuid"},
  {stmt::key_revoked_among,
   "SELECT id::text FROM api_keys WHERE id = ANY(string_to_array($1, ',')::uuid[]) "
   "AND revoked_at IS NOT NULL", point_read},
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
  // A fork's parent ($4) must be a session of the same tenant: otherwise no row is inserted.
  // With an owner node ($12) the new session starts leased to it for $13 ms, at epoch 1.
  {stmt::session_create,
   "INSERT INTO sessions AS s (id, tenant_id, cli_session_id, parent_session_id, fork_depth, "
   "status, model, permission_mode, cwd, options, title, tags, owner_node, epoch, "
   "lease_expires_at) "
   "SELECT coalesce($2::uuid, gen_random_uuid()), $1::uuid, $3::uuid, p.id, "
   "coalesce(p.fork_depth + 1, 0), $5::text, $6::text, $7::text, $8::text, $9::jsonb, $10::text, "
   "$11::text[], $12::text, CASE WHEN $12::text IS NULL THEN 0 ELSE 1 END, "
   "CASE WHEN $12::text IS NULL THEN NULL "
   "ELSE now() + $13::bigint * interval '1 millisecond' END FROM (VALUES (1)) AS one (x) "
   "LEFT JOIN sessions p ON p.id = $4::uuid AND p.tenant_id = $1::uuid "
   "WHERE $4::uuid IS NULL OR p.id IS NOT NULL "
   "RETURNING " CAA_SESSION_COLUMNS},
  {stmt::session_get,
   "SELECT " CAA_SESSION_COLUMNS " FROM sessions s "
   "WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid", point_read},
  // Always at least one row: the total first; the session columns are NULL on an empty page.
  {stmt::session_list,
   "SELECT c.total, " CAA_SESSION_COLUMNS " FROM (SELECT count(*) AS total " CAA_SESSION_FILTER
   ") c LEFT JOIN LATERAL (SELECT * " CAA_SESSION_FILTER " ORDER BY created_at DESC, id "
   "LIMIT $3::integer OFFSET $4::integer) s ON true ORDER BY s.created_at DESC, s.id"},
  // Compare-and-set: changes the status when it is one of $4 (any when $4 is empty). One row
  // (previous status, whether it changed) when the session exists.
  {stmt::session_set_status,
   "WITH cur AS (SELECT id, status FROM sessions WHERE tenant_id = $1::uuid AND id = $2::uuid "
   "FOR NO KEY UPDATE), "
   "upd AS (UPDATE sessions s SET status = $3::text, updated_at = now() FROM cur "
   "WHERE s.id = cur.id AND (cardinality($4::text[]) = 0 OR cur.status = ANY ($4::text[])) "
   "RETURNING s.id) "
   "SELECT cur.status, EXISTS (SELECT 1 FROM upd) FROM cur"},
  {stmt::session_update_options,
   "UPDATE sessions AS s SET options = coalesce($3::jsonb, s.options), "
   "model = coalesce($4::text, s.model), permission_mode = coalesce($5::text, s.permission_mode), "
   "updated_at = now() WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid "
   "RETURNING " CAA_SESSION_COLUMNS},
  {stmt::session_delete, "DELETE FROM sessions WHERE tenant_id = $1::uuid AND id = $2::uuid"},
  // The next turn number of the session; no row when the session is not the tenant's.
  {stmt::turn_start,
   "INSERT INTO turns (session_id, turn, prompt_uuid, status) "
   "SELECT s.id, coalesce((SELECT max(t.turn) FROM turns t WHERE t.session_id = s.id), 0) + 1, "
   "$3::uuid, 'running' FROM sessions s WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid "
   "RETURNING turn"},
  // Marks the turn of prompt $3 as a file checkpoint (same transaction as its turn_start).
  {stmt::checkpoint_mark,
   "UPDATE turns t SET checkpointed = true FROM sessions s WHERE s.tenant_id = $1::uuid "
   "AND s.id = $2::uuid AND t.session_id = s.id AND t.prompt_uuid = $3::uuid"},
  // The files a checkpointed turn modified (a JSON array of relative paths).
  {stmt::checkpoint_files,
   "UPDATE turns t SET files_modified = $4::jsonb FROM sessions s WHERE s.tenant_id = $1::uuid "
   "AND s.id = $2::uuid AND t.session_id = s.id AND t.prompt_uuid = $3::uuid AND t.checkpointed"},
  // The checkpoints of a session, oldest first (only prompt $3 when it is not NULL).
  {stmt::checkpoint_list,
   "SELECT t.prompt_uuid::text, t.turn, " CAA_TS("t.started_at") ", t.files_modified::text "
   "FROM turns t JOIN sessions s ON s.id = t.session_id WHERE s.tenant_id = $1::uuid "
   "AND s.id = $2::uuid AND t.checkpointed AND ($3::uuid IS NULL OR t.prompt_uuid = $3::uuid) "
   "ORDER BY t.turn", point_read},
  // Ends a running turn and adds it to the totals in ONE statement (no read-modify-write); a
  // repeat finds the turn ended and changes nothing. The session record in both cases.
  {stmt::turn_finish,
   "WITH t AS (UPDATE turns t SET status = $4::text, ended_at = now(), "
   "cost_usd = $5::double precision, usage = $6::jsonb FROM sessions p "
   "WHERE p.id = t.session_id AND p.tenant_id = $1::uuid AND t.session_id = $2::uuid "
   "AND t.turn = $3::integer AND t.status = 'running' "
   "RETURNING t.session_id, t.cost_usd, t.usage), "
   // The usage ledger (007_usage_limits.sql): the tenant's row of this turn.
   "u AS (INSERT INTO usage_turns (tenant_id, session_id, turn, model, cost_usd, input_tokens, "
   "output_tokens, cache_creation_input_tokens, cache_read_input_tokens) "
   "SELECT $1::uuid, t.session_id, $3::integer, coalesce($7::text, p.model, 'unknown'), "
   "coalesce(t.cost_usd, 0), caa_usage_int(t.usage, 'input_tokens'), "
   "caa_usage_int(t.usage, 'output_tokens'), "
   "caa_usage_int(t.usage, 'cache_creation_input_tokens'), "
   "caa_usage_int(t.usage, 'cache_read_input_tokens') "
   "FROM t JOIN sessions p ON p.id = t.session_id ON CONFLICT DO NOTHING), "
   "s AS (UPDATE sessions s SET total_turns = s.total_turns + 1, "
   "total_cost_usd = s.total_cost_usd + coalesce(t.cost_usd, 0), "
   "usage = caa_usage_add(s.usage, t.usage), model = coalesce($7::text, s.model), "
   "status = 'idle', updated_at = now() FROM t WHERE s.id = t.session_id RETURNING s.*) "
   "SELECT " CAA_SESSION_COLUMNS " FROM s UNION ALL "
   "SELECT " CAA_SESSION_COLUMNS " FROM sessions s WHERE s.tenant_id = $1::uuid "
   "AND s.id = $2::uuid AND NOT EXISTS (SELECT 1 FROM t)"},
  // Start-up recovery of the sessions in flight (of node $1, or unowned; all when NULL). Their
  // running turns end as interrupted and count as finished, like a turn_finish would. The
  // terminal events go above the reserved high-water mark + 1: ids up to the mark may have been
  // sent, and mark + 1 stays free as the id of the `gap` event that names the hole.
  {stmt::sessions_recover,
   "WITH r AS (UPDATE sessions s SET status = 'interrupted', "
   "last_seq = CASE WHEN s.event_seq_reserved > s.last_seq THEN s.event_seq_reserved + 1 "
   "ELSE s.last_seq END + 2, "
   "total_turns = s.total_turns + (SELECT count(*) FROM turns t "
   "WHERE t.session_id = s.id AND t.status = 'running'), "
   "updated_at = now() WHERE s.status IN ('running', 'starting') "
   "AND ($1::text IS NULL OR s.owner_node = $1::text OR s.owner_node IS NULL) "
   "RETURNING s.id, s.last_seq), "
   "e AS (INSERT INTO session_event_runs (session_id, first_seq, last_seq, types, payloads) "
   "SELECT r.id, r.last_seq - 1, r.last_seq, 'error' || E'\\x1e' || 'done', "
   "'{\"code\": \"AGENT_ERROR\", \"message\": \"the service stopped during this turn\"}' "
   "|| E'\\x1e' || '{\"reason\": \"interrupted\"}' FROM r), "
   "t AS (UPDATE turns SET status = 'interrupted', ended_at = now() FROM r "
   "WHERE turns.session_id = r.id AND turns.status = 'running') "
   "SELECT r.id::text, r.last_seq FROM r ORDER BY r.id"},
  // One batch of events of any sessions. A session's events are written only when they continue
  // its stream without a hole (seq last_seq+1, +2, ...; repeats are skipped), or start no
  // higher than its reserved high-water mark + 2 (a session that lost unstored events continues
  // there: ids up to the mark may have been sent, mark + 1 is the id of its `gap` event),
  // and were made under its current lease epoch (0: unfenced); its row is locked (in id order)
  // first. One row per existing session: id, last_seq before, whether written, whether the
  // epoch matched. The payloads come as one text, separated by byte 0x1E (a control character
  // that JSON text cannot hold): splitting it costs less than parsing an array literal; each is
  // cast to `json` (a batch with one that is not JSON fails whole, and the writer splits it). A
  // session's fresh events (above its last_seq, each once) go in as runs of consecutive seqs
  // within one block of 256 (seqs 1-256, 257-512, ...): a read that pages through a session
  // splits at most the runs of its page, never a long batch's whole text.
  {stmt::events_append,
   "WITH input AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], "
   "string_to_array($4::text, E'\\x1e')::json[], $5::bigint[]) "
   "AS i (session_id, seq, type, payload, epoch)), "
   "live AS (SELECT s.id, s.last_seq, s.epoch, s.event_seq_reserved AS reserved FROM sessions s "
   "WHERE s.id IN (SELECT session_id FROM input) ORDER BY s.id FOR NO KEY UPDATE), "
   "chk AS (SELECT l.id, l.last_seq, l.reserved, max(i.seq) AS max_seq, "
   "min(i.seq) FILTER (WHERE i.seq > l.last_seq) AS min_fresh, "
   "count(DISTINCT i.seq) FILTER (WHERE i.seq > l.last_seq) AS fresh, "
   "bool_and(i.epoch = 0 OR i.epoch = l.epoch) AS owned "
   "FROM live l JOIN input i ON i.session_id = l.id GROUP BY l.id, l.last_seq, l.reserved), "
   "ok AS (SELECT id, max_seq, last_seq FROM chk WHERE owned AND (max_seq <= last_seq "
   "OR ((min_fresh = last_seq + 1 OR min_fresh <= reserved + 2) "
   "AND fresh = max_seq - min_fresh + 1))), "
   "fresh AS (SELECT DISTINCT ON (i.session_id, i.seq) i.session_id, i.seq, i.type, i.payload "
   "FROM input i JOIN ok ON ok.id = i.session_id WHERE i.seq > ok.last_seq "
   "ORDER BY i.session_id, i.seq), "
   "ins AS (INSERT INTO session_event_runs (session_id, first_seq, last_seq, types, payloads) "
   "SELECT session_id, min(seq), max(seq), string_agg(type, E'\\x1e' ORDER BY seq), "
   "string_agg(payload::text, E'\\x1e' ORDER BY seq) FROM fresh "
   "GROUP BY session_id, (seq - 1) / 256 ON CONFLICT (session_id, first_seq) DO NOTHING), "
   "upd AS (UPDATE sessions s SET last_seq = greatest(s.last_seq, ok.max_seq) FROM ok "
   "WHERE s.id = ok.id AND ok.max_seq > s.last_seq) "
   "SELECT c.id::text, c.last_seq, ok.id IS NOT NULL, c.owned FROM chk c "
   "LEFT JOIN ok ON ok.id = c.id"},
  // The claim of a session's lease by node $3 for $4 ms: granted (epoch + 1) when no other node
  // holds a running lease. One row when the session is the tenant's: the holder and epoch
  // before, the new epoch (NULL: refused), the ms the refusing lease still runs.
  {stmt::lease_claim,
   "WITH cur AS (SELECT id, owner_node, epoch, lease_expires_at FROM sessions "
   "WHERE tenant_id = $1::uuid AND id = $2::uuid FOR NO KEY UPDATE), "
   "upd AS (UPDATE sessions s SET owner_node = $3::text, epoch = s.epoch + 1, "
   "lease_expires_at = now() + $4::bigint * interval '1 millisecond' FROM cur "
   "WHERE s.id = cur.id AND (cur.lease_expires_at IS NULL OR cur.lease_expires_at <= now() "
   "OR cur.owner_node IS NULL OR cur.owner_node = $3::text) RETURNING s.epoch) "
   "SELECT cur.owner_node, cur.epoch, (SELECT epoch FROM upd), "
   "greatest(0, (extract(epoch FROM cur.lease_expires_at - now()) * 1000)::bigint) FROM cur"},
  // After a claim by node $3 (same transaction): a turn its former owner left running ends as
  // interrupted, with its terminal events, exactly once (the status moves on under the lock).
  // The terminal events go above the reserved high-water mark, as in sessions_recover.
  {stmt::lease_takeover,
   "WITH r AS (UPDATE sessions s SET status = 'interrupted', "
   "last_seq = CASE WHEN s.event_seq_reserved > s.last_seq THEN s.event_seq_reserved + 1 "
   "ELSE s.last_seq END + 2, "
   "total_turns = s.total_turns + (SELECT count(*) FROM turns t "
   "WHERE t.session_id = s.id AND t.status = 'running'), updated_at = now() "
   "WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid AND s.owner_node = $3::text "
   "AND s.status IN ('running', 'starting') RETURNING s.id, s.last_seq), "
   "e AS (INSERT INTO session_event_runs (session_id, first_seq, last_seq, types, payloads) "
   "SELECT r.id, r.last_seq - 1, r.last_seq, 'error' || E'\\x1e' || 'done', "
   "'{\"code\": \"AGENT_ERROR\", \"message\": \"the node running this turn stopped\"}' "
   "|| E'\\x1e' || '{\"reason\": \"interrupted\"}' FROM r), "
   "t AS (UPDATE turns SET status = 'interrupted', ended_at = now() FROM r "
   "WHERE turns.session_id = r.id AND turns.status = 'running') "
   "SELECT r.id::text, r.last_seq FROM r"},
  {stmt::lease_renew,
   "UPDATE sessions SET lease_expires_at = now() + $4::bigint * interval '1 millisecond' "
   "WHERE id = $1::uuid AND owner_node = $2::text AND epoch = $3::bigint"},
  {stmt::lease_release,
   "UPDATE sessions SET lease_expires_at = NULL "
   "WHERE id = $1::uuid AND owner_node = $2::text AND epoch = $3::bigint"},
  {stmt::lease_fence, "SELECT caa_fence($1::uuid, $2::bigint)"},
  // Raises the high-water mark of the event ids a session may send before they are stored.
  {stmt::events_reserve,
   "UPDATE sessions SET event_seq_reserved = greatest(event_seq_reserved, $3::bigint) "
   "WHERE tenant_id = $1::uuid AND id = $2::uuid"},
  // Lowers the mark to $3 once every event up to it is stored and nothing above was sent.
  {stmt::events_release,
   "UPDATE sessions SET event_seq_reserved = least(event_seq_reserved, $3::bigint) "
   "WHERE tenant_id = $1::uuid AND id = $2::uuid AND last_seq >= $3::bigint"},
  // At least one row when the session is the tenant's: its id and last_seq, then the events
  // (NULL event columns when there are none), and on every row the highest stored seq up to
  // $3 (NULL when none: with $3 > 0 and not stored, $3 lies in a hole of the history).
  // Runs never overlap: the run holding $3 (the last one starting at or below it) and the runs
  // after it hold every event above $3, the first $4 runs at least $4 of them.
  {stmt::events_read,
   "SELECT s.id::text, s.last_seq, e.seq, e.type, e.payload, "
   "(SELECT least(p.last_seq, $3::bigint) FROM session_event_runs p WHERE p.session_id = s.id "
   "AND p.first_seq <= $3::bigint ORDER BY p.first_seq DESC LIMIT 1) FROM sessions s "
   "LEFT JOIN LATERAL "
   "(SELECT r.first_seq + x.n - 1 AS seq, x.type, x.payload FROM "
   "((SELECT first_seq, types, payloads FROM session_event_runs WHERE session_id = s.id "
   "AND first_seq <= $3::bigint ORDER BY first_seq DESC LIMIT 1) UNION ALL "
   "(SELECT first_seq, types, payloads FROM session_event_runs WHERE session_id = s.id "
   "AND first_seq > $3::bigint ORDER BY first_seq LIMIT $4::integer)) r, "
   "unnest(string_to_array(r.types, E'\\x1e'), string_to_array(r.payloads, E'\\x1e')) "
   "WITH ORDINALITY AS x (type, payload, n) WHERE r.first_seq + x.n - 1 > $3::bigint "
   "ORDER BY 1 LIMIT $4::integer) e ON true "
   "WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid ORDER BY e.seq"},
  {stmt::transcript_append,
   "INSERT INTO session_transcripts (session_id, subpath, line_no, entry) "
   "SELECT $1::uuid, $2::text, $3::bigint + l.n - 1, l.entry "
   "FROM unnest($4::text[]) WITH ORDINALITY AS l (entry, n) "
   "ON CONFLICT (session_id, subpath, line_no) DO NOTHING"},
  // At least one row when the session is the tenant's (NULL columns when it has no transcript).
  {stmt::transcript_read,
   "SELECT t.subpath, t.line_no, t.entry FROM sessions s "
   "LEFT JOIN session_transcripts t ON t.session_id = s.id "
   "WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid ORDER BY t.subpath, t.line_no"},
  // A tenant's usage in [$2, $3) grouped by $4 (day, session or model), and the total: one
  // row per group (grouping flag 0) and the total row (flag 1, always present, first). Turns
  // count by their end; model requests by their UTC day (the days [$2, $3) touches).
  {stmt::usage_report,
   "WITH x AS ("
   "SELECT " CAA_USAGE_KEY("u.ended_at AT TIME ZONE 'UTC'", "u.session_id", "u.model") " AS k, "
   "1 AS turns, u.input_tokens AS i, u.output_tokens AS o, "
   "u.cache_creation_input_tokens AS cc, u.cache_read_input_tokens AS cr, u.cost_usd AS c, "
   "0 AS r FROM usage_turns u WHERE u.tenant_id = $1::uuid "
   "AND u.ended_at >= $2::timestamptz AND u.ended_at < $3::timestamptz "
   "UNION ALL "
   "SELECT " CAA_USAGE_KEY("m.day::timestamp", "m.session_id", "'unknown'") ", 0, 0, 0, 0, 0, 0, "
   "m.requests FROM usage_model_daily m WHERE m.tenant_id = $1::uuid "
   "AND m.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date "
   "AND m.day <= (($3::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date) "
   "SELECT GROUPING(k), k, coalesce(sum(turns), 0)::bigint, coalesce(sum(i), 0)::bigint, "
   "coalesce(sum(o), 0)::bigint, coalesce(sum(cc), 0)::bigint, coalesce(sum(cr), 0)::bigint, "
   "coalesce(sum(c), 0)::double precision, coalesce(sum(r), 0)::bigint "
   "FROM x GROUP BY GROUPING SETS ((k), ()) ORDER BY GROUPING(k) DESC, k"},
  // Adds the model proxy's counts per (tenant, UTC day, session): parallel arrays, one entry
  // per key (a batch must not name a key twice).
  {stmt::usage_model_add,
   "INSERT INTO usage_model_daily AS d (tenant_id, day, session_id, requests, input_tokens, "
   "output_tokens, cache_creation_input_tokens, cache_read_input_tokens) "
   "SELECT i.* FROM unnest($1::uuid[], $2::date[], $3::uuid[], $4::bigint[], $5::bigint[], "
   "$6::bigint[], $7::bigint[], $8::bigint[]) AS i (tenant_id, day, session_id, r, it, ot, cc, "
   "cr) JOIN tenants t ON t.id = i.tenant_id "  // a tenant deleted meanwhile: its rows go
   "ON CONFLICT (tenant_id, day, session_id) DO UPDATE SET "
   "requests = d.requests + EXCLUDED.requests, input_tokens = d.input_tokens + "
   "EXCLUDED.input_tokens, output_tokens = d.output_tokens + EXCLUDED.output_tokens, "
   "cache_creation_input_tokens = d.cache_creation_input_tokens + "
   "EXCLUDED.cache_creation_input_tokens, cache_read_input_tokens = "
   "d.cache_read_input_tokens + EXCLUDED.cache_read_input_tokens"},
  // The spend check of a turn start, one statement: the tenant's caps (no row: none) and what
  // its finished turns cost in the current UTC day and month, and when these windows end.
  {stmt::budget_check,
   "WITH w AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS d0, "
   "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m0) "
   "SELECT l.daily_usd, l.monthly_usd, l.hard, "
   "(SELECT coalesce(sum(u.cost_usd), 0) FROM usage_turns u WHERE u.tenant_id = $1::uuid "
   "AND u.ended_at >= w.d0), "
   "(SELECT coalesce(sum(u.cost_usd), 0) FROM usage_turns u WHERE u.tenant_id = $1::uuid "
   "AND u.ended_at >= w.m0), "
   CAA_TS("(w.d0 + interval '1 day')") ", " CAA_TS("(w.m0 + interval '1 month')") " "
   "FROM tenant_limits l, w WHERE l.tenant_id = $1::uuid "
   "AND (l.daily_usd IS NOT NULL OR l.monthly_usd IS NOT NULL)"},
  {stmt::limits_get,
   "SELECT " CAA_LIMITS_COLUMNS " FROM tenant_limits l WHERE l.tenant_id = $1::uuid", point_read},
  // Sets a tenant's limits; no row when the tenant does not exist.
  {stmt::limits_put,
   "INSERT INTO tenant_limits AS l (tenant_id, monthly_usd, daily_usd, max_agent_processes, hard) "
   "SELECT t.id, $2::double precision, $3::double precision, $4::integer, $5::boolean "
   "FROM tenants t WHERE t.id = $1::uuid ON CONFLICT (tenant_id) DO UPDATE SET "
   "monthly_usd = EXCLUDED.monthly_usd, daily_usd = EXCLUDED.daily_usd, "
   "max_agent_processes = EXCLUDED.max_agent_processes, hard = EXCLUDED.hard, "
   "updated_at = now() RETURNING " CAA_LIMITS_COLUMNS},
  // Every tenant's own share of agent processes (for admission).
  {stmt::limits_shares,
   "SELECT tenant_id::text, max_agent_processes FROM tenant_limits "
   "WHERE max_agent_processes IS NOT NULL", point_read},
}};
// clang-format on

#undef CAA_SESSION_FILTER
#undef CAA_LIMITS_COLUMNS
#undef CAA_USAGE_KEY
#undef CAA_SESSION_COLUMNS
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
