#include "storage/postgres/session_queries.hpp"
#include "config/json_parse.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/pg_text.hpp"
#include "storage/postgres/statements.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <array>

namespace caa::storage {

namespace {

constexpr std::size_t session_columns = 21;

constexpr std::array<std::string_view, 6> session_status_names{
    "starting", "idle", "running", "hibernated", "interrupted", "error"};

constexpr std::array<std::string_view, 4> turn_status_names{"running", "completed", "interrupted",
                                                            "error"};

constexpr std::array<std::string_view, 5> permission_modes{"default", "acceptEdits", "plan",
                                                           "bypassPermissions", "dontAsk"};

db_query query(std::string_view name, std::vector<db_value> params) {
  return db_query{std::string{name}, std::move(params)};
}

db_value opt_param(const std::optional<std::string>& v) {
  return v ? db_value{*v} : db_value{caf::none};
}

bool is_json_object(std::string_view json) {
  rapidjson::Document doc;
  return json::parse_untrusted_object(json, doc);
}

caf::error validate(const new_session& s) {
  if (!caa::is_uuid(s.tenant_id)) return make_error(errc::validation, "tenant_id: not a uuid");
  if (!s.id.empty() && !caa::is_uuid(s.id)) return make_error(errc::validation, "id: not a uuid");
  if (!caa::is_uuid(s.cli_session_id))
    return make_error(errc::validation, "cli_session_id: not a uuid");
  if (s.parent_session_id && !caa::is_uuid(*s.parent_session_id))
    return make_error(errc::validation, "parent_session_id: not a uuid");
  if (!valid_permission_mode(s.permission_mode))
    return make_error(errc::validation, "permission_mode: unknown mode");
  if (!is_json_object(s.options_json))
    return make_error(errc::validation, "options: not a JSON object");
  return caf::none;
}

caf::expected<session_status> status_of(const db_value& v) {
  auto st = v ? session_status_from(*v) : std::nullopt;
  if (!st) return make_error(errc::internal, "sessions: unknown status");
  return *st;
}

/// The session record in columns [first, first + 21) of `row`.
caf::expected<session_record> to_session_record(const db_row& row, std::size_t first = 0) {
  if (row.size() != first + session_columns)
    return make_error(errc::internal, "sessions: unexpected row shape");
  auto col = [&](std::size_t i) -> const db_value& { return row[first + i]; };
  for (std::size_t i : {0, 1, 2, 7, 8, 9, 11, 14, 17, 18})
    if (!col(i)) return make_error(errc::internal, "sessions: unexpected NULL");
  auto depth = to_int64(col(4));
  auto status = status_of(col(5));
  auto tags = json_string_array(*col(11));
  auto turns = to_int64(col(12));
  auto cost = to_double(col(13));
  auto last_seq = to_int64(col(15));
  auto epoch = to_int64(col(19));
  auto reserved = to_int64(col(20));
  if (!depth || !status || !tags || !turns || !cost || !last_seq || !epoch || !reserved)
    return make_error(errc::internal, "sessions: unexpected column value");
  return session_record{.id = *col(0),
                        .tenant_id = *col(1),
                        .cli_session_id = *col(2),
                        .parent_session_id = opt_text(col(3)),
                        .fork_depth = static_cast<int>(*depth),
                        .status = *status,
                        .model = opt_text(col(6)),
                        .permission_mode = *col(7),
                        .cwd = *col(8),
                        .options_json = *col(9),
                        .title = opt_text(col(10)),
                        .tags = std::move(*tags),
                        .total_turns = *turns,
                        .total_cost_usd = *cost,
                        .usage_json = *col(14),
                        .last_seq = static_cast<uint64_t>(*last_seq),
                        .owner_node = opt_text(col(16)),
                        .created_at = *col(17),
                        .updated_at = *col(18),
                        .epoch = static_cast<uint64_t>(*epoch),
                        .event_seq_reserved = static_cast<uint64_t>(*reserved)};
}

std::string status_list(const std::vector<session_status>& xs) {
  pg_array_builder b;
  for (auto x : xs) b.add(to_string(x));
  return std::move(b).finish();
}

}  // namespace

std::string_view to_string(session_status x) noexcept {
  return session_status_names[static_cast<std::size_t>(x)];
}

std::string_view to_string(turn_status x) noexcept {
  return turn_status_names[static_cast<std::size_t>(x)];
}

std::optional<session_status> session_status_from(std::string_view name) noexcept {
  auto i = std::find(session_status_names.begin(), session_status_names.end(), name);
  if (i == session_status_names.end()) return std::nullopt;
  return static_cast<session_status>(i - session_status_names.begin());
}

bool valid_permission_mode(std::string_view mode) noexcept {
  return std::find(permission_modes.begin(), permission_modes.end(), mode) !=
         permission_modes.end();
}

caf::expected<db_query> make_create_session_query(const new_session& s) {
  if (auto err = validate(s)) return err;
  db_value id = s.id.empty() ? db_value{caf::none} : db_value{s.id};
  return query(stmt::session_create,
               {s.tenant_id, id, s.cli_session_id, opt_param(s.parent_session_id),
                std::string{to_string(s.status)}, opt_param(s.model), s.permission_mode, s.cwd,
                s.options_json, opt_param(s.title), pg_array_literal(s.tags),
                opt_param(s.owner_node), std::to_string(s.lease.count())});
}

db_query make_get_session_query(std::string_view tenant_id, std::string_view id) {
  return query(stmt::session_get, {uuid_param(tenant_id), uuid_param(id)});
}

db_query make_release_events_query(std::string_view tenant_id, std::string_view id, uint64_t seq) {
  return query(stmt::events_release, {uuid_param(tenant_id), uuid_param(id), std::to_string(seq)});
}

db_query make_reserve_events_query(std::string_view tenant_id, std::string_view id, uint64_t seq) {
  return query(stmt::events_reserve, {uuid_param(tenant_id), uuid_param(id), std::to_string(seq)});
}

db_query make_list_sessions_query(std::string_view tenant_id, const session_filter& filter) {
  auto limit = std::clamp(filter.limit, 1u, 100u);
  db_value status =
      filter.status ? db_value{std::string{to_string(*filter.status)}} : db_value{caf::none};
  db_value tag = filter.tag ? db_value{*filter.tag} : db_value{caf::none};
  return query(stmt::session_list, {uuid_param(tenant_id), status, std::to_string(limit),
                                    std::to_string(filter.offset), tag});
}

db_query make_update_status_query(std::string_view tenant_id, std::string_view id,
                                  session_status to, const std::vector<session_status>& from) {
  return query(stmt::session_set_status, {uuid_param(tenant_id), uuid_param(id),
                                          std::string{to_string(to)}, status_list(from)});
}

caf::expected<db_query> make_update_options_query(std::string_view tenant_id, std::string_view id,
                                                  const options_update& update) {
  if (update.permission_mode && !valid_permission_mode(*update.permission_mode))
    return make_error(errc::validation, "permission_mode: unknown mode");
  if (update.options_json && !is_json_object(*update.options_json))
    return make_error(errc::validation, "options: not a JSON object");
  return query(stmt::session_update_options,
               {uuid_param(tenant_id), uuid_param(id), opt_param(update.options_json),
                opt_param(update.model), opt_param(update.permission_mode)});
}

db_query make_delete_session_query(std::string_view tenant_id, std::string_view id) {
  return query(stmt::session_delete, {uuid_param(tenant_id), uuid_param(id)});
}

db_batch make_turn_started_batch(std::string_view tenant_id, std::string_view id,
                                 std::string_view prompt_uuid) {
  return db_batch{
      {query(stmt::turn_start, {uuid_param(tenant_id), uuid_param(id), uuid_param(prompt_uuid)}),
       make_update_status_query(tenant_id, id, session_status::running)}};
}

db_batch make_turn_finished_batch(std::string_view tenant_id, std::string_view id, int turn,
                                  turn_status status, double cost_usd, std::string_view usage_json,
                                  const std::optional<std::string>& model) {
  auto usage = usage_json.empty() ? std::string{"{}"} : jsonb_safe(usage_json);
  return db_batch{
      {query(stmt::turn_finish, {uuid_param(tenant_id), uuid_param(id), std::to_string(turn),
                                 std::string{to_string(status)}, pg_double(cost_usd),
                                 std::move(usage), opt_param(model)})}};
}

db_batch make_recover_running_batch(const std::optional<std::string>& node) {
  return db_batch{{query(stmt::sessions_recover, {opt_param(node)})}};
}

caf::expected<session_record> parse_session(const db_result& r) {
  if (r.rows.empty()) return make_error(errc::session_not_found);
  if (r.rows.size() != 1) return make_error(errc::internal, "sessions: expected one row");
  return to_session_record(r.rows[0]);
}

caf::expected<std::optional<session_record>> parse_optional_session(const db_result& r) {
  if (r.rows.empty()) return std::optional<session_record>{};
  auto rec = parse_session(r);
  if (!rec) return rec.error();
  return std::optional<session_record>{std::move(*rec)};
}

caf::expected<session_page> parse_session_page(const db_result& r) {
  if (r.rows.empty() || r.rows[0].empty())
    return make_error(errc::internal, "sessions: list without a total");
  auto total = to_int64(r.rows[0][0]);
  if (!total) return total.error();
  session_page page{{}, static_cast<uint64_t>(*total)};
  if (r.rows.size() == 1 && r.rows[0].size() > 1 && !r.rows[0][1]) return page;  // empty page
  page.sessions.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    auto rec = to_session_record(row, 1);
    if (!rec) return rec.error();
    page.sessions.emplace_back(std::move(*rec));
  }
  return page;
}

