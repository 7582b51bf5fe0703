#include "config/loader.hpp"
#include "config/secret.hpp"
#include "config/variables.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <type_traits>

using namespace caa;
using env_map = std::map<std::string, std::string>;

namespace {

load_result load(const env_map& env, std::vector<std::string> args = {}) {
  std::vector<const char*> argv{"caa"};
  for (const auto& x : args) argv.push_back(x.c_str());
  return load_settings(static_cast<int>(argv.size()), argv.data(), env);
}

std::string joined(const load_result& r) {
  std::string out;
  for (const auto& e : r.errors) out += e + "\n";
  return out;
}

/// The single error of loading `env`, or a marker when there is not exactly one.
std::string only_error(const env_map& env) {
  auto r = load(env);
  return r.errors.size() == 1 ? r.errors[0] : "<" + std::to_string(r.errors.size()) + " errors>";
}

std::string write_file(const std::string& name, const std::string& text) {
  auto path = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
  std::ofstream{path} << text;
  return path;
}

const std::string valid_key = "kA9_-" + std::string(27, 'z');  // 32 characters

}  // namespace

TEST(load_settings, defaults_without_environment) {
  auto r = load({});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 54000);
  EXPECT_EQ(r.value->level, log_level::info);
  EXPECT_FALSE(r.value->auth.bootstrap_key);
  auto suffix = "-" + std::to_string(getpid());
  EXPECT_TRUE(r.value->cluster.node_id.ends_with(suffix)) << r.value->cluster.node_id;
  EXPECT_GT(r.value->cluster.node_id.size(), suffix.size());
}

TEST(load_settings, turn_routes_wait_longer_than_admission) {
  auto r = load({{"ADMISSION_WAIT", "45"}, {"API_REQUEST_TIMEOUT", "10"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.request_timeout.count(), 10);
  EXPECT_EQ(r.value->http.query_request_timeout.count(), 75);  // ADMISSION_WAIT + 30 s
  auto longer = load({{"ADMISSION_WAIT", "1"}, {"API_REQUEST_TIMEOUT", "120"}});
  ASSERT_TRUE(longer.value) << joined(longer);
  EXPECT_EQ(longer.value->http.query_request_timeout.count(), 120);
}

TEST(load_settings, knows_every_variable_named_in_settings_hpp) {
  std::ifstream in{CAA_SETTINGS_HPP};
  ASSERT_TRUE(in);
  // A field's doc line starts with its env name: "/// API_PORT" or "/// API_KEY (secret...)".
  std::regex doc{R"(^\s*///\s+([A-Z][A-Z0-9_]+)(\s*$|\s+\())"};
  std::set<std::string> names;
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, doc)) names.insert(m[1]);
  for (const auto& name : names) EXPECT_NE(config::find_variable(name), nullptr) << name;
  EXPECT_EQ(names.size(), config::variables().size());
}

TEST(load_settings, reads_environment_and_ignores_unknown_names) {
  auto r = load({{"API_PORT", "8080"},
                 {"LOG_LEVEL", "debug"},
                 {"DB_TIMEOUT", "0.5"},
                 {"TRUSTED_PROXIES", "10.0.0.0/8, ::1"},
                 {"NODE_ID", "n1"},
                 {"PATH", "/bin"},
                 {"CAA_UNKNOWN", "x"},
                 {"api_port", "1"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 8080);
  EXPECT_EQ(r.value->level, log_level::debug);
  EXPECT_EQ(r.value->storage.db_timeout.count(), 0.5);
  EXPECT_EQ(r.value->http.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
  EXPECT_EQ(r.value->cluster.node_id, "n1");
}

TEST(load_settings, flags_beat_file_beat_environment) {
  auto file = write_file("prec", "API_PORT=2\nDB_POOL_SIZE=7\n");
  env_map env{{"API_PORT", "1"}, {"DB_POOL_SIZE", "5"}, {"REDIS_POOL_SIZE", "3"}};
  auto r = load(env, {"--config", file, "--api-port=3"});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 3);
  EXPECT_EQ(r.value->storage.db_pool_size, 7u);
  EXPECT_EQ(r.value->storage.redis_pool_size, 3u);
  r = load(env, {"--config=" + file});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 2);
}

TEST(load_settings, accepts_both_flag_forms_and_bare_booleans) {
  auto r = load({}, {"--api-port", "123", "--db-pool-size=9", "--debug", "--cors-origins", "*"});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 123);
  EXPECT_EQ(r.value->storage.db_pool_size, 9u);
  EXPECT_TRUE(r.value->debug);
  r = load({{"DEBUG", "true"}}, {"--debug", "false", "--webhook-allow-http"});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_FALSE(r.value->debug);
  EXPECT_TRUE(r.value->egress.webhook_allow_http);
}

