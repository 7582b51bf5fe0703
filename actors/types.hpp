#pragma once

// The type-ID block of the actors layer, chained after the storage block.

#include "actors/cluster_types.hpp"
#include "actors/session_types.hpp"
#include "storage/types.hpp"

#include <caf/type_id.hpp>

CAF_BEGIN_TYPE_ID_BLOCK(caa_actors, caf::id_block::caa_storage::end)

CAF_ADD_TYPE_ID(caa_actors, (caa::turn_accepted))
CAF_ADD_TYPE_ID(caa_actors, (caa::new_session))
CAF_ADD_TYPE_ID(caa_actors, (caa::portable_turn))
CAF_ADD_TYPE_ID(caa_actors, (caa::admission_stats))
CAF_ADD_TYPE_ID(caa_actors, (caa::pending_answer))
CAF_ADD_TYPE_ID(caa_actors, (caa::live_control))
CAF_ADD_TYPE_ID(caa_actors, (caa::cluster_member))
CAF_ADD_TYPE_ID(caa_actors, (caa::cluster_view))

/// INTERNAL: periodic timer of the health monitor.
CAF_ADD_ATOM(caa_actors, caa::atom, probe, "probe")
/// Starts a turn in a session.
CAF_ADD_ATOM(caa_actors, caa::atom, run, "run")
/// Attaches an event subscriber to a session.
CAF_ADD_ATOM(caa_actors, caa::atom, subscribe, "subscribe")
/// Interrupts the running turn.
CAF_ADD_ATOM(caa_actors, caa::atom, interrupt, "interrupt")
/// Deletes a session.
CAF_ADD_ATOM(caa_actors, caa::atom, remove, "remove")
/// Ends a session's process and keeps the session.
CAF_ADD_ATOM(caa_actors, caa::atom, hibernate, "hibernate")
/// Creates a session.
CAF_ADD_ATOM(caa_actors, caa::atom, create, "create")
/// Finds a session.
CAF_ADD_ATOM(caa_actors, caa::atom, find, "find")
/// Asks for a process slot.
CAF_ADD_ATOM(caa_actors, caa::atom, acquire, "acquire")
/// Gives a process slot back.
CAF_ADD_ATOM(caa_actors, caa::atom, release, "release")
/// A slot holder became idle (hibernation candidate).
CAF_ADD_ATOM(caa_actors, caa::atom, idle, "idle")
/// A slot holder is running a turn.
CAF_ADD_ATOM(caa_actors, caa::atom, busy, "busy")
/// Asks for statistics.
CAF_ADD_ATOM(caa_actors, caa::atom, stats, "stats")
/// INTERNAL: one stdout line of the CLI.
CAF_ADD_ATOM(caa_actors, caa::atom, line, "line")
/// INTERNAL: the CLI process ended.
CAF_ADD_ATOM(caa_actors, caa::atom, exited, "exited")
/// INTERNAL: a CLI process started off the actor's thread (or could not start).
CAF_ADD_ATOM(caa_actors, caa::atom, launched, "launched")
/// INTERNAL: a deadline passed.
CAF_ADD_ATOM(caa_actors, caa::atom, timeout, "timeout")
/// INTERNAL: a session's turn deadline passed.
CAF_ADD_ATOM(caa_actors, caa::atom, turn_due, "turn_due")
/// INTERNAL: an interrupted turn did not end in time.
CAF_ADD_ATOM(caa_actors, caa::atom, stop_due, "stop_due")
/// INTERNAL: a session's idle timeout passed.
CAF_ADD_ATOM(caa_actors, caa::atom, idle_due, "idle_due")
/// INTERNAL: a failed event write is due to be retried.
CAF_ADD_ATOM(caa_actors, caa::atom, write_due, "write_due")
/// INTERNAL: a pending permission request or question got no answer in time.
CAF_ADD_ATOM(caa_actors, caa::atom, answer_due, "answer_due")
/// INTERNAL: a subscriber's queue has room again.
CAF_ADD_ATOM(caa_actors, caa::atom, sink_ready, "sink_ready")
/// INTERNAL: a subscriber may have waited for room too long.
CAF_ADD_ATOM(caa_actors, caa::atom, sink_stall, "sink_stall")
/// INTERNAL: a session actor may retire (nothing left in memory).
CAF_ADD_ATOM(caa_actors, caa::atom, retire_due, "retire_due")
/// INTERNAL (session): time to renew the session's ownership lease.
CAF_ADD_ATOM(caa_actors, caa::atom, lease_due, "lease_due")
/// INTERNAL (admission): the asks to hibernate are due to be rechecked.
CAF_ADD_ATOM(caa_actors, caa::atom, recheck, "recheck")
/// INTERNAL (registry drain): poll the sessions for running turns.
CAF_ADD_ATOM(caa_actors, caa::atom, drain_poll, "drain_poll")
/// INTERNAL (registry drain): the grace period is over: interrupt the running turns.
CAF_ADD_ATOM(caa_actors, caa::atom, drain_stop, "drain_stop")
/// INTERNAL (registry drain): hibernate every session.
CAF_ADD_ATOM(caa_actors, caa::atom, drain_rest, "drain_rest")
/// INTERNAL (registry drain): answer the drain.
CAF_ADD_ATOM(caa_actors, caa::atom, drain_done, "drain_done")
/// Stops accepting turns (drain).
CAF_ADD_ATOM(caa_actors, caa::atom, drain, "drain")

