#pragma once

// The local stand-in for a session whose actor lives on another node of the cluster: it speaks
// the whole `session_actor` protocol, forwards what can cross the network and refuses the rest.

#include "actors/interfaces.hpp"

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <string>

namespace caa {

/// How long a forwarder lives without a request (and with none in flight) before it quits.
constexpr caf::timespan session_forwarder_idle = std::chrono::seconds{60};

/// Spawns a forwarder to `remote`, the actor of a session served by node `owner_node` (a handle
/// received from that node). It relays run and rewind (their specs in portable form: the owner
/// builds them again) with `turn_timeout` each, interrupt, answer, control, remove and busy with
/// `timeout` each: replies and our own errors unchanged, any other failure (the link broke, the
/// time ran out) as unavailable. A subscription goes through a relay on this node
/// (remote_sink.hpp); hibernate, drain and the internal messages are ignored. It quits when
/// `remote` goes down (failing what is in flight with unavailable) or after
/// `session_forwarder_idle` without a request.
session_actor spawn_session_forwarder(caf::actor_system& sys, session_actor remote,
                                      std::string owner_node, caf::timespan timeout,
                                      caf::timespan turn_timeout);

}  // namespace caa
