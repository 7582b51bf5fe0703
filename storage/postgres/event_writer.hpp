#pragma once

// The batching writer of session events: every session actor hands its events here, and the
// writer turns whatever arrived while its previous write was in flight into ONE multi-row INSERT
// (one transaction) through the PostgreSQL pool. Throughput comes from batching, never from
// timers: an idle writer writes a request at once.
//
// It writes through the pool (`pg_actor`), one batch in flight per lane (`lanes`, default 4): a
// session's requests always take the same lane, which keeps the order of its events trivially
// and keeps lanes off each other's row locks, while PostgreSQL commits the lanes' transactions in
// parallel (one batch in flight for the whole node capped it at about 30,000 events/s, each
// transaction of ~1,700 events taking ~60 ms). It reuses the pool's reconnect and deadline
// handling. PostgreSQL itself refuses holes in a session's seq (see `append_events_builder`), so
// a failed request can never be overtaken by a later one.

#include "storage/postgres/pg_pool.hpp"
#include "storage/types.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace caa::storage {

/// The event writer. Errors of `append`: validation (events of several sessions, not ascending,
/// malformed), unavailable (PostgreSQL down or slow, queue full), session_not_found (the session
/// row is gone), conflict (the events would leave a hole: the session must resend from its
/// last_seq + 1), internal. Retrying a failed request is always safe (stored events are skipped).
using event_writer_actor = caf::typed_actor<
    // Appends events of ONE session in ascending seq order; answered with the highest seq only
    // after the transaction holding them committed. Events of one session are never reordered.
    // An empty vector is a barrier: answered (0) once everything queued before it is answered.
    caf::replies_to<atom::append, std::vector<session_event>>::with<uint64_t>,
    // The writer's counters.
    caf::replies_to<caf::get_atom>::with<event_writer_stats>>;

/// How big a batch may grow and how long a write may take.
struct event_writer_config {
  std::size_t max_batch_events = 1000;               ///< events per INSERT (whole requests)
  std::size_t max_batch_bytes = 4 << 20;             ///< payload + type bytes per INSERT
  std::size_t max_queued_bytes = 64 << 20;           ///< waiting bytes; beyond: unavailable
  caf::timespan timeout = std::chrono::seconds{15};  ///< per write; use pg_request_timeout
  /// Batches in flight at once, each on its own pool connection: a session's requests always
  /// take the same lane (by a hash of its id), so its events stay in order and lanes never
  /// wait for each other's row locks; PostgreSQL commits them in parallel.
  std::size_t lanes = 4;
};

/// Spawns the writer in front of `pg`. Stop it with `caf::anon_send_exit`; requests still
/// queued then fail (their sessions retry on the next writer).
event_writer_actor spawn_event_writer(caf::actor_system& sys, pg_actor pg, event_writer_config cfg);

}  // namespace caa::storage
