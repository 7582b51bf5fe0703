#pragma once

// Every typed actor handle of the actors layer, one comment per handler. INTERNAL entries are
// messages an actor sends itself (from timers or the agent I/O threads).

#include "actors/types.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace caa {

/// The INTERNAL protocol of an actor that reads the stdout of CLI processes it started.
using cli_line_actor = caf::typed_actor<
    // INTERNAL: one stdout line of process `id` (a session's process generation, a warm
    // process, a probe).
    caf::reacts_to<atom::line, uint64_t, std::string>,
    // INTERNAL: the stdout lines of one read of process `id`, in order.
    caf::reacts_to<atom::line, uint64_t, std::vector<std::string>>>;

/// The INTERNAL protocol of an actor that owns CLI processes: their starts, lines and ends.
using cli_output_actor = cli_line_actor::extend<
    // INTERNAL: process `id` ended with `code`; the text names the sandbox cap its process tree
    // hit ("memory", "pids"), or is empty.
    caf::reacts_to<atom::exited, uint64_t, int32_t, std::string>,
    // INTERNAL: the start of process `id` on a launch thread ended (`cli_launcher::start`; its
    // result waits in the actor's state).
    caf::reacts_to<atom::launched, uint64_t>>;

/// What a session may ask of the registry that hosts it.
using session_owner_actor = caf::typed_actor<
    // Forgets session `id` (it was deleted, or its actor retired with nothing left in memory).
    caf::reacts_to<atom::remove, std::string>>;

/// One live agent session: the only owner of its CLI process and the only writer of its rows.
using session_actor = caf::typed_actor<
    // Starts a turn. Errors: session_locked (+retry), capacity_exhausted (+retry), unavailable
    // (draining or PostgreSQL), agent_error (the CLI could not start).
    caf::replies_to<atom::run, turn_spec_ptr>::with<turn_accepted>,
    // The same for a turn forwarded by another node of the cluster: the session builds its
    // spec from the portable form (session_deps::rebuild_turn). Errors as above, plus the
    // refusals of the tenant's policy (validation) and of its paths here.
    caf::replies_to<atom::run, portable_turn>::with<turn_accepted>,
    // Attaches a subscriber to every event after `after_seq` (replayed from memory, then live);
    // replies the last seq the session has delivered. Error conflict: `after_seq` is older than
    // the in-memory window (read PostgreSQL up to the reply of a retry, then subscribe again).
    caf::replies_to<atom::subscribe, event_sink_ptr, uint64_t>::with<uint64_t>,
    // The same for a subscriber on another node: `relay` is its `sink_relay_actor` there (as
    // `caf::actor`); events go to it over the cluster link with flow control (remote_sink.hpp).
    caf::replies_to<atom::subscribe, caf::actor, uint64_t>::with<uint64_t>,
    // Interrupts the running turn (it ends with done{interrupted}). Error session_idle.
    caf::replies_to<atom::interrupt>::with<bool>,
    // Answers the pending permission request or question `request_id` (the CLI's can_use_tool).
    // Errors: session_idle (no such pending request, or already answered), validation (the
    // answer does not fit the request, e.g. `answer` text while two questions are pending).
    caf::replies_to<atom::answer, pending_answer>::with<bool>,
    // Changes the permission mode or model: on the live process at once (the CLI's
    // set_permission_mode / set_model), and stored for every later spawn. Replies "applied"
    // (live) or "stored" (no process now). Errors: agent_error (the CLI refused).
    caf::replies_to<atom::control, live_control>::with<std::string>,
    // Restores the files to checkpoint `id` (`dry_run`: only reports); replies the JSON object
    // {checkpoint_id, dry_run, files_changed, insertions, deletions}. `spec` (from the stored
    // options) spawns the process when the session is hibernated. Errors: checkpoint_not_found,
    // session_locked (a turn runs), capacity_exhausted, agent_error (the CLI failed, or the
    // files were not restored).
    caf::replies_to<atom::rewind, std::string, bool, turn_spec_ptr>::with<std::string>,
    // The same for a rewind forwarded by another node (its spec in portable form).
    caf::replies_to<atom::rewind, std::string, bool, portable_turn>::with<std::string>,
    // Ends the process, closes subscribers and deletes the session's rows.
    caf::replies_to<atom::remove>::with<bool>,
    // Ends the process when idle (admission's LRU, idle timeout, drain); the session stays.
    caf::reacts_to<atom::hibernate>,
    // Refuses new turns from now on (the service drains).
    caf::reacts_to<atom::drain>,
    // Whether a turn runs right now.
    caf::replies_to<atom::busy>::with<bool>,
    // Its row as PostgreSQL holds it after the session's own last write (the reply of
    // `get_session`): from memory while nothing was written or emitted since the last read, else
    // read once more. `GET /api/v1/sessions/{id}` of a session live on this node.
    caf::replies_to<atom::find>::with<storage::db_result>,
    // INTERNAL: the turn deadline of turn `turn` passed: the turn is interrupted.
    caf::reacts_to<atom::turn_due, uint64_t>,
    // INTERNAL: interrupted turn `turn` did not end in time: its process is killed.
    caf::reacts_to<atom::stop_due, uint64_t>,
    // INTERNAL: the idle timeout of idle period `token` passed: the process ends (hibernation).
    caf::reacts_to<atom::idle_due, uint64_t>,
    // INTERNAL: time to retry the failed event write.
    caf::reacts_to<atom::write_due>,
    // INTERNAL: pending request `token` got no answer within PERMISSION_TIMEOUT: it is denied.
    caf::reacts_to<atom::answer_due, uint64_t>,
    // INTERNAL: the queue of subscriber `id` has room again.
    caf::reacts_to<atom::sink_ready, uint64_t>,
    // INTERNAL: subscriber `id` may have waited for room longer than the stall timeout.
    caf::reacts_to<atom::sink_stall, uint64_t>,
    // INTERNAL: the retire deadline passed: the actor ends if nothing is left and nothing came.
    caf::reacts_to<atom::retire_due>,
    // INTERNAL: time to renew the ownership lease (cluster).
    caf::reacts_to<atom::lease_due>,
    // INTERNAL: the webhook of CLI request `request_id` of generation `gen` answered; the text
    // is the hook output for the CLI (compact JSON object).
    caf::reacts_to<atom::hooked, uint64_t, std::string, std::string>>::
    // INTERNAL: the start, the lines and the end of process generation `id`.
    extend_with<cli_output_actor>;

