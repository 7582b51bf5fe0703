#include "storage/postgres/event_queries.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/statements.hpp"

#include <algorithm>
#include <limits>

namespace caa::storage {

namespace {

constexpr uint64_t max_seq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr std::size_t max_subpath = 255;
/// Separates the payloads of an append (`events_append` splits its text parameter at it), and
/// the types and payloads of a stored run.
constexpr char payload_separator = '\x1e';

db_query query(std::string_view name, std::vector<db_value> params) {
  return db_query{std::string{name}, std::move(params)};
}

bool subpath_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

/// The event of an `events_read` row (session id, last_seq, seq, type, payload, prev).
caf::expected<session_event> to_event(const db_row& row) {
  if (row.size() != 6 || !row[0] || !row[3] || !row[4])
    return make_error(errc::internal, "events: unexpected row");
  auto seq = to_int64(row[2]);
  if (!seq) return seq.error();
  return session_event{*row[0], static_cast<uint64_t>(*seq), *row[3], *row[4]};
}

}  // namespace

caf::error check_event(const session_event& e) {
  if (!caa::is_uuid(e.session_id)) return make_error(errc::validation, "event: session id");
  if (e.seq == 0 || e.seq > max_seq) return make_error(errc::validation, "event: seq");
  if (e.type.empty() || e.payload_json.empty())
    return make_error(errc::validation, "event: empty type or payload");
  // A run stores its types as one text split at the separator (`session_event_runs`).
  if (e.type.find(payload_separator) != std::string::npos)
    return make_error(errc::validation, "event: type holds a control character");
  return caf::none;
}

caf::error append_events_builder::add(const session_event& e) {
  if (auto err = check_event(e)) return err;
  auto start = payloads_.size();
  if (count_ > 0) payloads_.push_back(payload_separator);
  append_jsonb_safe(e.payload_json, payloads_);
  // Inside strings jsonb_safe escapes control characters; one left is outside them (not JSON).
  if (payloads_.find(payload_separator, start + (count_ > 0 ? 1 : 0)) != std::string::npos) {
    payloads_.resize(start);
    return make_error(errc::validation, "event: payload is not JSON");
  }
  ids_.add(e.session_id);
  seqs_.add(std::to_string(e.seq));
  types_.add(e.type);
  epochs_.add(std::to_string(e.epoch));
  ++count_;
  bytes_ += e.type.size() + e.payload_json.size();
  return caf::none;
}

db_query append_events_builder::finish() && {
  return query(stmt::events_append,
               {std::move(ids_).finish(), std::move(seqs_).finish(), std::move(types_).finish(),
                std::move(payloads_), std::move(epochs_).finish()});
}

caf::expected<db_query> make_append_events_query(const std::vector<session_event>& events) {
  if (events.empty()) return make_error(errc::validation, "events: none");
  append_events_builder b;
  for (const auto& e : events)
    if (auto err = b.add(e)) return err;
  return std::move(b).finish();
}

caf::expected<std::vector<append_status>> parse_append_events(const db_result& r) {
  std::vector<append_status> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    if (row.size() != 4 || !row[0]) return make_error(errc::internal, "events: unexpected row");
    auto last = to_int64(row[1]);
    auto written = to_bool(row[2]);
    auto owned = to_bool(row[3]);
    if (!last || !written || !owned) return make_error(errc::internal, "events: unexpected row");
    out.push_back(append_status{*row[0], static_cast<uint64_t>(*last), *written, !*owned});
  }
  return out;
}

db_query make_read_events_query(std::string_view tenant_id, std::string_view session_id,
                                uint64_t after_seq, unsigned limit) {
  auto after = std::min(after_seq, max_seq);
  auto n = std::clamp(limit, 1u, max_event_page);
  return query(stmt::events_read, {uuid_param(tenant_id), uuid_param(session_id),
                                   std::to_string(after), std::to_string(n)});
}

caf::expected<event_page> parse_event_page(const db_result& r) {
  if (r.rows.empty()) return make_error(errc::session_not_found);
  const auto& first = r.rows[0];
  if (first.size() != 6) return make_error(errc::internal, "events: unexpected row shape");
  auto last = to_int64(first[1]);
  if (!last) return last.error();
  event_page page{{}, static_cast<uint64_t>(*last)};
  if (first[5]) {
    auto prev = to_int64(first[5]);
    if (!prev) return prev.error();
    page.stored_up_to_after = static_cast<uint64_t>(*prev);
  }
  if (r.rows.size() == 1 && !first[2]) return page;  // the session has no such events
  page.events.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    auto ev = to_event(row);
    if (!ev) return ev.error();
    page.events.emplace_back(std::move(*ev));
  }
  return page;
}

bool valid_transcript_subpath(std::string_view subpath) noexcept {
  if (subpath.size() > max_subpath) return false;
  bool component_start = true;
  for (char c : subpath) {
    if (c == '/') {
      if (component_start) return false;  // leading '/' or '//'
      component_start = true;
      continue;
    }
    if (!subpath_char(c) || (component_start && (c == '.' || c == '-'))) return false;
    component_start = false;
  }
  return subpath.empty() || !component_start;  // no trailing '/'
}

caf::expected<db_query> make_append_transcript_query(std::string_view session_id,
                                                     std::string_view subpath,
                                                     uint64_t first_line_no,
                                                     const std::vector<std::string>& lines) {
  if (!caa::is_uuid(session_id)) return make_error(errc::validation, "transcript: session id");
  if (!valid_transcript_subpath(subpath))
    return make_error(errc::validation, "transcript: subpath");
  if (first_line_no > max_seq - lines.size())
    return make_error(errc::validation, "transcript: line number");
  return query(stmt::transcript_append, {std::string{session_id}, std::string{subpath},
                                         std::to_string(first_line_no), pg_array_literal(lines)});
}

db_query make_read_transcript_query(std::string_view tenant_id, std::string_view session_id) {
  return query(stmt::transcript_read, {uuid_param(tenant_id), uuid_param(session_id)});
}

caf::expected<std::vector<transcript_line>> parse_transcript(const db_result& r) {
  if (r.rows.empty()) return make_error(errc::session_not_found);
  std::vector<transcript_line> out;
  if (r.rows.size() == 1 && r.rows[0].size() == 3 && !r.rows[0][0]) return out;  // none yet
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    if (row.size() != 3 || !row[0] || !row[2])
      return make_error(errc::internal, "transcript: unexpected row");
    auto line_no = to_int64(row[1]);
    if (!line_no) return line_no.error();
    out.push_back(transcript_line{*row[0], static_cast<uint64_t>(*line_no), *row[2]});
  }
  return out;
}

}  // namespace caa::storage
