// The ownership lease of a session in a cluster (storage/postgres/lease_queries.hpp): the actor
// renews it while it lives, releases it when it retires or the node drains, and ends itself
// the moment it learns that another node took the session over, without another write.

#include "actors/session_impl.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "storage/bridge.hpp"
#include "storage/postgres/lease_queries.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

bool leased(const session_state& st) {
  return st.who.epoch > 0 && !st.deps.node_id.empty();
}

std::chrono::milliseconds to_ms(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(x);
}

}  // namespace

void start_lease(session_self self) {
  if (leased(self->state))
    self->delayed_send(self, self->state.deps.lease_ttl / 3, atom::lease_due_v);
}

void on_lease_due(session_self self) {
  auto& st = self->state;
  if (!leased(st) || st.life.lease_ended) return;
  self->delayed_send(self, st.deps.lease_ttl / 3, atom::lease_due_v);
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_renew_lease_query(st.who.id, st.deps.node_id, st.who.epoch,
                                                to_ms(st.deps.lease_ttl)))
      .then(
          [self](storage::db_result& r) {
            cancel_answered_timeout(self);
            if (r.affected == 0 && !self->state.life.lease_ended)
              fenced(self, make_error(errc::fenced, "lease renewal: claimed by another node"));
          },
          [self](caf::error& e) {
            cancel_answered_timeout(self);
            // PostgreSQL trouble: the lease may run out meanwhile; the fence of the next write
            // tells whether another node took it.
            log::warn("session lease renewal failed", {.component = "session",
                                                       .session_id = self->state.who.id,
                                                       .error_code = to_string(errc_of(e))});
          });
}

void release_lease(session_self self) {
  auto& st = self->state;
  if (!leased(st) || st.life.lease_ended) return;
  st.life.lease_ended = true;
  // Nobody waits for the answer: an unreleased lease only delays a takeover until it expires.
  self->request(st.deps.pg, st.deps.db_timeout,
                storage::make_release_lease_query(st.who.id, st.deps.node_id, st.who.epoch))
      .then([](storage::db_result&) {}, [](caf::error&) {});
}

row_write fenced_write(const session_state& st, row_write w) {
  if (!leased(st)) return w;
  auto fence = storage::make_fence_query(st.who.id, st.who.epoch);
  if (auto* q = std::get_if<storage::db_query>(&w))
    return storage::db_batch{{std::move(*q), std::move(fence)}};
  auto& batch = std::get<storage::db_batch>(w);
  batch.queries.push_back(std::move(fence));
  return w;
}

void fenced(session_self self, const caf::error& why) {
  auto& st = self->state;
  log::warn("session taken over by another node; this actor ends without writing",
            {.component = "session", .session_id = st.who.id, .detail = caf::to_string(why)});
  st.life.lease_ended = true;
  kill_all_then_release(self);
  // Subscribers reconnect with Last-Event-ID and resume wherever the session lives now.
  st.events.close_subscribers();
  caf::anon_send(st.registry, atom::remove_v, st.who.id);
  self->quit();
}

}  // namespace caa::detail
