#include "transport/api/query_request.hpp"

#include "transport/api/query_decode.hpp"
#include "transport/http/types.hpp"
#include "transport/json/json.hpp"

#include <algorithm>

namespace caa::api {

namespace {

using detail::decode_context;
using detail::text_of;

void decode_session_id(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  auto id = json::read_uuid(v, "session_id", ctx.errors);
  if (!id) return;
  std::transform(id->begin(), id->end(), id->begin(), [](char c) {
    return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  req.session_id = std::move(*id);
}

void decode_max_turns(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (auto n = json::read_integer(v, "max_turns", 1, turn_limits::max_turns, ctx.errors))
    req.max_turns = static_cast<int>(*n);
}

void decode_max_budget(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.max_budget_usd = json::read_number(v, "max_budget_usd", 0, turn_limits::max_budget_usd,
                                         /*lo_exclusive=*/true, ctx.errors);
}

void decode_partial(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.include_partial_messages =
      json::read_boolean(v, "include_partial_messages", ctx.errors).value_or(false);
}

void decode_checkpointing(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  req.enable_file_checkpointing =
      json::read_boolean(v, "enable_file_checkpointing", ctx.errors).value_or(false);
}

void decode_durability(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsString() || (text_of(v) != "sync" && text_of(v) != "async")) {
    ctx.fail("durability", "must be sync or async");
  } else if (text_of(v) == "async" && !ctx.policy.allow_async_events) {
    ctx.fail("durability", "async is not allowed for this tenant (TENANT_DURABILITY_ALLOW)");
  } else {
    req.async_events = text_of(v) == "async";
  }
}

struct field_entry {
  std::string_view name;
  detail::field_decoder decode;
  std::string_view schema;  ///< JSON Schema of the member (the OpenAPI document's source)
};

constexpr std::string_view tool_list =
    R"({"type":"array","maxItems":100,"items":{"type":"string","minLength":1}})";
constexpr std::string_view dir_list =
    R"({"type":"array","maxItems":20,"items":{"type":"string","minLength":1}})";

/// Every field of API.md "Query request", with its decoder and its schema: the one table the
/// decoder's unknown-field check and `turn_request_schema` both read.
constexpr field_entry fields[] = {
    {"prompt", &detail::decode_prompt,
     R"({"type":"string","minLength":1,"maxLength":100000,)"
     R"("description":"The prompt; a leading /name args is a slash command."})"},
    {"images", &detail::decode_images,
     R"({"type":"array","maxItems":20,"items":{"type":"object",)"
     R"("additionalProperties":false,"required":["type","media_type","data"],)"
     R"("properties":{"type":{"const":"base64"},"media_type":{"enum":["image/png",)"
     R"("image/jpeg","image/gif","image/webp"]},"data":{"type":"string",)"
     R"("contentEncoding":"base64"}}}})"},
    {"session_id", &decode_session_id,
     R"({"type":"string","format":"uuid",)"
     R"("description":"Continue this session of the caller."})"},
    {"model", &detail::decode_model,
     R"({"type":"string","pattern":"^(sonnet|opus|haiku|claude-[a-z0-9.-]{1,)"
     R"(64}(\\[1m\\])?)$"})"},
    {"permission_mode", &detail::decode_permission_mode,
     R"({"enum":["default","acceptEdits","plan","bypassPermissions","dontAsk"],)"
     R"("default":"default",)"
     R"("description":"bypassPermissions only for tenants allowed it."})"},
    {"allowed_tools", &detail::decode_allowed_tools, tool_list},
    {"disallowed_tools", &detail::decode_disallowed_tools, tool_list},
    {"max_turns", &decode_max_turns, R"({"type":"integer","minimum":1,"maximum":1000})"},
    {"max_budget_usd", &decode_max_budget,
     R"({"type":"number","exclusiveMinimum":0,"maximum":1000})"},
    {"cwd", &detail::decode_cwd,
     R"({"type":"string",)"
     R"("description":"Relative to the tenant workspace; never outside it."})"},
    {"add_dirs", &detail::decode_add_dirs, dir_list},
    {"env", &detail::decode_env,
     R"({"type":"object","propertyNames":{"pattern":"^[A-Z_][A-Z0-9_]*$"},)"
     R"("additionalProperties":{"type":"string"},)"
     R"("description":"Environment of the agent; a deny-list applies (LD_*, PATH,)"
     R"( ANTHROPIC_*, CLAUDE_*, *_PROXY, ...)."})"},
    {"system_prompt", &detail::decode_system_prompt,
     R"({"oneOf":[{"type":"string"},{"type":"object","additionalProperties":false,)"
     R"("required":["preset"],"properties":{"type":{"const":"preset"},)"
     R"("preset":{"const":"claude_code"},"append":{"type":"string"}}}]})"},
    {"agents", &detail::decode_agents,
     R"({"type":"object","maxProperties":20,"additionalProperties":{"type":"object",)"
     R"("additionalProperties":false,"required":["description","prompt"],)"
     R"("properties":{"description":{"type":"string","maxLength":1000},)"
     R"("prompt":{"type":"string"},"tools":{"type":"array","items":{"type":"string"}},)"
     R"("model":{"type":"string"}}}})"},
    {"mcp_servers", &detail::decode_mcp_servers,
     R"({"type":"object","maxProperties":20,)"
     R"("additionalProperties":{"oneOf":[{"type":"object","additionalProperties":false,)"
     R"("required":["command"],"properties":{"type":{"const":"stdio"},)"
     R"("command":{"type":"string"},"args":{"type":"array","items":{"type":"string"}},)"
     R"("env":{"type":"object","additionalProperties":{"type":"string"}}}},)"
     R"({"type":"object","additionalProperties":false,"required":["type","url"],)"
     R"("properties":{"type":{"enum":["sse","http"]},"url":{"type":"string",)"
     R"("format":"uri"},"headers":{"type":"object",)"
     R"("additionalProperties":{"type":"string"}}}}]}})"},
    {"hooks", &detail::decode_hooks,
     R"({"type":"object",)"
     R"("propertyNames":{"enum":["PreToolUse",)"
     R"("PostToolUse","UserPromptSubmit","Stop",)"
     R"("SubagentStop","PreCompact","Notification"]},)"
     R"("additionalProperties":{"type":"array",)"
     R"("maxItems":10,"items":{"type":"object",)"
     R"("additionalProperties":false,"required":["url"],)"
     R"("properties":{"url":{"type":"string",)"
     R"("format":"uri"},"matcher":{"type":"string"},)"
     R"("timeout":{"type":"integer","minimum":1,)"
     R"("maximum":300,"default":30},)"
     R"("headers":{"type":"object",)"
     R"("additionalProperties":{"type":"string"}}}}}})"},
    {"output_format", &detail::decode_output_format,
     R"({"type":"object","additionalProperties":false,"required":["type","schema"],)"
     R"("properties":{"type":{"const":"json_schema"},"schema":{"type":"object"}}})"},
    {"include_partial_messages", &decode_partial, R"({"type":"boolean","default":false})"},
    {"enable_file_checkpointing", &decode_checkpointing, R"({"type":"boolean","default":false})"},
    {"setting_sources", &detail::decode_setting_sources,
     R"({"type":"array","uniqueItems":true,"items":{"enum":["user","project"]}})"},
    {"plugins", &detail::decode_plugins,
     R"({"type":"array","maxItems":20,"items":{"type":"object",)"
     R"("additionalProperties":false,"required":["path"],)"
     R"("properties":{"path":{"type":"string"}}}})"},
    {"metadata", &detail::decode_metadata,
     R"({"type":"object","additionalProperties":false,)"
     R"("properties":{"title":{"type":"string","maxLength":200},"tags":{"type":"array",)"
     R"("maxItems":20,"items":{"type":"string","minLength":1,"maxLength":50}}}})"},
    {"durability", &decode_durability,
     R"({"enum":["sync","async"],)"
     R"("description":"async only for tenants allowed it; default EVENT_DURABILITY."})"},
};

/// Whether the top-level member names of `obj` are distinct.
bool unique_names(const rapidjson::Value& obj) {
  std::vector<std::string_view> names;
  for (auto& m : obj.GetObject()) names.push_back(text_of(m.name));
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) == names.end();
}

void check_tool_overlap(const turn_request& req, decode_context& ctx) {
  for (const auto& name : req.disallowed_tools) {
    auto& allowed = req.allowed_tools;
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
      ctx.fail("disallowed_tools", "names a tool that is also in allowed_tools");
      return;
    }
  }
}

