#pragma once

#include "actors/cli_launcher.hpp"
#include "actors/interfaces.hpp"
#include "storage/postgres/event_writer.hpp"
#include "storage/postgres/pg_pool.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace caa::outbound {
class client;
}  // namespace caa::outbound

namespace caa {

/// What every session actor depends on.
struct session_deps {
  storage::pg_actor pg;
  storage::event_writer_actor writer;
  admission_actor admission;
  std::shared_ptr<cli_launcher> launcher;  ///< starts the CLI processes
  caf::timespan db_timeout = std::chrono::seconds{10};
  caf::timespan admission_wait = std::chrono::seconds{10};
  caf::timespan idle_timeout = std::chrono::seconds{300};
  caf::timespan turn_timeout = std::chrono::seconds{600};
  caf::timespan stop_grace = std::chrono::seconds{2};
  caf::timespan permission_timeout = std::chrono::seconds{300};  ///< PERMISSION_TIMEOUT
  /// A session with nothing but its rows (hibernated, no subscriber, nothing pending) ends its
  /// actor after this long without a request; the registry revives it on the next one. 0: never.
  caf::timespan retire_after = std::chrono::seconds{60};
  /// A subscriber that takes nothing for this long while events wait for it is cut (`lagged`).
  caf::timespan stall_timeout = std::chrono::seconds{30};
  std::shared_ptr<outbound::client> webhooks;  ///< hook callbacks (none: hooks answer {})
  /// This node's NODE_ID when it is part of a cluster: sessions then hold an ownership lease
  /// in PostgreSQL and every write names its epoch. Empty (a single node): no leases.
  std::string node_id;
  /// How long a lease runs without renewal (SESSION_LEASE_TTL); renewed every third of it.
  caf::timespan lease_ttl = std::chrono::seconds{10};
  /// Builds the spec of a turn another node forwarded (its options decoded with the tenant's
  /// policy, its paths resolved in this node's workspace). Unset: such turns are refused.
  turn_rebuilder rebuild_turn;
  /// An early event (async durability) is stored within this long (EVENT_FLUSH_INTERVAL).
  caf::timespan flush_interval = std::chrono::milliseconds{20};
};

/// Who a session is (from its row).
struct session_identity {
  std::string id;  ///< API id == CLI session id
  std::string tenant_id;
  bool cli_session_started = false;              ///< a transcript exists: spawn with --resume
  std::optional<std::string> parent_session_id;  ///< first spawn forks from it
  std::optional<std::string> fork_at_message;    ///< `--resume-session-at`
  uint64_t last_seq = 0;                         ///< last event id stored
  uint64_t reserved_seq = 0;  ///< the high-water mark of ids sent before being stored
  uint32_t turns = 0;         ///< turns so far
  uint64_t epoch = 0;         ///< the lease epoch this actor writes under (0: no lease, unfenced)
  warm_process_ptr warm;      ///< a pre-started process to adopt (new only)
};

/// Spawns the actor of one session. `registry` is told when it ends.
session_actor spawn_session(caf::actor_system& sys, session_identity who, session_deps deps,
                            session_owner_actor registry);

}  // namespace caa
