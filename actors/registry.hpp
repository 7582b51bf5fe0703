#pragma once

#include "actors/interfaces.hpp"
#include "actors/session.hpp"

#include <caf/actor_system.hpp>

namespace caa {

/// What the registry needs: the sessions' dependencies and the drain grace period.
struct registry_deps {
  session_deps sessions;
  warm_pool_actor warm;  ///< pre-started processes for new sessions (none: always cold)
  caf::timespan drain_grace = std::chrono::seconds{30};
};

/// Spawns the session registry of this node.
registry_actor spawn_registry(caf::actor_system& sys, registry_deps deps);

}  // namespace caa
