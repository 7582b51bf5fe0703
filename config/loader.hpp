#pragma once

#include "config/settings.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa {

/// The outcome of `load_settings`: either validated settings, or every error found.
struct load_result {
  /// Set when there are no errors and help was not requested.
  std::optional<settings> value;
  /// One line per problem, each starting with the variable (or flag/file) it concerns; values of
  /// secret variables and URLs are never included.
  std::vector<std::string> errors;
  /// `--help` or `-h` was given: print `usage()` and exit 0.
  bool help_requested = false;
};

/// Reads every variable of settings.hpp from `env`, then from the `--config FILE` given in
/// `argv` (NAME=VALUE lines), then from flags (`--api-port=1` or `--api-port 1`), each source
/// overriding the previous, and validates the result. Unknown env names are ignored; unknown
/// flags and unknown names in the file are errors.
[[nodiscard]] load_result load_settings(int argc, const char* const* argv,
                                        const std::map<std::string, std::string>& env);

/// `load_settings` with the process environment (`environ`).
[[nodiscard]] load_result load_settings(int argc, const char* const* argv);

/// A snapshot of the process environment.
[[nodiscard]] std::map<std::string, std::string> process_environment();

/// The help text: synopsis, precedence, and every variable with its flag, default and meaning.
[[nodiscard]] std::string usage(std::string_view program = "claude-agent-api");

/// Every setting as `NAME=value` lines for a start-up log: secrets as <set>/<unset>, passwords
/// and query strings of URLs masked.
[[nodiscard]] std::string describe(const settings& s);

/// Logs `describe(s)` at info, one line per setting (component "config").
void log_settings(const settings& s);

}  // namespace caa
