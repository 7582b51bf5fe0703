// Decoders of the system prompt, subagents and structured-output schema of a turn request.

#include "transport/api/query_decode.hpp"

#include "transport/json/json.hpp"

#include <algorithm>

namespace caa::api::detail {

namespace {

/// Text that travels as one argv element: at most `system_prompt_bytes`, no NUL.
std::optional<std::string> read_argv_text(const rapidjson::Value& v, const std::string& path,
                                          decode_context& ctx) {
  if (!v.IsString() || v.GetStringLength() > turn_limits::system_prompt_bytes ||
      text_of(v).find('\0') != std::string_view::npos) {
    ctx.fail(path, "must be a string of at most 100000 bytes without NUL");
    return std::nullopt;
  }
  return std::string{text_of(v)};
}

/// Whether `name` is a subagent name: `^[a-z][a-z0-9-]{0,63}$`.
bool is_agent_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void decode_agent(std::string_view name, const rapidjson::Value& v, decode_context& ctx,
                  turn_request& req) {
  auto path = "agents." + std::string{name};
  if (!v.IsObject()) {
    ctx.fail(path, "must be an object {description, prompt, tools?, model?}");
    return;
  }
  auto before = ctx.errors.count();
  ctx.errors.reject_unknown(v, path, {"description", "prompt", "tools", "model"});
  claude::agent_definition def;
  json::field_reader fields{v, ctx.errors, path};
  def.description =
      fields.string("description", true, 1, turn_limits::agent_description_chars).value_or("");
  def.prompt = fields.string("prompt", true, 1, turn_limits::prompt_chars).value_or("");
  if (auto* tools = json::non_null_member(v, "tools"))
    def.tools = read_tools(*tools, path + ".tools", true, ctx);
  if (auto* model = json::non_null_member(v, "model")) {
    if (model->IsString() && (text_of(*model) == "inherit" || is_model_name(text_of(*model))))
      def.model = std::string{text_of(*model)};
    else
      ctx.fail(path + ".model", "must be inherit, sonnet, opus, haiku or a claude-... model id");
  }
  if (ctx.errors.count() == before) req.agents.emplace(std::string{name}, std::move(def));
}

/// Whether `t` names a JSON Schema type.
bool is_schema_type(const rapidjson::Value& t) {
  constexpr std::string_view names[] = {"object",  "array",   "string", "number",
                                        "integer", "boolean", "null"};
  return t.IsString() &&
         std::find(std::begin(names), std::end(names), text_of(t)) != std::end(names);
}

/// The schema's own `type` is a type name or a non-empty list of distinct type names.
bool has_valid_type(const rapidjson::Value& schema) {
  auto* t = json::non_null_member(schema, "type");
  if (t == nullptr) return !schema.HasMember("type");  // "type": null is not a type
  if (!t->IsArray()) return is_schema_type(*t);
  if (t->Empty() || !std::all_of(t->Begin(), t->End(), is_schema_type)) return false;
  std::vector<std::string_view> seen;
  for (const auto& x : t->GetArray()) seen.push_back(text_of(x));
  std::sort(seen.begin(), seen.end());
  return std::adjacent_find(seen.begin(), seen.end()) == seen.end();
}

}  // namespace

void decode_system_prompt(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (v.IsString()) {
    if (auto text = read_argv_text(v, "system_prompt", ctx))
      req.system_prompt = claude::system_prompt_replace{std::move(*text)};
    return;
  }
  if (!v.IsObject()) {
    ctx.fail("system_prompt", "must be a string or {\"preset\":\"claude_code\",\"append\":...}");
    return;
  }
  auto before = ctx.errors.count();
  ctx.errors.reject_unknown(v, "system_prompt", {"type", "preset", "append"});
  auto* type =
      json::non_null_member(v, "type");  // the SDKs' spelling: {"type":"preset","preset":...}
  if (type != nullptr && !(type->IsString() && text_of(*type) == "preset"))
    ctx.fail("system_prompt.type", "must be \"preset\"");
  auto* preset = json::non_null_member(v, "preset");
  if (preset == nullptr || !preset->IsString() || text_of(*preset) != "claude_code")
    ctx.fail("system_prompt.preset", "must be \"claude_code\"");
  claude::system_prompt_preset out;
  if (auto* append = json::non_null_member(v, "append"))
    out.append = read_argv_text(*append, "system_prompt.append", ctx).value_or("");
  if (ctx.errors.count() == before) req.system_prompt = std::move(out);
}

void decode_agents(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsObject() || v.MemberCount() > turn_limits::agents) {
    ctx.fail("agents", "must be an object of at most 20 subagents");
    return;
  }
  for (auto& m : v.GetObject()) {
    if (!is_agent_name(text_of(m.name))) {
      ctx.fail("agents", "subagent names must match ^[a-z][a-z0-9-]{0,63}$");
      continue;
    }
    decode_agent(text_of(m.name), m.value, ctx, req);
  }
}

void decode_output_format(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsObject()) {
    ctx.fail("output_format", "must be {\"type\":\"json_schema\",\"schema\":{...}}");
    return;
  }
  auto before = ctx.errors.count();
  ctx.errors.reject_unknown(v, "output_format", {"type", "schema"});
  auto* type = json::non_null_member(v, "type");
  if (type == nullptr || !type->IsString() || text_of(*type) != "json_schema")
    ctx.fail("output_format.type", "must be \"json_schema\"");
  auto* schema = json::non_null_member(v, "schema");
  if (schema == nullptr || !schema->IsObject() || !has_valid_type(*schema)) {
    ctx.fail("output_format.schema",
             "must be a JSON Schema object whose type is a type name or a list of them");
    return;
  }
  auto text = json::to_string(*schema);
  if (text.size() > turn_limits::json_schema_bytes)
    ctx.fail("output_format.schema", "must be at most 64 KiB");
  else if (ctx.errors.count() == before)
    req.json_schema = std::move(text);
}

}  // namespace caa::api::detail
