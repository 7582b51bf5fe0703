// Decoders of `mcp_servers` and `hooks`: shape (RELIABILITY H17 header and env policy, URL form)
// and, for MCP servers, the stdio allow-list and the `${NAME}` references of env and header
// values (resolved against the tenant's variables only); kept as compact JSON text. Because
// unknown and duplicate keys are refused, the text is exactly what was validated.

#include "transport/api/query_decode.hpp"

#include "transport/claude/mcp_config.hpp"
#include "transport/json/json.hpp"
#include "transport/outbound/client.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <variant>

namespace caa::api::detail {

namespace {

constexpr std::size_t max_header_value_bytes = 4096;
constexpr std::size_t max_command_bytes = 1024;
constexpr std::size_t max_args = 100;
constexpr std::size_t max_arg_bytes = 4096;

/// Why `url` may not be called back (outbound::check_url under the operator's egress policy:
/// https, or http when allowed; no IP-literal, local or metadata host outside EGRESS_ALLOW_CIDRS),
/// or nothing. The reason never echoes the URL. Resolved addresses are checked again at use.
std::optional<std::string> url_refusal(std::string_view url, const decode_policy& policy) {
  outbound::egress_policy egress;
  egress.allow_cidrs = policy.egress_allow_cidrs;
  egress.allow_http = policy.allow_http_urls;
  return outbound::check_url(url, egress);
}

/// Whether `c` is an RFC 9110 token character.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

/// A header map (H17): token names of at most 64 characters, not reserved; values of at most
/// 4 KiB without CR, LF, NUL or other controls (tab allowed). Values are never echoed.
void check_headers(const rapidjson::Value& v, const std::string& path, decode_context& ctx) {
  if (!v.IsObject() || v.MemberCount() > turn_limits::headers) {
    ctx.fail(path, "must be an object of at most 32 string headers");
    return;
  }
  for (auto& m : v.GetObject()) {
    auto name = text_of(m.name);
    if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), is_tchar)) {
      ctx.fail(path, "header names must be HTTP tokens of at most 64 characters");
      continue;
    }
    auto field = path + "." + std::string{name};
    if (outbound::is_reserved_header(name)) {
      ctx.fail(field, "this header may not be set");
      continue;
    }
    auto value = m.value.IsString() ? text_of(m.value) : std::string_view{};
    bool ok = m.value.IsString() && value.size() <= max_header_value_bytes &&
              std::none_of(value.begin(), value.end(), [](char ch) {
                auto c = static_cast<unsigned char>(ch);
                return (c < 0x20 && c != '\t') || c == 0x7F;
              });
    if (!ok) ctx.fail(field, "must be a string of at most 4096 bytes without control characters");
  }
}

/// The tenant variables a request's servers use, by name (values are secrets).
using used_variables = std::map<std::string, std::string>;

std::string_view message_of(claude::reference_error e) {
  switch (e) {
    case claude::reference_error::malformed:
      return "has a ${ that is not ${NAME} or ${NAME:-default} (NAME [A-Z_][A-Z0-9_]*)";
    case claude::reference_error::unknown:
      return "refers to a variable that is not configured for this tenant";
    case claude::reference_error::unsafe:
      return "expands to text that contains ${";
  }
  return "is invalid";
}

/// Checks the `${NAME}` references of the value at `field` against the tenant's variables (never
/// the server's environment) and records the variables it uses. The value is never echoed.
void check_references(std::string_view text, const std::string& field, decode_context& ctx,
                      used_variables& used) {
  claude::variable_lookup lookup = [&](std::string_view name) -> const std::string* {
    auto it = ctx.policy.variables.find(std::string{name});
    if (it == ctx.policy.variables.end()) return nullptr;
    used.emplace(it->first, it->second.reveal());
    return &it->second.reveal();
  };
  auto r = claude::expand_references(text, lookup);
  if (auto* e = std::get_if<claude::reference_error>(&r))
    ctx.fail(field, std::string{message_of(*e)});
}

