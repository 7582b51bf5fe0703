// `mcp_servers` in a turn request: the stdio allow-list, `${NAME}` references resolved only
// against the caller's tenant variables, the mapping to the CLI's {"mcpServers":{...}}, and the
// stored options keeping the unexpanded text while the spawn's argv gets the values.
#include "query_test_util.hpp"
#include "transport/api/auth.hpp"
#include "transport/api/turn_builder.hpp"
#include "transport/claude/argv.hpp"

#include <unistd.h>

#include <filesystem>

namespace caa::auth {

struct test_access {
  static http::auth_passkey passkey() { return passkey_issuer::issue(); }
};

}  // namespace caa::auth

using namespace caa;
using namespace caa::api;
using namespace caa::api::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* server_bin = "/usr/local/bin/mcp-files";
constexpr const char* token_value = "s3cr3t-t0ken-value";

decode_policy tenant_policy() {
  auto p = open_policy();
  p.variables.emplace("TOKEN", secret{token_value});
  p.variables.emplace("UNUSED", secret{"unused-value"});
  return p;
}

std::string mcp(std::string_view servers) {
  return with(R"("mcp_servers":)" + std::string{servers});
}

std::string stdio_env(std::string_view value) {
  return mcp(R"({"x":{"command":")" + std::string{server_bin} + R"(","env":{"API_TOKEN":")" +
             std::string{value} + R"("}}})");
}

std::string remote_header(std::string_view value) {
  return mcp(R"({"r":{"type":"http","url":"https://mcp.example.com","headers":{"Authorization":")" +
             std::string{value} + R"("}}})");
}

}  // namespace

TEST(mcp_request, references_resolve_against_the_tenant_variables_only) {
  auto r = accept(stdio_env("Bearer ${TOKEN}"), tenant_policy());
  ASSERT_TRUE(r.mcp_servers);
  EXPECT_NE(r.mcp_servers->find("${TOKEN}"), std::string::npos);  // kept unexpanded
  EXPECT_EQ(r.mcp_servers->find(token_value), std::string::npos);
  EXPECT_EQ(r.mcp_variables, (std::map<std::string, std::string>{{"TOKEN", token_value}}));
  // A default stands in for a variable the tenant does not have; nothing is recorded.
  auto d = accept(stdio_env("${NOT_CONFIGURED:-anonymous}"), tenant_policy());
  EXPECT_TRUE(d.mcp_variables.empty());
  // The service's own environment is never a source.
  ::setenv("CAA_MCP_REQUEST_TEST_VAR", "from-the-environment", 1);
  auto msg = refuse_one(stdio_env("${CAA_MCP_REQUEST_TEST_VAR}"), "mcp_servers.x.env.API_TOKEN",
                        tenant_policy());
  EXPECT_EQ(msg, "refers to a variable that is not configured for this tenant");
  refuse_one(stdio_env("${HOME}"), "mcp_servers.x.env.API_TOKEN", tenant_policy());
  refuse_one(stdio_env("${TOKEN}"), "mcp_servers.x.env.API_TOKEN", open_policy());
}

TEST(mcp_request, header_references_and_errors_never_echo_values) {
  auto r = accept(remote_header("Bearer ${TOKEN}"), tenant_policy());
  EXPECT_EQ(r.mcp_variables.count("TOKEN"), 1u);
  auto errs = refuse(remote_header("Bearer ${MISSING} ${lower}"), tenant_policy());
  ASSERT_EQ(errs.size(), 1u) << dump(errs);
  EXPECT_EQ(errs[0].field, "mcp_servers.r.headers.Authorization");
  EXPECT_EQ(dump(errs).find("Bearer"), std::string::npos);
  refuse_one(remote_header("x ${TOKEN"), "mcp_servers.r.headers.Authorization", tenant_policy());
  refuse_one(remote_header("${A:-${TOKEN}}"), "mcp_servers.r.headers.Authorization",
             tenant_policy());
}

