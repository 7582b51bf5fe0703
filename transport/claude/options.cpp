#include "transport/claude/options.hpp"

#include <algorithm>
#include <iterator>

namespace caa::claude {

namespace {

/// Names refused exactly (RELIABILITY Appendix B plus what the server sets itself).
constexpr std::string_view denied_names[] = {
    // loader and libc
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "TZDIR",
    "NLSPATH",
    // shells
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "CDPATH",
    "ZDOTDIR",
    // interpreters and tools that load code or config from the environment
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "SSH_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "LESSOPEN",
    "LESSCLOSE",
    "BROWSER",
    // TLS
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "SSLKEYLOGFILE",
    // Claude
    "CLAUDECODE",
    "IS_SANDBOX",
    // process context and what build_env sets
    "HOME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "OLDPWD",
    "LANG",
    "TERMINFO",
    "TERMINFO_DIRS",
    "KRB5_CONFIG",
};

/// Name prefixes refused (a family: LD_PRELOAD, NODE_OPTIONS, GIT_SSH_COMMAND, CLAUDE_CODE_*...).
constexpr std::string_view denied_prefixes[] = {
    "LD_",     "MALLOC_", "BASH_FUNC_", "NODE_", "NPM_CONFIG_", "BUN_",
    "PYTHON",  "PERL",    "RUBY",       "GIT_",  "OPENSSL_",    "ANTHROPIC_",
    "CLAUDE_", "XDG_",    "DISABLE_",   "OTEL_", "DEBUG",       "GCONV_",
};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// Whether `name` ends with "_PROXY" in any letter case.
bool is_proxy_name(std::string_view name) {
  constexpr std::string_view suffix = "_PROXY";
  if (name.size() < suffix.size()) return false;
  auto tail = name.substr(name.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(), [](char a, char b) {
    return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
  });
}

/// Whether `name` matches `^[A-Z_][A-Z0-9_]*$` and is at most `max_env_name_bytes` long.
bool is_well_formed(std::string_view name) {
  if (name.empty() || name.size() > max_env_name_bytes) return false;
  auto upper_or_underscore = [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!upper_or_underscore(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return upper_or_underscore(c) || (c >= '0' && c <= '9'); });
}

}  // namespace

bool is_denied_env_name(std::string_view name) {
  if (!is_well_formed(name) || is_proxy_name(name)) return true;
  if (std::find(std::begin(denied_names), std::end(denied_names), name) != std::end(denied_names))
    return true;
  return std::any_of(std::begin(denied_prefixes), std::end(denied_prefixes),
                     [&](std::string_view p) { return starts_with(name, p); });
}

std::vector<field_error> validate_env(const std::map<std::string, std::string>& env) {
  std::vector<field_error> errors;
  if (env.size() > max_env_entries)
    errors.push_back({"env", "at most " + std::to_string(max_env_entries) + " variables"});
  for (const auto& [name, value] : env) {
    if (!is_well_formed(name)) {
      errors.push_back({"env", "variable names must match ^[A-Z_][A-Z0-9_]*$ (at most " +
                                   std::to_string(max_env_name_bytes) + " characters)"});
      continue;
    }
    auto field = "env." + name;
    if (is_denied_env_name(name)) errors.push_back({field, "this variable may not be set"});
    if (value.size() > max_env_value_bytes)
      errors.push_back(
          {field, "value longer than " + std::to_string(max_env_value_bytes) + " bytes"});
    if (value.find('\0') != std::string::npos)
      errors.push_back({field, "value contains a NUL character"});
  }
  return errors;
}

}  // namespace caa::claude
