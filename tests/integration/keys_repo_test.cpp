// Tenants and API keys over the pool: create, list, revoke, find by hash, touch, bootstrap.

#include "config/errc.hpp"
#include "storage/crypto.hpp"
#include "storage/postgres/key_repository.hpp"
#include "storage/postgres/migrations.hpp"
#include "tests/support/pg_fixture.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <gtest/gtest.h>

using namespace caa::storage;
using namespace std::chrono_literals;
using caa::errc;
using caa::errc_of;
using caa::secret;
using caa::test::await_callbacks;

namespace {

class keys_repo_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!caa::test::env_database_url()) GTEST_SKIP() << "DATABASE_URL not set";
    db_ = caa::test::shared_scratch_database();
    ASSERT_TRUE(run_migrations(db_->url()));
    pg_pool_config cfg;
    cfg.database_url = db_->url();
    cfg.size = 2;
    pg_ = spawn_pg_pool(sys_, cfg);
    repo_.emplace(sys_, pg_, pg_request_timeout(cfg));
  }

  void TearDown() override {
    if (pg_) caf::anon_send_exit(pg_, caf::exit_reason::user_shutdown);
  }

  /// A tenant name not used before (tests may repeat on one database).
  static std::string unique_tenant(const std::string& prefix) {
    return prefix + "-" + to_hex(random_bytes(4));
  }

  caf::expected<created_key> create(const std::string& tenant, std::vector<std::string> scopes,
                                    const std::string& name = "key") {
    return await_callbacks<created_key>(
        [&](auto ok, auto fail) { repo_->create_key(tenant, std::move(scopes), name, ok, fail); });
  }

  caf::expected<std::optional<key_record>> find(const std::string& plaintext) {
    return await_callbacks<std::optional<key_record>>(
        [&](auto ok, auto fail) { repo_->find_by_hash(sha256(plaintext), ok, fail); });
  }

  caf::expected<bool> revoke(const std::string& id) {
    return await_callbacks<bool>([&](auto ok, auto fail) { repo_->revoke_key(id, ok, fail); });
  }

  caf::expected<key_record> seed(const std::string& plaintext) {
    return await_callbacks<key_record>(
        [&](auto ok, auto fail) { repo_->seed_bootstrap_key(secret{plaintext}, ok, fail); });
  }

  caf::expected<std::vector<key_record>> list(key_filter f) {
    return await_callbacks<std::vector<key_record>>(
        [&](auto ok, auto fail) { repo_->list_keys(f, ok, fail); });
  }

  caa::test::storage_test_config cfg_;
  caf::actor_system sys_{cfg_};
  const caa::test::scratch_database* db_ = nullptr;
  pg_actor pg_;
  std::optional<key_repository> repo_;
};

}  // namespace

TEST_F(keys_repo_test, ensure_tenant_is_idempotent) {
  auto a =
      await_callbacks<tenant>([&](auto ok, auto fail) { repo_->ensure_tenant("acme", ok, fail); });
  auto b =
      await_callbacks<tenant>([&](auto ok, auto fail) { repo_->ensure_tenant("acme", ok, fail); });
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->name, "acme");
  auto bad = await_callbacks<tenant>(
      [&](auto ok, auto fail) { repo_->ensure_tenant("Not Valid", ok, fail); });
  ASSERT_FALSE(bad);
  EXPECT_EQ(errc_of(bad.error()), errc::validation);
}

TEST_F(keys_repo_test, create_find_list_revoke) {
  const auto tenant_name = unique_tenant("create-flow");
  auto k = create(tenant_name, {"agent", "admin", "agent"}, "ci");
  ASSERT_TRUE(k) << sys_.render(k.error());
  const auto& plain = k->plaintext.reveal();
  EXPECT_TRUE(plain.starts_with("caa_"));
  EXPECT_EQ(k->record.prefix, plain.substr(0, 12));
  EXPECT_EQ(k->record.tenant_name, tenant_name);
  EXPECT_EQ(k->record.scopes, (std::vector<std::string>{"admin", "agent"}));
  EXPECT_FALSE(k->record.revoked());

  auto found = find(plain);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, k->record.id);
  EXPECT_EQ((*found)->tenant_name, tenant_name);
  auto missing = find(plain + "x");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  auto mine = list(key_filter{tenant_name, 100, 0});
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->front().id, k->record.id);

  auto touched = await_callbacks<bool>(
      [&](auto ok, auto fail) { repo_->touch_last_used(k->record.id, ok, fail); });
  ASSERT_TRUE(touched);
  EXPECT_TRUE(*touched);
  EXPECT_TRUE((*find(plain))->last_used_at.has_value());

  EXPECT_EQ(revoke(k->record.id), caf::expected<bool>{true});
  EXPECT_EQ(revoke(k->record.id), caf::expected<bool>{true});  // idempotent
  EXPECT_EQ(revoke("00000000-0000-0000-0000-000000000000"), caf::expected<bool>{false});
  EXPECT_EQ(revoke("not-a-uuid"), caf::expected<bool>{false});
  auto revoked = find(plain);
  ASSERT_TRUE(revoked && revoked->has_value());
  EXPECT_TRUE((*revoked)->revoked());
}

