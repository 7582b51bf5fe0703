#pragma once

#include "actors/interfaces.hpp"
#include "transport/http/router.hpp"

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

namespace caa::api {

/// Adds `GET /api/v1/cluster` (admin): the nodes this node knows of, each with its id, address,
/// state (`self`, `alive`, `gone`), sessions, processes, the age of its last heartbeat and this
/// node's link to it.
void add_cluster_route(http::router& r, caf::actor_system& sys, const cluster_actor& cluster,
                       caf::timespan timeout);

}  // namespace caa::api
