#pragma once

// A subscription that crosses two nodes of the cluster. On the owner node a `remote_sink` stands
// for the subscriber: the session delivers to it like to any sink, and it sends each event over
// the cluster link to the `sink_relay_actor` on the front node, at most `relay_window` events
// ahead of the relay's acks (a slow client behind the front node holds back only its own
// subscription: the session waits for room as for a slow local subscriber). The relay delivers
// to the local subscriber (an SSE stream, a WebSocket) and acks every `relay_ack_every` events it
// took. When either node or the link goes, the other end learns it from a down message: the
// client's stream ends cleanly and `Last-Event-ID` resumes it on any node.

#include "actors/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>

namespace caa {

/// Events on their way to a relay before the owner waits for acks.
inline constexpr uint32_t relay_window = 512;
/// The relay acks after this many events (and whenever its subscriber had to make room).
inline constexpr uint32_t relay_ack_every = 32;

/// Front node: the relay of local subscriber `sink` (it never closes the sink unless the owner
/// ends the subscription or goes away; an exit message ends the relay alone).
sink_relay_actor spawn_sink_relay(caf::actor_system& sys, event_sink_ptr sink);

/// Owner node: the subscriber that stands for `relay` (spawns its credit actor, which tells the
/// relay before anything else).
event_sink_ptr make_remote_sink(caf::actor_system& sys, const sink_relay_actor& relay);

}  // namespace caa