/// Which sessions live on this node; finds or revives the actor of a session id.
using registry_actor = caf::typed_actor<
    // Persists a new session row, then spawns its actor; replies (id, actor). Errors:
    // session_not_found (fork of a missing parent), unavailable.
    caf::replies_to<atom::create, new_session>::with<std::string, session_actor>,
    // Like `create`, for the first turn `spec`: a warm process started for the same tenant and
    // spawn-time options becomes the session's process (its id is the session's id), and the
    // warm pool learns the options for its next refill.
    caf::replies_to<atom::create, new_session, turn_spec_ptr>::with<std::string, session_actor>,
    // Like `create` with a spec, for a session another node placed here (its first turn in
    // portable form, built here): it is created here, never placed elsewhere again.
    caf::replies_to<atom::create, new_session, portable_turn>::with<std::string, session_actor>,
    // The actor of session `id` of tenant `tenant_id`, revived from PostgreSQL when needed.
    // Error session_not_found (unknown, or another tenant's).
    caf::replies_to<atom::find, std::string, std::string>::with<session_actor>,
    // The row of a session (`false`: no revival, no forwarding), as `session_get` reads it: from
    // its actor's memory when it is live on this node, else from PostgreSQL (tenant-scoped; no
    // row: the tenant has no such session). The request is delegated to either, which answers.
    caf::replies_to<atom::find, std::string, std::string, bool>::with<storage::db_result>,
    // Drain: refuse new turns, interrupt running ones after the grace period, hibernate all;
    // replies when every session is quiet.
    caf::replies_to<atom::drain>::with<bool>,
    // INTERNAL, the drain's steps: poll for running turns; the grace period is over (interrupt
    // them); hibernate every session; answer the drain.
    caf::reacts_to<atom::drain_poll>, caf::reacts_to<atom::drain_stop>,
    caf::reacts_to<atom::drain_rest>, caf::reacts_to<atom::drain_done>>::
    // What its sessions ask of it.
    extend_with<session_owner_actor>;

