#pragma once

// Internal to the registry (registry.cpp: local sessions, creation and revival;
// registry_cluster.cpp: sessions other nodes serve, and placement; registry_drain.cpp: the
// drain's steps): its state and the steps the files share.

#include "actors/registry.hpp"

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caa::storage {
struct lease_claim;
}  // namespace caa::storage

namespace caa::registry_detail {

struct entry {
  std::string tenant_id;
  session_actor actor;
};

struct registry_state {
  static inline const char* name = "session_registry";
  registry_deps deps;
  std::map<std::string, entry> live;
  /// Sessions other nodes serve, by id: the forwarder to each (it ends when the session's actor
  /// there ends, the link breaks, or after a minute without requests).
  std::map<std::string, entry> remote;
  // Sessions being revived from PostgreSQL, and who waits for them: keyed by tenant and id, so a
  // request of another tenant for the same id never shares (or is handed) the owner's revival.
  std::map<std::pair<std::string, std::string>,
           std::vector<caf::typed_response_promise<session_actor>>>
      loading;
  bool draining = false;
  std::optional<caf::typed_response_promise<bool>> drain_promise;
  caf::actor_clock::time_point drain_deadline;  ///< on the actor clock (virtual in tests)
};

using self_ptr = registry_actor::stateful_pointer<registry_state>;

/// Publishes how many sessions are in memory.
void publish(const registry_state& st);

/// Starts the actor of session `who` here and records it as live.
session_actor start(self_ptr self, session_identity who);

/// The promises waiting for the revival of `id` by `tenant_id`, removed from the map.
std::vector<caf::typed_response_promise<session_actor>> take_waiters(registry_state& st,
                                                                     const std::string& tenant_id,
                                                                     const std::string& id);

/// Fails every waiter for the revival of `id` by `tenant_id` with `e`.
void fail_waiters(registry_state& st, const std::string& tenant_id, const std::string& id,
                  const caf::error& e);

/// Persists the row of new session `ns`, then starts its actor (with `warm` as its process).
void create(self_ptr self, new_session ns, const warm_process_ptr& warm,
            caf::typed_response_promise<std::string, session_actor> rp);

/// Creates the session of first turn `spec` on this node, with a warm process when one with
/// the same spawn options is ready.
void create_here(self_ptr self, new_session ns, const turn_spec_ptr& spec,
                 const caf::typed_response_promise<std::string, session_actor>& rp);

// -- registry_cluster.cpp ------------------------------------------------------------------

/// Keeps `fwd`, the forwarder to session `id` on another node, for the next requests.
void remember_remote(self_ptr self, const std::string& tenant_id, const std::string& id,
                     const session_actor& fwd);

/// Another node holds the lease of `id` (`claim`): the waiters get a forwarder to it.
void elsewhere(self_ptr self, const std::string& tenant_id, const std::string& id,
               const storage::lease_claim& claim);

/// A new session with first turn `spec`: here, or on the node with the most room.
void place(self_ptr self, new_session ns, const turn_spec_ptr& spec,
           const caf::typed_response_promise<std::string, session_actor>& rp);

// -- registry_drain.cpp --------------------------------------------------------------------

/// Asks every session whether a turn runs; then polls again or moves to hibernation.
void poll_busy(self_ptr self);

/// The grace period is over: every running turn is interrupted; then every session rests.
void stop_turns(self_ptr self);

/// Every session ends its process (hibernation); the drain answers when they had time to.
void rest_sessions(self_ptr self);

/// The drain is over: its requester gets the answer.
void finish_drain(self_ptr self);

}  // namespace caa::registry_detail
