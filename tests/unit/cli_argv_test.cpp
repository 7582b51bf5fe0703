// argv and environment of the CLI process (RELIABILITY T9: allow-list env, no secrets in argv).
#include "transport/claude/argv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

using namespace caa::claude;

namespace {

driver_config test_config() {
  driver_config cfg;
  cfg.cli_path = "/opt/claude/claude";
  cfg.config_dir = "/srv/tenants/t1/config";
  cfg.home_dir = "/srv/tenants/t1/home";
  cfg.tmp_dir = "/srv/tenants/t1/tmp";
  cfg.anthropic_api_key = "sk-test";
  cfg.anthropic_base_url = "http://127.0.0.1:4000";
  return cfg;
}

query_options base_options() {
  query_options opts;
  opts.prompt = "SECRET PROMPT TEXT";
  opts.cwd = "/srv/tenants/t1/work";
  return opts;
}

/// Whether `flag` is directly followed by `value` in `argv`.
bool has_pair(const std::vector<std::string>& argv, std::string_view flag, std::string_view value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

bool has(const std::vector<std::string>& xs, std::string_view x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

size_t count(const std::vector<std::string>& xs, std::string_view x) {
  return static_cast<size_t>(std::count(xs.begin(), xs.end(), x));
}

}  // namespace

// -- argv -----------------------------------------------------------------------------------------

TEST(cli_argv, minimal_options_give_the_sdk_streaming_shape) {
  auto argv = build_argv(base_options(), test_config());
  std::vector<std::string> expected{
      "/opt/claude/claude", "--output-format",    "stream-json",     "--verbose",
      "--input-format",     "stream-json",        "--system-prompt", "",
      "--setting-sources=", "--strict-mcp-config"};
  EXPECT_EQ(argv, expected);
}

TEST(cli_argv, never_print_mode_and_never_the_prompt) {
  auto opts = base_options();
  opts.model = "sonnet";
  opts.max_turns = 3;
  opts.session_id = "6f1c1d1e-8b1a-4c55-9d5e-0a2b3c4d5e6f";
  auto argv = build_argv(opts, test_config());
  EXPECT_FALSE(has(argv, "-p"));
  EXPECT_FALSE(has(argv, "--print"));
  for (const auto& arg : argv) EXPECT_EQ(arg.find("SECRET PROMPT"), std::string::npos) << arg;
  for (const auto& arg : argv)
    EXPECT_EQ(arg.find("sk-test"), std::string::npos) << "no secret in argv";
}

TEST(cli_argv, system_prompt_variants) {
  auto opts = base_options();
  auto argv = build_argv(opts, test_config());
  EXPECT_TRUE(has_pair(argv, "--system-prompt", ""));
  opts.system_prompt = system_prompt_replace{"-You are terse."};
  argv = build_argv(opts, test_config());
  EXPECT_TRUE(has_pair(argv, "--system-prompt", "-You are terse."));
  EXPECT_FALSE(has(argv, "--append-system-prompt"));
  opts.system_prompt = system_prompt_preset{};
  argv = build_argv(opts, test_config());
  EXPECT_FALSE(has(argv, "--system-prompt"));
  EXPECT_FALSE(has(argv, "--append-system-prompt"));
  opts.system_prompt = system_prompt_preset{"Always answer in French."};
  argv = build_argv(opts, test_config());
  EXPECT_FALSE(has(argv, "--system-prompt"));
  EXPECT_TRUE(has_pair(argv, "--append-system-prompt", "Always answer in French."));
}

TEST(cli_argv, session_flags) {
  auto opts = base_options();
  opts.resume = "0b7c6a52-3f0e-4a8e-9d55-2c1e2f3a4b5c";
  opts.fork_session = true;
  opts.resume_session_at = "a6d7e8f9-0a1b-4c2d-8e3f-405162738495";
  auto argv = build_argv(opts, test_config());
  // `--resume <id>` must be two tokens, or the CLI ignores `--fork-session`.
  EXPECT_TRUE(has_pair(argv, "--resume", "0b7c6a52-3f0e-4a8e-9d55-2c1e2f3a4b5c"));
  EXPECT_FALSE(has(argv, "--resume=0b7c6a52-3f0e-4a8e-9d55-2c1e2f3a4b5c"));
  EXPECT_TRUE(has(argv, "--fork-session"));
  EXPECT_TRUE(has(argv, "--resume-session-at=a6d7e8f9-0a1b-4c2d-8e3f-405162738495"));
  EXPECT_FALSE(has(argv, "--session-id"));
  auto fresh = base_options();
  fresh.session_id = "6f1c1d1e-8b1a-4c55-9d5e-0a2b3c4d5e6f";
  argv = build_argv(fresh, test_config());
  EXPECT_TRUE(has(argv, "--session-id=6f1c1d1e-8b1a-4c55-9d5e-0a2b3c4d5e6f"));
  EXPECT_FALSE(has(argv, "--fork-session"));
  EXPECT_EQ(std::count_if(argv.begin(), argv.end(),
                          [](const auto& a) { return a.rfind("--resume", 0) == 0; }),
            0);
}

TEST(cli_argv, tools_limits_and_model) {
  auto opts = base_options();
  opts.model = "claude-sonnet-4-5";
  opts.permission_mode = "acceptEdits";
  opts.allowed_tools = {"Read", "Bash", "mcp__files__read"};
  opts.disallowed_tools = {"WebFetch", "WebSearch"};
  opts.max_turns = 7;
  opts.max_budget_usd = 0.25;
  opts.permission_prompt_stdio = true;
  auto argv = build_argv(opts, test_config());
  EXPECT_TRUE(has_pair(argv, "--model", "claude-sonnet-4-5"));
  EXPECT_TRUE(has_pair(argv, "--permission-mode", "acceptEdits"));
  EXPECT_TRUE(has_pair(argv, "--allowedTools", "Read,Bash,mcp__files__read"));
  EXPECT_TRUE(has_pair(argv, "--disallowedTools", "WebFetch,WebSearch"));
  EXPECT_TRUE(has_pair(argv, "--max-turns", "7"));
  EXPECT_TRUE(has_pair(argv, "--max-budget-usd", "0.25"));
  EXPECT_TRUE(has_pair(argv, "--permission-prompt-tool", "stdio"));
  opts.max_budget_usd = 0.00001;
  EXPECT_TRUE(has_pair(build_argv(opts, test_config()), "--max-budget-usd", "1e-05"));
}

TEST(cli_argv, unset_options_add_no_flags) {
  auto argv = build_argv(base_options(), test_config());
  for (auto flag :
       {"--model", "--permission-mode", "--allowedTools", "--disallowedTools", "--max-turns",
        "--max-budget-usd", "--permission-prompt-tool", "--add-dir", "--plugin-dir",
        "--json-schema", "--include-partial-messages", "--fork-session", "--session-mirror",
        "--replay-user-messages", "--append-system-prompt", "--mcp-config"})
    EXPECT_FALSE(has(argv, flag)) << flag;
}

TEST(cli_argv, repeated_dirs_schema_partials_and_sources) {
  auto opts = base_options();
  opts.add_dirs = {"/srv/tenants/t1/a", "/srv/tenants/t1/b"};
  opts.plugins = {"/srv/tenants/t1/plugins/p1", "/srv/tenants/t1/plugins/p2"};
  opts.json_schema = R"({"type":"object","properties":{"a":{"type":"string"}}})";
  opts.include_partial_messages = true;
  opts.setting_sources = {"user", "project"};
  opts.session_mirror = true;
  opts.replay_user_messages = true;
  opts.mcp_config = R"({"mcpServers":{"files":{"command":"/opt/mcp/files"}}})";
  auto argv = build_argv(opts, test_config());
  EXPECT_TRUE(has_pair(argv, "--mcp-config", *opts.mcp_config));
  EXPECT_EQ(count(argv, "--strict-mcp-config"), 1u);
  EXPECT_EQ(count(argv, "--add-dir"), 2u);
  EXPECT_TRUE(has_pair(argv, "--add-dir", "/srv/tenants/t1/a"));
  EXPECT_TRUE(has_pair(argv, "--add-dir", "/srv/tenants/t1/b"));
  EXPECT_EQ(count(argv, "--plugin-dir"), 2u);
  EXPECT_TRUE(has_pair(argv, "--plugin-dir", "/srv/tenants/t1/plugins/p2"));
  EXPECT_TRUE(has_pair(argv, "--json-schema", *opts.json_schema));
  EXPECT_TRUE(has(argv, "--include-partial-messages"));
  EXPECT_TRUE(has(argv, "--setting-sources=user,project"));
  EXPECT_EQ(count(argv, "--setting-sources="), 0u);
  EXPECT_TRUE(has(argv, "--session-mirror"));
  EXPECT_TRUE(has(argv, "--replay-user-messages"));
}

TEST(cli_argv, bubblewrap_wraps_with_its_own_pid_namespace) {
  auto spec = make_spawn_spec(base_options(), test_config());
  auto wrapped = exec_argv(spec);
  std::vector<std::string> prefix{"/usr/bin/bwrap",
                                  "--dev-bind",
                                  "/",
                                  "/",
                                  "--proc",
                                  "/proc",
                                  "--unshare-pid",
                                  "--die-with-parent",
                                  "--chdir",
                                  "/srv/tenants/t1/work",
                                  "--"};
  ASSERT_GT(wrapped.size(), prefix.size());
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), wrapped.begin()));
  EXPECT_TRUE(std::equal(spec.argv.begin(), spec.argv.end(), wrapped.begin() + prefix.size()));
  spec.use_bwrap = false;
  EXPECT_EQ(exec_argv(spec), spec.argv);
}

