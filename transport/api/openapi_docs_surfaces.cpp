// Doc entries of the surfaces clients already speak: the OpenAI-compatible `/v1` routes
// (OpenAI's documented shapes and error envelope) and the usage and tenant-limit routes.

#include "transport/api/openapi.hpp"

namespace caa::api::detail {

namespace {

constexpr std::string_view chat_request =
    R"({"type":"object","required":["model","messages"],"properties":{"model":{"type":"string"},)"
    R"("messages":{"type":"array","minItems":1,"items":{"type":"object","required":["role"],)"
    R"("properties":{"role":{"enum":["system","developer","user","assistant","tool"]},)"
    R"("content":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"object"}},)"
    R"({"type":"null"}]},"name":{"type":"string"}}}},"stream":{"type":"boolean","default":false},)"
    R"("stream_options":{"type":"object","properties":{"include_usage":{"type":"boolean"}}},)"
    R"("max_tokens":{"type":"integer","minimum":1},"max_completion_tokens":{"type":"integer",)"
    R"("minimum":1},"temperature":{"type":"number"},"user":{"type":"string"}}})";

constexpr std::string_view chat_completion =
    R"({"type":"object","required":["id","object","created","model","choices"],"properties":)"
    R"({"id":{"type":"string"},"object":{"const":"chat.completion"},"created":{"type":"integer"},)"
    R"("model":{"type":"string"},"choices":{"type":"array","items":{"type":"object","required":)"
    R"(["index","message","finish_reason"],"properties":{"index":{"type":"integer"},"message":)"
    R"({"type":"object","required":["role","content"],"properties":{"role":{"const":"assistant"},)"
    R"("content":{"type":["string","null"]}}},"finish_reason":{"type":["string","null"],"enum":)"
    R"(["stop","length","tool_calls","content_filter",null]}}}},"usage":)"
    R"({"$ref":"#/components/schemas/OpenAIUsage"}}})";

constexpr std::string_view response_request =
    R"({"type":"object","required":["model","input"],"properties":{"model":{"type":"string"},)"
    R"("input":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"object"}}]},)"
    R"("instructions":{"type":"string"},"previous_response_id":{"type":"string",)"
    R"("description":"Continues that response's session."},"stream":{"type":"boolean"},)"
    R"("background":{"type":"boolean"},"store":{"type":"boolean"},"max_output_tokens":)"
    R"({"type":"integer","minimum":1},"metadata":{"type":"object","additionalProperties":)"
    R"({"type":"string"}}}})";

constexpr std::string_view response_object =
    R"({"type":"object","required":["id","object","created_at","status","model","output"],)"
    R"("properties":{"id":{"type":"string"},"object":{"const":"response"},"created_at":)"
    R"({"type":"integer"},"status":{"enum":["completed","failed","in_progress","cancelled",)"
    R"("queued","incomplete"]},"model":{"type":"string"},"output":{"type":"array","items":)"
    R"({"type":"object","required":["type"],"properties":{"type":{"type":"string"},"id":)"
    R"({"type":"string"},"role":{"type":"string"},"content":{"type":"array","items":)"
    R"({"type":"object"}}}}},"output_text":{"type":"string"},"previous_response_id":)"
    R"({"type":["string","null"]},"background":{"type":["boolean","null"]},"error":)"
    R"({"type":["object","null"]},"usage":{"type":["object","null"]}}})";

constexpr std::string_view limits =
    R"({"type":"object","additionalProperties":false,"properties":{"monthly_usd":)"
    R"({"type":["number","null"],"exclusiveMinimum":0},"daily_usd":{"type":["number","null"],)"
    R"("exclusiveMinimum":0},"max_agent_processes":{"type":["integer","null"],"minimum":0},)"
    R"("hard":{"type":"boolean","description":"A cap reached refuses new turns with 402)"
    R"( BUDGET_EXCEEDED either way; hard also stops a running turn at the cap (a budget_reached)"
    R"( event, then done with reason interrupted)."}}})";

constexpr std::string_view limits_answer =
    R"({"type":"object","required":["tenant_id","monthly_usd","daily_usd",)"
    R"("max_agent_processes","hard","updated_at"],"properties":{"tenant_id":{"type":"string",)"
    R"("format":"uuid"},"monthly_usd":{"type":["number","null"]},"daily_usd":{"type":)"
    R"(["number","null"]},"max_agent_processes":{"type":["integer","null"]},"hard":)"
    R"({"type":"boolean"},"updated_at":{"type":["string","null"]}}})";

#define CAA_USAGE_SUMS                                                                       \
  R"({"type":"object","required":["turns","input_tokens","output_tokens",)"                  \
  R"("cache_creation_input_tokens","cache_read_input_tokens","cost_usd","model_requests"],)" \
  R"("properties":{"key":{"type":"string"},"turns":{"type":"integer"},"input_tokens":)"      \
  R"({"type":"integer"},"output_tokens":{"type":"integer"},"cache_creation_input_tokens":)"  \
  R"({"type":"integer"},"cache_read_input_tokens":{"type":"integer"},"cost_usd":)"           \
  R"({"type":"number"},"model_requests":{"type":"integer"}}})"

