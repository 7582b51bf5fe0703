#include "storage/postgres/pg_connection.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <optional>
#include <unordered_set>

namespace caa::storage::detail {

namespace {

using clock_type = std::chrono::steady_clock;

/// Frees a result at the end of its scope.
struct result_ptr {
  PGresult* r;
  explicit result_ptr(PGresult* x) noexcept : r(x) {}
  result_ptr(const result_ptr&) = delete;
  result_ptr& operator=(const result_ptr&) = delete;
  ~result_ptr() { PQclear(r); }
};

bool is_connection_state(std::string_view sqlstate) {
  // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
  return sqlstate.starts_with("08") || sqlstate.starts_with("57P");
}

/// The first line of libpq's last error on `conn`.
std::string last_error(PGconn* conn) {
  std::string_view why = conn != nullptr ? PQerrorMessage(conn) : "no connection";
  return std::string{why.substr(0, why.find('\n'))};
}

db_result to_db_result(const PGresult* r) {
  db_result out;
  out.affected = std::strtoull(PQcmdTuples(const_cast<PGresult*>(r)), nullptr, 10);
  auto rows = PQntuples(r);
  auto cols = PQnfields(r);
  out.rows.reserve(static_cast<std::size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    db_row values;
    values.reserve(static_cast<std::size_t>(cols));
    for (int j = 0; j < cols; ++j) {
      if (PQgetisnull(r, i, j) != 0)
        values.emplace_back(caf::none);
      else
        values.emplace_back(
            std::string{PQgetvalue(r, i, j), static_cast<std::size_t>(PQgetlength(r, i, j))});
    }
    out.rows.emplace_back(std::move(values));
  }
  return out;
}

/// The outcome of one statement's result: its rows, or its error.
caf::expected<db_result> outcome_of(const PGresult* r, const std::string& what) {
  switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
      return to_db_result(r);
    case PGRES_FATAL_ERROR: {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      return error_of_sqlstate(state != nullptr ? state : "", what);
    }
    case PGRES_PIPELINE_ABORTED:
      return make_error(errc::internal, "statement skipped after an error: " + what);
    default:
      return make_error(errc::internal, std::string{"unexpected result "} +
                                            PQresStatus(PQresultStatus(r)) + ": " + what);
  }
}

}  // namespace

caf::expected<const statement_def*> checked_statement(const db_query& q) {
  const auto* def = find_statement(q.statement_name);
  if (def == nullptr) return make_error(errc::internal, "unknown statement " + q.statement_name);
  for (const auto& p : q.params)
    if (p && p->find('\0') != std::string::npos)
      return make_error(errc::validation, "NUL byte in a parameter of " + q.statement_name);
  return def;
}

caf::error error_of_sqlstate(const std::string& sqlstate, const std::string& what) {
  auto ctx = "sqlstate " + sqlstate + ": " + what;
  if (sqlstate == "23505" || sqlstate == "23503") return make_error(errc::conflict, ctx);
  if (sqlstate == "23514") return make_error(errc::validation, ctx);
  if (sqlstate == "57014") return make_error(errc::timeout, ctx);
  if (sqlstate == "CAA01") return make_error(errc::fenced, ctx);  // caa_fence
  if (is_connection_state(sqlstate)) return make_error(errc::unavailable, ctx);
  return make_error(errc::internal, ctx);
}

struct pg_connection::impl {
  /// What the next result answers: a statement's execution, or its preparation.
  struct expected_result {
    const std::string* name;  ///< the statement (owned by the query or the catalogue)
    bool prepare;
  };

  PGconn* conn = nullptr;
  /// The statements prepared on this connection, or on their way (names from the catalogue).
  std::unordered_set<std::string_view> prepared;
  std::deque<expected_result> expect;  ///< one per command sent, in order

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() { close(); }

  void close() noexcept {
    if (conn != nullptr) PQfinish(conn);
    conn = nullptr;
    prepared.clear();
    expect.clear();
  }

  bool usable() const noexcept { return conn != nullptr && PQstatus(conn) == CONNECTION_OK; }

