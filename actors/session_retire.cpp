// A session actor that has nothing left to do ends itself, so the memory of a node does not grow
// with every session it ever served (PERFORMANCE.md: RSS independent of the number of
// hibernated sessions). Its rows are the truth: the registry revives it from PostgreSQL on the
// next request, and a subscriber that needs older events replays them from storage.

#include "actors/session_impl.hpp"

#include "config/logging.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace caa::detail {

namespace {

/// Whether nothing of the session lives outside PostgreSQL but its subscribers: no process
/// (running or ending), no turn or waiting work, no event or row write pending, no open CLI
/// request.
bool quiet(const session_state& st) {
  return !st.proc && st.retiring.empty() && !st.holds_slot && !st.in_turn && !st.waiting &&
         !st.rewinding && st.unwritten.empty() && !st.write_in_flight && st.row_writes.empty() &&
         !st.row_write_in_flight && st.pending.empty() && st.awaiting.empty();
}

/// Drops subscribers whose client is gone (an idle session learns it only here).
void prune(session_state& st) {
  auto& subs = st.subscribers;
  subs.erase(std::remove_if(subs.begin(), subs.end(),
                            [](const subscriber& s) { return !s.sink->open(); }),
             subs.end());
}

void arm(session_self self, caf::timespan after) {
  self->state.retire_armed = true;
  self->delayed_send(self, after, atom::timeout_v, int32_t{retire_deadline}, uint64_t{0});
}

}  // namespace

void touch(session_self self) {
  self->state.last_activity = self->clock().now();  // the actor clock: virtual in tests
}

void arm_retirement(session_self self) {
  auto& st = self->state;
  if (st.deps.retire_after.count() > 0 && !st.retire_armed && quiet(st))
    arm(self, st.deps.retire_after);
}

void on_retire_deadline(session_self self) {
  auto& st = self->state;
  st.retire_armed = false;
  if (!quiet(st))
    return;  // armed again when it is quiet again
  prune(st);
  auto idle_for = std::chrono::duration_cast<caf::timespan>(self->clock().now() - st.last_activity);
  if (!st.subscribers.empty() || idle_for < st.deps.retire_after) {
    // Look again later: a subscriber may leave without an event to notice it by.
    arm(self, st.subscribers.empty() ? st.deps.retire_after - idle_for : st.deps.retire_after);
    return;
  }
  log::debug("session actor retired (nothing left in memory)",
             {.component = "session", .session_id = st.who.id});
  // The registry forgets it first (the same message a deleted session sends): the next request
  // for this id revives a fresh actor from the rows.
  caf::anon_send(st.registry, atom::remove_v, st.who.id);
  self->quit();
}

}  // namespace caa::detail
