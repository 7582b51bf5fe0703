#include "transport/claude/argv.hpp"

#include "transport/claude/mcp_config.hpp"

#include <charconv>
#include <map>

namespace caa::claude {

namespace {

std::string join(const std::vector<std::string>& xs, char sep) {
  std::string out;
  for (const auto& x : xs) {
    if (!out.empty()) out += sep;
    out += x;
  }
  return out;
}

/// Shortest text that parses back to `x` ("0.5", "1e-05"); the CLI uses parseFloat.
std::string format_double(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(x);
}

void add_system_prompt(std::vector<std::string>& args, const system_prompt_spec& spec) {
  if (std::holds_alternative<std::monostate>(spec)) {
    // SDK default: the one-line Agent SDK prompt, not the full Claude Code prompt.
    args.insert(args.end(), {"--system-prompt", ""});
  } else if (auto* replace = std::get_if<system_prompt_replace>(&spec)) {
    args.insert(args.end(), {"--system-prompt", replace->text});
  } else if (auto* preset = std::get_if<system_prompt_preset>(&spec)) {
    if (!preset->append.empty())
      args.insert(args.end(), {"--append-system-prompt", preset->append});
  }
}

void add_session_flags(std::vector<std::string>& args, const query_options& opts) {
  // Two tokens: with the one-token `--resume=<id>` form, 2.1.197 ignores `--fork-session`
  // (verified: the "fork" appended to the parent's transcript under the parent's id).
  if (opts.resume) {
    args.push_back("--resume");
    args.push_back(*opts.resume);
  }
  if (opts.fork_session) args.push_back("--fork-session");
  if (opts.resume_session_at) args.push_back("--resume-session-at=" + *opts.resume_session_at);
  if (opts.session_id) args.push_back("--session-id=" + *opts.session_id);
  if (opts.session_mirror) args.push_back("--session-mirror");
  if (opts.replay_user_messages) args.push_back("--replay-user-messages");
}

void add_limits_and_tools(std::vector<std::string>& args, const query_options& opts) {
  if (opts.model) args.insert(args.end(), {"--model", *opts.model});
  if (opts.permission_mode) args.insert(args.end(), {"--permission-mode", *opts.permission_mode});
  if (opts.permission_prompt_stdio) args.insert(args.end(), {"--permission-prompt-tool", "stdio"});
  if (!opts.allowed_tools.empty())
    args.insert(args.end(), {"--allowedTools", join(opts.allowed_tools, ',')});
  if (!opts.disallowed_tools.empty())
    args.insert(args.end(), {"--disallowedTools", join(opts.disallowed_tools, ',')});
  if (opts.max_turns) args.insert(args.end(), {"--max-turns", std::to_string(*opts.max_turns)});
  if (opts.max_budget_usd)
    args.insert(args.end(), {"--max-budget-usd", format_double(*opts.max_budget_usd)});
}

}  // namespace

std::vector<std::string> build_argv(const query_options& opts, const driver_config& cfg) {
  std::vector<std::string> args{cfg.cli_path, "--output-format", "stream-json",
                                "--verbose",  "--input-format",  "stream-json"};
  add_system_prompt(args, opts.system_prompt);
  add_limits_and_tools(args, opts);
  for (const auto& dir : opts.add_dirs) args.insert(args.end(), {"--add-dir", dir});
  for (const auto& dir : opts.plugins) args.insert(args.end(), {"--plugin-dir", dir});
  // Always explicit: without the flag the CLI loads every settings source (SDK default: none).
  args.push_back("--setting-sources=" + join(opts.setting_sources, ','));
  if (opts.json_schema) args.insert(args.end(), {"--json-schema", *opts.json_schema});
  // Expanded only here, for this spawn: the stored options keep the `${NAME}` text. A config
  // that cannot be expanded safely is left out (no server starts; init lists none).
  if (opts.mcp_config)
    if (auto config = expand_mcp_config(*opts.mcp_config, cfg.variables))
      args.insert(args.end(), {"--mcp-config", std::move(*config)});
  // Only servers we pass: a workspace .mcp.json (setting source "project") would otherwise
  // make the CLI start arbitrary stdio commands, bypassing the operator's allow-list.
  args.push_back("--strict-mcp-config");
  if (opts.include_partial_messages) args.push_back("--include-partial-messages");
  add_session_flags(args, opts);
  return args;
}

std::vector<std::string> build_env(const query_options& opts, const driver_config& cfg) {
  std::map<std::string, std::string> vars{opts.env.begin(), opts.env.end()};
  auto set = [&](std::string name, std::string value) { vars[std::move(name)] = std::move(value); };
  set("PATH", cfg.path_env);
  set("HOME", cfg.home_dir);
  set("TMPDIR", cfg.tmp_dir);
  set("LANG", "C.UTF-8");
  set("PWD", opts.cwd);
  set("CLAUDE_CONFIG_DIR", cfg.config_dir);
  set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
  set("DISABLE_AUTOUPDATER", "1");
  set("CLAUDE_CODE_ENTRYPOINT", std::string{cli_entrypoint});
  if (!cfg.anthropic_api_key.empty()) set("ANTHROPIC_API_KEY", cfg.anthropic_api_key);
  if (!cfg.anthropic_base_url.empty()) set("ANTHROPIC_BASE_URL", cfg.anthropic_base_url);
  // Server-controlled: present exactly when asked, whatever the request's env said.
  vars.erase("CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING");
  vars.erase("IS_SANDBOX");
  if (opts.enable_file_checkpointing) set("CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "true");
  if (opts.permission_mode == "bypassPermissions")
    set("IS_SANDBOX", "1");  // the CLI refuses bypass as root without it; the caller decided
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [name, value] : vars) {
    std::string entry;
    entry.reserve(name.size() + 1 + value.size());
    entry.append(name).append(1, '=').append(value);
    out.push_back(std::move(entry));
  }
  return out;
}

spawn_spec make_spawn_spec(const query_options& opts, const driver_config& cfg) {
  spawn_spec spec;
  spec.argv = build_argv(opts, cfg);
  spec.env = build_env(opts, cfg);
  spec.cwd = opts.cwd;
  spec.use_bwrap = cfg.use_bwrap;
  spec.bwrap_path = cfg.bwrap_path;
  spec.writable_dir = cfg.writable_dir;
  spec.hidden_dir = cfg.hidden_dir;
  spec.max_line_bytes = cfg.max_line_bytes;
  spec.stderr_tail_bytes = cfg.stderr_tail_bytes;
  return spec;
}

std::vector<std::string> exec_argv(const spawn_spec& spec) {
  if (spec.sandbox.enabled) {
    std::vector<std::string> out{spec.bwrap_path};
    out.insert(out.end(), spec.sandbox.bwrap_args.begin(), spec.sandbox.bwrap_args.end());
    out.insert(out.end(), {"--chdir", spec.cwd, "--"});
    out.insert(out.end(), spec.argv.begin(), spec.argv.end());
    return out;
  }
  if (!spec.use_bwrap) return spec.argv;
  std::vector<std::string> out{spec.bwrap_path};
  if (spec.writable_dir.empty()) {
    out.insert(out.end(), {"--dev-bind", "/", "/"});
  } else {
    // Read-only system; writable /tmp and the tenant's own tree; other tenants invisible.
    out.insert(out.end(), {"--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/tmp", "/tmp"});
    if (!spec.hidden_dir.empty()) out.insert(out.end(), {"--tmpfs", spec.hidden_dir});
    out.insert(out.end(), {"--bind", spec.writable_dir, spec.writable_dir});
  }
  out.insert(out.end(),
             {"--proc", "/proc", "--unshare-pid", "--die-with-parent", "--chdir", spec.cwd, "--"});
  out.insert(out.end(), spec.argv.begin(), spec.argv.end());
  return out;
}

}  // namespace caa::claude