constexpr std::string_view usage =
    R"({"type":"object","required":["tenant_id","from","to","group_by","total","groups"],)"
    R"("properties":{"tenant_id":{"type":"string","format":"uuid"},"from":{"type":"string"},)"
    R"("to":{"type":"string"},"group_by":{"enum":["day","session","model"]},"total":)" CAA_USAGE_SUMS
    R"(,"groups":{"type":"array","items":)" CAA_USAGE_SUMS R"(}}})";

#undef CAA_USAGE_SUMS

std::vector<param_doc> response_stream_params() {
  return {{"stream", "query", R"({"type":"boolean","default":false})",
           "Stream the response's events (resumable).", false},
          {"starting_after", "query", R"({"type":"integer","minimum":0})",
           "With stream=true: resume after this sequence number.", false}};
}

}  // namespace

std::vector<route_doc> openai_route_docs() {
  const std::string streamed = "With `stream: true`, server-sent events in OpenAI's format.";
  auto openai = [](route_doc d) {
    d.errors_as = error_shape::openai;
    return d;
  };
  return {
      openai({"GET",
              "/v1/models",
              "openai",
              "List models (OpenAI-compatible)",
              "",
              "",
              {},
              {{200, "The models.", schema_ref("OpenAIModelList")}}}),
      openai({"POST",
              "/v1/chat/completions",
              "openai",
              "Create a chat completion",
              streamed,
              std::string{chat_request},
              {},
              {{200, "The completion, or its stream.", std::string{chat_completion}}},
              {},
              body_kind::json_or_sse}),
      openai({"POST",
              "/v1/responses",
              "openai",
              "Create a response (OpenAI Responses)",
              "`previous_response_id` continues a session; `background` runs it detached.",
              std::string{response_request},
              {},
              {{200, "The response, or its stream.", schema_ref("OpenAIResponse")}},
              {404},
              body_kind::json_or_sse}),
      openai({"GET",
              "/v1/responses/{id}",
              "openai",
              "Retrieve a response",
              "",
              "",
              response_stream_params(),
              {{200, "The response, or its resumed stream.", schema_ref("OpenAIResponse")}},
              {404},
              body_kind::json_or_sse}),
      openai({"POST",
              "/v1/responses/{id}/cancel",
              "openai",
              "Cancel a background response",
              "",
              "",
              {},
              {{200, "The cancelled response.", schema_ref("OpenAIResponse")}},
              {404, 409}}),
  };
}

std::vector<route_doc> usage_route_docs() {
  return {
      {"GET",
       "/api/v1/usage",
       "usage",
       "The caller's tenant usage",
       "An admin key may name another tenant with `tenant=`.",
       "",
       {{"from", "query", R"({"type":"string"})", "Start (RFC 3339 or a date).", false},
        {"to", "query", R"({"type":"string"})", "End (RFC 3339 or a date).", false},
        {"group_by", "query", R"({"enum":["day","session","model"],"default":"day"})",
         "How the rows are grouped.", false},
        {"tenant", "query", R"({"type":"string"})", "Admin: another tenant.", false}},
       {{200, "The usage.", std::string{usage}}}},
      {"PUT",
       "/api/v1/tenants/{tenant:uuid}/limits",
       "usage",
       "Set a tenant's spend and process caps",
       "",
       std::string{limits},
       {},
       {{200, "The limits now in force.", std::string{limits_answer}}},
       {404}},
      {"GET",
       "/api/v1/tenants/{tenant:uuid}/limits",
       "usage",
       "A tenant's spend and process caps",
       "",
       "",
       {},
       {{200, "The limits (all null when none are set).", std::string{limits_answer}}},
       {404}},
  };
}

std::vector<component_schema> surface_component_schemas() {
  return {
      {"OpenAIError",
       R"({"type":"object","required":["error"],"properties":{"error":{"type":"object",)"
       R"("required":["message","type"],"properties":{"message":{"type":"string"},)"
       R"("type":{"type":"string"},"code":{"type":["string","null"]},"param":{"type":["string",)"
       R"("null"]}}}}})"},
      {"OpenAIUsage",
       R"({"type":"object","properties":{"prompt_tokens":{"type":"integer"},)"
       R"("completion_tokens":{"type":"integer"},"total_tokens":{"type":"integer"}}})"},
      {"OpenAIModelList",
       R"({"type":"object","required":["object","data"],"properties":{"object":{"const":"list"},)"
       R"("data":{"type":"array","items":{"type":"object","required":["id","object","created",)"
       R"("owned_by"],"properties":{"id":{"type":"string"},"object":{"const":"model"},)"
       R"("created":{"type":"integer"},"owned_by":{"type":"string"}}}}}})"},
      {"OpenAIResponse", std::string{response_object}},
  };
}

}  // namespace caa::api::detail
