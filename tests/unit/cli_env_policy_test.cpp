// The request env deny-list (RELIABILITY T9, Appendix B as the oracle).
#include "transport/claude/options.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

using namespace caa::claude;

// -- validate_env
// -----------------------------------------------------------------------------------

namespace {

/// RELIABILITY Appendix B, the test oracle, plus the brief's additions.
std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while ((start = text.find_first_not_of(' ', start)) != std::string_view::npos) {
    auto end = text.find(' ', start);
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

const std::vector<std::string> appendix_b = split_words(
    "LD_PRELOAD LD_AUDIT LD_LIBRARY_PATH LD_DEBUG LD_DEBUG_OUTPUT GLIBC_TUNABLES GCONV_PATH "
    "LOCPATH MALLOC_CHECK_ MALLOC_ARENA_MAX HOSTALIASES RESOLV_HOST_CONF TZDIR NLSPATH PATH "
    "BASH_ENV ENV SHELLOPTS BASHOPTS PS4 PROMPT_COMMAND IFS CDPATH BASH_FUNC_X "
    "BASH_FUNC_LS%% NODE_OPTIONS NODE_PATH NODE_EXTRA_CA_CERTS NODE_TLS_REJECT_UNAUTHORIZED "
    "NODE_USE_ENV_PROXY PYTHONPATH PYTHONSTARTUP PYTHONHOME PYTHONINSPECT PERL5OPT PERL5LIB "
    "PERLLIB RUBYOPT RUBYLIB JAVA_TOOL_OPTIONS _JAVA_OPTIONS GIT_SSH GIT_SSH_COMMAND "
    "GIT_EXEC_PATH GIT_CONFIG GIT_CONFIG_GLOBAL GIT_ASKPASS SSH_ASKPASS EDITOR VISUAL PAGER "
    "HTTP_PROXY HTTPS_PROXY ALL_PROXY NO_PROXY FTP_PROXY http_proxy https_proxy all_proxy "
    "no_proxy SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE ANTHROPIC_API_KEY "
    "ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL ANTHROPIC_MODEL CLAUDE_CONFIG_DIR "
    "CLAUDE_CODE_USE_BEDROCK CLAUDE_CODE_ENTRYPOINT CLAUDE_CODE_SHELL_PREFIX CLAUDECODE HOME "
    "TMPDIR XDG_CONFIG_HOME XDG_RUNTIME_DIR USER LOGNAME SHELL IS_SANDBOX "
    "DISABLE_AUTOUPDATER DISABLE_TELEMETRY OTEL_EXPORTER_OTLP_ENDPOINT DEBUG "
    "DEBUG_CLAUDE_AGENT_SDK PWD LANG ");

}  // namespace

TEST(validate_env, refuses_every_appendix_b_name) {
  for (const auto& name : appendix_b) {
    auto errors = validate_env({{name, "x"}});
    EXPECT_FALSE(errors.empty()) << name;
    EXPECT_TRUE(is_denied_env_name(name)) << name;
  }
}

TEST(validate_env, names_the_field_of_a_denied_variable) {
  auto errors = validate_env({{"LD_PRELOAD", "/x.so"}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "env.LD_PRELOAD");
}

TEST(validate_env, refuses_malformed_names_without_echoing_them) {
  std::string with_nul{"A\0B", 3};
  for (const std::string& name :
       {std::string{""}, std::string{"foo"}, std::string{"Path"}, std::string{"1ABC"},
        std::string{"A-B"}, std::string{"A=B"}, with_nul, std::string{"A B"}, std::string{"ÄBC"},
        std::string(129, 'A')}) {
    auto errors = validate_env({{name, "x"}});
    ASSERT_EQ(errors.size(), 1u) << name;
    EXPECT_EQ(errors[0].field, "env");
    if (!name.empty()) {
      EXPECT_EQ(errors[0].message.find(name), std::string::npos);
    }
  }
  EXPECT_TRUE(validate_env({{std::string(128, 'A'), "x"}}).empty());
}

TEST(validate_env, value_limits) {
  EXPECT_TRUE(validate_env({{"MY_VAR", std::string(4096, 'v')}}).empty());
  EXPECT_FALSE(validate_env({{"MY_VAR", std::string(4097, 'v')}}).empty());
  EXPECT_FALSE(validate_env({{"MY_VAR", std::string{"a\0b", 3}}}).empty());
  EXPECT_TRUE(validate_env({{"MY_VAR", ""}}).empty());
}

TEST(validate_env, accepts_ordinary_variables_and_lists_every_problem) {
  EXPECT_TRUE(validate_env({{"MY_VAR", "1"},
                            {"_PRIVATE", "x"},
                            {"TZ", "UTC"},
                            {"FEATURE_FLAG_2", "on"},
                            {"AWS_REGION", "eu-west-1"}})
                  .empty());
  auto errors = validate_env({{"LD_PRELOAD", "x"}, {"PATH", "x"}, {"OK_VAR", "x"}, {"bad", "x"}});
  EXPECT_EQ(errors.size(), 3u);
  std::map<std::string, std::string> many;
  for (int i = 0; i <= 100; ++i) many["VAR_" + std::to_string(i)] = "x";
  EXPECT_FALSE(validate_env(many).empty());
}

TEST(validate_env, random_names_accepted_only_when_well_formed_and_not_denied) {
  std::mt19937 rng{12345};
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789az-=. ";
  std::uniform_int_distribution<size_t> len{0, 20};
  std::uniform_int_distribution<size_t> pick{0, alphabet.size() - 1};
  auto oracle_denied = [](const std::string& n) {
    for (const auto& d : appendix_b)
      if (n == d) return true;
    for (auto p : {"LD_", "MALLOC_", "BASH_FUNC_", "NODE_", "PYTHON", "GIT_", "ANTHROPIC_",
                   "CLAUDE_", "XDG_", "DISABLE_", "OTEL_", "DEBUG", "PERL", "RUBY"})
      if (n.rfind(p, 0) == 0) return true;
    return n.size() >= 6 && n.compare(n.size() - 6, 6, "_PROXY") == 0;
  };
  for (int i = 0; i < 10000; ++i) {
    std::string name;
    for (size_t n = len(rng); n > 0; --n) name += alphabet[pick(rng)];
    if (!validate_env({{name, "v"}}).empty()) continue;
    ASSERT_FALSE(name.empty());
    EXPECT_TRUE((name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_') << name;
    EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"), std::string::npos)
        << name;
    EXPECT_FALSE(oracle_denied(name)) << name;
  }
}
