#pragma once

// The `--mcp-config` text and its `${NAME}` / `${NAME:-default}` references. The CLI itself
// expands such references anywhere in the config from its own environment (verified with
// 2.1.197: args, env), which holds the service's Anthropic key; so the config passed to it must
// contain no `${` at all. References are allowed only in stdio `env` values and remote `headers`
// values, and are expanded here from the tenant's configured variables, never from an
// environment.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace caa::claude {

/// Why the references of a text cannot be expanded.
enum class reference_error : uint8_t {
  malformed,  ///< a `${` that does not open `${NAME}` or `${NAME:-default}`
  unknown,    ///< `${NAME}` without a default, and the tenant has no variable NAME
  unsafe,     ///< the expanded text contains `${` (the CLI would expand it once more)
};

/// The value of variable `name`, or nullptr when there is none.
using variable_lookup = std::function<const std::string*(std::string_view name)>;

/// Whether `name` is a variable name: `^[A-Z_][A-Z0-9_]*$`, at most 128 bytes.
bool is_variable_name(std::string_view name) noexcept;

/// `text` with every `${NAME}` replaced by the value of NAME and every `${NAME:-default}` by
/// that value or, when there is none, by `default` (which may not contain `${` or `}`).
std::variant<std::string, reference_error> expand_references(std::string_view text,
                                                             const variable_lookup& lookup);

/// The `--mcp-config` text to pass for `config` ({"mcpServers":{name:{...}}}): the `env`
/// values of stdio servers and the `headers` values of remote servers expanded from `vars`.
/// nullopt when `config` is not such an object, a value cannot be expanded, or any text of the
/// result still contains `${`.
std::optional<std::string> expand_mcp_config(std::string_view config,
                                             const std::map<std::string, std::string>& vars);

}  // namespace caa::claude