/// Pre-started CLI processes for the spawn-time options tenants use for new sessions, kept within
/// the process budget (admission), handed to new sessions whose options match.
using warm_pool_actor = caf::typed_actor<
    // A warm process for key `key` (tenant and spawn options). Error: not_found (none ready).
    caf::replies_to<atom::take, std::string>::with<warm_process_ptr>,
    // A new session of tenant-and-options key `key` started with `spec`: keep warm processes for
    // it (most recently used keys first) and refill in the background.
    caf::reacts_to<atom::warm, std::string, turn_spec_ptr>,
    // Admission needs a slot: end one warm process and give its slot back.
    caf::reacts_to<atom::hibernate>,
    // INTERNAL: time to refill.
    caf::reacts_to<atom::timeout, uint64_t>>::
    // INTERNAL: the start, the lines (discarded until the process is taken) and the end of warm
    // process `id`.
    extend_with<cli_output_actor>;

/// The process budget: at most MAX_AGENT_PROCESSES live CLIs, a bounded wait for a slot, and
/// LRU hibernation of idle sessions to make room.
/// Writes the model proxy's usage counts to PostgreSQL in batches (actors/usage_meter.hpp).
using usage_meter_actor = caf::typed_actor<
    // INTERNAL: time to write what was gathered since the last write.
    caf::reacts_to<caf::tick_atom>,
    // Shutdown: writes everything gathered so far; true once stored (false: the write failed).
    caf::replies_to<atom::drain>::with<bool>>;

using admission_actor = caf::typed_actor<
    // A slot for `who` of tenant `tenant_id`; waits up to ADMISSION_WAIT. Errors:
    // capacity_exhausted (+retry), tenant_capacity (+retry: the tenant holds its share). A new
    // slot is also a start: granted only while fewer than MAX_CONCURRENT_SPAWNS processes start.
    caf::replies_to<atom::acquire, session_actor, std::string>::with<bool>,
    // A slot for capabilities probe `id` of tenant `tenant_id` (a process like any other; it is
    // never asked to hibernate). Errors as above.
    caf::replies_to<atom::acquire, atom::probe, uint64_t, std::string>::with<bool>,
    // Probe `id` ended: its slot goes back.
    caf::reacts_to<atom::release, atom::probe, uint64_t>,
    // `who`'s process wrote its first line (or ended): its start no longer counts.
    caf::reacts_to<atom::ready, session_actor>,
    // A warm process the pool got a slot for wrote its first line, was taken, or never started.
    caf::reacts_to<atom::ready, atom::warm>,
    // `who` gave its slot back (its process is gone).
    caf::reacts_to<atom::release, session_actor>,
    // `who` ends and killed its processes: its slot is orphan `key`'s until they are reaped
    // (its end, which gives a session's slot back, no longer does).
    caf::reacts_to<atom::orphan, session_actor, uint64_t>,
    // The processes of orphan `key` are reaped: its slot goes back.
    caf::reacts_to<atom::release, atom::orphan, uint64_t>,
    // `who` is idle: it may be asked to hibernate when a turn needs its slot.
    caf::reacts_to<atom::idle, session_actor>,
    // `who` runs a turn: never a hibernation candidate meanwhile.
    caf::reacts_to<atom::busy, session_actor>,
    // A slot for a warm process, only if one is free now (never waits, never hibernates).
    // Error capacity_exhausted.
    caf::replies_to<atom::acquire, atom::warm>::with<bool>,
    // A warm process ended: its slot goes back.
    caf::reacts_to<atom::release, atom::warm>,
    // A warm process became `who`'s (of tenant `tenant_id`): the slot moves from the pool to it.
    caf::reacts_to<atom::acquire, atom::warm, session_actor, std::string>,
    // Whether tenant `tenant_id` holds fewer processes than its share: only then may a new
    // session of it take a warm process (whose slot is not the tenant's until then).
    caf::replies_to<atom::find, std::string>::with<bool>,
    // The warm pool to ask for a slot before hibernating sessions.
    caf::reacts_to<atom::warm, warm_pool_actor>,
    // Current numbers.
    caf::replies_to<atom::stats>::with<admission_stats>,
    // INTERNAL: waiter `ticket` ran out of time.
    caf::reacts_to<atom::timeout, uint64_t>,
    // INTERNAL: the patience of the oldest ask to hibernate passed: recheck the asks.
    caf::reacts_to<atom::recheck>,
    // Tenant `tenant_id`'s own share of agent processes is `share` (-1: the default share);
    // sent by the node that stored it, the others read it within the refresh interval.
    caf::reacts_to<atom::share, std::string, int32_t>,
    // INTERNAL: time to read every tenant's own share from PostgreSQL (tenant_limits).
    caf::reacts_to<atom::share>>;

