#pragma once

// INTERNAL to the pool: one PostgreSQL connection in libpq's pipeline mode, owned by one worker.
// libpqxx 6.4 cannot pipeline prepared statements, so the worker speaks libpq directly: every
// request is sent as a pipeline and its answers read back in one round trip.

#include "storage/postgres/statements.hpp"
#include "storage/types.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace caa::storage::detail {

/// What a connection needs: the full conninfo (see `make_conninfo`) and the statement timeout it
/// sets on the server (`statement_timeout`, `idle_in_transaction_session_timeout`).
struct pg_connection_config {
  std::string conninfo;
  std::chrono::milliseconds statement_timeout{5000};
};

/// One open connection with the whole statement catalogue prepared, in pipeline mode.
///
/// Errors are `errc` as the pool documents them: unavailable (connection lost, commit in doubt,
/// the server shutting down), timeout (statement_timeout, or the pipeline's own deadline, after
/// which the connection is closed), conflict (unique or foreign-key violation), validation (check
/// violation), fenced (`CAA01`), internal (anything else; the SQL state in the context). After
/// any error, `usable()` says whether the connection may be used again.
class pg_connection {
 public:
  /// Connects (blocking, bounded by the conninfo's connect_timeout), sets the timeouts and
  /// prepares every catalogue statement.
  static caf::expected<pg_connection> open(const pg_connection_config& cfg);

  pg_connection(pg_connection&&) noexcept;
  pg_connection& operator=(pg_connection&&) noexcept;
  ~pg_connection();

  /// Runs `queries` as independent autocommit statements in one pipeline (a sync point after
  /// each: one failing does not touch the others). One outcome per query, in order. When the
  /// connection breaks, every query without an answer yet fails as unavailable. `deadline`
  /// bounds the whole pipeline: when it passes, the rest fail as timeout and the connection is
  /// closed.
  std::vector<caf::expected<db_result>> run_each(std::span<const db_query> queries,
                                                 std::chrono::steady_clock::time_point deadline);

  /// Runs `queries` in ONE transaction (one pipeline, one sync point: PostgreSQL's implicit
  /// transaction commits at the sync, and any error rolls back all of them).
  caf::expected<std::vector<db_result>> run_all(std::span<const db_query> queries,
                                                std::chrono::steady_clock::time_point deadline);

  /// False once the connection broke or was closed after a deadline: reconnect.
  bool usable() const noexcept;

 private:
  struct impl;
  explicit pg_connection(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The catalogue's statement of `q`, checked before anything reaches the server: an unknown
/// name is internal, a NUL byte in a parameter is validation.
caf::expected<const statement_def*> checked_statement(const db_query& q);

/// The `errc` of a server error with SQL state `sqlstate` from statement `what`.
caf::error error_of_sqlstate(const std::string& sqlstate, const std::string& what);

}  // namespace caa::storage::detail
