#include "storage/postgres/pg_worker.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/backoff.hpp"
#include "storage/postgres/statements.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <pqxx/pqxx>

#include <memory>

namespace caa::storage::detail {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct pg_worker_state {
  static inline const char* name = "caa.pg_worker";
  pg_worker_config cfg;
  std::unique_ptr<pqxx::connection> conn;
  backoff retry{100ms, 2s};
  clock_type::time_point next_attempt{};
  bool reconnect_pending = false;
};

using worker_ptr = pg_worker_actor::stateful_pointer<pg_worker_state>;

void schedule_reconnect(worker_ptr self, caf::timespan delay) {
  if (self->state.reconnect_pending) return;
  self->state.reconnect_pending = true;
  self->delayed_send(self, delay, atom::reconnect_v);
}

/// Opens a connection with the catalogue registered; on failure backs off and retries later.
bool try_connect(worker_ptr self) {
  auto& st = self->state;
  try {
    auto conn = std::make_unique<pqxx::connection>(st.cfg.conninfo);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn->inhibit_reactivation(true);  // we reconnect ourselves, never behind a request's back
#pragma GCC diagnostic pop
    auto ms = std::to_string(st.cfg.statement_timeout.count());
    pqxx::nontransaction tx{*conn, "caa_session_setup"};
    tx.exec("SET statement_timeout = " + ms);
    tx.exec("SET idle_in_transaction_session_timeout = " + ms);
    tx.commit();
    for (const auto& s : statement_catalogue())
      conn->prepare(std::string{s.name}, std::string{s.sql});
    st.conn = std::move(conn);
    st.retry.reset();
    log::rearm_once("postgres-unavailable");
    return true;
  } catch (const std::exception& e) {
    std::string_view why = e.what();
    log::warn_once("postgres-unavailable", "postgres: cannot connect",
                   {.component = "postgres",
                    .detail = why.substr(0, why.find('\n')),
                    .attempt = st.retry.attempts() + 1});
    auto delay = st.retry.next();
    st.next_attempt = clock_type::now() + delay;
    schedule_reconnect(self, delay);
    return false;
  }
}

/// True when connected, connecting now if the backoff allows it.
bool ensure_connected(worker_ptr self) {
  auto& st = self->state;
  if (st.conn) return true;
  if (clock_type::now() < st.next_attempt) return false;
  return try_connect(self);
}

/// Forgets a broken connection and reconnects right away (from the mailbox, not this request).
void drop_connection(worker_ptr self) {
  self->state.conn.reset();
  self->state.next_attempt = {};
  schedule_reconnect(self, caf::timespan{0});
}

bool is_connection_state(const std::string& sqlstate) {
  // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
  return sqlstate.starts_with("08") || sqlstate.starts_with("57P");
}

/// Maps the exception in flight to an `errc`; drops the connection when it is unusable.
caf::error current_error(worker_ptr self, const std::string& what) {
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    drop_connection(self);
    return make_error(errc::unavailable, "postgres connection lost: " + what);
  } catch (const pqxx::in_doubt_error&) {
    drop_connection(self);
    return make_error(errc::unavailable, "postgres commit in doubt: " + what);
  } catch (const pqxx::unique_violation& e) {
    return make_error(errc::conflict, "sqlstate " + e.sqlstate() + ": " + what);
  } catch (const pqxx::foreign_key_violation& e) {
    return make_error(errc::conflict, "sqlstate " + e.sqlstate() + ": " + what);
  } catch (const pqxx::check_violation& e) {
    return make_error(errc::validation, "sqlstate " + e.sqlstate() + ": " + what);
  } catch (const pqxx::sql_error& e) {
    auto ctx = "sqlstate " + e.sqlstate() + ": " + what;
    if (e.sqlstate() == "57014") return make_error(errc::timeout, std::move(ctx));
    if (e.sqlstate() == "CAA01") return make_error(errc::fenced, std::move(ctx));  // caa_fence
    if (is_connection_state(e.sqlstate())) {
      drop_connection(self);
      return make_error(errc::unavailable, std::move(ctx));
    }
    return make_error(errc::internal, std::move(ctx));
  } catch (const std::exception& e) {
    auto& conn = self->state.conn;
    if (conn && !conn->is_open()) drop_connection(self);
    return make_error(errc::internal, what + ": " + e.what());
  }
}

