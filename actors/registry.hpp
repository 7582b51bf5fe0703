#pragma once

#include "actors/interfaces.hpp"
#include "actors/session.hpp"

#include <caf/actor_system.hpp>

#include <functional>

namespace caa {

/// Spawns the actor of one session, like `spawn_session`.
using session_spawner = std::function<session_actor(caf::actor_system&, session_identity,
                                                    session_deps, session_owner_actor)>;

/// What the registry needs: the sessions' dependencies and the drain grace period.
struct registry_deps {
  session_deps sessions;
  warm_pool_actor warm;  ///< pre-started processes for new sessions (none: always cold)
  caf::timespan drain_grace = std::chrono::seconds{30};
  /// The cluster membership: the links to the nodes that own sessions this one does not (none:
  /// a single node).
  cluster_actor cluster;
  /// How long a request to another node may take.
  caf::timespan peer_timeout = std::chrono::seconds{5};
  /// How the registry spawns a session: `spawn_session`, except in the registry's unit tests,
  /// whose fake sessions answer `busy` as the test decides (a real session is busy only while
  /// its CLI runs a turn).
  session_spawner spawn = spawn_session;
};

/// How long a turn forwarded to another node may take to be accepted there: the link's round
/// trip, the owner's wait for a process slot, and the start of its CLI.
inline caf::timespan forwarded_turn_timeout(const registry_deps& d) {
  return d.peer_timeout + d.sessions.admission_wait + std::chrono::seconds{30};
}

/// Spawns the session registry of this node.
registry_actor spawn_registry(caf::actor_system& sys, registry_deps deps);

}  // namespace caa
