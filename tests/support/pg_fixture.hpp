#pragma once

// Test support for the storage layer: a scratch PostgreSQL database per test process, service
// URLs from the environment, and an actor-system configuration with the storage types loaded.

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace caa::test {

/// DATABASE_URL from the environment, or nullopt (integration tests then GTEST_SKIP).
std::optional<std::string> env_database_url();

/// REDIS_URL from the environment, or nullopt.
std::optional<std::string> env_redis_url();

/// A database `caa_t_<random>` created on the server of `server_url`, dropped (WITH FORCE) by
/// the destructor. Throws std::runtime_error when the server cannot be reached.
class scratch_database {
 public:
  /// Creates the database.
  explicit scratch_database(const std::string& server_url);

  /// Drops the database; errors are ignored.
  ~scratch_database();

  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  /// The URL of the scratch database.
  const std::string& url() const noexcept { return url_; }

  /// Its name.
  const std::string& name() const noexcept { return name_; }

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

/// The scratch database of this test process on DATABASE_URL's server: created on the first
/// call, dropped at exit; nullptr when DATABASE_URL is unset.
const scratch_database* shared_scratch_database();

/// A text row of `raw_query` (NULL as nullopt).
using text_row = std::vector<std::optional<std::string>>;

/// Runs `sql` on `url` directly with libpqxx (test inspection only; BLOCKING).
std::vector<text_row> raw_query(const std::string& url, const std::string& sql);

/// A TCP port on 127.0.0.1 on which nothing listens (bound to port 0, then closed).
uint16_t closed_port();

/// Calls `op(on_value, on_error)` and waits (BLOCKING, test thread only) for one of them;
/// a test-side timeout yields `sec::request_timeout`.
template <class T, class Op>
caf::expected<T> await_callbacks(Op op, std::chrono::seconds limit = std::chrono::seconds{30}) {
  auto p = std::make_shared<std::promise<caf::expected<T>>>();
  auto f = p->get_future();
  op([p](T v) { p->set_value(caf::expected<T>{std::move(v)}); },
     [p](caf::error e) { p->set_value(caf::expected<T>{std::move(e)}); });
  if (f.wait_for(limit) != std::future_status::ready)
    return caf::make_error(caf::sec::request_timeout);
  return f.get();
}

/// An actor-system configuration with the storage type-ID block and the `errc` category loaded.
class storage_test_config : public caf::actor_system_config {
 public:
  storage_test_config();
};

}  // namespace caa::test
