#pragma once

// The values of the cluster membership: what `GET /api/v1/cluster` shows of each node.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace caa {

/// One node as this node sees it.
struct cluster_member {
  std::string node_id;           ///< NODE_ID
  std::string address;           ///< CLUSTER_ADVERTISE_HOST:CLUSTER_PORT ("" for a single node)
  std::string state;             ///< "self", "alive" or "gone"
  uint64_t sessions = 0;         ///< session actors in memory (as last announced)
  uint64_t processes = 0;        ///< live agent processes (as last announced)
  int64_t heartbeat_age_ms = 0;  ///< since its last announcement (-1: unknown)
  std::string link;              ///< this node's link to it: "none", "connecting", "up", "backoff"
};

/// The membership as this node knows it.
struct cluster_view {
  std::string self_id;                  ///< this node's NODE_ID
  std::string source;                   ///< "single", "redis" or "last_known" (Redis unreadable)
  std::vector<cluster_member> members;  ///< this node first, then the others by id
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member& x) {
  return f(caf::meta::type_name("caa::cluster_member"), x.node_id, x.address, x.state, x.sessions,
           x.processes, x.heartbeat_age_ms, x.link);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_view& x) {
  return f(caf::meta::type_name("caa::cluster_view"), x.self_id, x.source, x.members);
}

}  // namespace caa
