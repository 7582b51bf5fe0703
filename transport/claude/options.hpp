#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// The Claude Code CLI driver: options, argv/env, process, framing and control codec.
namespace caa::claude {

/// One image of a prompt, sent as a base64 content block next to the text.
struct image_input {
  std::string media_type;  ///< "image/png", "image/jpeg", "image/gif" or "image/webp"
  std::string data;        ///< base64 payload, already validated
};

/// Replace the system prompt with this text (`--system-prompt <text>`).
struct system_prompt_replace {
  std::string text;  ///< the whole system prompt
};

/// Keep the Claude Code preset prompt and optionally append to it (`--append-system-prompt`).
struct system_prompt_preset {
  std::string append;  ///< appended text; empty: the preset alone
};

/// No system prompt given (monostate: the SDK default, `--system-prompt ""`), replace, or preset.
using system_prompt_spec =
    std::variant<std::monostate, system_prompt_replace, system_prompt_preset>;

/// A subagent definition, sent in the `initialize` control request.
struct agent_definition {
  std::string description;           ///< when the main agent should use it
  std::string prompt;                ///< its system prompt
  std::vector<std::string> tools;    ///< allowed tools; empty: inherit all
  std::optional<std::string> model;  ///< "sonnet", "opus", "haiku", "inherit" or a model id
};

/// Everything one CLI process is started with. Plain data, already validated by the API layer
/// (paths absolute and confined to the tenant, names checked, env passed through `validate_env`).
struct query_options {
  std::string prompt;                              ///< the first user message (sent on stdin)
  std::vector<image_input> images;                 ///< images sent with the prompt
  std::optional<std::string> model;                ///< `--model`
  std::optional<std::string> permission_mode;      ///< `--permission-mode`
  std::vector<std::string> allowed_tools;          ///< `--allowedTools a,b`
  std::vector<std::string> disallowed_tools;       ///< `--disallowedTools a,b`
  std::optional<int> max_turns;                    ///< `--max-turns`
  std::optional<double> max_budget_usd;            ///< `--max-budget-usd`
  std::string cwd;                                 ///< absolute working directory of the CLI
  std::vector<std::string> add_dirs;               ///< `--add-dir`, each absolute
  std::map<std::string, std::string> env;          ///< the request's variables (validated)
  system_prompt_spec system_prompt;                ///< see `system_prompt_spec`
  std::map<std::string, agent_definition> agents;  ///< subagents (sent in `initialize`)
  std::optional<std::string> json_schema;          ///< `--json-schema` (compact JSON text)
  std::optional<std::string> mcp_config;  ///< `--mcp-config`: {"mcpServers":{...}}, compact, vetted
  bool include_partial_messages = false;  ///< `--include-partial-messages`
  std::vector<std::string> setting_sources;      ///< `--setting-sources=a,b`; empty loads none
  std::vector<std::string> plugins;              ///< `--plugin-dir`, each absolute
  std::optional<std::string> resume;             ///< `--resume=<id>`
  bool fork_session = false;                     ///< `--fork-session` (with `resume`)
  std::optional<std::string> resume_session_at;  ///< `--resume-session-at=<uuid>`
  std::optional<std::string> session_id;         ///< `--session-id=<uuid>`: new session, our id
  bool permission_prompt_stdio = false;          ///< `--permission-prompt-tool stdio`
  bool enable_file_checkpointing = false;        ///< env CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING
  bool session_mirror = false;                   ///< `--session-mirror`: transcript_mirror frames
  bool replay_user_messages = false;             ///< `--replay-user-messages`: echo our input
};

/// One invalid request field, as listed in a 422 `details.errors` entry.
struct field_error {
  std::string field;    ///< e.g. "env.LD_PRELOAD"
  std::string message;  ///< human text, never echoing a malformed name
};

/// The longest accepted variable name.
inline constexpr std::size_t max_env_name_bytes = 128;

/// The longest accepted variable value.
inline constexpr std::size_t max_env_value_bytes = 4096;

/// The most variables one request may set.
inline constexpr std::size_t max_env_entries = 100;

/// Whether `name` is refused as a request variable: malformed, or on the deny-list (loader,
/// shells, interpreters, proxies and TLS, Anthropic/Claude, process context, everything the
/// server sets itself). Case-insensitive for the `*_PROXY` family.
bool is_denied_env_name(std::string_view name);

/// Checks a request's `env`: names match `^[A-Z_][A-Z0-9_]*$` (at most 128 bytes) and are not
/// deny-listed; values are at most 4 KiB without NUL; at most `max_env_entries` entries.
/// Returns every problem (empty: valid).
std::vector<field_error> validate_env(const std::map<std::string, std::string>& env);

}  // namespace caa::claude
