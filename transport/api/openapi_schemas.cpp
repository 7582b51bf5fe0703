// `components.schemas` of the OpenAPI document: the error envelope (its codes from the error
// catalogue) and the resources the core routes answer with, as the encoders write them.

#include "transport/api/openapi.hpp"

#include "transport/api/query_request.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/json/json.hpp"

#include <set>

namespace caa::api::detail {

namespace {

/// `{"enum":[...]}` of every public code of the error catalogue.
std::string error_codes() {
  std::set<std::string_view> codes;
  for (const auto& e : error_catalog_rows()) codes.insert(e.code);
  std::string out = R"({"type":"string","enum":[)";
  for (auto code : codes) out += json::quote(code) + ",";
  out.back() = ']';
  return out + "}";
}

std::string error_envelope() {
  return R"({"type":"object","required":["error"],"properties":{"error":{"type":"object",)"
         R"("required":["code","message"],"properties":{"code":)" +
         error_codes() +
         R"(,"message":{"type":"string","description":"A fixed public text."},)"
         R"("details":{"type":"object","properties":{"errors":{"type":"array","items":)"
         R"({"$ref":"#/components/schemas/FieldError"}},"correlation_id":{"type":"string"}}}}}}})";
}

constexpr std::string_view nullable_text = R"({"type":["string","null"]})";

std::string session() {
  return std::string{R"({"type":"object","additionalProperties":false,"required":["id","status",)"
                     R"("model","permission_mode","cwd","parent_session_id","created_at",)"
                     R"("updated_at","total_turns","total_cost_usd","usage","title","tags",)"
                     R"("last_event_id"],"properties":{"id":{"type":"string","format":"uuid"},)"
                     R"("status":{"enum":["idle","running","hibernated","error","deleted"]},)"
                     R"("model":)"} +
         std::string{nullable_text} +
         R"(,"permission_mode":{"type":"string"},"cwd":{"type":"string"},)"
         R"("parent_session_id":{"type":["string","null"],"format":"uuid"},)"
         R"("created_at":{"type":"string"},"updated_at":{"type":"string"},)"
         R"("total_turns":{"type":"integer","minimum":0},"total_cost_usd":{"type":"number"},)"
         R"("usage":{"type":"object"},"title":{"type":["string","null"]},)"
         R"("tags":{"type":"array","items":{"type":"string"}},)"
         R"("last_event_id":{"type":"integer","minimum":0}}})";
}

constexpr std::string_view key =
    R"({"type":"object","required":["id","tenant","tenant_id","name","scopes","prefix",)"
    R"("created_at","last_used_at","revoked_at"],"properties":{"id":{"type":"string",)"
    R"("format":"uuid"},"tenant":{"type":"string"},"tenant_id":{"type":"string","format":"uuid"},)"
    R"("name":{"type":"string"},"scopes":{"type":"array","items":{"enum":["agent","admin"]}},)"
    R"("prefix":{"type":"string","description":"The first characters of the key."},)"
    R"("created_at":{"type":"string"},"last_used_at":{"type":["string","null"]},)"
    R"("revoked_at":{"type":["string","null"]},"key":{"type":"string",)"
    R"("description":"The key itself: only in the answer of its creation."}}})";

constexpr std::string_view readiness =
    R"({"type":"object","required":["status","version","checks"],"properties":{"status":)"
    R"({"enum":["ready","not_ready","draining"]},"version":{"type":"string"},"checks":)"
    R"({"type":"object","required":["postgres","redis","cli"],"properties":{"postgres":)"
    R"({"$ref":"#/components/schemas/DependencyCheck"},"redis":{"$ref":)"
    R"("#/components/schemas/DependencyCheck"},"cli":{"$ref":)"
    R"("#/components/schemas/DependencyCheck"}}}}})";

constexpr std::string_view dependency_check =
    R"({"type":"object","required":["status","required"],"properties":{"status":)"
    R"({"enum":["ok","down","unknown"]},"required":{"type":"boolean"},"latency_ms":)"
    R"({"type":"number"}}})";

constexpr std::string_view capabilities =
    R"({"type":"object","required":["engine","models","permission_modes","setting_sources",)"
    R"("mcp_servers_enabled","hooks_enabled","output_formats"],"properties":{"engine":)"
    R"({"type":"object","description":"What the agent engine reported."},"cli_version":)"
    R"({"type":"string"},"models":{"type":"object","properties":{"aliases":{"type":"array",)"
    R"("items":{"type":"string"}},"ids":{"type":"string"}}},"permission_modes":{"type":"array",)"
    R"("items":{"type":"string"}},"setting_sources":{"type":"array","items":{"type":"string"}},)"
    R"("mcp_servers_enabled":{"type":"boolean"},"hooks_enabled":{"type":"boolean"},)"
    R"("output_formats":{"type":"array","items":{"type":"string"}},"engine_details":)"
    R"({"type":"string"}}})";

constexpr std::string_view turn_result =
    R"({"type":"object","required":["session_id","content","is_error","done_reason",)"
    R"("truncated"],"properties":{"session_id":{"type":"string","format":"uuid"},"result":)"
    R"({"type":"string"},"structured_output":{},"content":{"type":"array","items":)"
    R"({"type":"object"}},"usage":{"type":"object"},"total_cost_usd":{"type":"number"},)"
    R"("num_turns":{"type":"integer"},"duration_ms":{"type":"number"},"is_error":)"
    R"({"type":"boolean"},"subtype":{"type":"string"},"stop_reason":{"type":["string","null"]},)"
    R"("done_reason":{"type":["string","null"]},"truncated":{"type":"boolean"}}})";

constexpr std::string_view event_page =
    R"({"type":"object","required":["events","next_after","has_more"],"properties":{"events":)"
    R"({"type":"array","items":{"type":"object","required":["id","event","data"],"properties":)"
    R"({"id":{"type":"integer","minimum":1},"event":{"type":"string"},"data":{}}}},)"
    R"("next_after":{"type":"integer","minimum":0},"has_more":{"type":"boolean"}}})";

}  // namespace

std::vector<http::catalog_entry> error_catalog_rows() {
  std::vector<http::catalog_entry> out;
  for (int x = 0; x <= static_cast<int>(errc::fenced); ++x)
    out.push_back(http::catalog_of(errc{static_cast<uint8_t>(x)}));
  for (auto x : {http::edge_condition::request_timeout, http::edge_condition::uri_too_long,
                 http::edge_condition::headers_too_large})
    out.push_back(http::catalog_of(x));
  return out;
}

std::vector<component_schema> core_component_schemas() {
  return {
      {"Error", error_envelope()},
      {"FieldError",
       R"({"type":"object","required":["field","message"],"properties":{"field":{"type":"string"},)"
       R"("message":{"type":"string"}}})"},
      {"Health",
       R"({"type":"object","required":["status","version"],"properties":{"status":{"const":"ok"},)"
       R"("version":{"type":"string"}}})"},
      {"Readiness", std::string{readiness}},
      {"DependencyCheck", std::string{dependency_check}},
      {"TurnRequest", turn_request_schema()},
      {"ForkRequest",
       turn_request_schema(
           {{"at_message_id", R"({"type":"string","description":"Branch at this message."})"}})},
      {"TurnResult", std::string{turn_result}},
      {"Session", session()},
      {"SessionList",
       R"({"type":"object","required":["sessions","total","page","page_size"],)"
       R"("properties":{"sessions":{"type":"array",)"
       R"("items":{"$ref":"#/components/schemas/Session"}},"total":{"type":"integer","minimum":0},)"
       R"("page":{"type":"integer","minimum":1},"page_size":{"type":"integer","minimum":1,)"
       R"("maximum":100}}})"},
      {"EventPage", std::string{event_page}},
      {"SessionStatus",
       R"({"type":"object","required":["status","session_id"],)"
       R"("properties":{"status":{"type":"string"},"session_id":{"type":"string","format":"uuid"},)"
       R"("request_id":{"type":"string"},"permission_mode":{"type":"string"},)"
       R"("model":{"type":"string"}}})"},
      {"Capabilities", std::string{capabilities}},
      {"Key", std::string{key}},
      {"KeyList",
       R"({"type":"object","required":["keys","page","page_size"],)"
       R"("properties":{"keys":{"type":"array","items":{"$ref":"#/components/schemas/Key"}},)"
       R"("page":{"type":"integer"},"page_size":{"type":"integer"}}})"},
  };
}

}  // namespace caa::api::detail