TEST(load_settings, rejects_bad_arguments_without_echoing_values) {
  auto r = load({}, {"--api-prot=hunter2", "--API-PORT=1", "positional-hunter2", "--api-port"});
  EXPECT_FALSE(r.value);
  ASSERT_EQ(r.errors.size(), 4u) << joined(r);
  EXPECT_EQ(r.errors[0], "unknown flag \"--api-prot\"");
  EXPECT_EQ(r.errors[1], "unknown flag \"--API-PORT\"");
  EXPECT_EQ(joined(r).find("hunter2"), std::string::npos) << joined(r);
  EXPECT_EQ(r.errors[3], "API_PORT: flag --api-port needs a value");
}

TEST(load_settings, help_is_reported_without_settings) {
  auto r = load({}, {"--help"});
  EXPECT_TRUE(r.help_requested);
  EXPECT_FALSE(r.value);
  EXPECT_TRUE(load({}, {"-h"}).help_requested);
}

TEST(load_settings, config_file_syntax) {
  auto file = write_file("syntax",
                         "# comment\n\n  API_PORT = 99 \r\nWORKSPACE_ROOT=\"/w s\"\n"
                         "NODE_ID='n2'\n");
  auto r = load({}, {"--config", file});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.port, 99);
  EXPECT_EQ(r.value->agent.workspace_root, "/w s");
  EXPECT_EQ(r.value->cluster.node_id, "n2");
  auto bad = write_file("bad", "API_PORT=1\nAPI_PROT=2\nAPI_KEY hunter2\n");
  r = load({}, {"--config", bad});
  ASSERT_EQ(r.errors.size(), 2u) << joined(r);
  EXPECT_NE(r.errors[0].find("line 2: unknown variable \"API_PROT\""), std::string::npos);
  EXPECT_NE(r.errors[1].find("line 3: expected NAME=VALUE"), std::string::npos);
  EXPECT_EQ(joined(r).find("hunter2"), std::string::npos);
  r = load({}, {"--config", "/nonexistent/caa.env"});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("cannot be read"), std::string::npos);
}

TEST(load_settings, collects_every_error_and_names_the_variable) {
  auto r = load({{"API_PORT", "abc"},
                 {"LOG_LEVEL", "verbose"},
                 {"DEBUG", "maybe"},
                 {"DB_TIMEOUT", "nan"},
                 {"RATE_LIMIT_QUERY_PER_MINUTE", "0"}});
  EXPECT_FALSE(r.value);
  ASSERT_EQ(r.errors.size(), 5u) << joined(r);
  EXPECT_EQ(r.errors[0], "DEBUG: must be one of true, false, 1, 0, yes, no (got \"maybe\")");
  EXPECT_EQ(r.errors[1], "LOG_LEVEL: must be one of debug, info, warn, error (got \"verbose\")");
  EXPECT_EQ(r.errors[2], "API_PORT: must be an integer in 0..65535 (got \"abc\")");
  EXPECT_TRUE(r.errors[3].starts_with("DB_TIMEOUT: ")) << r.errors[3];
  EXPECT_TRUE(r.errors[4].starts_with("RATE_LIMIT_QUERY_PER_MINUTE: ")) << r.errors[4];
}

TEST(load_settings, integer_ranges) {
  EXPECT_TRUE(load({{"API_PORT", "0"}, {"CLUSTER_PORT", "65535"}}).value);
  for (auto [name, bad] :
       std::vector<std::pair<std::string, std::string>>{{"API_PORT", "65536"},
                                                        {"API_PORT", "-1"},
                                                        {"API_PORT", "80x"},
                                                        {"API_PORT", ""},
                                                        {"CLUSTER_PORT", "70000"},
                                                        {"API_IO_THREADS", "0"},
                                                        {"API_IO_THREADS", "65"},
                                                        {"AGENT_IO_THREADS", "0"},
                                                        {"AGENT_IO_THREADS", "65"},
                                                        {"DB_POOL_SIZE", "0"},
                                                        {"DB_POOL_SIZE", "65"},
                                                        {"REDIS_POOL_SIZE", "17"},
                                                        {"RATE_LIMIT_GENERAL_PER_MINUTE", "0"},
                                                        {"API_MAX_BODY_BYTES", "0"},
                                                        {"MAX_AGENT_PROCESSES", "-3"}})
    EXPECT_TRUE(only_error({{name, bad}}).starts_with(name + ": ")) << name << "=" << bad;
  EXPECT_TRUE(load({{"API_IO_THREADS", "64"},
                    {"DB_POOL_SIZE", "64"},
                    {"REDIS_POOL_SIZE", "16"},
                    {"MAX_AGENT_PROCESSES", "0"}})
                  .value);
}

