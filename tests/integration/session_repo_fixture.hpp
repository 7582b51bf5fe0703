#pragma once

// Fixture of the session storage tests: a migrated scratch database, a pool, the repository,
// unique tenants and sessions, and a blocking `ask` for builders.

#include "config/errc.hpp"
#include "storage/crypto.hpp"
#include "storage/postgres/event_queries.hpp"
#include "storage/postgres/key_queries.hpp"
#include "storage/postgres/migrations.hpp"
#include "storage/postgres/session_queries.hpp"
#include "storage/postgres/session_repository.hpp"
#include "tests/support/pg_fixture.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace caa::test {

using namespace std::chrono_literals;

/// The node that owns every session the fixture creates (recovery tests use their own).
inline const std::string fixture_node = "fixture-node";

/// `n` events of session `id` from seq `first` on, payload {"n": seq}.
inline std::vector<storage::session_event> make_events(const std::string& id, uint64_t first,
                                                       std::size_t n) {
  std::vector<storage::session_event> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto seq = first + i;
    out.push_back({id, seq, "message", R"({"n":)" + std::to_string(seq) + "}"});
  }
  return out;
}

class session_repo_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_database_url()) GTEST_SKIP() << "DATABASE_URL not set";
    db_ = shared_scratch_database();
    auto report = storage::run_migrations(db_->url());
    ASSERT_TRUE(report) << sys_.render(report.error());
    pg_cfg_.database_url = db_->url();
    pg_cfg_.size = 4;
    // Pipelined producers read every answer back: more waiting requests than the default.
    pg_cfg_.max_queue = 4096;
    pg_ = storage::spawn_pg_pool(sys_, pg_cfg_);
    repo_.emplace(sys_, pg_, storage::pg_request_timeout(pg_cfg_));
  }

  void TearDown() override {
    if (pg_) caf::anon_send_exit(pg_, caf::exit_reason::user_shutdown);
  }

  /// A random UUID (version 4 layout is not needed by PostgreSQL).
  static std::string new_uuid() {
    auto hex = storage::to_hex(storage::random_bytes(16));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
  }

  /// Sends `msg` to the pool and waits for the reply.
  template <class Reply, class Msg>
  caf::expected<Reply> ask(Msg msg) {
    caf::expected<Reply> out{make_error(errc::internal, "no reply")};
    caf::scoped_actor self{sys_};
    self->request(pg_, 30s, std::move(msg))
        .receive([&](Reply& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  /// A new tenant; returns its id.
  std::string make_tenant() {
    auto q = storage::make_ensure_tenant_query("t-" + storage::to_hex(storage::random_bytes(5)));
    auto r = ask<storage::db_result>(*q);
    EXPECT_TRUE(r);
    return r ? storage::parse_tenant(*r)->id : std::string{};
  }

  /// A session of `tenant` to be created (owner `fixture_node`).
  static storage::new_session fresh(const std::string& tenant,
                                    storage::session_status st = storage::session_status::idle) {
    storage::new_session s;
    s.tenant_id = tenant;
    s.id = new_uuid();
    s.cli_session_id = new_uuid();
    s.status = st;
    s.owner_node = fixture_node;
    return s;
  }

  /// Creates `s` through the repository.
  caf::expected<storage::session_record> create(storage::new_session s) {
    return await_callbacks<storage::session_record>(
        [&](auto ok, auto fail) { repo_->create(std::move(s), ok, fail); });
  }

  /// Reads a session through the repository.
  caf::expected<storage::session_record> get(const std::string& tenant, const std::string& id) {
    return await_callbacks<storage::session_record>(
        [&](auto ok, auto fail) { repo_->get(tenant, id, ok, fail); });
  }

  /// Appends `events` with the builder (not through the writer).
  caf::expected<std::vector<storage::append_status>> append(
      const std::vector<storage::session_event>& events) {
    auto q = storage::make_append_events_query(events);
    if (!q) return q.error();
    auto r = ask<storage::db_result>(std::move(*q));
    if (!r) return r.error();
    return storage::parse_append_events(*r);
  }

  /// Reads events through the repository.
  caf::expected<storage::event_page> read_events(const std::string& tenant, const std::string& id,
                                                 uint64_t after = 0, unsigned limit = 1000) {
    return await_callbacks<storage::event_page>(
        [&](auto ok, auto fail) { repo_->read_events(tenant, id, after, limit, ok, fail); });
  }

  /// `n` events of session `id` from seq `first` on.
  static std::vector<storage::session_event> events(const std::string& id, uint64_t first,
                                                    std::size_t n) {
    return make_events(id, first, n);
  }

  storage_test_config cfg_;
  caf::actor_system sys_{cfg_};
  const scratch_database* db_ = nullptr;
  storage::pg_pool_config pg_cfg_;
  storage::pg_actor pg_;
  std::optional<storage::session_repository> repo_;
};

}  // namespace caa::test
