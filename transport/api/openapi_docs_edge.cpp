// The doc entries of the routes around the sessions: health, metrics, this document, the
// WebSocket and its tickets, keys and the cluster view.

#include "transport/api/openapi.hpp"

namespace caa::api::detail {

std::vector<route_doc> edge_route_docs() {
  const std::string ws =
      "JSON text frames. Client: `prompt` (the turn fields), `interrupt`, `answer`, `control`, "
      "`subscribe`, `ping`. Server: `event` (the SSE events), `ack`, `error`, `pong`. Auth "
      "before the upgrade (key header, Bearer, or `?ticket=`); a failure closes with 4001.";
  const param_doc ticket{"ticket", "query", R"({"type":"string"})",
                         "A single-use ticket from `POST /api/v1/ws/ticket`.", false};
  return {
      {"GET",
       "/health",
       "health",
       "Liveness",
       "No dependency details.",
       "",
       {},
       {{200, "Alive.", schema_ref("Health")}}},
      {"GET",
       "/health/ready",
       "health",
       "Readiness: PostgreSQL, Redis, the agent CLI",
       "",
       "",
       {},
       {{200, "Ready.", schema_ref("Readiness")},
        {503, "Not ready, or draining (`Retry-After` set).", schema_ref("Readiness")}}},
      {"GET",
       "/api/v1/health",
       "health",
       "Readiness (alias of /health/ready)",
       "",
       "",
       {},
       {{200, "Ready.", schema_ref("Readiness")},
        {503, "Not ready, or draining (`Retry-After` set).", schema_ref("Readiness")}}},
      {"GET",
       "/metrics",
       "health",
       "Prometheus metrics (text exposition format)",
       "Protected by a Bearer token when METRICS_TOKEN is configured.",
       "",
       {},
       {{200, "The metrics.", ""}},
       {401},
       body_kind::text},
      {"GET",
       "/openapi.json",
       "health",
       "This document (OpenAPI 3.1)",
       "",
       "",
       {},
       {{200, "The OpenAPI document.", R"({"type":"object"})"}}},
      {"GET",
       "/api/v1/ws",
       "websocket",
       "WebSocket: drive sessions over one connection",
       ws,
       "",
       {ticket},
       {{101, "Switching protocols.", ""}},
       {},
       body_kind::websocket},
      {"GET",
       "/api/v1/query/ws",
       "websocket",
       "WebSocket (alias of /api/v1/ws)",
       ws,
       "",
       {ticket},
       {{101, "Switching protocols.", ""}},
       {},
       body_kind::websocket},
      {"POST",
       "/api/v1/ws/ticket",
       "websocket",
       "A single-use WebSocket ticket",
       "For browsers that cannot set headers on a WebSocket; valid 30 seconds.",
       "",
       {},
       {{201, "The ticket.",
         R"({"type":"object","required":["ticket","expires_in"],)"
         R"("properties":{"ticket":{"type":"string"},"expires_in":{"type":"integer",)"
         R"("description":"Seconds."}}})"}}},
      {"POST",
       "/api/v1/keys",
       "keys",
       "Create a key (shown once)",
       "",
       R"({"type":"object","additionalProperties":false,"required":["scopes","name"],)"
       R"("properties":{"tenant":{"type":"string","pattern":"^[a-z0-9][a-z0-9_-]{0,62}$"},)"
       R"("scopes":{"type":"array","minItems":1,"items":{"enum":["agent","admin"]}},)"
       R"("name":{"type":"string","minLength":1,"maxLength":100}}})",
       {},
       {{201, "The key, with the key itself (never shown again).", schema_ref("Key")}}},
      {"GET",
       "/api/v1/keys",
       "keys",
       "List keys (prefix only)",
       "",
       "",
       {page_param(),
        page_size_param(50),
        {"tenant", "query", R"({"type":"string","pattern":"^[a-z0-9][a-z0-9_-]{0,62}$"})",
         "Only keys of this tenant.", false}},
       {{200, "One page of keys.", schema_ref("KeyList")}}},
      {"DELETE",
       "/api/v1/keys/{id:uuid}",
       "keys",
       "Revoke a key",
       "",
       "",
       {},
       {{204, "Revoked.", ""}},
       {404}},
      {"GET",
       "/api/v1/cluster",
       "cluster",
       "Cluster nodes, their state, sessions and processes",
       "",
       "",
       {},
       {{200, "The cluster view.",
         R"({"type":"object","required":["self","membership","nodes"],)"
         R"("properties":{"self":{"type":"string"},"membership":{"type":"string"},)"
         R"("nodes":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},)"
         R"("address":{"type":["string","null"]},"state":{"type":"string"},)"
         R"("sessions":{"type":"integer"},"processes":{"type":"integer"},)"
         R"("last_heartbeat_age_ms":{"type":"integer"},"link":{"type":"string"}}}}}})"}}},
  };
}

}  // namespace caa::api::detail