TEST(load_settings, rate_limit_sync_interval_is_milliseconds_in_range) {
  auto defaults = load({});
  ASSERT_TRUE(defaults.value) << joined(defaults);
  EXPECT_EQ(defaults.value->auth.rate_limit_sync_interval_ms, 200u);
  for (auto [text, ms] :
       std::vector<std::pair<std::string, unsigned>>{{"10", 10}, {"50", 50}, {"10000", 10000}}) {
    auto r = load({{"RATE_LIMIT_SYNC_INTERVAL", text}});
    ASSERT_TRUE(r.value) << joined(r);
    EXPECT_EQ(r.value->auth.rate_limit_sync_interval_ms, ms);
  }
  EXPECT_EQ(only_error({{"RATE_LIMIT_SYNC_INTERVAL", "9"}}),
            "RATE_LIMIT_SYNC_INTERVAL: must be an integer in 10..10000 (got \"9\")");
  for (auto bad : {"10001", "0", "-5", "0.2", "200ms", ""})
    EXPECT_TRUE(
        only_error({{"RATE_LIMIT_SYNC_INTERVAL", bad}}).starts_with("RATE_LIMIT_SYNC_INTERVAL: "))
        << bad;
  auto shown = describe(*load({{"RATE_LIMIT_SYNC_INTERVAL", "75"}}).value);
  EXPECT_NE(shown.find("RATE_LIMIT_SYNC_INTERVAL=75\n"), std::string::npos);
}

