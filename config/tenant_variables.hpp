#pragma once

#include "config/secret.hpp"

#include <map>
#include <string>
#include <string_view>

namespace caa::config {

/// The variables of one tenant for `${NAME}` references in MCP server env and headers.
using tenant_variable_map = std::map<std::string, secret>;

/// The longest accepted TENANT_VARIABLES_FILE.
inline constexpr std::size_t max_tenant_variables_file_bytes = 1u << 20;

/// The most variables one tenant may have.
inline constexpr std::size_t max_variables_per_tenant = 100;

/// The longest accepted variable value (an env value of the CLI's children).
inline constexpr std::size_t max_variable_value_bytes = 4096;

/// Parses the text of a TENANT_VARIABLES_FILE, `{"<tenant name>": {"NAME": "value", ...}}`:
/// tenant names are printable tokens of at most 128 bytes, names `^[A-Z_][A-Z0-9_]*$` (at most
/// 128 bytes, at most 100 per tenant), values strings of at most 4096 bytes without control
/// characters (tab allowed) and without `${`; no key twice. Returns "" and fills `out`, or an
/// error text that names the tenant or variable only when it is well formed and never shows
/// a value.
std::string parse_tenant_variables(std::string_view json,
                                   std::map<std::string, tenant_variable_map>& out);

/// Reads and parses the file at `path` (see `parse_tenant_variables`).
std::string read_tenant_variables(const std::string& path,
                                  std::map<std::string, tenant_variable_map>& out);

}  // namespace caa::config
