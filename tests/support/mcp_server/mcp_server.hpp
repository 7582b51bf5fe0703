#pragma once

// A minimal MCP server for tests: newline-delimited JSON-RPC 2.0 on stdin/stdout, the way the
// Claude Code CLI talks to a stdio server. Two tools: `echo` (returns "echo: <text>") and `env`
// (returns the value of one variable of the server's environment, to show what reached it).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mcp_test {

/// Looks a variable of the server's environment up (nullopt: unset).
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The name and version the server reports in `serverInfo`.
inline constexpr std::string_view server_name = "caa-test-mcp";

/// The answer to one input line: a JSON-RPC response without the newline, or nullopt for a
/// notification (no `id`) and for blank lines. Unparsable input gets a parse error (-32700)
/// with id null; unknown methods -32601; bad tool arguments a tool result with `isError`.
std::optional<std::string> handle_line(std::string_view line, const env_lookup& env);

}  // namespace mcp_test