TEST(load_settings, durations_are_positive_finite_seconds) {
  auto r = load({{"TURN_TIMEOUT", "0.5"}, {"KEY_CACHE_TTL", "5"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->agent.turn_timeout.count(), 0.5);
  EXPECT_EQ(r.value->auth.key_cache_ttl.count(), 5.0);
  for (auto bad : {"0", "-1", "nan", "inf", "1e400", "10s", "", "1e9"})
    EXPECT_TRUE(only_error({{"SESSION_IDLE_TIMEOUT", bad}}).starts_with("SESSION_IDLE_TIMEOUT: "))
        << bad;
  EXPECT_TRUE(only_error({{"KEY_CACHE_TTL", "5.5"}}).starts_with("KEY_CACHE_TTL: "));
}

TEST(load_settings, cors_star_needs_debug) {
  EXPECT_EQ(only_error({{"CORS_ORIGINS", "*"}}),
            "CORS_ORIGINS: \"*\" is only allowed when DEBUG is true");
  EXPECT_TRUE(load({{"CORS_ORIGINS", "*"}, {"DEBUG", "yes"}}).value);
  auto r = load({{"CORS_ORIGINS", "https://App.example.com, http://localhost:3000"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->http.cors_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_EQ(only_error({{"CORS_ORIGINS", "https://a.com/"}}),
            "CORS_ORIGINS: item \"https://a.com/\" is not an origin scheme://host[:port] or \"*\"");
}

TEST(load_settings, address_and_path_lists) {
  auto r = load({{"EGRESS_ALLOW_CIDRS", "10.1.0.0/16,fd00::/8"},
                 {"MCP_STDIO_ALLOWED_COMMANDS", "/usr/bin/npx,/opt/mcp/srv"},
                 {"BYPASS_PERMISSIONS_TENANTS", "acme,beta"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->egress.allow_cidrs.size(), 2u);
  EXPECT_EQ(r.value->egress.mcp_stdio_allowed_commands.size(), 2u);
  EXPECT_EQ(r.value->agent.bypass_tenants.size(), 2u);
  for (auto [name, bad] : std::vector<std::pair<std::string, std::string>>{
           {"EGRESS_ALLOW_CIDRS", "10.0.0.0/33"},
           {"TRUSTED_PROXIES", "proxy.local"},
           {"TRUSTED_PROXIES", "1.2.3.4,,5.6.7.8"},
           {"MCP_STDIO_ALLOWED_COMMANDS", "npx"},
           {"MCP_STDIO_ALLOWED_COMMANDS", "/usr/../bin/sh"}})
    EXPECT_TRUE(only_error({{name, bad}}).starts_with(name + ": ")) << name << "=" << bad;
}

TEST(load_settings, urls_are_checked_without_echoing_them) {
  auto pw = std::string{"hunter2pw"};
  for (auto [name, bad] : std::vector<std::pair<std::string, std::string>>{
           {"DATABASE_URL", "mysql://u:" + pw + "@db/x"},
           {"REDIS_URL", "redis://:" + pw + "@cache:notaport"},
           {"REDIS_URL", "rediss://:" + pw + "@cache"}}) {
    auto err = only_error({{name, bad}});
    EXPECT_TRUE(err.starts_with(name + ": ")) << err;
    EXPECT_EQ(err.find(pw), std::string::npos) << err;
  }
  EXPECT_TRUE(load({{"DATABASE_URL", "postgres://u:" + pw + "@db/x"},
                    {"REDIS_URL", "redis://:" + pw + "@cache:6380/1"}})
                  .value);
  EXPECT_TRUE(only_error({{"ANTHROPIC_BASE_URL", "ftp://x"}}).starts_with("ANTHROPIC_BASE_URL: "));
  auto r = load({{"ANTHROPIC_BASE_URL", "http://127.0.0.1:9000"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->agent.anthropic_base_url, "http://127.0.0.1:9000");
}

TEST(load_settings, secrets_are_validated_and_never_echoed) {
  auto r = load({{"API_KEY", valid_key},
                 {"METRICS_TOKEN", "0123456789abcdef"},
                 {"ANTHROPIC_API_KEY", "sk-ant-xyz"}});
  ASSERT_TRUE(r.value) << joined(r);
  ASSERT_TRUE(r.value->auth.bootstrap_key);
  EXPECT_TRUE(ct_equal(*r.value->auth.bootstrap_key, valid_key));
  EXPECT_TRUE(r.value->auth.metrics_token);
  EXPECT_TRUE(r.value->agent.anthropic_api_key);
  EXPECT_FALSE(load({{"API_KEY", ""}}).value->auth.bootstrap_key);
  std::string leaked = "shortSECRETvalue";
  r = load({{"API_KEY", leaked},
            {"METRICS_TOKEN", leaked.substr(0, 8)},
            {"ANTHROPIC_API_KEY", leaked + " x"}});
  ASSERT_EQ(r.errors.size(), 3u) << joined(r);
  EXPECT_EQ(r.errors[0],
            "API_KEY: must be at least 32 characters of [A-Za-z0-9_-] (value not shown)");
  EXPECT_EQ(joined(r).find("SECRET"), std::string::npos) << joined(r);
  EXPECT_FALSE(load({{"API_KEY", valid_key.substr(1) + "!"}}).value);
}

TEST(load_settings, text_settings) {
  EXPECT_TRUE(only_error({{"WORKSPACE_ROOT", ""}}).starts_with("WORKSPACE_ROOT: "));
  EXPECT_TRUE(only_error({{"CLAUDE_CLI_PATH", ""}}).starts_with("CLAUDE_CLI_PATH: "));
  EXPECT_TRUE(only_error({{"API_HOST", "not a host"}}).starts_with("API_HOST: "));
  EXPECT_TRUE(only_error({{"NODE_ID", "a b"}}).starts_with("NODE_ID: "));
  EXPECT_TRUE(load({{"API_HOST", "::"}}).value);
  EXPECT_TRUE(load({{"API_HOST", "localhost"}}).value);
}

TEST(describe, shows_every_setting_with_secrets_and_passwords_hidden) {
  auto r = load({{"API_KEY", valid_key},
                 {"DATABASE_URL", "postgresql://app:pw123@db/x"},
                 {"REDIS_URL", "redis://:pw456@cache:6379/0"}});
  ASSERT_TRUE(r.value) << joined(r);
  auto text = describe(*r.value);
  for (const auto& var : config::variables())
    EXPECT_NE(text.find(std::string{var.name} + "="), std::string::npos) << var.name;
  EXPECT_NE(text.find("API_KEY=<set>\n"), std::string::npos);
  EXPECT_NE(text.find("METRICS_TOKEN=<unset>\n"), std::string::npos);
  EXPECT_NE(text.find("DATABASE_URL=postgresql://app:***@db/x\n"), std::string::npos);
  EXPECT_EQ(text.find("pw123"), std::string::npos);
  EXPECT_EQ(text.find("pw456"), std::string::npos);
  EXPECT_EQ(text.find(valid_key), std::string::npos);
}

TEST(usage, lists_every_variable_with_flag_default_and_meaning) {
  auto text = usage();
  for (const auto& var : config::variables()) {
    EXPECT_NE(text.find(std::string{var.name} + ", --" + config::flag_of(var.name)),
              std::string::npos)
        << var.name;
    EXPECT_NE(text.find(var.help), std::string::npos) << var.name;
  }
  EXPECT_NE(text.find("API_PORT, --api-port  (default: 54000)"), std::string::npos);
  EXPECT_NE(text.find("REDIS_TIMEOUT, --redis-timeout  (default: 0.5)"), std::string::npos);
}

static_assert(!std::is_convertible_v<secret, std::string_view>);
static_assert(!std::is_convertible_v<secret, std::string>);
static_assert(!std::is_constructible_v<std::string_view, const secret&>);
static_assert(!std::equality_comparable<secret>);
template <class T>
concept streamable = requires(std::ostream& os, const T& x) {
  os << x;
};

static_assert(!streamable<secret>);

TEST(secret, compares_only_in_constant_time) {
  secret s{"correct horse battery staple"};
  EXPECT_TRUE(ct_equal(s, "correct horse battery staple"));
  EXPECT_FALSE(ct_equal(s, "correct horse battery stapler"));
  EXPECT_FALSE(ct_equal(s, "Correct horse battery staple"));
  EXPECT_FALSE(ct_equal(s, ""));
  EXPECT_TRUE(ct_equal(secret{""}, ""));
  EXPECT_EQ(secret::redacted(), "<redacted>");
  secret copy = s;
  copy = secret{"other"};
  EXPECT_TRUE(ct_equal(copy, "other"));
  EXPECT_TRUE(ct_equal(s, "correct horse battery staple"));
}

TEST(load_settings, cluster_settings) {
  auto r = load({});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_EQ(r.value->cluster.advertise_host, "127.0.0.1");
  EXPECT_FALSE(r.value->cluster.shared_secret);
  EXPECT_EQ(r.value->cluster.heartbeat, seconds_d{2});
  EXPECT_EQ(r.value->cluster.node_ttl, seconds_d{10});
  EXPECT_FALSE(r.value->cluster.enabled());
  r = load({{"CLUSTER_PORT", "7100"},
            {"CLUSTER_SECRET", "0123456789abcdef"},
            {"CLUSTER_ADVERTISE_HOST", "10.0.0.5"},
            {"CLUSTER_HEARTBEAT", "0.5"},
            {"CLUSTER_NODE_TTL", "3"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_TRUE(r.value->cluster.enabled());
  EXPECT_EQ(r.value->cluster.advertise_host, "10.0.0.5");
  EXPECT_EQ(r.value->cluster.heartbeat, seconds_d{0.5});
  EXPECT_EQ(r.value->cluster.node_ttl, seconds_d{3});
  // A port without a secret stays closed.
  r = load({{"CLUSTER_PORT", "7100"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_FALSE(r.value->cluster.enabled());
  auto short_secret = only_error({{"CLUSTER_SECRET", "too-short"}});
  EXPECT_EQ(short_secret,
            "CLUSTER_SECRET: must be at least 16 printable characters without blanks (value not "
            "shown)");
  EXPECT_TRUE(
      only_error({{"CLUSTER_ADVERTISE_HOST", "a b"}}).starts_with("CLUSTER_ADVERTISE_HOST: "));
  EXPECT_EQ(only_error({{"CLUSTER_HEARTBEAT", "10"}}),
            "CLUSTER_HEARTBEAT: must be shorter than CLUSTER_NODE_TTL");
}

TEST(load_settings, event_durability) {
  auto d = load({});
  ASSERT_TRUE(d.value) << joined(d);
  EXPECT_FALSE(d.value->agent.async_events) << "sync by default";
  EXPECT_EQ(d.value->agent.event_flush_interval_ms, 20u);
  EXPECT_TRUE(d.value->agent.durability_tenants.empty());
  auto r = load({{"EVENT_DURABILITY", "async"},
                 {"EVENT_FLUSH_INTERVAL", "5"},
                 {"TENANT_DURABILITY_ALLOW", "acme,beta"}});
  ASSERT_TRUE(r.value) << joined(r);
  EXPECT_TRUE(r.value->agent.async_events);
  EXPECT_EQ(r.value->agent.event_flush_interval_ms, 5u);
  EXPECT_EQ(r.value->agent.durability_tenants, (std::vector<std::string>{"acme", "beta"}));
  for (auto [name, bad] :
       std::vector<std::pair<std::string, std::string>>{{"EVENT_DURABILITY", "fast"},
                                                        {"EVENT_DURABILITY", "SYNC"},
                                                        {"EVENT_FLUSH_INTERVAL", "0"},
                                                        {"EVENT_FLUSH_INTERVAL", "60001"},
                                                        {"TENANT_DURABILITY_ALLOW", "a,,b"}}) {
    auto x = load({{name, bad}});
    EXPECT_FALSE(x.value) << name << "=" << bad;
    EXPECT_NE(joined(x).find(name), std::string::npos) << joined(x);
  }
}