/// Refuses `${` in a member the CLI would expand from its own environment (where the service's
/// Anthropic key lives): variables are allowed only in env and header values.
void refuse_references(const rapidjson::Value* v, const std::string& field, decode_context& ctx) {
  if (v != nullptr && v->IsString() && text_of(*v).find("${") != std::string_view::npos)
    ctx.fail(field, "may not contain ${ (variables are expanded only in env and headers)");
}

void check_stdio_server(const rapidjson::Value& v, const std::string& path, decode_context& ctx,
                        used_variables& used) {
  ctx.errors.reject_unknown(v, path, {"type", "command", "args", "env"});
  auto* command = json::non_null_member(v, "command");
  if (command == nullptr || !command->IsString() || command->GetStringLength() == 0 ||
      command->GetStringLength() > max_command_bytes || has_control(text_of(*command))) {
    ctx.fail(path + ".command", "must be a command path");
  } else {
    const auto& allowed = ctx.policy.mcp_stdio_commands;
    if (std::find(allowed.begin(), allowed.end(), text_of(*command)) == allowed.end())
      ctx.fail(path + ".command", "is not on the operator's allow-list");
  }
  if (auto* args = json::non_null_member(v, "args")) {
    bool ok = args->IsArray() && args->Size() <= max_args;
    for (rapidjson::SizeType i = 0; ok && i < args->Size(); ++i)
      ok = (*args)[i].IsString() && (*args)[i].GetStringLength() <= max_arg_bytes &&
           text_of((*args)[i]).find('\0') == std::string_view::npos;
    if (!ok)
      ctx.fail(path + ".args", "must be a list of at most 100 strings of at most 4096 bytes");
    for (rapidjson::SizeType i = 0; ok && i < args->Size(); ++i)
      refuse_references(&(*args)[i], path + ".args[" + std::to_string(i) + "]", ctx);
  }
  if (auto* env = json::non_null_member(v, "env"))
    for (const auto& [name, value] : read_env(*env, path + ".env", ctx)) {
      std::string where = path;
      where.append(".env.").append(name);
      check_references(value, where, ctx, used);
    }
}

/// Checks the references of the header values whose names `check_headers` accepted.
void check_header_references(const rapidjson::Value& v, const std::string& path,
                             decode_context& ctx, used_variables& used) {
  if (!v.IsObject()) return;
  for (auto& m : v.GetObject()) {
    auto name = text_of(m.name);
    bool token =
        !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), is_tchar);
    if (token && m.value.IsString())
      check_references(text_of(m.value), path + "." + std::string{name}, ctx, used);
  }
}

void check_remote_server(const rapidjson::Value& v, const std::string& path, decode_context& ctx,
                         used_variables& used) {
  ctx.errors.reject_unknown(v, path, {"type", "url", "headers"});
  auto* url = json::non_null_member(v, "url");
  if (url == nullptr || !url->IsString())
    ctx.fail(path + ".url", ctx.policy.allow_http_urls ? "must be an http(s) URL with a host"
                                                       : "must be an https URL with a host");
  else if (auto why = url_refusal(text_of(*url), ctx.policy))
    ctx.fail(path + ".url", *why);
  if (auto* headers = json::non_null_member(v, "headers")) {
    check_headers(*headers, path + ".headers", ctx);
    check_header_references(*headers, path + ".headers", ctx, used);
  }
}

void check_mcp_server(const rapidjson::Value& v, const std::string& path, decode_context& ctx,
                      used_variables& used) {
  if (!v.IsObject()) {
    ctx.fail(path, "must be an object");
    return;
  }
  auto* type = json::non_null_member(v, "type");
  auto kind = type != nullptr && type->IsString() ? text_of(*type) : std::string_view{};
  if (type == nullptr || kind == "stdio")
    check_stdio_server(v, path, ctx, used);
  else if (kind == "sse" || kind == "http")
    check_remote_server(v, path, ctx, used);
  else
    ctx.fail(path + ".type", "must be stdio, sse or http");
  refuse_references(json::non_null_member(v, "command"), path + ".command", ctx);
  refuse_references(json::non_null_member(v, "url"), path + ".url", ctx);
}

