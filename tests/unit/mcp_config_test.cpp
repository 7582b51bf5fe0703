// `${NAME}` references of MCP configs and their expansion into the CLI's `--mcp-config` (only
// from the given variables; nothing with `${` ever reaches the CLI, which would expand it from
// its own environment).
#include "transport/claude/mcp_config.hpp"
#include "transport/claude/argv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

using namespace caa::claude;

namespace {

const std::map<std::string, std::string> tenant_vars{{"TOKEN", "t0k"}, {"EMPTY", ""}};

variable_lookup lookup_in(const std::map<std::string, std::string>& vars) {
  return [&vars](std::string_view name) -> const std::string* {
    auto it = vars.find(std::string{name});
    return it == vars.end() ? nullptr : &it->second;
  };
}

std::variant<std::string, reference_error> expand(std::string_view text) {
  return expand_references(text, lookup_in(tenant_vars));
}

std::string expanded(std::string_view text) {
  auto r = expand(text);
  EXPECT_TRUE(std::holds_alternative<std::string>(r)) << text;
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

reference_error failure(std::string_view text) {
  auto r = expand(text);
  EXPECT_TRUE(std::holds_alternative<reference_error>(r)) << text;
  return std::holds_alternative<reference_error>(r) ? std::get<reference_error>(r)
                                                    : reference_error::malformed;
}

std::string arg_after(const std::vector<std::string>& argv, std::string_view flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it == argv.end() || it + 1 == argv.end() ? std::string{} : *(it + 1);
}

}  // namespace

TEST(mcp_references, expand_from_the_given_variables_only) {
  EXPECT_EQ(expanded("Bearer ${TOKEN}"), "Bearer t0k");
  EXPECT_EQ(expanded("${TOKEN}${TOKEN}-${EMPTY}."), "t0kt0k-.");
  EXPECT_EQ(expanded("${MISSING:-fallback}"), "fallback");
  EXPECT_EQ(expanded("${TOKEN:-fallback}"), "t0k");
  EXPECT_EQ(expanded("${EMPTY:-fallback}"), "");  // configured, even if empty
  EXPECT_EQ(expanded("${MISSING:-}"), "");
  EXPECT_EQ(expanded("no references, $TOKEN and {x} and $ alone"),
            "no references, $TOKEN and {x} and $ alone");
  // The process environment is never consulted.
  ::setenv("CAA_MCP_TEST_PROCESS_VAR", "from-the-environment", 1);
  EXPECT_EQ(failure("${CAA_MCP_TEST_PROCESS_VAR}"), reference_error::unknown);
  EXPECT_EQ(failure("${HOME}"), reference_error::unknown);
  EXPECT_EQ(expanded("${HOME:-none}"), "none");
}

TEST(mcp_references, malformed_and_unsafe_references_are_refused) {
  for (auto text : {"${", "${TOKEN", "${}", "${lower}", "${1X}", "${A-B}", "${ TOKEN}",
                    "${A:-${B}}", "${A:-x${B}"})
    EXPECT_EQ(failure(text), reference_error::malformed) << text;
  std::map<std::string, std::string> tricky{{"BRACE", "{ANTHROPIC_API_KEY}"}};
  auto r = expand_references("$${BRACE}", lookup_in(tricky));
  ASSERT_TRUE(std::holds_alternative<reference_error>(r));
  EXPECT_EQ(std::get<reference_error>(r), reference_error::unsafe);
  EXPECT_TRUE(is_variable_name("_A1") && is_variable_name("TOKEN"));
  EXPECT_FALSE(is_variable_name("") || is_variable_name("9A") || is_variable_name("a") ||
               is_variable_name(std::string(129, 'A')));
}

TEST(mcp_config, expands_stdio_env_and_remote_headers_only) {
  auto out = expand_mcp_config(
      R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","args":["-v"],)"
      R"("env":{"API_TOKEN":"${TOKEN}","MODE":"${MODE:-ro}"}},)"
      R"("r":{"type":"http","url":"https://x.io/mcp","headers":{"Authorization":"Bearer ${TOKEN}"}}}})",
      tenant_vars);
  ASSERT_TRUE(out);
  EXPECT_EQ(
      *out,
      R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","args":["-v"],)"
      R"("env":{"API_TOKEN":"t0k","MODE":"ro"}},)"
      R"("r":{"type":"http","url":"https://x.io/mcp","headers":{"Authorization":"Bearer t0k"}}}})");
}

TEST(mcp_config, nothing_with_a_reference_left_reaches_the_cli) {
  // A reference outside env/headers, an unknown variable, a bad shape: no config at all.
  for (auto config :
       {R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","args":["${TOKEN}"]}}})",
        R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","env":{"A":"${NOPE}"}}}})",
        R"({"mcpServers":{"r":{"type":"sse","url":"https://x.io/$\u007bTOKEN}"}}})",
        R"({"mcpServers":{"r":{"type":"sse","url":"https://x.io","env":{"A":"${TOKEN}"}}}})",
        R"({"mcpServers":[]})", R"({"servers":{}})", "not json"})
    EXPECT_FALSE(expand_mcp_config(config, tenant_vars)) << config;
}

TEST(mcp_config, argv_carries_the_expanded_config_and_strict_flag) {
  driver_config cfg;
  cfg.cli_path = "/opt/claude";
  cfg.variables = tenant_vars;
  query_options opts;
  opts.cwd = "/w";
  opts.mcp_config =
      R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","env":{"T":"${TOKEN}"}}}})";
  auto argv = build_argv(opts, cfg);
  EXPECT_EQ(arg_after(argv, "--mcp-config"),
            R"({"mcpServers":{"s":{"type":"stdio","command":"/bin/srv","env":{"T":"t0k"}}}})");
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--strict-mcp-config"), 1);
  // The stored options are not touched: expansion happens per spawn.
  EXPECT_NE(opts.mcp_config->find("${TOKEN}"), std::string::npos);
  // Unexpandable: the servers are left out rather than passed with a reference.
  cfg.variables.clear();
  argv = build_argv(opts, cfg);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--mcp-config"), 0);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--strict-mcp-config"), 1);
  for (const auto& a : argv) EXPECT_EQ(a.find("${"), std::string::npos) << a;
}
