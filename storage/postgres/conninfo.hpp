#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace caa::storage {

/// `database_url` (a `postgresql://` URI or a `key=value` conninfo) plus the connection options
/// every connection of the service uses: `connect_timeout` (whole seconds, at least 1), TCP
/// keepalives and `tcp_user_timeout` (a dead peer breaks the connection instead of hanging it),
/// and `application_name=caa`.
std::string make_conninfo(std::string_view database_url, std::chrono::seconds connect_timeout,
                          std::chrono::milliseconds tcp_user_timeout);

/// `database_url` pointing at database `dbname` instead (tests; admin connections).
std::string with_database(std::string_view database_url, std::string_view dbname);

}  // namespace caa::storage
