// The doc entries of the routes of this tree, keyed by (method, template as registered). The
// generator adds the path parameters, the security of the route's policy and the usual errors
// (401/403/429/503 by policy, 400/413/422 by input, 500); `errors` lists the others.

#include "transport/api/openapi.hpp"

namespace caa::api::detail {

namespace {

/// The turn-starting routes (API.md "Query request"): the body is the decoder's table.
std::vector<route_doc> turn_docs() {
  std::vector<unsigned> turn_errors{402, 404, 409, 507};
  const std::string streamed = "The turn, streamed.";
  return {
      {"POST",
       "/api/v1/query",
       "query",
       "Start a turn, streamed as server-sent events",
       "A new session unless `session_id` names one of the caller's sessions.",
       schema_ref("TurnRequest"),
       {},
       {{200, streamed, ""}},
       turn_errors,
       body_kind::sse},
      {"POST",
       "/api/v1/query/single",
       "query",
       "Start a turn, answered as one JSON document",
       "The same turn as `POST /api/v1/query`, answered when it ends.",
       schema_ref("TurnRequest"),
       {},
       {{200, "The turn's result.", schema_ref("TurnResult")}},
       turn_errors},
      {"POST",
       "/api/v1/sessions/{id:uuid}/resume",
       "query",
       "Run the next turn of a session, streamed",
       "With the session's full prior context.",
       schema_ref("TurnRequest"),
       {},
       {{200, streamed, ""}},
       turn_errors,
       body_kind::sse},
      {"POST",
       "/api/v1/sessions/{id:uuid}/fork",
       "query",
       "Branch a new session from this one and stream its first turn",
       "The new session's id is in the `init` event.",
       schema_ref("ForkRequest"),
       {},
       {{200, streamed, ""}},
       turn_errors,
       body_kind::sse},
  };
}

std::vector<route_doc> session_docs() {
  const std::string id_status = schema_ref("SessionStatus");
  return {
      {"GET",
       "/api/v1/sessions",
       "sessions",
       "List the caller's sessions, newest first",
       "",
       "",
       {page_param(),
        page_size_param(20),
        {"status", "query", R"({"enum":["idle","running","hibernated","error","deleted"]})",
         "Only sessions in this status.", false}},
       {{200, "One page of sessions.", schema_ref("SessionList")}}},
      {"GET",
       "/api/v1/sessions/{id:uuid}",
       "sessions",
       "One session",
       "",
       "",
       {},
       {{200, "The session.", schema_ref("Session")}},
       {404}},
      {"DELETE",
       "/api/v1/sessions/{id:uuid}",
       "sessions",
       "Delete a session",
       "Ends its process and deletes the session and its events.",
       "",
       {},
       {{204, "Deleted.", ""}},
       {404}},
      {"POST",
       "/api/v1/sessions/{id:uuid}/interrupt",
       "control",
       "Stop the running turn now",
       "409 SESSION_IDLE when no turn runs.",
       "",
       {},
       {{200, "Interrupted.", id_status}},
       {404, 409}},
      {"GET",
       "/api/v1/sessions/{id:uuid}/events",
       "sessions",
       "A session's events: history pages, or the live stream",
       "JSON pages by default; with `Accept: text/event-stream`, replays after `Last-Event-ID` "
       "(or `after`) and then streams live.",
       "",
       {{"after", "query", R"({"type":"integer","minimum":0,"default":0})", "Events after this id.",
         false},
        {"limit", "query", R"({"type":"integer","minimum":1,"default":100})", "Events per page.",
         false},
        {"Last-Event-ID", "header", R"({"type":"string","pattern":"^[0-9]+$"})",
         "Resume the stream after this id.", false}},
       {{200, "A page of events, or the stream.", schema_ref("EventPage")}},
       {404},
       body_kind::json_or_sse},
      {"GET",
       "/api/v1/capabilities",
       "sessions",
       "What the agent engine offers this tenant",
       "Tools, models, permission modes, setting sources, MCP and hooks support.",
       "",
       {},
       {{200, "The capabilities.", schema_ref("Capabilities")}}},
  };
}

std::vector<route_doc> control_docs() {
  const std::string id_status = schema_ref("SessionStatus");
  return {
      {"POST",
       "/api/v1/sessions/{id:uuid}/answer",
       "control",
       "Answer a pending permission request or question",
       "`{\"answer\":\"text\"}` alone answers the single pending question.",
       R"({"type":"object","additionalProperties":false,)"
       R"("properties":{"request_id":{"type":"string"},"behavior":{"enum":["allow","deny"]},)"
       R"("updated_input":{"type":"object"},"message":{"type":"string","minLength":1,)"
       R"("maxLength":10000},"answers":{"type":"object","minProperties":1,"maxProperties":20},)"
       R"("answer":{"type":"string"}}})",
       {},
       {{200, "Answered.", id_status}},
       {404, 409}},
      {"POST",
       "/api/v1/sessions/{id:uuid}/control",
       "control",
       "Change the permission mode or the model of the live process",
       "",
       R"({"oneOf":[{"type":"object","additionalProperties":false,"required":["type",)"
       R"("permission_mode"],"properties":{"type":{"const":"permission_mode_change"},)"
       R"("permission_mode":{"enum":["default","acceptEdits","plan","bypassPermissions",)"
       R"("dontAsk"]}}},{"type":"object","additionalProperties":false,"required":["type","model"],)"
       R"("properties":{"type":{"const":"model_change"},"model":{"type":"string"}}}]})",
       {},
       {{200, "Applied.", id_status}},
       {404, 409}},
      {"GET",
       "/api/v1/sessions/{id:uuid}/checkpoints",
       "control",
       "The file checkpoints of a session",
       "One per prompt of a checkpointed turn.",
       "",
       {},
       {{200, "The checkpoints.",
         R"({"type":"object","required":["session_id","checkpoints"],)"
         R"("properties":{"session_id":{"type":"string","format":"uuid"},)"
         R"("checkpoints":{"type":"array","items":{"type":"object","required":["id","turn",)"
         R"("created_at","files_modified"],"properties":{"id":{"type":"string"},)"
         R"("turn":{"type":"integer"},"created_at":{"type":"string"},)"
         R"("files_modified":{"type":"array"}}}}}})"}},
       {404}},
      {"POST",
       "/api/v1/sessions/{id:uuid}/rewind",
       "control",
       "Restore the session's files to a checkpoint",
       "",
       R"({"type":"object","additionalProperties":false,"required":["checkpoint_id"],)"
       R"("properties":{"checkpoint_id":{"type":"string","format":"uuid"},)"
       R"("dry_run":{"type":"boolean","default":false}}})",
       {},
       {{200, "The files changed (or that would change).", R"({"type":"object"})"}},
       {404, 409}},
  };
}

}  // namespace

std::string schema_ref(std::string_view component) {
  return R"({"$ref":"#/components/schemas/)" + std::string{component} + R"("})";
}

param_doc page_param() {
  return {"page", "query", R"({"type":"integer","minimum":1,"maximum":1000000,"default":1})",
          "The page, from 1.", false};
}

param_doc page_size_param(int fallback) {
  return {
      "page_size", "query",
      R"({"type":"integer","minimum":1,"maximum":100,"default":)" + std::to_string(fallback) + "}",
      "Entries per page.", false};
}

std::vector<route_doc> core_route_docs() {
  std::vector<route_doc> out;
  for (const auto& part : {turn_docs(), session_docs(), control_docs(), edge_route_docs()})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace caa::api::detail