TEST(cli_argv, the_sandbox_is_read_only_but_for_the_tenant_and_hides_other_tenants) {
  auto cfg = test_config();
  cfg.writable_dir = "/srv/tenants/t1";
  cfg.hidden_dir = "/srv/tenants";
  auto wrapped = exec_argv(make_spawn_spec(base_options(), cfg));
  auto at = [&](std::string_view flag, std::string_view a, std::string_view b = {}) {
    for (std::size_t i = 0; i + 1 < wrapped.size(); ++i)
      if (wrapped[i] == flag && wrapped[i + 1] == a &&
          (b.empty() || (i + 2 < wrapped.size() && wrapped[i + 2] == b)))
        return static_cast<long>(i);
    return -1L;
  };
  EXPECT_GE(at("--ro-bind", "/", "/"), 0);
  EXPECT_EQ(at("--dev-bind", "/", "/"), -1);
  // Other tenants are hidden first, then the tenant's own tree is bound back, writable.
  auto hidden = at("--tmpfs", "/srv/tenants");
  auto own = at("--bind", "/srv/tenants/t1", "/srv/tenants/t1");
  ASSERT_GE(hidden, 0);
  ASSERT_GE(own, 0);
  EXPECT_LT(hidden, own);
  EXPECT_GE(at("--unshare-pid", "--die-with-parent"), 0);
}

