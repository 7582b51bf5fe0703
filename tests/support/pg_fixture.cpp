#include "tests/support/pg_fixture.hpp"

#include "config/errc.hpp"
#include "storage/crypto.hpp"
#include "storage/postgres/conninfo.hpp"
#include "storage/types.hpp"

#include <pqxx/pqxx>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace caa::test {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string{v};
}

void exec_autocommit(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  tx.exec(sql);
}

}  // namespace

std::optional<std::string> env_database_url() {
  return env("DATABASE_URL");
}

std::optional<std::string> env_redis_url() {
  return env("REDIS_URL");
}

scratch_database::scratch_database(const std::string& server_url)
    : server_url_(server_url),
      name_("caa_t_" + storage::to_hex(storage::random_bytes(6))),
      url_(storage::with_database(server_url, name_)) {
  try {
    exec_autocommit(server_url_, "CREATE DATABASE " + name_);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string{"cannot create scratch database: "} + e.what());
  }
}

scratch_database::~scratch_database() {
  try {
    exec_autocommit(server_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover caa_t_* database is harmless.
  }
}

const scratch_database* shared_scratch_database() {
  static std::unique_ptr<scratch_database> db = [] {
    auto url = env_database_url();
    return url ? std::make_unique<scratch_database>(*url) : nullptr;
  }();
  return db.get();
}

std::vector<text_row> raw_query(const std::string& url, const std::string& sql) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::vector<text_row> out;
  for (const auto& row : tx.exec(sql)) {
    text_row values;
    for (const auto& f : row)
      values.push_back(f.is_null() ? std::nullopt : std::optional<std::string>{f.c_str()});
    out.push_back(std::move(values));
  }
  return out;
}

uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);  // never listened: connections are refused
  return ntohs(addr.sin_port);
}

storage_test_config::storage_test_config() {
  add_message_types<caf::id_block::caa_storage>();
  add_error_category(errc_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    return render_errc(code, ctx);
  });
}

}  // namespace caa::test