bool is_hook_event(std::string_view name) {
  constexpr std::string_view events[] = {"PreToolUse",   "PostToolUse", "UserPromptSubmit", "Stop",
                                         "SubagentStop", "PreCompact",  "Notification"};
  return std::find(std::begin(events), std::end(events), name) != std::end(events);
}

void check_hook(const rapidjson::Value& v, const std::string& path, decode_context& ctx) {
  if (!v.IsObject()) {
    ctx.fail(path, "must be an object {url, matcher?, timeout?, headers?}");
    return;
  }
  ctx.errors.reject_unknown(v, path, {"url", "matcher", "timeout", "headers"});
  auto* url = json::non_null_member(v, "url");
  if (url == nullptr || !url->IsString())
    ctx.fail(path + ".url", ctx.policy.allow_http_urls ? "must be an http(s) URL with a host"
                                                       : "must be an https URL with a host");
  else if (auto why = url_refusal(text_of(*url), ctx.policy))
    ctx.fail(path + ".url", *why);
  if (auto* m = json::non_null_member(v, "matcher")) {
    auto text = m->IsString() ? text_of(*m) : std::string_view{};
    bool ok = !text.empty() && text.size() <= 200 &&
              std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
    if (!ok) ctx.fail(path + ".matcher", "must be 1 to 200 printable ASCII characters");
  }
  if (auto* t = json::non_null_member(v, "timeout");
      t != nullptr && !(t->IsInt64() && t->GetInt64() >= 1 && t->GetInt64() <= 300))
    ctx.fail(path + ".timeout", "must be an integer between 1 and 300 (seconds)");
  if (auto* headers = json::non_null_member(v, "headers"))
    check_headers(*headers, path + ".headers", ctx);
}

}  // namespace

void decode_mcp_servers(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsObject() || v.MemberCount() > turn_limits::mcp_servers) {
    ctx.fail("mcp_servers", "must be an object of at most 20 servers");
    return;
  }
  auto before = ctx.errors.count();
  used_variables used;
  for (auto& m : v.GetObject()) {
    if (!is_segment(text_of(m.name)))
      ctx.fail("mcp_servers", "server names must match ^[A-Za-z0-9_-]{1,64}$");
    else
      check_mcp_server(m.value, "mcp_servers." + std::string{text_of(m.name)}, ctx, used);
  }
  if (ctx.errors.count() != before) return;
  if (!ctx.policy.mcp_servers_enabled) {
    ctx.fail("mcp_servers", "is not enabled on this server");
  } else {
    req.mcp_servers = json::to_string(v);
    req.mcp_variables = std::move(used);
  }
}

void decode_hooks(const rapidjson::Value& v, decode_context& ctx, turn_request& req) {
  if (!v.IsObject()) {
    ctx.fail("hooks", "must be an object of hook events");
    return;
  }
  auto before = ctx.errors.count();
  for (auto& m : v.GetObject()) {
    if (!is_hook_event(text_of(m.name))) {
      ctx.fail("hooks",
               "events must be PreToolUse, PostToolUse, UserPromptSubmit, Stop, "
               "SubagentStop, PreCompact or Notification");
      continue;
    }
    auto path = "hooks." + std::string{text_of(m.name)};
    if (!m.value.IsArray() || m.value.Empty() || m.value.Size() > turn_limits::hooks_per_event) {
      ctx.fail(path, "must be a list of 1 to 10 hooks");
      continue;
    }
    for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i)
      check_hook(m.value[i], path + "[" + std::to_string(i) + "]", ctx);
  }
  if (ctx.errors.count() != before) return;
  if (!ctx.policy.hooks_enabled)
    ctx.fail("hooks", "is not enabled on this server");
  else
    req.hooks = json::to_string(v);
}

}  // namespace caa::api::detail
