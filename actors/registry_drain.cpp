// The registry's drain, step by step: poll for running turns, interrupt them after the grace
// period, hibernate every session, answer.

#include "actors/registry_impl.hpp"

#include <caf/all.hpp>

#include <memory>

namespace caa::registry_detail {

using namespace std::chrono_literals;

/// Asks every session whether a turn runs; then polls again or moves to hibernation.
void poll_busy(self_ptr self) {
  auto& st = self->state;
  if (self->clock().now() >= st.drain_deadline) {
    self->send(self, atom::drain_stop_v);
    return;
  }
  if (st.live.empty()) {
    self->send(self, atom::drain_rest_v);
    return;
  }
  auto pending = std::make_shared<std::size_t>(st.live.size());
  auto any = std::make_shared<bool>(false);
  auto next = [=] {
    if (--*pending > 0) return;
    if (*any)
      self->delayed_send(self, 250ms, atom::drain_poll_v);
    else
      self->send(self, atom::drain_rest_v);
  };
  for (auto& [id, e] : st.live)
    self->request(e.actor, 2s, atom::busy_v)
        .then(
            [=](bool b) {
              *any = *any || b;
              next();
            },
            [=](caf::error&) { next(); });
}

/// The grace period is over: every running turn is interrupted; then every session rests.
void stop_turns(self_ptr self) {
  for (auto& [id, e] : self->state.live)
    self->request(e.actor, 2s, atom::interrupt_v).then([](bool) {}, [](caf::error&) {});
  self->delayed_send(self, 2s, atom::drain_rest_v);
}

/// Every session ends its process (hibernation); the drain answers when they had time to.
void rest_sessions(self_ptr self) {
  auto& st = self->state;
  for (auto& [id, e] : st.live) self->send(e.actor, atom::hibernate_v);
  if (st.live.empty())
    self->send(self, atom::drain_done_v);
  else
    self->delayed_send(self, 3s, atom::drain_done_v);
}

/// The drain is over: its requester gets the answer.
void finish_drain(self_ptr self) {
  auto& st = self->state;
  if (st.drain_promise) {
    st.drain_promise->deliver(true);
    st.drain_promise.reset();
  }
}

}  // namespace caa::registry_detail