/// Checks a query against the catalogue before anything reaches the server.
caf::error check_query(const db_query& q) {
  if (find_statement(q.statement_name) == nullptr)
    return make_error(errc::internal, "unknown statement " + q.statement_name);
  for (const auto& p : q.params)
    if (p && p->find('\0') != std::string::npos)
      return make_error(errc::validation, "NUL byte in a parameter of " + q.statement_name);
  return caf::none;
}

db_result to_db_result(const pqxx::result& r) {
  db_result out;
  out.affected = r.affected_rows();
  out.rows.reserve(r.size());
  for (const auto& row : r) {
    db_row values;
    values.reserve(row.size());
    for (const auto& field : row) {
      if (field.is_null())
        values.emplace_back(caf::none);
      else
        values.emplace_back(std::string{field.c_str(), field.size()});
    }
    out.rows.emplace_back(std::move(values));
  }
  return out;
}

db_result exec(pqxx::transaction_base& tx, const db_query& q) {
  std::vector<const char*> params;
  params.reserve(q.params.size());
  for (const auto& p : q.params) params.push_back(p ? p->c_str() : nullptr);  // nullptr is SQL NULL
  return to_db_result(
      tx.exec_prepared(q.statement_name, pqxx::prepare::make_dynamic_params(params)));
}

/// Runs `f(connection)` when connected; exceptions become `errc`.
template <class T, class F>
caf::result<T> with_connection(worker_ptr self, const std::string& what, F f) {
  if (!ensure_connected(self)) return make_error(errc::unavailable, "postgres not connected");
  try {
    return f(*self->state.conn);
  } catch (...) {
    return current_error(self, what);
  }
}

caf::result<db_result> run_query(worker_ptr self, const db_query& q) {
  if (auto err = check_query(q)) return err;
  return with_connection<db_result>(self, q.statement_name, [&](pqxx::connection& c) {
    pqxx::nontransaction tx{c};  // one statement: autocommit is its own transaction
    return exec(tx, q);
  });
}

caf::result<std::vector<db_result>> run_batch(worker_ptr self, const db_batch& b) {
  for (const auto& q : b.queries)
    if (auto err = check_query(q)) return err;
  auto what = "batch starting with " + (b.queries.empty() ? "-" : b.queries[0].statement_name);
  return with_connection<std::vector<db_result>>(self, what, [&](pqxx::connection& c) {
    pqxx::work tx{c};  // RAII: aborts in the destructor unless committed
    std::vector<db_result> out;
    out.reserve(b.queries.size());
    for (const auto& q : b.queries) out.emplace_back(exec(tx, q));
    tx.commit();
    return out;
  });
}

bool run_ping(worker_ptr self) {
  auto r = with_connection<bool>(self, "ping", [](pqxx::connection& c) {
    pqxx::nontransaction tx{c};
    tx.exec_prepared(std::string{stmt::ping});
    return true;
  });
  return r.flag == caf::rt_value;
}

pg_worker_actor::behavior_type pg_worker(worker_ptr self, pg_worker_config cfg) {
  self->state.cfg = std::move(cfg);
  schedule_reconnect(self, caf::timespan{0});  // warm up without blocking the spawner
  return {
      [self](db_query& q) -> caf::result<db_result> { return run_query(self, q); },
      [self](db_batch& b) -> caf::result<std::vector<db_result>> { return run_batch(self, b); },
      [self](atom::ping) -> bool { return run_ping(self); },
      [self](atom::reconnect) {
        self->state.reconnect_pending = false;
        if (!self->state.conn) try_connect(self);
      },
  };
}

}  // namespace

pg_worker_actor spawn_pg_worker(caf::local_actor* parent, pg_worker_config cfg) {
  return parent->spawn<caf::detached + caf::linked>(pg_worker, std::move(cfg));
}

}  // namespace caa::storage::detail