/// What the agent engine offers a tenant, asked of the engine itself and cached.
using capabilities_actor = caf::typed_actor<
    // The engine's offer for tenant `tenant_id` (whose sandbox slot is `agent_slot`) as a JSON
    // object text. Errors: unavailable.
    caf::replies_to<atom::find, std::string, int64_t>::with<std::string>,
    // INTERNAL: probe `id` ran out of time or its process ended.
    caf::reacts_to<atom::timeout, uint64_t>,
    // INTERNAL: the start of probe `id`'s process on a launch thread ended.
    caf::reacts_to<atom::launched, uint64_t>>::
    // INTERNAL: the stdout lines of probe `id`.
    extend_with<cli_line_actor>;

/// The front node's end of a subscription to a session served by another node: it delivers the
/// owner's events to a local subscriber and acks them, so the owner sends at most a window ahead.
using sink_relay_actor = caf::typed_actor<
    // The owner's end of the subscription (a `sink_credit_actor`, as `caf::actor`), sent first:
    // acks go there, and its end ends the local stream.
    caf::reacts_to<atom::ready, caf::actor>,
    // Event `seq` named `name` with JSON `data`, in order.
    caf::reacts_to<atom::deliver, uint64_t, std::string, std::string>,
    // The session ended the subscription; `lagged`: the subscriber must replay from storage.
    caf::reacts_to<atom::close, bool>,
    // INTERNAL: the local subscriber has room again (0), or time to check it is still there (1).
    caf::reacts_to<atom::sink_ready, uint64_t>>;

/// The owner node's end of a subscription from another node: credits from its relay.
using sink_credit_actor = caf::typed_actor<
    // The relay took `n` more events.
    caf::reacts_to<atom::ack, uint32_t>>;

/// A peer's handle for the messages between two nodes: one link actor per peer, handed out by
/// the gatekeeper after a hello with the right secret, and ended when that peer disconnects.
using node_link_actor = caf::typed_actor<
    // The NODE_ID of the node behind this link.
    caf::replies_to<atom::ping>::with<std::string>,
    // (tenant_id, session_id): the `session_actor` (as `caf::actor`, which has a type ID for the
    // wire) of that session on the node behind this link, found (or revived) by its registry.
    // Errors as the registry's `find` (session_not_found, unavailable).
    caf::replies_to<atom::find, std::string, std::string>::with<caf::actor>,
    // Creates a new session for a peer that has no room for it, with its first turn in
    // portable form: the `session_actor` (as `caf::actor`) and id of the session, owned by the
    // node behind this link. Errors as the registry's `create`.
    caf::replies_to<atom::create, new_session, portable_turn>::with<std::string, caf::actor>>;

/// The one actor a node publishes on CLUSTER_PORT (BASP has no authentication of its own).
using node_gate_actor = caf::typed_actor<
    // (CLUSTER_SECRET as the caller knows it, the caller's NODE_ID): a `node_link_actor` for the
    // caller (as `caf::actor`). Error unauthenticated when the secret is wrong, nothing else.
    caf::replies_to<atom::hello, std::string, std::string>::with<caf::actor>>;

/// This node's membership: its announcements in Redis, the last known list of nodes and the
/// links to peers (made on first need, retried with backoff).
using cluster_actor = caf::typed_actor<
    // The nodes as this node knows them; links to alive peers are made in the background.
    caf::replies_to<atom::members>::with<cluster_view>,
    // The `node_link_actor` (as `caf::actor`) of peer `node_id`: at once when the link is up,
    // else when the connection it starts is up. Error unavailable: a single node, this node's
    // own id, an unknown or gone peer, a peer waiting out its backoff, or a failed connection.
    caf::replies_to<atom::link, std::string>::with<caf::actor>,
    // Where a new session goes: "" (here) while this node has room in its process budget, else
    // the id of the alive node with the most room by its last announcement ("" when none has).
    caf::replies_to<atom::place>::with<std::string>,
    // INTERNAL: announce this node, then read the others.
    caf::reacts_to<atom::heartbeat>,
    // INTERNAL: connection attempt `attempt` to peer `id` ended with its gatekeeper (a
    // `node_gate_actor`, or null when it failed).
    caf::reacts_to<atom::connected, std::string, uint64_t, caf::actor>>;

}  // namespace caa
