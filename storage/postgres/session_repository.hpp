#pragma once

#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/pg_pool.hpp"
#include "storage/postgres/session_queries.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace caa::storage {

/// Sessions, their events and transcripts for code that is not an actor (Beast handlers, main).
/// Every operation is asynchronous: exactly one of the two callbacks runs, on a CAF thread, or
/// on the caller's thread for an argument that fails validation. Errors are `errc`:
/// session_not_found (missing, another tenant's, or a malformed id), validation, unavailable
/// (PostgreSQL down, or a missed deadline). Actors use the builders and parsers of
/// session_queries.hpp and event_queries.hpp instead; the session actor is the only writer of a
/// live session's row (R2), so this class only creates, reads, deletes and recovers.
class session_repository {
 public:
  /// Receives a value.
  template <class T>
  using on_value = std::function<void(T)>;

  /// Receives an error.
  using on_error = std::function<void(caf::error)>;

  /// Runs `pg` requests with `timeout` each (use `pg_request_timeout`).
  session_repository(caf::actor_system& sys, pg_actor pg, caf::timespan timeout);

  /// Stores a new session (see `make_create_session_query`).
  void create(const new_session& s, on_value<session_record> ok, on_error fail) const;

  /// One session of the tenant.
  void get(const std::string& tenant_id, const std::string& id, on_value<session_record> ok,
           on_error fail) const;

  /// A page of the tenant's sessions, newest first, and the total.
  void list(const std::string& tenant_id, const session_filter& filter, on_value<session_page> ok,
            on_error fail) const;

  /// Deletes a session with its events, turns and transcript. The caller stops its actor first.
  void remove(const std::string& tenant_id, const std::string& id, const std::function<void()>& ok,
              on_error fail) const;

  /// Up to `limit` events with seq > `after_seq`, and the session's last_seq.
  void read_events(const std::string& tenant_id, const std::string& id, uint64_t after_seq,
                   unsigned limit, on_value<event_page> ok, on_error fail) const;

  /// The whole CLI transcript of a session (to restore it before `--resume`).
  void read_transcript(const std::string& tenant_id, const std::string& id,
                       on_value<std::vector<transcript_line>> ok, on_error fail) const;

  /// Changes spawn-time options, model or permission mode; returns the updated session.
  void update_options(const std::string& tenant_id, const std::string& id,
                      const options_update& update, on_value<session_record> ok,
                      on_error fail) const;

  /// Start-up recovery (see `make_recover_running_batch`); the interrupted session ids.
  void recover_running(const std::optional<std::string>& node,
                       on_value<std::vector<std::string>> ok, on_error fail) const;

 private:
  caf::actor_system& sys_;
  pg_actor pg_;
  caf::timespan timeout_;
};

/// `recover_running`, BLOCKING the calling thread until done: for `main` before the server
/// starts, and tests; never on a CAF or I/O thread.
caf::expected<std::vector<std::string>> recover_running_blocking(
    caf::actor_system& sys, const pg_actor& pg, caf::timespan timeout,
    const std::optional<std::string>& node);

}  // namespace caa::storage