std::string_view base_tool(std::string_view name) {
  return name.substr(0, name.find('('));
}

bool is_plain_tool(std::string_view n) noexcept {
  if (n.substr(0, 5) == "mcp__") {
    auto rest = n.substr(5);
    if (!detail::is_segment(rest, 64 + 2 + 64) || rest.substr(0, 2) == "__" ||
        (rest.size() >= 2 && rest.substr(rest.size() - 2) == "__"))
      return false;                                    // no empty server or tool
    if (rest.size() <= 64) return true;                // mcp__<server>: every tool of that server
    for (std::size_t i = 1; i + 2 < rest.size(); ++i)  // mcp__<server>__<tool>
      if (rest[i] == '_' && rest[i + 1] == '_' && i <= 64 && rest.size() - i - 2 <= 64) return true;
    return false;
  }
  bool letter = !n.empty() && ((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z'));
  return letter && n.size() <= 64 && n.find('-') == std::string_view::npos &&
         detail::is_segment(n, 64);
}

}  // namespace

bool is_tool_name(std::string_view name) noexcept {
  auto open = name.find('(');
  if (open == std::string_view::npos) return is_plain_tool(name);
  if (name.back() != ')') return false;
  auto rule = name.substr(open + 1, name.size() - open - 2);
  if (rule.empty() || rule.size() > turn_limits::tool_rule_chars) return false;
  bool printable = std::all_of(rule.begin(), rule.end(), [](char c) {
    return c >= 0x20 && c < 0x7F && c != '(' && c != ')' && c != ',';
  });
  return printable && is_plain_tool(base_tool(name));
}

bool is_model_name(std::string_view model) noexcept {
  if (model == "sonnet" || model == "opus" || model == "haiku") return true;
  if (model.substr(0, 7) != "claude-") return false;
  auto id = model.substr(7);
  if (id.size() > 4 && id.substr(id.size() - 4) == "[1m]") id.remove_suffix(4);
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

bool is_permission_mode(std::string_view mode) noexcept {
  return mode == "default" || mode == "acceptEdits" || mode == "plan" ||
         mode == "bypassPermissions" || mode == "dontAsk";
}

decode_policy make_decode_policy(const settings& cfg, const http::principal& caller) {
  return make_decode_policy(cfg, caller.tenant_name(), caller.agent_slot());
}

decode_policy make_decode_policy(const settings& cfg, const std::string& tenant_name,
                                 int64_t agent_slot) {
  decode_policy p;
  const auto& bypass = cfg.agent.bypass_tenants;
  p.allow_bypass = std::find(bypass.begin(), bypass.end(), tenant_name) != bypass.end();
  p.allow_http_urls = cfg.egress.webhook_allow_http;
  p.egress_allow_cidrs = cfg.egress.allow_cidrs;
  p.mcp_stdio_commands = cfg.egress.mcp_stdio_allowed_commands;
  p.mcp_servers_enabled = true;
  p.hooks_enabled = true;  // hook callbacks go to webhooks through the outbound client
  p.agent_slot = agent_slot;
  p.tenant_name = tenant_name;
  p.async_events = cfg.agent.async_events;
  const auto& durable = cfg.agent.durability_tenants;
  p.allow_async_events =
      p.async_events || std::find(durable.begin(), durable.end(), tenant_name) != durable.end();
  if (auto vars = cfg.egress.tenant_variables.find(tenant_name);
      vars != cfg.egress.tenant_variables.end())
    p.variables = vars->second;
  return p;
}

caf::expected<turn_request> decode_turn_object(
    const rapidjson::Value& obj, const decode_policy& policy,
    std::initializer_list<std::string_view> extra_fields) {
  if (!obj.IsObject() || !unique_names(obj))
    return make_error(errc::bad_request, "turn request: not an object with distinct keys");
  decode_context ctx{policy, {}};
  turn_request req;
  for (auto& m : obj.GetObject()) {
    auto name = text_of(m.name);
    if (std::find(extra_fields.begin(), extra_fields.end(), name) != extra_fields.end()) continue;
    auto entry = std::find_if(std::begin(fields), std::end(fields),
                              [&](const field_entry& f) { return f.name == name; });
    if (entry == std::end(fields))
      ctx.errors.unknown_member(name, {});
    else if (m.value.IsNull())
      continue;  // null means absent
    else if (detail::has_duplicate_keys(m.value))
      ctx.fail(std::string{name}, "contains a duplicate key");
    else
      entry->decode(m.value, ctx, req);
  }
  if (json::non_null_member(obj, "prompt") == nullptr) ctx.fail("prompt", "is required");
  check_tool_overlap(req, ctx);
  if (!ctx.errors.ok()) return caa::validation_error(ctx.errors.take());
  return req;
}

caf::expected<turn_request> decode_turn_request(std::string_view body,
                                                const decode_policy& policy) {
  rapidjson::Document doc;
  std::string why;
  if (!json::parse_object(body, doc, why)) return make_error(errc::bad_request, why);
  return decode_turn_object(doc, policy);
}

std::string turn_request_schema(
    std::initializer_list<std::pair<std::string_view, std::string_view>> extra) {
  std::string out = R"({"type":"object","additionalProperties":false,"required":["prompt"],)"
                    R"("description":"A member set to null counts as absent.","properties":{)";
  auto add = [&out](std::string_view name, std::string_view schema) {
    if (out.back() != '{') out += ',';
    out.append(json::quote(name)).append(":").append(schema);
  };
  for (const auto& f : fields) add(f.name, f.schema);
  for (const auto& [name, schema] : extra) add(name, schema);
  return out + "}}";
}

}  // namespace caa::api