/// Answers a pending permission request or question.
CAF_ADD_ATOM(caa_actors, caa::atom, answer, "answer")
/// Changes the permission mode or model of a session.
CAF_ADD_ATOM(caa_actors, caa::atom, control, "control")
/// Restores files to a checkpoint.
CAF_ADD_ATOM(caa_actors, caa::atom, rewind, "rewind")
/// INTERNAL: a webhook answered (or failed) for a CLI hook callback.
CAF_ADD_ATOM(caa_actors, caa::atom, hooked, "hooked")
/// The warm pool: pre-started CLI processes.
CAF_ADD_ATOM(caa_actors, caa::atom, warm, "warm")
/// Takes a warm process out of the pool.
CAF_ADD_ATOM(caa_actors, caa::atom, take, "take")
/// A process started (it wrote its first line, or it is gone): its start is over.
CAF_ADD_ATOM(caa_actors, caa::atom, ready, "ready")
/// A peer node presents the cluster secret and its id (the first message of a connection).
CAF_ADD_ATOM(caa_actors, caa::atom, hello, "hello")
/// Asks for the cluster membership.
CAF_ADD_ATOM(caa_actors, caa::atom, members, "members")
/// INTERNAL (cluster): time to announce this node and read the others.
CAF_ADD_ATOM(caa_actors, caa::atom, heartbeat, "heartbeat")
/// INTERNAL (cluster): a connection attempt to a peer ended.
CAF_ADD_ATOM(caa_actors, caa::atom, connected, "connected")
/// Asks the membership actor for the link to a peer node (same text as CAF's own `link_atom`,
/// which is harmless: only the membership actor handles `(link, node id)`).
CAF_ADD_ATOM(caa_actors, caa::atom, link, "link")
/// One event of a subscription that crosses two nodes (owner to front node).
CAF_ADD_ATOM(caa_actors, caa::atom, deliver, "deliver")
/// The owner ended a subscription that crosses two nodes.
CAF_ADD_ATOM(caa_actors, caa::atom, close, "close")
/// The front node took events of a subscription: credits for more.
CAF_ADD_ATOM(caa_actors, caa::atom, ack, "ack")
// Where a new session goes (cluster placement).
CAF_ADD_ATOM(caa_actors, caa::atom, place, "place")
/// A tenant's own share of agent processes (tenant_limits.max_agent_processes).
CAF_ADD_ATOM(caa_actors, caa::atom, share, "share")
/// A session that ends and killed its processes: its slot is theirs until they are reaped.
CAF_ADD_ATOM(caa_actors, caa::atom, orphan, "orphan")
CAF_END_TYPE_ID_BLOCK(caa_actors)