  /// Queues one statement (no flush yet), preceded by its preparation the first time this
  /// connection runs it: preparing on first use touches only the tables in use (a table locked
  /// by someone else delays only its own statements), as libpqxx did.
  bool send(const db_query& q, const statement_def& def) {
    if (!prepared.contains(def.name)) {
      std::string sql{def.sql};
      if (PQsendPrepare(conn, q.statement_name.c_str(), sql.c_str(), 0, nullptr) != 1) return false;
      prepared.insert(def.name);
      expect.push_back({&q.statement_name, true});
    }
    expect.push_back({&q.statement_name, false});
    std::vector<const char*> params;
    params.reserve(q.params.size());
    for (const auto& p : q.params) params.push_back(p ? p->c_str() : nullptr);  // NULL
    return PQsendQueryPrepared(conn, q.statement_name.c_str(), static_cast<int>(params.size()),
                               params.data(), nullptr, nullptr, 0) == 1;
  }

  /// Waits until the socket is readable (or writable, when output is pending) or `deadline`.
  /// False when the deadline passed.
  bool wait(bool want_write, clock_type::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(conn), static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0};
    auto n = ::poll(&p, 1, static_cast<int>(left.count()));
    return n >= 0 || errno == EINTR;
  }

  /// Reads results until `syncs` sync points came back, giving the outcome of every statement
  /// to `on_result(segment, outcome)` (segment: how many sync points came back before it). A
  /// failed preparation is the outcome of its statement. An error when the connection broke
  /// (unavailable) or the deadline passed (timeout, and the connection is closed).
  template <class F>
  caf::error read(std::size_t syncs, clock_type::time_point deadline, const std::string& what,
                  F&& on_result) {
    std::size_t seen = 0;
    caf::error prepare_failed;  // in the current segment
    while (seen < syncs) {
      if (PQstatus(conn) != CONNECTION_OK)
        return make_error(errc::unavailable, "postgres connection lost: " + what);
      auto flushed = PQflush(conn);  // 0: all sent, 1: more to send, -1: failed
      if (flushed < 0) return make_error(errc::unavailable, "postgres connection lost: " + what);
      bool idle = false;  // two results in a row without a statement in between
      while (seen < syncs && PQisBusy(conn) == 0) {
        PGresult* r = PQgetResult(conn);
        if (r == nullptr) {
          if (idle || PQstatus(conn) != CONNECTION_OK) break;
          idle = true;
          continue;
        }
        idle = false;
        result_ptr owned{r};
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
          ++seen;
          prepare_failed = caf::none;
          continue;
        }
        if (expect.empty()) continue;  // not ours: cannot happen
        auto e = expect.front();
        expect.pop_front();
        auto outcome = outcome_of(r, *e.name);
        if (e.prepare) {
          if (!outcome) {
            prepared.erase(*e.name);
            prepare_failed = std::move(outcome.error());
          }
          continue;
        }
        if (prepare_failed && PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
          on_result(seen, caf::expected<db_result>{prepare_failed});
        else
          on_result(seen, std::move(outcome));
      }
      if (seen == syncs) break;
      if (!wait(flushed == 1, deadline)) {
        close();
        return make_error(errc::timeout, "postgres deadline exceeded: " + what);
      }
      if (PQconsumeInput(conn) == 0)
        return make_error(errc::unavailable, "postgres connection lost: " + what);
    }
    return caf::none;
  }
};