TEST(mcp_request, references_outside_env_and_headers_are_refused) {
  // The CLI would expand them from its own environment (where the Anthropic key is).
  auto p = tenant_policy();
  refuse_one(mcp(R"({"x":{"command":"/usr/local/bin/mcp-files","args":["-v","${TOKEN}"]}})"),
             "mcp_servers.x.args[1]", p);
  refuse_one(mcp(R"({"r":{"type":"sse","url":"https://x.io/${ANTHROPIC_API_KEY}"}})"),
             "mcp_servers.r.url", p);
}

TEST(mcp_request, stdio_commands_come_only_from_the_allow_list) {
  auto p = tenant_policy();
  EXPECT_EQ(refuse_one(mcp(R"({"x":{"command":"/usr/bin/touch","args":["/tmp/pwned"]}})"),
                       "mcp_servers.x.command", p),
            "is not on the operator's allow-list");
  refuse_one(mcp(R"({"x":{"command":"/usr/local/bin/mcp-files/../../../bin/sh"}})"),
             "mcp_servers.x.command", p);
  refuse_one(mcp(R"({"x":{"command":"mcp-files"}})"), "mcp_servers.x.command", p);
  accept(mcp(R"({"x":{"command":"/usr/local/bin/mcp-files","args":["a b","; rm -rf /"]}})"), p);
}

TEST(mcp_request, policy_enables_servers_with_the_callers_tenant_variables) {
  settings cfg;
  cfg.egress.tenant_variables["acme"].emplace("TOKEN", secret{token_value});
  auto key = auth::test_access::passkey();
  http::principal acme{key, "11111111-1111-4111-8111-111111111111", "acme", "k1", true, false};
  http::principal other{key, "22222222-2222-4222-8222-222222222222", "other", "k2", true, false};
  auto p = make_decode_policy(cfg, acme);
  EXPECT_TRUE(p.mcp_servers_enabled);
  ASSERT_EQ(p.variables.count("TOKEN"), 1u);
  EXPECT_EQ(p.variables.at("TOKEN").reveal(), token_value);
  auto q = make_decode_policy(cfg, other);
  EXPECT_TRUE(q.mcp_servers_enabled && q.variables.empty());
}

class mcp_turn_spec_test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("caa-mcp-spec-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    ws_ = std::make_unique<tenant_workspace>(root_.string());
    cfg_.agent.cli_path = "/opt/claude/bin/claude";
    cfg_.sandbox.strict = false;
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  std::unique_ptr<tenant_workspace> ws_;
  settings cfg_;
  std::string tenant = "33333333-3333-4333-8333-333333333333";
};

TEST_F(mcp_turn_spec_test, options_keep_references_and_the_spawn_gets_the_values) {
  auto body = mcp(R"({"x":{"command":"/usr/local/bin/mcp-files","args":["--ro"],)"
                  R"("env":{"API_TOKEN":"${TOKEN}"}},)"
                  R"("r":{"type":"sse","url":"https://mcp.example.com/sse",)"
                  R"("headers":{"X-Key":"${TOKEN:-none}"}}})");
  auto t = decode_turn_body(body, tenant_policy(), turn_route::query);
  ASSERT_TRUE(t);
  auto& d = *t;
  EXPECT_EQ(d.options_json.find(token_value), std::string::npos);
  auto s = make_turn_spec(d.req, d.options_json, cfg_, *ws_, tenant, decode_policy{});
  ASSERT_TRUE(s);
  const auto& spec = **s;
  EXPECT_EQ(spec.options_json.find(token_value), std::string::npos);
  ASSERT_TRUE(spec.options.mcp_config);
  EXPECT_EQ(*spec.options.mcp_config,
            R"({"mcpServers":{"x":{"type":"stdio","command":"/usr/local/bin/mcp-files",)"
            R"("args":["--ro"],"env":{"API_TOKEN":"${TOKEN}"}},)"
            R"("r":{"type":"sse","url":"https://mcp.example.com/sse",)"
            R"("headers":{"X-Key":"${TOKEN:-none}"}}}})");
  EXPECT_EQ(spec.driver.variables, (std::map<std::string, std::string>{{"TOKEN", token_value}}));
  auto argv = claude::build_argv(spec.options, spec.driver);
  auto it = std::find(argv.begin(), argv.end(), "--mcp-config");
  ASSERT_NE(it, argv.end());
  EXPECT_EQ(*(it + 1), R"({"mcpServers":{"x":{"type":"stdio","command":"/usr/local/bin/mcp-files",)"
                       R"("args":["--ro"],"env":{"API_TOKEN":"s3cr3t-t0ken-value"}},)"
                       R"("r":{"type":"sse","url":"https://mcp.example.com/sse",)"
                       R"("headers":{"X-Key":"s3cr3t-t0ken-value"}}}})");
  // A continued session re-decodes its stored options under the caller's current policy.
  auto again = with_stored_options(spec.options_json, d.req, tenant_policy());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->mcp_variables.at("TOKEN"), token_value);
  auto gone = with_stored_options(spec.options_json, d.req, open_policy());
  ASSERT_FALSE(gone);
  EXPECT_EQ(errc_of(gone.error()), errc::validation);
}