TEST_F(keys_repo_test, invalid_arguments_are_validation_errors) {
  EXPECT_EQ(errc_of(create("BAD NAME", {"agent"}).error()), errc::validation);
  EXPECT_EQ(errc_of(create("ok-tenant", {}).error()), errc::validation);
  EXPECT_EQ(errc_of(create("ok-tenant", {"root"}).error()), errc::validation);
  EXPECT_EQ(errc_of(create("ok-tenant", {"agent"}, "").error()), errc::validation);
}

TEST_F(keys_repo_test, list_pages_and_never_exposes_secrets) {
  const auto tenant_name = unique_tenant("paged");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(create(tenant_name, {"agent"}, "k" + std::to_string(i)));
  auto page1 = list(key_filter{tenant_name, 2, 0});
  auto page3 = list(key_filter{tenant_name, 2, 4});
  ASSERT_TRUE(page1 && page3);
  EXPECT_EQ(page1->size(), 2u);
  EXPECT_EQ(page3->size(), 1u);
  EXPECT_EQ(page1->front().name, "k0");
  EXPECT_EQ(page3->front().name, "k4");
  auto all = list(key_filter{std::nullopt, 1000, 0});
  ASSERT_TRUE(all);
  EXPECT_LE(all->size(), 100u);  // the limit is clamped
}

TEST_F(keys_repo_test, plaintext_is_never_stored) {
  auto k = create("dump-check", {"agent"});
  ASSERT_TRUE(k);
  const auto& plain = k->plaintext.reveal();
  auto secret_part = plain.substr(12);  // beyond the displayed prefix
  for (const char* table : {"api_keys", "tenants", "schema_migrations"}) {
    auto rows =
        caa::test::raw_query(db_->url(), std::string{"SELECT t::text FROM "} + table + " t");
    for (const auto& row : rows) {
      ASSERT_TRUE(row[0]);
      EXPECT_EQ(row[0]->find(secret_part), std::string::npos) << table;
    }
  }
  auto stored = caa::test::raw_query(
      db_->url(), "SELECT encode(key_hash, 'hex') FROM api_keys WHERE id = '" + k->record.id + "'");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(*stored[0][0], to_hex(sha256(plain)));
}

TEST_F(keys_repo_test, bootstrap_key_seeds_and_rotates) {
  const std::string a = "bootstrap-key-a-0123456789";
  const std::string b = "bootstrap-key-b-0123456789";
  auto first = seed(a);
  ASSERT_TRUE(first) << sys_.render(first.error());
  EXPECT_EQ(first->tenant_name, "default");
  EXPECT_EQ(first->name, "bootstrap");
  EXPECT_TRUE(first->has_scope("admin"));
  EXPECT_FALSE(first->revoked());

  auto again = seed(a);  // restart with the same API_KEY: same key
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, first->id);

  ASSERT_EQ(revoke(first->id), caf::expected<bool>{true});
  auto revived = seed(a);  // API_KEY is authoritative: un-revoked
  ASSERT_TRUE(revived);
  EXPECT_FALSE(revived->revoked());

  auto rotated = seed(b);
  ASSERT_TRUE(rotated);
  EXPECT_NE(rotated->id, first->id);
  auto old_key = find(a);
  ASSERT_TRUE(old_key && old_key->has_value());
  EXPECT_TRUE((*old_key)->revoked());
  auto new_key = find(b);
  ASSERT_TRUE(new_key && new_key->has_value());
  EXPECT_FALSE((*new_key)->revoked());

  auto blocking = seed_bootstrap_key_blocking(sys_, pg_, 10s, secret{b});
  ASSERT_TRUE(blocking);
  EXPECT_EQ(blocking->id, rotated->id);
  EXPECT_EQ(errc_of(seed("").error()), errc::validation);
}

TEST_F(keys_repo_test, actors_use_the_builders_directly) {
  auto k = create("from-actor", {"agent"});
  ASSERT_TRUE(k);
  caf::scoped_actor self{sys_};
  std::optional<key_record> got;
  self->request(pg_, 10s, make_find_by_hash_query(sha256(k->plaintext.reveal())))
      .receive(
          [&](db_result& r) {
            auto parsed = parse_optional_key(r);
            ASSERT_TRUE(parsed);
            got = *parsed;
          },
          [&](caf::error& e) { FAIL() << sys_.render(e); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, k->record.id);
}
