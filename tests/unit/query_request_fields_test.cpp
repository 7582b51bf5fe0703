// The turn request decoder: env (RELIABILITY Appendix B), paths, settings, metadata, system
// prompt, subagents, structured output; and the mapping onto the driver's options.

#include "query_test_util.hpp"

#include <unistd.h>

#include <filesystem>

using namespace caa;
using namespace caa::api;
using namespace caa::api::test;

namespace {

std::string env_of(std::string_view name, std::string_view value = "x") {
  return with(R"("env":{")" + std::string{name} + R"(":")" + std::string{value} + "\"}");
}

}  // namespace

TEST(query_request_env, plain_variables_pass) {
  auto r = accept(with(R"("env":{"MY_FLAG":"1","_PRIVATE":"","PROJECT_2":"a=b"})"));
  EXPECT_EQ(r.env.at("MY_FLAG"), "1");
  EXPECT_EQ(r.env.at("PROJECT_2"), "a=b");
}

TEST(query_request_env, every_appendix_b_name_is_refused) {
  for (auto name : {"LD_PRELOAD",
                    "LD_AUDIT",
                    "LD_LIBRARY_PATH",
                    "LD_DEBUG",
                    "LD_DEBUG_OUTPUT",
                    "GLIBC_TUNABLES",
                    "GCONV_PATH",
                    "LOCPATH",
                    "MALLOC_CHECK_",
                    "MALLOC_ARENA_MAX",
                    "HOSTALIASES",
                    "RESOLV_HOST_CONF",
                    "TZDIR",
                    "NLSPATH",
                    "PATH",
                    "BASH_ENV",
                    "ENV",
                    "SHELLOPTS",
                    "BASHOPTS",
                    "PS4",
                    "PROMPT_COMMAND",
                    "IFS",
                    "CDPATH",
                    "BASH_FUNC_X",
                    "NODE_OPTIONS",
                    "NODE_PATH",
                    "NODE_EXTRA_CA_CERTS",
                    "NODE_TLS_REJECT_UNAUTHORIZED",
                    "NODE_USE_ENV_PROXY",
                    "PYTHONPATH",
                    "PYTHONSTARTUP",
                    "PYTHONHOME",
                    "PYTHONINSPECT",
                    "PERL5OPT",
                    "PERL5LIB",
                    "PERLLIB",
                    "RUBYOPT",
                    "RUBYLIB",
                    "JAVA_TOOL_OPTIONS",
                    "_JAVA_OPTIONS",
                    "GIT_SSH",
                    "GIT_SSH_COMMAND",
                    "GIT_EXEC_PATH",
                    "GIT_CONFIG",
                    "GIT_CONFIG_GLOBAL",
                    "GIT_CONFIG_PARAMETERS",
                    "GIT_ASKPASS",
                    "SSH_ASKPASS",
                    "EDITOR",
                    "VISUAL",
                    "PAGER",
                    "HTTP_PROXY",
                    "HTTPS_PROXY",
                    "ALL_PROXY",
                    "NO_PROXY",
                    "SSL_CERT_FILE",
                    "SSL_CERT_DIR",
                    "CURL_CA_BUNDLE",
                    "REQUESTS_CA_BUNDLE",
                    "ANTHROPIC_API_KEY",
                    "ANTHROPIC_AUTH_TOKEN",
                    "ANTHROPIC_BASE_URL",
                    "CLAUDE_CONFIG_DIR",
                    "CLAUDE_CODE_USE_BEDROCK",
                    "CLAUDE_CODE_ENTRYPOINT",
                    "HOME",
                    "TMPDIR",
                    "XDG_CONFIG_HOME",
                    "XDG_RUNTIME_DIR",
                    "USER",
                    "LOGNAME",
                    "SHELL"})
    refuse_one(env_of(name), "env." + std::string{name});
}