// -- env ------------------------------------------------------------------------------------------

TEST(cli_env, built_only_from_the_allow_list) {
  ::setenv("DATABASE_URL", "postgresql://secret@db/x", 1);
  ::setenv("REDIS_URL", "redis://secret@r/0", 1);
  ::setenv("API_KEY", "bootstrap-admin-key", 1);
  ::setenv("LD_PRELOAD", "/tmp/evil.so", 1);
  ::setenv("NODE_OPTIONS", "--require /tmp/evil.js", 1);
  auto env = build_env(base_options(), test_config());
  std::vector<std::string> expected{
      "ANTHROPIC_API_KEY=sk-test",
      "ANTHROPIC_BASE_URL=http://127.0.0.1:4000",
      "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
      "CLAUDE_CODE_ENTRYPOINT=sdk-cli",
      "CLAUDE_CONFIG_DIR=/srv/tenants/t1/config",
      "DISABLE_AUTOUPDATER=1",
      "HOME=/srv/tenants/t1/home",
      "LANG=C.UTF-8",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "PWD=/srv/tenants/t1/work",
      "TMPDIR=/srv/tenants/t1/tmp",
  };
  EXPECT_EQ(env, expected);
  for (const auto& kv : env)
    for (auto bad : {"DATABASE_URL=", "REDIS_URL=", "API_KEY=", "LD_PRELOAD=", "NODE_OPTIONS="})
      EXPECT_NE(kv.rfind(bad, 0), 0u) << kv;
}

TEST(cli_env, request_env_is_added_but_cannot_override_server_variables) {
  auto opts = base_options();
  // Bypasses validate_env on purpose: even then the server's values win.
  opts.env = {{"MY_FLAG", "on"},
              {"PATH", "/tmp/evil"},
              {"HOME", "/root"},
              {"CLAUDE_CONFIG_DIR", "/etc"},
              {"ANTHROPIC_API_KEY", "stolen"},
              {"ANTHROPIC_BASE_URL", "http://evil"},
              {"CLAUDE_CODE_ENTRYPOINT", "cli"},
              {"IS_SANDBOX", "1"},
              {"CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING", "true"},
              {"PWD", "/"}};
  auto env = build_env(opts, test_config());
  EXPECT_TRUE(has(env, "MY_FLAG=on"));
  EXPECT_TRUE(has(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  EXPECT_TRUE(has(env, "HOME=/srv/tenants/t1/home"));
  EXPECT_TRUE(has(env, "CLAUDE_CONFIG_DIR=/srv/tenants/t1/config"));
  EXPECT_TRUE(has(env, "ANTHROPIC_API_KEY=sk-test"));
  EXPECT_TRUE(has(env, "ANTHROPIC_BASE_URL=http://127.0.0.1:4000"));
  EXPECT_TRUE(has(env, "CLAUDE_CODE_ENTRYPOINT=sdk-cli"));
  EXPECT_TRUE(has(env, "PWD=/srv/tenants/t1/work"));
  EXPECT_FALSE(has(env, "IS_SANDBOX=1"));
  EXPECT_FALSE(has(env, "CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING=true"));
  std::set<std::string> names;
  for (const auto& kv : env)
    EXPECT_TRUE(names.insert(kv.substr(0, kv.find('='))).second) << "duplicate " << kv;
}

TEST(cli_env, sandbox_and_checkpointing_only_when_asked) {
  auto opts = base_options();
  opts.permission_mode = "bypassPermissions";
  opts.enable_file_checkpointing = true;
  auto env = build_env(opts, test_config());
  EXPECT_TRUE(has(env, "IS_SANDBOX=1"));
  EXPECT_TRUE(has(env, "CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING=true"));
  opts.permission_mode = "acceptEdits";
  EXPECT_FALSE(has(build_env(opts, test_config()), "IS_SANDBOX=1"));
}

TEST(cli_env, anthropic_variables_are_omitted_when_not_configured) {
  auto cfg = test_config();
  cfg.anthropic_api_key.clear();
  cfg.anthropic_base_url.clear();
  for (const auto& kv : build_env(base_options(), cfg))
    EXPECT_NE(kv.rfind("ANTHROPIC_", 0), 0u) << kv;
}
