#pragma once

// The WebSocket routes: `GET /api/v1/ws` and `GET /api/v1/query/ws` (the same endpoint; see
// ws_connection.hpp for the protocol) and `POST /api/v1/ws/ticket` (a single-use ticket for
// browsers, `{"ticket","expires_in"}`, 201). All need the `agent` scope.

#include "transport/api/session_flow.hpp"
#include "transport/http/router.hpp"

namespace caa::api::detail {

/// Adds the WebSocket routes over the session handlers' shared state `api`.
void add_ws_routes(http::router& r, const session_api_ptr& api);

}  // namespace caa::api::detail