TEST(query_request_env, malformed_names_are_refused_without_echo) {
  for (std::string name : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "lower", "A=B",
                           "A\\u0000B", "", "1ABC", "BASH_FUNC_x%%", "A B", "A\\nB"}) {
    auto msg = refuse_one(env_of(name), "env");
    if (!name.empty()) {
      EXPECT_EQ(msg.find(name), std::string::npos) << msg;
    }
  }
  refuse_one(env_of(std::string(129, 'A')), "env");
}

TEST(query_request_env, bad_values_are_refused) {
  refuse_one(env_of("MY_VAR", std::string(4097, 'v')), "env.MY_VAR");
  EXPECT_TRUE(accept(env_of("MY_VAR", std::string(4096, 'v'))).env.count("MY_VAR"));
  refuse_one(env_of("MY_VAR", "a\\u0000b"), "env.MY_VAR");
  refuse_one(with(R"("env":{"MY_VAR":1})"), "env");
  refuse_one(with(R"("env":["MY_VAR"])"), "env");
}

TEST(query_request_paths, text_rules) {
  auto r =
      accept(with(R"("cwd":"proj/src","add_dirs":["lib","./docs/"],"plugins":[{"path":"p"}])"));
  EXPECT_EQ(r.cwd, "proj/src");
  EXPECT_EQ(r.add_dirs, (std::vector<std::string>{"lib", "./docs/"}));
  EXPECT_EQ(r.plugins, std::vector<std::string>{"p"});
  EXPECT_EQ(refuse_one(with(R"("cwd":"/etc")"), "cwd"), "must be relative to the workspace");
  EXPECT_EQ(refuse_one(with(R"("cwd":"../x")"), "cwd"), "escapes the workspace");
  refuse_one(with(R"("cwd":"a/../../b")"), "cwd");
  refuse_one(with(R"("cwd":"")"), "cwd");
  refuse_one(with(R"("cwd":"a\u0000b")"), "cwd");
  refuse_one(with(R"("cwd":"a//b")"), "cwd");
  refuse_one(with(R"("cwd":")" + std::string(1025, 'a') + "\""), "cwd");
  refuse_one(with(R"("add_dirs":["ok","/root"])"), "add_dirs[1]");
  refuse_one(with(R"("add_dirs":"lib")"), "add_dirs");
  refuse_one(with(R"("plugins":[{"path":"/opt/p"}])"), "plugins[0].path");
  refuse_one(with(R"("plugins":[{}])"), "plugins[0].path");
  refuse_one(with(R"("plugins":[{"path":"p","url":"x"}])"), "plugins[0].url");
  refuse_one(with(R"("plugins":["p"])"), "plugins[0]");
}

TEST(query_request_fields, setting_sources) {
  EXPECT_EQ(accept(with(R"("setting_sources":["user","project"])")).setting_sources,
            (std::vector<std::string>{"user", "project"}));
  EXPECT_TRUE(accept(with(R"("setting_sources":[])")).setting_sources.empty());
  for (auto v : {R"(["local"])", R"(["user","user"])", R"("user")", R"([1])"})
    refuse_one(with(R"("setting_sources":)" + std::string{v}), "setting_sources");
}

TEST(query_request_fields, metadata) {
  auto r = accept(with(R"("metadata":{"title":"Fix the build","tags":["ci","urgent"]})"));
  EXPECT_EQ(r.metadata.title, "Fix the build");
  EXPECT_EQ(r.metadata.tags, (std::vector<std::string>{"ci", "urgent"}));
  accept(with(R"("metadata":{"title":")" + std::string(200, 't') + "\"}"));
  refuse_one(with(R"("metadata":{"title":")" + std::string(201, 't') + "\"}"), "metadata.title");
  std::string tags = "[";
  for (int i = 0; i < 21; ++i) tags += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  refuse_one(with(R"("metadata":{"tags":)" + tags + "]}"), "metadata.tags");
  refuse_one(with(R"("metadata":{"tags":[")" + std::string(51, 'x') + "\"]}"), "metadata.tags");
  refuse_one(with(R"("metadata":{"tags":[""]})"), "metadata.tags");
  refuse_one(with(R"("metadata":{"owner":"me"})"), "metadata.owner");
  refuse_one(with(R"("metadata":"x")"), "metadata");
}

