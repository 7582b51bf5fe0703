#include "transport/api/openapi.hpp"

#include "config/json_parse.hpp"
#include "config/version.hpp"
#include "transport/http/error_catalog.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

namespace caa::api {

namespace {

using value = rapidjson::Value;
using allocator = rapidjson::Document::AllocatorType;

/// The events of a turn stream (API.md "SSE stream"), for the description of SSE responses.
constexpr std::string_view sse_events =
    "Server-sent events, each with `id: <seq>` (per session, strictly increasing), `event: "
    "<name>` and one `data:` line of JSON; a `: keep-alive` comment every 15 s. Events: `init`, "
    "`message`, `partial`, `permission_request`, `question`, `todo`, `task`, `result`, `error` "
    "(`code`, `message`), `gap` (ids lost under async durability), `budget_reached` (a hard "
    "spend cap stopped the turn: `cap`, `limit_usd`, `spent_usd`, `resets_at`) and `done` "
    "(`reason`: "
    "completed, interrupted or error; always the last event of a turn).";

value text(std::string_view s, allocator& a) {
  return value{s.data(), static_cast<rapidjson::SizeType>(s.size()), a};
}

/// Parses schema text `s`; an unparsable text becomes `{}` (`check_route_docs` reports it).
value schema(std::string_view s, allocator& a) {
  rapidjson::Document d;
  if (json::parse_value(s, d) != json::parse_failure::none || !d.IsObject())
    return value{rapidjson::kObjectType};
  return value{d, a};
}

value schema_ref(std::string_view name, allocator& a) {
  value v{rapidjson::kObjectType};
  v.AddMember("$ref", text("#/components/schemas/" + std::string{name}, a), a);
  return v;
}

/// One `{name}` or `{name:uuid}` segment of a template.
struct path_param {
  std::string name;
  bool uuid = false;
};

/// The OpenAPI path of router template `t` (`{id:uuid}` becomes `{id}`) and its parameters.
std::string openapi_path(const std::string& t, std::vector<path_param>& params) {
  std::string out;
  std::size_t i = 0;
  while (i < t.size()) {
    auto open = t.find('{', i);
    if (open == std::string::npos) break;
    auto close = t.find('}', open);
    auto inner = t.substr(open + 1, close - open - 1);
    auto colon = inner.find(':');
    path_param p{inner.substr(0, colon), colon != std::string::npos};
    out += t.substr(i, open - i) + "{" + p.name + "}";
    params.push_back(std::move(p));
    i = close + 1;
  }
  return out + t.substr(std::min(i, t.size()));
}

/// "AUTHENTICATION_ERROR, ..." for the codes of the error envelope answered with `status`.
std::string codes_of_status(unsigned status) {
  std::string out;
  std::set<std::string_view> seen;
  auto add = [&](const http::catalog_entry& e) {
    if (e.status == status && seen.insert(e.code).second)
      out += (out.empty() ? "" : ", ") + std::string{e.code};
  };
  for (const auto& e : detail::error_catalog_rows()) add(e);
  return out;
}

/// The error statuses of a route: those of its policy, its inputs, and its own. A status of the
/// `Error` envelope that no code of the catalogue has (e.g. 402 before BUDGET_EXCEEDED exists)
/// is left out: the service cannot answer it.
std::set<unsigned> error_statuses(const http::route_info& r, const route_doc& d, bool any_param) {
  std::set<unsigned> out{d.errors.begin(), d.errors.end()};
  out.insert(500);
  if (r.policy != http::route_policy::public_route) out.insert({401, 429, 503});
  if (r.policy == http::route_policy::requires_admin) out.insert(403);
  if (any_param || !d.params.empty() || !d.request_schema.empty()) out.insert(422);
  if (!d.request_schema.empty()) out.insert({400, 413});
  for (const auto& res : d.responses) out.erase(res.status);
  if (d.errors_as == error_shape::api)
    std::erase_if(out, [](unsigned s) { return codes_of_status(s).empty(); });
  return out;
}

value error_response(unsigned status, error_shape shape, allocator& a) {
  bool openai = shape == error_shape::openai;
  auto codes = codes_of_status(status);
  value media{rapidjson::kObjectType};
  media.AddMember("schema", schema_ref(openai ? "OpenAIError" : "Error", a), a);
  value content{rapidjson::kObjectType};
  content.AddMember("application/json", media, a);
  value res{rapidjson::kObjectType};
  std::string what = "An error.";
  if (openai)
    what = "An error in OpenAI's shape (`code` is the lower-case code of the API: " +
           (codes.empty() ? std::string{"see the status"} : codes) + ").";
  else if (!codes.empty())
    what = "Error codes: " + codes + ".";
  res.AddMember("description", text(what, a), a);
  res.AddMember("content", content, a);
  return res;
}

value media_of(body_kind kind, const std::string& body_schema, allocator& a) {
  value content{rapidjson::kObjectType};
  auto json_media = [&] {
    value m{rapidjson::kObjectType};
    m.AddMember("schema", schema(body_schema, a), a);
    return m;
  };
  auto sse_media = [&] {
    value m{rapidjson::kObjectType};
    m.AddMember("schema", schema(R"({"type":"string"})", a), a);
    return m;
  };
  if (kind == body_kind::json || kind == body_kind::json_or_sse)
    content.AddMember("application/json", json_media(), a);
  if (kind == body_kind::sse || kind == body_kind::json_or_sse)
    content.AddMember("text/event-stream", sse_media(), a);
  if (kind == body_kind::text) content.AddMember("text/plain", sse_media(), a);
  return content;
}

value success_response(const response_doc& r, body_kind kind, allocator& a) {
  value res{rapidjson::kObjectType};
  std::string what = r.description;
  if (kind == body_kind::sse || (kind == body_kind::json_or_sse && r.status == 200))
    what += " " + std::string{sse_events};
  res.AddMember("description", text(what, a), a);
  if (r.status != 204 && r.status != 101 && (!r.schema.empty() || kind != body_kind::json))
    res.AddMember("content", media_of(kind, r.schema, a), a);
  return res;
}

value parameter(std::string_view name, std::string_view in, std::string_view schema_text,
                std::string_view description, bool required, allocator& a) {
  value p{rapidjson::kObjectType};
  p.AddMember("name", text(name, a), a);
  p.AddMember("in", text(in, a), a);
  if (!description.empty()) p.AddMember("description", text(description, a), a);
  p.AddMember("required", required, a);
  p.AddMember("schema", schema(schema_text, a), a);
  return p;
}

value security_of(http::route_policy policy, allocator& a) {
  value list{rapidjson::kArrayType};
  if (policy == http::route_policy::public_route) return list;
  for (const char* scheme : {"ApiKeyHeader", "BearerAuth"}) {
    value req{rapidjson::kObjectType};
    req.AddMember(value{scheme, a}, value{rapidjson::kArrayType}, a);
    list.PushBack(req, a);
  }
  return list;
}

std::string operation_id(const std::string& method, const std::string& path) {
  std::string out;
  for (char c : method) out += static_cast<char>(c - 'A' + 'a');
  for (char c : path) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (word)
      out += c;
    else if (out.back() != '_')
      out += '_';
  }
  while (out.back() == '_') out.pop_back();
  return out;
}

std::string description_of(const http::route_info& r, const route_doc& d) {
  auto out = d.description;
  auto add = [&out](std::string_view s) { out += (out.empty() ? "" : "\n\n") + std::string{s}; };
  if (r.policy == http::route_policy::requires_admin)
    add("Requires a key with the admin scope (403 FORBIDDEN otherwise).");
  else if (r.policy == http::route_policy::requires_agent)
    add("Requires a key with the agent scope.");
  else
    add("Public: no key.");
  return out;
}

value operation(const http::route_info& r, const route_doc& d, const std::string& path,
                const std::vector<path_param>& params, allocator& a) {
  value op{rapidjson::kObjectType};
  op.AddMember("operationId", text(operation_id(r.method, path), a), a);
  op.AddMember("summary", text(d.summary, a), a);
  op.AddMember("description", text(description_of(r, d), a), a);
  value tags{rapidjson::kArrayType};
  tags.PushBack(text(d.tag, a), a);
  op.AddMember("tags", tags, a);
  op.AddMember("security", security_of(r.policy, a), a);
  value ps{rapidjson::kArrayType};
  for (const auto& p : params)
    ps.PushBack(parameter(p.name, "path",
                          p.uuid ? R"({"type":"string","format":"uuid"})" : R"({"type":"string"})",
                          p.uuid ? "A UUID (malformed: 422)." : "", true, a),
                a);
  for (const auto& p : d.params)
    ps.PushBack(parameter(p.name, p.in, p.schema, p.description, p.required, a), a);
  if (!ps.Empty()) op.AddMember("parameters", ps, a);
  if (!d.request_schema.empty()) {
    value body{rapidjson::kObjectType};
    body.AddMember("required", true, a);
    body.AddMember("content", media_of(body_kind::json, d.request_schema, a), a);
    op.AddMember("requestBody", body, a);
  }
  value responses{rapidjson::kObjectType};
  for (const auto& res : d.responses)
    responses.AddMember(text(std::to_string(res.status), a), success_response(res, d.body, a), a);
  for (auto status : error_statuses(r, d, !params.empty()))
    responses.AddMember(text(std::to_string(status), a), error_response(status, d.errors_as, a), a);
  op.AddMember("responses", responses, a);
  return op;
}

/// The entry of a route nobody documented: still a valid operation (the unit test fails on it).
route_doc undocumented(const http::route_info& r) {
  route_doc d;
  d.method = r.method;
  d.path_template = r.path_template;
  d.tag = "undocumented";
  d.summary = "Undocumented route";
  d.responses = {{200, "Success.", ""}};
  return d;
}

const route_doc* find_doc(const std::vector<route_doc>& docs, const http::route_info& r) {
  auto it = std::find_if(docs.begin(), docs.end(), [&r](const route_doc& d) {
    return d.method == r.method && d.path_template == r.path_template;
  });
  return it == docs.end() ? nullptr : &*it;
}

value security_schemes(allocator& a) {
  return schema(R"({"ApiKeyHeader":{"type":"apiKey","in":"header","name":"X-API-Key"},)"
                R"("BearerAuth":{"type":"http","scheme":"bearer",)"
                R"("description":"The same key as a Bearer token."}})",
                a);
}

value components(allocator& a) {
  value schemas{rapidjson::kObjectType};
  for (const auto& [name, text_of_schema] : component_schemas())
    schemas.AddMember(text(name, a), schema(text_of_schema, a), a);
  value c{rapidjson::kObjectType};
  c.AddMember("schemas", schemas, a);
  c.AddMember("securitySchemes", security_schemes(a), a);
  return c;
}

value info(allocator& a) {
  value i{rapidjson::kObjectType};
  i.AddMember("title", "claude-agent-api", a);
  i.AddMember("version", text(version(), a), a);
  i.AddMember("description",
              "Hosts Claude agent sessions: turns streamed as server-sent events or over a "
              "WebSocket, sessions, control, checkpoints, keys. Generated from the service's "
              "route table at start-up.",
              a);
  return i;
}

}  // namespace

std::string openapi_document(const http::router& r, const std::vector<route_doc>& docs) {
  rapidjson::Document doc{rapidjson::kObjectType};
  auto& a = doc.GetAllocator();
  doc.AddMember("openapi", "3.1.0", a);
  doc.AddMember("info", info(a), a);
  value paths{rapidjson::kObjectType};
  for (const auto& route : r.routes()) {
    std::vector<path_param> params;
    auto path = openapi_path(route.path_template, params);
    const auto* d = find_doc(docs, route);
    auto fallback = d == nullptr ? undocumented(route) : route_doc{};
    auto op = operation(route, d == nullptr ? fallback : *d, path, params, a);
    std::string method;
    for (char c : route.method) method += static_cast<char>(c - 'A' + 'a');
    auto item = paths.FindMember(path.c_str());
    if (item == paths.MemberEnd()) {
      paths.AddMember(text(path, a), value{rapidjson::kObjectType}, a);
      item = paths.FindMember(path.c_str());
    }
    item->value.AddMember(text(method, a), op, a);
  }
  doc.AddMember("paths", paths, a);
  doc.AddMember("components", components(a), a);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  doc.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace caa::api