pg_connection::pg_connection(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
pg_connection::pg_connection(pg_connection&&) noexcept = default;
pg_connection& pg_connection::operator=(pg_connection&&) noexcept = default;
pg_connection::~pg_connection() = default;

bool pg_connection::usable() const noexcept {
  return impl_ && impl_->usable();
}

caf::expected<pg_connection> pg_connection::open(const pg_connection_config& cfg) {
  auto c = std::make_unique<impl>();
  c->conn = PQconnectdb(cfg.conninfo.c_str());
  if (c->conn == nullptr || PQstatus(c->conn) != CONNECTION_OK)
    return make_error(errc::unavailable, "postgres: cannot connect: " + last_error(c->conn));
  // The server's notices (a statement's warnings) go to the service's log, not to stderr.
  PQsetNoticeProcessor(
      c->conn,
      [](void*, const char* message) {
        std::string_view m = message != nullptr ? message : "";
        log::warn("postgres notice",
                  {.component = "postgres", .detail = m.substr(0, m.find('\n'))});
      },
      nullptr);
  auto ms = std::to_string(cfg.statement_timeout.count());
  auto set = "SET statement_timeout = " + ms + "; SET idle_in_transaction_session_timeout = " + ms;
  {
    result_ptr r{PQexec(c->conn, set.c_str())};
    if (PQresultStatus(r.r) != PGRES_COMMAND_OK)
      return make_error(errc::unavailable, "postgres: cannot set up: " + last_error(c->conn));
  }
  if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1)
    return make_error(errc::unavailable, "postgres: no pipeline mode: " + last_error(c->conn));
  return pg_connection{std::move(c)};
}

std::vector<caf::expected<db_result>> pg_connection::run_each(std::span<const db_query> queries,
                                                              clock_type::time_point deadline) {
  std::vector<std::optional<caf::expected<db_result>>> out(queries.size());
  std::vector<std::size_t> sent;  // the index of every query sent, in order
  sent.reserve(queries.size());
  caf::error broken;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    auto def = checked_statement(queries[i]);
    if (!def) {
      out[i] = std::move(def.error());
      continue;
    }
    if (!usable() || !impl_->send(queries[i], **def) || PQpipelineSync(impl_->conn) != 1) {
      broken =
          make_error(errc::unavailable, "postgres connection lost: " + queries[i].statement_name);
      break;
    }
    sent.push_back(i);
  }
  if (!broken && !sent.empty()) {
    const auto& what = queries[sent.front()].statement_name;
    broken =
        impl_->read(sent.size(), deadline, what, [&](std::size_t seg, caf::expected<db_result> o) {
          auto& slot = out[sent[seg]];
          if (!slot) slot = std::move(o);
        });
  }
  if (broken) impl_->close();  // what was sent may still answer: never reuse the connection
  std::vector<caf::expected<db_result>> results;
  results.reserve(queries.size());
  for (auto& o : out) results.emplace_back(o ? std::move(*o) : caf::expected<db_result>{broken});
  return results;
}

caf::expected<std::vector<db_result>> pg_connection::run_all(std::span<const db_query> queries,
                                                             clock_type::time_point deadline) {
  std::vector<const statement_def*> defs;
  defs.reserve(queries.size());
  for (const auto& q : queries) {
    auto def = checked_statement(q);
    if (!def) return std::move(def.error());
    defs.push_back(*def);
  }
  auto what = "batch starting with " + (queries.empty() ? "-" : queries[0].statement_name);
  auto lost = [&] {
    impl_->close();  // what was sent may still answer: never reuse the connection
    return make_error(errc::unavailable, "postgres connection lost: " + what);
  };
  if (!usable()) return lost();
  for (std::size_t i = 0; i < queries.size(); ++i)
    if (!impl_->send(queries[i], *defs[i])) return lost();
  if (PQpipelineSync(impl_->conn) != 1) return lost();
  std::vector<db_result> rows;
  rows.reserve(queries.size());
  caf::error failed;
  auto err = impl_->read(1, deadline, what, [&](std::size_t, caf::expected<db_result> o) {
    if (failed) return;  // the statements after the failed one were skipped
    if (o)
      rows.emplace_back(std::move(*o));
    else
      failed = std::move(o.error());
  });
  if (err) {
    impl_->close();
    if (errc_of(err) == errc::unavailable)
      return make_error(errc::unavailable, "postgres commit in doubt: " + what);
    return err;
  }
  if (failed) return failed;
  if (rows.size() != queries.size())
    return make_error(errc::internal, "postgres: missing results: " + what);
  return rows;
}

}  // namespace caa::storage::detail