TEST(query_request_fields, system_prompt) {
  auto replace = accept(with(R"("system_prompt":"You are terse.")"));
  EXPECT_EQ(std::get<claude::system_prompt_replace>(replace.system_prompt).text, "You are terse.");
  auto preset = accept(with(R"("system_prompt":{"preset":"claude_code","append":"Be brief."})"));
  EXPECT_EQ(std::get<claude::system_prompt_preset>(preset.system_prompt).append, "Be brief.");
  accept(with(R"("system_prompt":{"type":"preset","preset":"claude_code"})"));
  refuse_one(with(R"("system_prompt":{"preset":"other"})"), "system_prompt.preset");
  refuse_one(with(R"("system_prompt":{"preset":"claude_code","x":1})"), "system_prompt.x");
  refuse_one(with(R"("system_prompt":7)"), "system_prompt");
  refuse_one(with(R"("system_prompt":")" + std::string(100'001, 's') + "\""), "system_prompt");
}

TEST(query_request_fields, agents) {
  auto r = accept(with(R"("agents":{"code-reviewer":{"description":"Reviews diffs",
    "prompt":"You review code.","tools":["Read","Grep"],"model":"inherit"}})"));
  ASSERT_EQ(r.agents.count("code-reviewer"), 1u);
  const auto& a = r.agents.at("code-reviewer");
  EXPECT_EQ(a.tools, (std::vector<std::string>{"Read", "Grep"}));
  EXPECT_EQ(a.model, "inherit");
  auto agent = [](std::string body) { return with(R"("agents":{"a":)" + body + "}"); };
  refuse_one(agent(R"({"description":"d","prompt":"p","tools":["Task"]})"), "agents.a.tools[0]");
  refuse_one(agent(R"j({"description":"d","prompt":"p","tools":["Agent(x)"]})j"),
             "agents.a.tools[0]");
  refuse_one(agent(R"({"description":"d","prompt":"p","model":"gpt"})"), "agents.a.model");
  refuse_one(agent(R"({"prompt":"p"})"), "agents.a.description");
  refuse_one(agent(R"({"description":"","prompt":"p"})"), "agents.a.description");
  refuse_one(agent(R"({"description":"d","prompt":"p","color":"red"})"), "agents.a.color");
  refuse_one(with(R"("agents":{"Bad_Name":{"description":"d","prompt":"p"}})"), "agents");
  std::string many = "{";
  for (int i = 0; i < 21; ++i)
    many += (i ? ",\"a" : "\"a") + std::to_string(i) + R"(":{"description":"d","prompt":"p"})";
  refuse_one(with(R"("agents":)" + many + "}"), "agents");
}

TEST(query_request_fields, output_format) {
  auto r = accept(with(R"("output_format":{"type":"json_schema","schema":{"type":"object",
    "properties":{"n":{"type":"integer"}}}})"));
  EXPECT_EQ(r.json_schema, R"({"type":"object","properties":{"n":{"type":"integer"}}})");
  accept(with(R"("output_format":{"type":"json_schema","schema":{"type":["object","null"]}})"));
  accept(with(R"("output_format":{"type":"json_schema","schema":{"anyOf":[]}})"));
  auto schema = [](std::string s) {
    return with(R"("output_format":{"type":"json_schema","schema":)" + s + "}");
  };
  for (auto s : {"[]", "\"object\"", R"({"type":5})", R"({"type":"thing"})", R"({"type":[]})",
                 R"({"type":["object","object"]})", R"({"type":null})"})
    refuse_one(schema(s), "output_format.schema");
  refuse_one(schema(R"({"description":")" + std::string(70'000, 'd') + "\"}"),
             "output_format.schema");
  refuse_one(with(R"("output_format":{"type":"json","schema":{}})"), "output_format.type");
}

