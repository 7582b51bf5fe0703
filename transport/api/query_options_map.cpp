// From a validated turn request to the CLI driver's options: the request's relative paths are
// resolved beneath the tenant's work/ by the kernel, then everything is mapped field by field
// (`mcp_servers` into the CLI's {"mcpServers":{...}}).

#include "config/json_parse.hpp"
#include "transport/api/query_request.hpp"
#include "transport/json/fields.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

namespace caa::api {

namespace {

/// Collects path refusals as field errors; remembers a server-side failure.
struct path_collector {
  const tenant_workspace& ws;
  std::string_view tenant_id;
  uint32_t owner = 0;
  json::field_errors errors;
  bool unavailable = false;

  std::optional<workspace_path> resolve(std::string_view rel, std::string field, if_missing mode) {
    auto r = ws.resolve(tenant_id, rel, mode, owner);
    if (auto* p = std::get_if<workspace_path>(&r)) return std::move(*p);
    auto e = std::get<path_error>(r);
    if (e == path_error::unavailable)
      unavailable = true;
    else
      errors.fail(std::move(field), std::string{message_of(e)});
    return std::nullopt;
  }
};

/// Copies member `name` of `from` to `w` unless it is absent or null.
void copy_member(rapidjson::Writer<rapidjson::StringBuffer>& w, const rapidjson::Value& from,
                 std::string_view name) {
  auto it = from.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == from.MemberEnd() || it->value.IsNull()) return;
  w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  it->value.Accept(w);
}

/// The CLI's `--mcp-config` text for the validated `mcp_servers` object: every server with an
/// explicit type, stdio ones with command, args and env, remote ones with url and headers.
/// `${NAME}` references stay as they are: they are expanded only into a spawn's argv.
std::string mcp_config(std::string_view servers) {
  rapidjson::Document doc;
  // Validated by the decoder (an object of objects); anything else writes no server.
  if (!json::parse_untrusted_object(servers, doc)) doc.SetObject();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("mcpServers");
  w.StartObject();
  for (auto& server : doc.GetObject()) {
    w.Key(server.name.GetString(), server.name.GetStringLength());
    auto type = server.value.FindMember("type");
    bool remote = type != server.value.MemberEnd() && type->value.IsString() &&
                  std::string_view{type->value.GetString()} != "stdio";
    w.StartObject();
    w.Key("type");
    w.String(remote ? type->value.GetString() : "stdio");
    static constexpr std::array<std::string_view, 2> remote_members{"url", "headers"};
    static constexpr std::array<std::string_view, 3> stdio_members{"command", "args", "env"};
    if (remote)
      for (auto name : remote_members) copy_member(w, server.value, name);
    else
      for (auto name : stdio_members) copy_member(w, server.value, name);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::vector<std::string> absolute_paths(const std::vector<workspace_path>& xs) {
  std::vector<std::string> out;
  out.reserve(xs.size());
  for (const auto& x : xs) out.push_back(x.absolute());
  return out;
}

}  // namespace

caf::expected<resolved_paths> resolve_paths(const turn_request& req, const tenant_workspace& ws,
                                            std::string_view tenant_id, uint32_t owner) {
  auto dirs = ws.ensure(tenant_id, owner);
  if (!dirs) return std::move(dirs.error());
  path_collector c{ws, tenant_id, owner, {}};
  // The default cwd is work/ itself; a named cwd is created when missing (a new tenant has an
  // empty work/ and no other way to make directories). add_dirs and plugins must exist.
  auto cwd = req.cwd ? c.resolve(*req.cwd, "cwd", if_missing::create)
                     : c.resolve(".", "cwd", if_missing::refuse);
  std::vector<workspace_path> add_dirs;
  for (std::size_t i = 0; i < req.add_dirs.size(); ++i)
    if (auto p =
            c.resolve(req.add_dirs[i], "add_dirs[" + std::to_string(i) + "]", if_missing::refuse))
      add_dirs.push_back(std::move(*p));
  std::vector<workspace_path> plugins;
  for (std::size_t i = 0; i < req.plugins.size(); ++i)
    if (auto p = c.resolve(req.plugins[i], "plugins[" + std::to_string(i) + "].path",
                           if_missing::refuse))
      plugins.push_back(std::move(*p));
  if (c.unavailable) return make_error(errc::internal, "workspace: path resolution failed");
  if (!c.errors.ok()) return caa::validation_error(c.errors.take());
  return resolved_paths{std::move(*dirs), std::move(*cwd), std::move(add_dirs), std::move(plugins)};
}

claude::query_options to_query_options(const turn_request& req, const resolved_paths& paths) {
  claude::query_options o;
  o.prompt = req.prompt;
  o.images = req.images;
  o.model = req.model;
  o.permission_mode = req.permission_mode;
  o.allowed_tools = req.allowed_tools;
  o.disallowed_tools = req.disallowed_tools;
  o.max_turns = req.max_turns;
  o.max_budget_usd = req.max_budget_usd;
  o.cwd = paths.cwd.absolute();
  o.add_dirs = absolute_paths(paths.add_dirs);
  o.env = req.env;
  o.system_prompt = req.system_prompt;
  o.agents = req.agents;
  o.json_schema = req.json_schema;
  o.include_partial_messages = req.include_partial_messages;
  o.setting_sources = req.setting_sources;
  o.plugins = absolute_paths(paths.plugins);
  o.enable_file_checkpointing = req.enable_file_checkpointing;
  if (req.mcp_servers) o.mcp_config = mcp_config(*req.mcp_servers);
  return o;
}

}  // namespace caa::api