caf::expected<session_status> parse_status_update(const db_result& r) {
  if (r.rows.empty()) return make_error(errc::session_not_found);
  if (r.rows.size() != 1 || r.rows[0].size() != 2)
    return make_error(errc::internal, "sessions: unexpected status update result");
  auto before = status_of(r.rows[0][0]);
  auto changed = to_bool(r.rows[0][1]);
  if (!before) return before.error();
  if (!changed) return changed.error();
  if (!*changed)
    return make_error(errc::conflict, "session status is " + std::string{to_string(*before)});
  return *before;
}

caf::error check_found(const db_result& r) {
  if (r.affected == 0) return make_error(errc::session_not_found);
  return caf::none;
}

caf::expected<int> parse_turn_started(const std::vector<db_result>& rs) {
  if (rs.size() < 2) return make_error(errc::internal, "turns: unexpected batch result");
  if (rs[0].rows.empty()) return make_error(errc::session_not_found);
  if (rs[0].rows[0].size() != 1) return make_error(errc::internal, "turns: unexpected row");
  auto turn = to_int64(rs[0].rows[0][0]);
  if (!turn) return turn.error();
  return static_cast<int>(*turn);
}

caf::expected<session_record> parse_turn_finished(const std::vector<db_result>& rs) {
  if (rs.empty()) return make_error(errc::internal, "turns: unexpected batch result");
  return parse_session(rs[0]);
}

caf::expected<std::vector<std::string>> parse_recovered(const std::vector<db_result>& rs) {
  if (rs.empty()) return make_error(errc::internal, "recovery: unexpected batch result");
  std::vector<std::string> ids;
  ids.reserve(rs[0].rows.size());
  for (const auto& row : rs[0].rows) {
    if (row.empty() || !row[0]) return make_error(errc::internal, "recovery: unexpected row");
    ids.push_back(*row[0]);
  }
  return ids;
}

}  // namespace caa::storage
