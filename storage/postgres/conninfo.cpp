#include "storage/postgres/conninfo.hpp"

#include <algorithm>

namespace caa::storage {

namespace {

bool is_uri(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

}  // namespace

std::string make_conninfo(std::string_view database_url, std::chrono::seconds connect_timeout,
                          std::chrono::milliseconds tcp_user_timeout) {
  auto secs = std::max<long long>(1, connect_timeout.count());
  auto user_ms = std::max<long long>(0, tcp_user_timeout.count());
  // Later settings override earlier ones in libpq, so ours go last.
  std::string opts[] = {
      "connect_timeout=" + std::to_string(secs),
      "keepalives=1",
      "keepalives_idle=5",
      "keepalives_interval=2",
      "keepalives_count=2",
      "tcp_user_timeout=" + std::to_string(user_ms),
      "application_name=caa",
  };
  std::string out{database_url};
  if (is_uri(database_url)) {
    char sep = out.find('?') == std::string::npos ? '?' : '&';
    for (auto& opt : opts) {
      out += sep;
      out += opt;
      sep = '&';
    }
  } else {
    for (auto& opt : opts) {
      out += ' ';
      out += opt;
    }
  }
  return out;
}

std::string with_database(std::string_view database_url, std::string_view dbname) {
  if (!is_uri(database_url)) {
    std::string out{database_url};
    out += " dbname=";
    out += dbname;
    return out;
  }
  auto scheme_end = database_url.find("://") + 3;
  auto query = database_url.find('?', scheme_end);
  auto path = database_url.find('/', scheme_end);
  if (path > query) path = std::string_view::npos;
  std::string out{database_url.substr(0, path == std::string_view::npos ? query : path)};
  out += '/';
  out += dbname;
  if (query != std::string_view::npos) out += database_url.substr(query);
  return out;
}

}  // namespace caa::storage
