#pragma once

// The cluster's first part, membership: the gatekeeper a node publishes on CLUSTER_PORT, the
// per-peer link actors it hands out, and the membership actor (announcements in Redis, the last
// known list of nodes, links to peers made on first need with backoff).

#include "actors/interfaces.hpp"
#include "config/secret.hpp"
#include "storage/redis/redis_pool.hpp"

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace caa {

/// What the membership actor needs.
struct cluster_deps {
  std::string node_id;                  ///< NODE_ID
  std::string host;                     ///< CLUSTER_ADVERTISE_HOST
  uint16_t port = 0;                    ///< CLUSTER_PORT (0: a single node)
  std::optional<secret> shared_secret;  ///< CLUSTER_SECRET (unset: a single node)
  caf::timespan heartbeat;              ///< CLUSTER_HEARTBEAT
  caf::timespan node_ttl;               ///< CLUSTER_NODE_TTL
  caf::timespan redis_timeout;          ///< REDIS_TIMEOUT
  storage::redis_actor redis;           ///< the Redis pool (null: a single node)
  uint64_t budget = 0;                  ///< MAX_AGENT_PROCESSES (announced; placement)

  /// Whether this node joins a cluster (a port, a secret and Redis).
  [[nodiscard]] bool clustered() const noexcept { return port > 0 && shared_secret && redis; }
};

/// Spawns the gatekeeper of node `node_id`: it answers a hello with the right `shared_secret`
/// (compared in constant time) with a new link actor for the caller, and any other with
/// unauthenticated. The links find sessions for their peers in `registry`.
node_gate_actor spawn_node_gate(caf::actor_system& sys, std::string node_id, secret shared_secret,
                                registry_actor registry);

/// Publishes `gate` on `host`:`port` (BASP); the port actually bound, or the error.
caf::expected<uint16_t> publish_node_gate(caf::actor_system& sys, const node_gate_actor& gate,
                                          const std::string& host, uint16_t port);

/// Spawns the membership actor. Single node (`!deps.clustered()`): it knows only itself and
/// never touches Redis.
cluster_actor spawn_cluster(caf::actor_system& sys, cluster_deps deps);

}  // namespace caa
