#pragma once

#include "config/settings.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

/// The table of configuration variables: one entry per `///` env name in settings.hpp.
namespace caa::config {

/// One configuration variable: its name, meaning, parser and renderer.
struct variable {
  /// Environment name, e.g. "API_PORT"; the flag is `--api-port`.
  std::string_view name;
  /// One-line meaning for `usage()`.
  std::string_view help;
  /// A bare flag (`--debug`) means "true".
  bool boolean = false;
  /// Parses `text` into the settings; returns "" or an error text that follows "NAME: " and
  /// never contains the value of a sensitive variable.
  std::function<std::string(settings&, std::string_view text)> apply;
  /// Renders the current value for logs: secrets as <set>/<unset>, URL passwords masked.
  std::function<std::string(const settings&)> show;
};

/// Every variable, in the order of settings.hpp.
[[nodiscard]] const std::vector<variable>& variables();

/// The variable called `name`, or nullptr.
[[nodiscard]] const variable* find_variable(std::string_view name);

/// The flag spelling of an env name without the dashes: "API_PORT" -> "api-port".
[[nodiscard]] std::string flag_of(std::string_view name);

}  // namespace caa::config
