#include "transport/api/turn_builder.hpp"
#include <filesystem>
#include "config/json_parse.hpp"
#include "config/uuid.hpp"

#include "transport/json/json.hpp"
#include "transport/sandbox/tenant_files.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

namespace caa::api {

namespace {

/// Members of a turn body that are not spawn options of the CLI process.
constexpr std::array<std::string_view, 6> turn_only_members{
    "prompt", "images", "session_id", "metadata", "at_message_id", "durability"};

bool is_turn_only(std::string_view name) {
  return std::find(turn_only_members.begin(), turn_only_members.end(), name) !=
         turn_only_members.end();
}

std::string_view name_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

/// The spawn options of `obj` as compact JSON, and whether there are any (non-null).
std::string spawn_options(const rapidjson::Value& obj, bool& any) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  any = false;
  for (auto& m : obj.GetObject()) {
    if (is_turn_only(name_of(m.name))) continue;
    any = any || !m.value.IsNull();
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

/// Checks the members that depend on the route; appends to `errors`.
void check_route_members(const rapidjson::Value& obj, turn_route route, std::string_view path_id,
                         std::vector<caa::field_error>& errors,
                         std::optional<std::string>& at_message_id) {
  auto sid = obj.FindMember("session_id");
  bool has_sid = sid != obj.MemberEnd() && !sid->value.IsNull();
  if (route == turn_route::fork && has_sid)
    errors.push_back({"session_id", "is not allowed on fork (the path names the parent)"});
  if (route == turn_route::resume && has_sid && sid->value.IsString() &&
      lower(std::string{name_of(sid->value)}) != path_id)
    errors.push_back({"session_id", "must match the session in the path"});
  if (route != turn_route::fork) return;
  auto at = obj.FindMember("at_message_id");
  if (at == obj.MemberEnd() || at->value.IsNull()) return;
  if (!at->value.IsString() || !caa::is_uuid(name_of(at->value)))
    errors.push_back({"at_message_id", "must be a UUID"});
  else
    at_message_id = lower(std::string{name_of(at->value)});
}

}  // namespace

caf::expected<decoded_turn> decode_turn_body(std::string_view body, const decode_policy& policy,
                                             turn_route route, std::string_view path_id) {
  rapidjson::Document doc;
  std::string why;
  if (!json::parse_object(body, doc, why)) return make_error(errc::bad_request, why);
  std::vector<caa::field_error> errors;
  decoded_turn out;
  auto decoded = route == turn_route::fork ? decode_turn_object(doc, policy, {"at_message_id"})
                                           : decode_turn_object(doc, policy);
  if (!decoded) {
    if (errc_of(decoded.error()) != errc::validation) return std::move(decoded.error());
    errors = caa::fields_of(decoded.error());
  }
  check_route_members(doc, route, path_id, errors, out.at_message_id);
  if (!errors.empty()) return caa::validation_error(std::move(errors));
  out.req = std::move(*decoded);
  out.options_json = spawn_options(doc, out.has_spawn_options);
  return out;
}

caf::expected<turn_request> with_stored_options(std::string_view stored_options_json,
                                                const turn_request& turn,
                                                const decode_policy& policy) {
  rapidjson::Document doc;
  if (!json::parse_untrusted_object(stored_options_json, doc))
    return make_error(errc::internal, "stored session options are not a JSON object");
  for (auto name : turn_only_members)
    doc.RemoveMember(rapidjson::StringRef(name.data(), name.size()));
  // A placeholder prompt: the real one (and the images, already validated) are set below.
  doc.AddMember("prompt", "x", doc.GetAllocator());
  auto decoded = decode_turn_object(doc, policy);
  if (!decoded) return std::move(decoded.error());
  auto& req = *decoded;
  req.prompt = turn.prompt;
  req.images = turn.images;
  req.session_id = turn.session_id;
  req.metadata = turn.metadata;
  req.async_events = turn.async_events;
  return std::move(req);
}

caf::expected<turn_spec_ptr> make_turn_spec(const turn_request& req, std::string options_json,
                                            const settings& cfg, const tenant_workspace& ws,
                                            std::string_view tenant_id,
                                            const decode_policy& policy) {
  uint32_t uid = agent_uid_of(cfg.sandbox, policy.agent_slot);
  if (cfg.sandbox.strict && uid == 0)
    return make_error(errc::internal, "sandbox: the tenant has no uid in AGENT_UID_BASE/COUNT");
  auto resolved = resolve_paths(req, ws, tenant_id, uid);
  if (!resolved) return std::move(resolved.error());
  auto& paths = *resolved;
  // TENANT_DISK_QUOTA: checked before each turn (nothing is deleted; the tenant frees space).
  if (auto quota = cfg.sandbox.disk_quota; quota > 0) {
    auto used =
        sandbox::tree_bytes(paths.dirs.work, quota) + sandbox::tree_bytes(paths.dirs.config, quota);
    if (used > quota) return make_error(errc::quota_exceeded, "tenant over TENANT_DISK_QUOTA");
  }
  auto spec = std::make_shared<turn_spec>();
  spec->prompt = req.prompt;
  spec->images = req.images;
  spec->async_events = req.async_events.value_or(policy.async_events);
  spec->options = to_query_options(req, paths);
  auto& d = spec->driver;
  d.cli_path = cfg.agent.cli_path;
  d.config_dir = paths.dirs.config;
  d.writable_dir = paths.dirs.root;
  d.hidden_dir = std::filesystem::path{paths.dirs.root}.parent_path().string();
  d.home_dir = paths.dirs.home;
  d.tmp_dir = paths.dirs.tmp;
  d.tenant_id = std::string{tenant_id};
  d.agent_uid = uid;
  // Sandboxed, the CLI reaches the model only through the service's proxy, which holds the
  // real key: the key never enters the spawn.
  if (cfg.agent.anthropic_api_key && uid == 0)
    d.anthropic_api_key = cfg.agent.anthropic_api_key->reveal();
  if (uid == 0) d.anthropic_base_url = cfg.agent.anthropic_base_url.value_or("");
  d.use_bwrap = true;
  d.variables = req.mcp_variables;  // expanded into the argv only; options_json keeps ${NAME}
  spec->options_json = std::move(options_json);
  spec->cwd_relative = paths.cwd.relative();
  spec->hooks_json = req.hooks.value_or("");
  spec->tenant_name = policy.tenant_name;
  spec->agent_slot = policy.agent_slot;
  return turn_spec_ptr{std::move(spec)};
}

caf::expected<turn_spec_ptr> rebuild_turn(const portable_turn& turn, const settings& cfg,
                                          const tenant_workspace& ws) {
  auto policy = make_decode_policy(cfg, turn.tenant_name, turn.agent_slot);
  turn_request req;
  req.prompt = turn.prompt;
  req.images = turn.images;
  req.async_events = turn.async_events;  // decided (and allowed) where the request came in
  auto merged = with_stored_options(turn.options_json, req, policy);
  if (!merged) return std::move(merged.error());
  return make_turn_spec(*merged, turn.options_json, cfg, ws, turn.tenant_id, policy);
}

new_session make_new_session(const turn_request& req, const turn_spec& spec,
                             std::string tenant_id) {
  new_session ns;
  ns.tenant_id = std::move(tenant_id);
  ns.options_json = spec.options_json;
  if (req.model) ns.model = *req.model;
  ns.permission_mode = req.permission_mode;
  ns.cwd_relative = spec.cwd_relative;
  if (req.metadata.title) ns.title = *req.metadata.title;
  ns.tags = req.metadata.tags;
  return ns;
}

}  // namespace caa::api
