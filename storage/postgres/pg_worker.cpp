#include "storage/postgres/pg_worker.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/backoff.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/postgres/statements.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <optional>
#include <span>

namespace caa::storage::detail {

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct pg_worker_state {
  static inline const char* name = "caa.pg_worker";
  pg_worker_config cfg;
  std::optional<pg_connection> conn;
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

/// Opens a connection with the catalogue prepared; on failure backs off and retries later.
bool try_connect(worker_ptr self) {
  auto& st = self->state;
  auto conn = pg_connection::open({st.cfg.conninfo, st.cfg.statement_timeout});
  if (conn) {
    st.conn = std::move(*conn);
    st.retry.reset();
    log::rearm_once("postgres-unavailable");
    return true;
  }
  log::warn_once("postgres-unavailable", "postgres: cannot connect",
                 {.component = "postgres",
                  .detail = render_errc(conn.error().code(), conn.error().context()),
                  .attempt = st.retry.attempts() + 1});
  auto delay = st.retry.next();
  st.next_attempt = clock_type::now() + delay;
  schedule_reconnect(self, delay);
  return false;
}

/// The connection when connected, connecting now if the backoff allows it; else nullptr.
pg_connection* connection(worker_ptr self) {
  auto& st = self->state;
  if (st.conn) return &*st.conn;
  if (clock_type::now() < st.next_attempt) return nullptr;
  return try_connect(self) ? &*st.conn : nullptr;
}

/// After a request: forgets a connection that broke and reconnects right away (from the
/// mailbox, not this request).
void keep_if_usable(worker_ptr self) {
  auto& st = self->state;
  if (!st.conn || st.conn->usable()) return;
  st.conn.reset();
  st.next_attempt = {};
  schedule_reconnect(self, caf::timespan{0});
}

/// How long a request may take: one statement's timeout plus a margin (the server's own
/// statement_timeout answers first; this bounds a pipeline and a silent server).
clock_type::time_point deadline(worker_ptr self) {
  return clock_type::now() + self->state.cfg.statement_timeout + 250ms;
}

caf::error not_connected() {
  return make_error(errc::unavailable, "postgres not connected");
}

db_outcomes run_pipeline(worker_ptr self, std::span<const db_query> queries) {
  db_outcomes out;
  out.results.resize(queries.size());
  out.errors.resize(queries.size());
  auto* conn = connection(self);
  if (conn == nullptr) {
    for (auto& e : out.errors) e = not_connected();
    return out;
  }
  auto each = conn->run_each(queries, deadline(self));
  for (std::size_t i = 0; i < each.size(); ++i) {
    if (each[i])
      out.results[i] = std::move(*each[i]);
    else
      out.errors[i] = std::move(each[i].error());
  }
  keep_if_usable(self);
  return out;
}

caf::result<db_result> run_query(worker_ptr self, const db_query& q) {
  auto out = run_pipeline(self, std::span{&q, 1});  // no copy: writes can be large
  if (out.errors[0]) return std::move(out.errors[0]);
  return std::move(out.results[0]);
}

caf::result<std::vector<db_result>> run_batch(worker_ptr self, const db_batch& b) {
  auto* conn = connection(self);
  if (conn == nullptr) return not_connected();
  auto r = conn->run_all(b.queries, deadline(self));
  keep_if_usable(self);
  if (!r) return std::move(r.error());
  return std::move(*r);
}

bool run_ping(worker_ptr self) {
  auto r = run_query(self, db_query{std::string{stmt::ping}, {}});
  return r.flag == caf::rt_value;
}

pg_worker_actor::behavior_type pg_worker(worker_ptr self, pg_worker_config cfg) {
  self->state.cfg = std::move(cfg);
  schedule_reconnect(self, caf::timespan{0});  // warm up without blocking the spawner
  return {
      [self](db_query& q) -> caf::result<db_result> { return run_query(self, q); },
      [self](db_batch& b) -> caf::result<std::vector<db_result>> { return run_batch(self, b); },
      [self](db_pipeline& p) -> db_outcomes { return run_pipeline(self, p.queries); },
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
