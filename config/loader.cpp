#include "config/loader.hpp"

#include "config/logging.hpp"
#include "config/parsers.hpp"
#include "config/variables.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

extern char** environ;  // NOLINT: POSIX

namespace caa {

namespace {

/// Values by env name, later sources overwriting earlier ones.
using assignments = std::map<std::string, std::string, std::less<>>;

/// What argv asked for.
struct command_line {
  assignments flags;
  std::optional<std::string> config_file;
  bool help = false;
};

std::string_view trim(std::string_view text) noexcept {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

/// The variable whose flag is `--name`, or nullptr ("api-port" -> API_PORT).
const config::variable* find_flag(std::string_view name) {
  std::string env{name};
  std::transform(env.begin(), env.end(), env.begin(), [](char c) {
    return c == '-' ? '_' : (c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  });
  auto* var = config::find_variable(env);
  return var != nullptr && config::flag_of(var->name) == name ? var : nullptr;
}

/// Takes the value of the flag at `argv[i]`: after '=', else the next argument unless it is a
/// flag; a bare boolean flag means "true". Advances `i` past a consumed value.
std::optional<std::string> take_value(std::optional<std::string_view> inline_value, bool boolean,
                                      int argc, const char* const* argv, int& i) {
  if (inline_value) return std::string{*inline_value};
  if (i + 1 < argc && !std::string_view{argv[i + 1]}.starts_with("--"))
    return std::string{argv[++i]};
  if (boolean) return "true";
  return std::nullopt;
}

command_line parse_args(int argc, const char* const* argv, std::vector<std::string>& errors) {
  command_line out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      // Never echo it: a misplaced secret would end up in the error output.
      errors.push_back("argument " + std::to_string(i) + ": expected --name=value or --name value");
      continue;
    }
    auto body = arg.substr(2);
    auto eq = body.find('=');
    auto name = body.substr(0, eq);
    std::optional<std::string_view> inline_value;
    if (eq != std::string_view::npos) inline_value = body.substr(eq + 1);
    if (name == "config") {
      out.config_file = take_value(inline_value, false, argc, argv, i);
      if (!out.config_file) errors.emplace_back("--config: missing FILE");
      continue;
    }
    auto* var = find_flag(name);
    if (var == nullptr) {
      errors.push_back("unknown flag " + config::quote("--" + std::string{name}));
      continue;
    }
    if (auto value = take_value(inline_value, var->boolean, argc, argv, i))
      out.flags[std::string{var->name}] = std::move(*value);
    else
      errors.push_back(std::string{var->name} + ": flag --" + config::flag_of(var->name) +
                       " needs a value");
  }
  return out;
}

/// Reads `NAME=VALUE` lines; '#' starts a comment line; one pair of quotes around VALUE is
/// removed.
void read_file(const std::string& path, assignments& out, std::vector<std::string>& errors) {
  std::ifstream in{path};
  auto where = "--config " + config::quote(path);
  if (!in) {
    errors.push_back(where + ": cannot be read");
    return;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    auto eq = text.find('=');
    auto at = where + " line " + std::to_string(number);
    if (eq == std::string_view::npos) {
      errors.push_back(at + ": expected NAME=VALUE");
      continue;
    }
    auto name = trim(text.substr(0, eq));
    auto value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (config::find_variable(name) == nullptr)
      errors.push_back(at + ": unknown variable " + config::quote(name));
    else
      out[std::string{name}] = std::string{value};
  }
}

std::string default_node_id() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::copy_n("node", 5, host);
  return std::string{host} + "-" + std::to_string(getpid());
}

/// Rules that involve more than one variable, and derived defaults.
void finish(settings& s, std::vector<std::string>& errors) {
  const auto& origins = s.http.cors_origins;
  if (!s.debug && std::find(origins.begin(), origins.end(), "*") != origins.end())
    errors.emplace_back("CORS_ORIGINS: \"*\" is only allowed when DEBUG is true");
  if (s.cluster.node_id.empty()) s.cluster.node_id = default_node_id();
  if (s.cluster.heartbeat >= s.cluster.node_ttl)
    errors.emplace_back("CLUSTER_HEARTBEAT: must be shorter than CLUSTER_NODE_TTL");
  s.sandbox.service_uid = static_cast<uint32_t>(::geteuid());
  if (!s.sandbox.strict && !s.debug)
    errors.emplace_back("AGENT_SANDBOX: off is only allowed when DEBUG is true");
  if (uint64_t{s.sandbox.uid_base} + s.sandbox.uid_count > 4294967294ull)
    errors.emplace_back("AGENT_UID_BASE + AGENT_UID_COUNT: the range must end below 4294967295");
  // A turn waits up to ADMISSION_WAIT for a process slot, then for the CLI to start: the edge's
  // handler deadline must not answer first (it would say SERVICE_UNAVAILABLE instead of
  // CAPACITY_EXHAUSTED).
  s.http.query_request_timeout =
      std::max(s.http.request_timeout, s.agent.admission_wait + seconds_d{30});
}

}  // namespace

load_result load_settings(int argc, const char* const* argv,
                          const std::map<std::string, std::string>& env) {
  load_result result;
  auto args = parse_args(argc, argv, result.errors);
  result.help_requested = args.help;
  assignments merged;
  for (const auto& var : config::variables())
    if (auto i = env.find(std::string{var.name}); i != env.end())
      merged[std::string{var.name}] = i->second;
  if (args.config_file) read_file(*args.config_file, merged, result.errors);
  for (auto& [name, value] : args.flags) merged[name] = std::move(value);
  settings s;
  for (const auto& var : config::variables()) {
    auto i = merged.find(var.name);
    if (i == merged.end()) continue;
    if (auto err = var.apply(s, i->second); !err.empty())
      result.errors.push_back(std::string{var.name} + ": " + err);
  }
  finish(s, result.errors);
  if (result.errors.empty() && !result.help_requested) result.value = std::move(s);
  return result;
}

load_result load_settings(int argc, const char* const* argv) {
  return load_settings(argc, argv, process_environment());
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> out;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry = *p;
    auto eq = entry.find('=');
    if (eq != std::string_view::npos) out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

std::string usage(std::string_view program) {
  std::string out = "Usage: " + std::string{program} +
                    " [--config FILE] [--name=VALUE]...\n\n"
                    "Each setting NAME is read from the environment, then from FILE (NAME=VALUE\n"
                    "lines, '#' comments), then from the flag --name (NAME lower-cased, '_' as\n"
                    "'-'); later sources win. Invalid or unknown settings stop the start-up.\n\n";
  const settings defaults;
  for (const auto& var : config::variables()) {
    out.append("  ").append(var.name).append(", --").append(config::flag_of(var.name));
    out.append("  (default: ").append(var.show(defaults)).append(")\n      ");
    out.append(var.help).append("\n");
  }
  return out;
}

std::string describe(const settings& s) {
  std::string out;
  for (const auto& var : config::variables())
    out.append(var.name).append("=").append(var.show(s)).append("\n");
  return out;
}

void log_settings(const settings& s) {
  for (const auto& var : config::variables()) {
    auto line = std::string{var.name} + "=" + var.show(s);
    log::info("setting", {.component = "config", .detail = line});
  }
}

}  // namespace caa
