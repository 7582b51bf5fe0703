#pragma once

// Whether a session takes work and when its actor may end.

#include <caf/actor_clock.hpp>

namespace caa::detail {

/// The session actor's own life: draining, and the retirement of an actor with nothing left in
/// memory (session_lifecycle.cpp).
struct session_lifecycle {
  /// The service drains: no new turn is accepted.
  bool draining = false;
  /// A `retire_due` message is pending.
  bool retire_armed = false;
  /// The last request (the actor's clock).
  caf::actor_clock::time_point last_activity;
  /// The ownership lease was released (drain) or lost: nothing renews it any more.
  bool lease_ended = false;
};

}  // namespace caa::detail
