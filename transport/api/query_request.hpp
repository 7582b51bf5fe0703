#pragma once

// The turn request of `POST /api/v1/query`, `/query/single`, resume and fork (API.md "Query
// request"): decoded, validated and refined in one step, so later code never sees an unchecked
// value (RELIABILITY R12). Every bad field is reported at once; unknown fields are refused, so
// nothing is accepted and silently ignored (U15).

#include "config/settings.hpp"
#include "transport/claude/options.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/sandbox/workspace.hpp"

#include <rapidjson/document.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caa::http {
class principal;
}  // namespace caa::http

namespace caa::api {

/// Limits of the turn request (API.md and RELIABILITY H16/T9).
namespace turn_limits {
inline constexpr std::size_t prompt_chars = 100'000;          ///< code points
inline constexpr std::size_t images = 20;                     ///< per request
inline constexpr std::size_t image_bytes = 5u << 20;          ///< decoded, per image
inline constexpr std::size_t tools = 100;                     ///< per list
inline constexpr std::size_t tool_rule_chars = 200;           ///< inside `Tool(...)`
inline constexpr int max_turns = 1000;                        ///< upper bound of max_turns
inline constexpr double max_budget_usd = 1000.0;              ///< upper bound of max_budget_usd
inline constexpr std::size_t system_prompt_bytes = 100'000;   ///< one argv element (< 128 KiB)
inline constexpr std::size_t agents = 20;                     ///< subagents
inline constexpr std::size_t agent_description_chars = 1000;  ///< subagent description
inline constexpr std::size_t json_schema_bytes = 64u << 10;   ///< compact schema (argv element)
inline constexpr std::size_t dirs = 20;                       ///< add_dirs entries, plugins
inline constexpr std::size_t mcp_servers = 20;                ///< MCP servers
inline constexpr std::size_t hooks_per_event = 10;            ///< hook entries per event
inline constexpr std::size_t headers = 32;                    ///< per header map
inline constexpr std::size_t title_chars = 200;               ///< metadata.title
inline constexpr std::size_t tags = 20;                       ///< metadata.tags
inline constexpr std::size_t tag_chars = 50;                  ///< one tag
}  // namespace turn_limits

/// What the caller's tenant and the operator allow; everything defaults to the safe choice.
struct decode_policy {
  bool allow_bypass = false;     ///< `bypassPermissions` allowed for this tenant
  bool allow_http_urls = false;  ///< hook and MCP URLs may be `http://` (else https only)
  /// EGRESS_ALLOW_CIDRS: hook and MCP URL hosts that are IP literals (or `localhost`) inside
  /// these networks are allowed (else refused, like metadata names: outbound::check_url).
  std::vector<std::string> egress_allow_cidrs;
  bool mcp_servers_enabled = false;  ///< `mcp_servers` is wired to the CLI (else refused: U15)
  bool hooks_enabled = false;        ///< `hooks` is wired to a dispatcher (else refused: U15)
  std::vector<std::string> mcp_stdio_commands;  ///< allowed stdio MCP commands (exact paths)
  /// The tenant's variables for `${NAME}` in MCP env and header values (TENANT_VARIABLES_FILE).
  config::tenant_variable_map variables;
  int64_t agent_slot = -1;          ///< the tenant's slot in the sandbox uid range (-1: unknown)
  std::string tenant_name;          ///< the caller's tenant name (what the policy was made for)
  bool async_events = false;        ///< EVENT_DURABILITY is async (a turn's default)
  bool allow_async_events = false;  ///< the tenant may choose `durability: "async"`
};

/// The policy for `caller` under `cfg`: bypass when its tenant name is in
/// BYPASS_PERMISSIONS_TENANTS, http URLs when WEBHOOK_ALLOW_HTTP, the stdio allow-list from
/// MCP_STDIO_ALLOWED_COMMANDS, `mcp_servers` on with the variables of the caller's tenant name
/// from TENANT_VARIABLES_FILE. `hooks_enabled` is on (webhooks through the outbound client).
decode_policy make_decode_policy(const settings& cfg, const http::principal& caller);

/// The same for a caller known by its tenant name and slot (a turn another node forwarded).
decode_policy make_decode_policy(const settings& cfg, const std::string& tenant_name,
                                 int64_t agent_slot);

/// Session metadata stored with the session (never sent to the CLI).
struct request_metadata {
  std::optional<std::string> title;  ///< at most 200 characters
  std::vector<std::string> tags;     ///< at most 20 tags of 1..50 characters
};

/// A decoded and validated turn request. Paths are still the client's relative text: resolve
/// them with `resolve_paths` before use.
struct turn_request {
  std::string prompt;                         ///< 1..100,000 code points, not blank
  std::vector<claude::image_input> images;    ///< validated base64 images
  std::optional<std::string> session_id;      ///< lower-case UUID of a session to continue
  std::optional<std::string> model;           ///< alias or `claude-...` id
  std::string permission_mode = "default";    ///< one of the five modes, allowed by policy
  std::vector<std::string> allowed_tools;     ///< tool names or rules
  std::vector<std::string> disallowed_tools;  ///< tool names or rules
  std::optional<int> max_turns;               ///< 1..1000
  std::optional<double> max_budget_usd;       ///< (0, 1000]
  std::optional<std::string> cwd;             ///< relative to the tenant's work/
  std::vector<std::string> add_dirs;          ///< relative to the tenant's work/
  std::map<std::string, std::string> env;     ///< passed `claude::validate_env`
  claude::system_prompt_spec system_prompt;   ///< none, replace, or preset + append
  std::map<std::string, claude::agent_definition> agents;  ///< subagents by name
  std::optional<std::string> mcp_servers;                  ///< compact JSON object, shape-validated
  /// The values of the tenant variables that `mcp_servers` refers to (secrets: never stored;
  /// the options keep the `${NAME}` text).
  std::map<std::string, std::string> mcp_variables;
  std::optional<std::string> hooks;          ///< compact JSON object, shape-validated
  std::optional<std::string> json_schema;    ///< compact schema of `output_format`
  bool include_partial_messages = false;     ///< stream `partial` events
  bool enable_file_checkpointing = false;    ///< checkpoints and rewind
  std::vector<std::string> setting_sources;  ///< subset of {user, project}, no repeats
  std::vector<std::string> plugins;          ///< plugin directories, relative
  request_metadata metadata;                 ///< title and tags
  /// `durability`: true for async (events sent before they are stored), false for sync; unset:
  /// EVENT_DURABILITY decides.
  std::optional<bool> async_events;
};

/// Decodes a request body. Unparsable JSON (or not an object, too deep, duplicate top-level
/// keys) is `errc::bad_request`; any invalid field is one `caa::validation_error` listing them
/// all.
caf::expected<turn_request> decode_turn_request(std::string_view body, const decode_policy& policy);

/// Decodes the turn fields of an already parsed object (e.g. a WebSocket `prompt` frame);
/// members named in `extra_fields` are left to the caller instead of being refused as unknown.
caf::expected<turn_request> decode_turn_object(
    const rapidjson::Value& obj, const decode_policy& policy,
    std::initializer_list<std::string_view> extra_fields = {});

/// The JSON Schema (2020-12) of the turn request, generated from the decoder's own field table
/// (the one its unknown-field check reads, so the two cannot drift); `extra` adds the members of
/// one route (name, schema text), e.g. fork's `at_message_id`.
std::string turn_request_schema(
    std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {});

/// Whether `name` is a tool name or rule: `^[A-Za-z][A-Za-z0-9_]{0,63}$` or
/// `mcp__<server>[__<tool>]` (segments `[A-Za-z0-9_-]{1,64}`), optionally followed by one
/// `(rule)` of 1..200 printable ASCII characters without `(`, `)` or `,` (the CLI gets the list
/// comma-joined).
bool is_tool_name(std::string_view name) noexcept;

/// Whether `model` is `sonnet`, `opus`, `haiku` or `claude-[a-z0-9.-]{1,64}` with an optional
/// `[1m]` suffix.
bool is_model_name(std::string_view model) noexcept;

/// Whether `mode` is one of default, acceptEdits, plan, bypassPermissions, dontAsk.
bool is_permission_mode(std::string_view mode) noexcept;

/// The request's paths, resolved beneath the tenant's `work/` by the kernel.
struct resolved_paths {
  tenant_dirs dirs;                      ///< the tenant's work/config/home/tmp
  workspace_path cwd;                    ///< `cwd` (created if missing), or work/ itself
  std::vector<workspace_path> add_dirs;  ///< each `add_dirs` entry (must exist)
  std::vector<workspace_path> plugins;   ///< each plugin path (must exist)
};

/// Ensures the tenant's directories and resolves every path of `req`: a refused path is a field
/// error (`cwd`, `add_dirs[i]`, `plugins[i].path`), all listed in one `validation_error`; a
/// server-side failure is `errc::internal`.
caf::expected<resolved_paths> resolve_paths(const turn_request& req, const tenant_workspace& ws,
                                            std::string_view tenant_id, uint32_t owner = 0);

/// The driver's options for `req`, with the resolved absolute paths. `session_id`, `resume`
/// and the other session flags are left to the session actor; `hooks` and `metadata` are not
/// CLI options of this layer. `mcp_servers` becomes `mcp_config`, {"mcpServers":{...}} with an
/// explicit `type` per server and the `${NAME}` references still unexpanded.
claude::query_options to_query_options(const turn_request& req, const resolved_paths& paths);

}  // namespace caa::api
