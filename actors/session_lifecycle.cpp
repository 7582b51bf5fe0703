// A session actor that has nothing left to do ends itself, so the memory of a node does not grow
// with every session it ever served (PERFORMANCE.md: RSS independent of the number of
// hibernated sessions). Its rows are the truth: the registry revives it from PostgreSQL on the
// next request, and a subscriber that needs older events replays them from storage.

#include "actors/session_impl.hpp"

#include "config/logging.hpp"

#include <caf/all.hpp>

namespace caa::detail {

namespace {

void arm(session_self self, caf::timespan after) {
  self->state.life.retire_armed = true;
  self->delayed_send(self, after, atom::retire_due_v);
}

}  // namespace

void touch(session_self self) {
  self->state.life.last_activity = self->clock().now();  // the actor clock: virtual in tests
}

void arm_retirement(session_self self) {
  auto& st = self->state;
  if (st.deps.retire_after.count() > 0 && !st.life.retire_armed && st.quiet())
    arm(self, st.deps.retire_after);
}

void on_retire_deadline(session_self self) {
  auto& st = self->state;
  st.life.retire_armed = false;
  if (!st.quiet()) return;  // armed again when it is quiet again
  // Drops subscribers whose client is gone (an idle session learns it only here).
  st.events.prune_subscribers();
  auto idle_for =
      std::chrono::duration_cast<caf::timespan>(self->clock().now() - st.life.last_activity);
  if (st.events.has_subscribers() || idle_for < st.deps.retire_after) {
    // Look again later: a subscriber may leave without an event to notice it by.
    arm(self, st.events.has_subscribers() ? st.deps.retire_after : st.deps.retire_after - idle_for);
    return;
  }
  log::debug("session actor retired (nothing left in memory)",
             {.component = "session", .session_id = st.who.id});
  // The registry forgets it first (the same message a deleted session sends): the next request
  // for this id revives a fresh actor from the rows.
  caf::anon_send(st.registry, atom::remove_v, st.who.id);
  release_lease(self);
  self->quit();
}

}  // namespace caa::detail
