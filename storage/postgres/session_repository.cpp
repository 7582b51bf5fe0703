#include "storage/postgres/session_repository.hpp"

#include "config/errc.hpp"
#include "storage/postgres/repository_call.hpp"

#include <caf/scoped_actor.hpp>

namespace caa::storage {

using detail::normalize;
using detail::run;

namespace {

/// `check_found` as a parser of `true`.
caf::expected<bool> parse_deleted(const db_result& r) {
  if (auto err = check_found(r)) return err;
  return true;
}

}  // namespace

session_repository::session_repository(caf::actor_system& sys, pg_actor pg, caf::timespan timeout)
    : sys_(sys), pg_(std::move(pg)), timeout_(timeout) {
  // nop
}

void session_repository::create(const new_session& s, on_value<session_record> ok,
                                on_error fail) const {
  run<session_record, db_result>(sys_, pg_, timeout_, make_create_session_query(s), parse_session,
                                 std::move(ok), std::move(fail));
}

void session_repository::get(const std::string& tenant_id, const std::string& id,
                             on_value<session_record> ok, on_error fail) const {
  run<session_record, db_result>(sys_, pg_, timeout_,
                                 caf::expected<db_query>{make_get_session_query(tenant_id, id)},
                                 parse_session, std::move(ok), std::move(fail));
}

void session_repository::list(const std::string& tenant_id, const session_filter& filter,
                              on_value<session_page> ok, on_error fail) const {
  run<session_page, db_result>(sys_, pg_, timeout_,
                               caf::expected<db_query>{make_list_sessions_query(tenant_id, filter)},
                               parse_session_page, std::move(ok), std::move(fail));
}

void session_repository::remove(const std::string& tenant_id, const std::string& id,
                                const std::function<void()>& ok, on_error fail) const {
  run<bool, db_result>(
      sys_, pg_, timeout_, caf::expected<db_query>{make_delete_session_query(tenant_id, id)},
      parse_deleted, std::function<void(bool)>{[ok](bool) { ok(); }}, std::move(fail));
}

void session_repository::read_events(const std::string& tenant_id, const std::string& id,
                                     uint64_t after_seq, unsigned limit, on_value<event_page> ok,
                                     on_error fail) const {
  run<event_page, db_result>(
      sys_, pg_, timeout_,
      caf::expected<db_query>{make_read_events_query(tenant_id, id, after_seq, limit)},
      parse_event_page, std::move(ok), std::move(fail));
}

void session_repository::read_transcript(const std::string& tenant_id, const std::string& id,
                                         on_value<std::vector<transcript_line>> ok,
                                         on_error fail) const {
  run<std::vector<transcript_line>, db_result>(
      sys_, pg_, timeout_, caf::expected<db_query>{make_read_transcript_query(tenant_id, id)},
      parse_transcript, std::move(ok), std::move(fail));
}

void session_repository::update_options(const std::string& tenant_id, const std::string& id,
                                        const options_update& update, on_value<session_record> ok,
                                        on_error fail) const {
  run<session_record, db_result>(sys_, pg_, timeout_,
                                 make_update_options_query(tenant_id, id, update), parse_session,
                                 std::move(ok), std::move(fail));
}

void session_repository::recover_running(const std::optional<std::string>& node,
                                         on_value<std::vector<std::string>> ok,
                                         on_error fail) const {
  run<std::vector<std::string>, std::vector<db_result>>(
      sys_, pg_, timeout_, caf::expected<db_batch>{make_recover_running_batch(node)},
      parse_recovered, std::move(ok), std::move(fail));
}

caf::expected<std::vector<std::string>> recover_running_blocking(
    caf::actor_system& sys, const pg_actor& pg, caf::timespan timeout,
    const std::optional<std::string>& node) {
  caf::expected<std::vector<std::string>> out{make_error(errc::internal, "recovery: no reply")};
  caf::scoped_actor self{sys};
  self->request(pg, timeout, make_recover_running_batch(node))
      .receive([&](std::vector<db_result>& rs) { out = parse_recovered(rs); },
               [&](caf::error& e) { out = normalize(std::move(e)); });
  return out;
}

}  // namespace caa::storage