TEST(query_request_fields, to_query_options_maps_every_field) {
  namespace fs = std::filesystem;
  auto root = fs::temp_directory_path() / ("caa-map-" + std::to_string(::getpid()));
  fs::remove_all(root);
  tenant_workspace ws{root.string()};
  const std::string tenant = "11111111-2222-4333-8444-555555555555";
  ASSERT_TRUE(ws.ensure(tenant));
  fs::create_directories(root / tenant / "work" / "lib");
  fs::create_directories(root / tenant / "work" / "plug");
  auto req = accept(with(R"("model":"opus","permission_mode":"plan","allowed_tools":["Read"],
    "disallowed_tools":["Write"],"max_turns":3,"max_budget_usd":0.5,"cwd":"proj",
    "add_dirs":["lib"],"env":{"MY_VAR":"1"},"system_prompt":"S","agents":{"r":{"description":"d",
    "prompt":"p"}},"output_format":{"type":"json_schema","schema":{"type":"object"}},
    "include_partial_messages":true,"enable_file_checkpointing":true,
    "setting_sources":["project"],"plugins":[{"path":"plug"}],
    "images":[{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAAN"}])"));
  auto resolved = resolve_paths(req, ws, tenant);
  ASSERT_TRUE(resolved);
  const auto& paths = *resolved;
  auto work = fs::canonical(root / tenant / "work").string();
  auto o = to_query_options(req, paths);
  EXPECT_EQ(o.prompt, "hi");
  EXPECT_EQ(o.images.size(), 1u);
  EXPECT_EQ(o.model, "opus");
  EXPECT_EQ(o.permission_mode, "plan");
  EXPECT_EQ(o.allowed_tools, std::vector<std::string>{"Read"});
  EXPECT_EQ(o.disallowed_tools, std::vector<std::string>{"Write"});
  EXPECT_EQ(o.max_turns, 3);
  EXPECT_EQ(o.max_budget_usd, 0.5);
  EXPECT_EQ(o.cwd, work + "/proj");  // created on demand
  EXPECT_TRUE(fs::is_directory(o.cwd));
  EXPECT_EQ(o.add_dirs, std::vector<std::string>{work + "/lib"});
  EXPECT_EQ(o.plugins, std::vector<std::string>{work + "/plug"});
  EXPECT_EQ(o.env.at("MY_VAR"), "1");
  EXPECT_EQ(std::get<claude::system_prompt_replace>(o.system_prompt).text, "S");
  EXPECT_EQ(o.agents.count("r"), 1u);
  EXPECT_EQ(o.json_schema, R"({"type":"object"})");
  EXPECT_TRUE(o.include_partial_messages && o.enable_file_checkpointing);
  EXPECT_EQ(o.setting_sources, std::vector<std::string>{"project"});
  EXPECT_FALSE(o.session_id || o.resume || o.fork_session);
  EXPECT_EQ(paths.dirs.config, fs::canonical(root / tenant / "config").string());
  // Without cwd: the tenant's work/ itself.
  auto bare = resolve_paths(accept(R"({"prompt":"x"})"), ws, tenant);
  ASSERT_TRUE(bare);
  EXPECT_EQ(to_query_options(accept(R"({"prompt":"x"})"), *bare).cwd, work);
  // Refused paths are listed together.
  fs::create_symlink("/etc", root / tenant / "work" / "etc-link");
  auto bad =
      accept(with(R"("cwd":"etc-link","add_dirs":["missing"],"plugins":[{"path":"lib/x"}])"));
  auto refused = resolve_paths(bad, ws, tenant);
  ASSERT_FALSE(refused);
  auto errs = caa::fields_of(refused.error());
  ASSERT_EQ(errs.size(), 3u) << dump(errs);
  EXPECT_EQ(errs[0], (caa::field_error{"cwd", "escapes the workspace"}));
  EXPECT_EQ(errs[1], (caa::field_error{"add_dirs[0]", "does not exist"}));
  EXPECT_EQ(errs[2], (caa::field_error{"plugins[0].path", "does not exist"}));
  fs::remove_all(root);
}
