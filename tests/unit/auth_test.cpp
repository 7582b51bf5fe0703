#include "transport/api/auth.hpp"

#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <map>
#include <thread>

namespace caa::auth {

/// Test access to the passkey (the test plays the auth module).
struct test_access {
  static http::auth_passkey passkey() { return passkey_issuer::issue(); }
};

}  // namespace caa::auth

using namespace caa;
using namespace std::chrono_literals;

namespace {

auth::digest hash_of(const std::string& key) {
  auth::digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());
  return d;
}

/// A fake key store counting lookups.
struct fake_store {
  std::map<auth::digest, auth::key_row> rows;
  int lookups = 0;
  bool down = false;

  auth::key_lookup lookup() {
    return [this](const auth::digest& h, auto done) {
      ++lookups;
      if (down) {
        done(std::nullopt, make_error(errc::unavailable, "down"));
        return;
      }
      auto it = rows.find(h);
      done(it == rows.end() ? std::nullopt : std::optional<auth::key_row>{it->second},
           caf::error{});
    };
  }

  void add(const std::string& key, bool admin, const std::string& id = "k1") {
    auth::key_row r;
    r.key_id = id;
    r.tenant_id = "t1";
    r.tenant_name = "acme";
    r.key_hash = hash_of(key);
    r.agent = true;
    r.admin = admin;
    rows[r.key_hash] = r;
  }
};

struct outcome {
  std::optional<http::principal> who;
  errc code = errc::none;
};

outcome run(auth::key_authenticator& a, const std::string& key) {
  outcome out;
  a.authenticate(key, [&](std::optional<http::principal> p, caf::error e) {
    out.who = std::move(p);
    out.code = errc_of(e);
  });
  return out;
}

}  // namespace

TEST(key_authenticator, accepts_known_key_with_scopes) {
  fake_store store;
  store.add("caa_goodkey", false);
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  auto out = run(*a, "caa_goodkey");
  ASSERT_TRUE(out.who);
  EXPECT_EQ(out.who->tenant_name(), "acme");
  EXPECT_TRUE(out.who->has(http::scope::agent));
  EXPECT_FALSE(out.who->has(http::scope::admin));
}

TEST(key_authenticator, refuses_unknown_malformed_and_revoked_keys) {
  fake_store store;
  store.add("caa_revoked", true);
  store.rows.begin()->second.revoked = true;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  EXPECT_EQ(run(*a, "caa_unknown").code, errc::unauthenticated);
  EXPECT_EQ(run(*a, "caa_revoked").code, errc::unauthenticated);
  EXPECT_EQ(run(*a, "").code, errc::unauthenticated);
  EXPECT_EQ(run(*a, "bad key\r\nX-Injected: 1").code, errc::unauthenticated);
  EXPECT_EQ(run(*a, std::string(300, 'a')).code, errc::unauthenticated);
}

TEST(key_authenticator, caches_positive_and_negative_lookups) {
  fake_store store;
  store.add("caa_goodkey", false);
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  run(*a, "caa_goodkey");
  run(*a, "caa_goodkey");
  run(*a, "caa_nothere");
  run(*a, "caa_nothere");
  EXPECT_EQ(store.lookups, 2);
}

TEST(key_authenticator, expired_entries_are_looked_up_again) {
  fake_store store;
  store.add("caa_goodkey", false);
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 1ms);
  run(*a, "caa_goodkey");
  std::this_thread::sleep_for(5ms);
  store.rows.begin()->second.revoked = true;
  EXPECT_EQ(run(*a, "caa_goodkey").code, errc::unauthenticated);
  EXPECT_EQ(store.lookups, 2);
}

TEST(key_authenticator, invalidate_drops_a_revoked_key_at_once) {
  fake_store store;
  store.add("caa_goodkey", false, "key-7");
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  ASSERT_TRUE(run(*a, "caa_goodkey").who);
  store.rows.begin()->second.revoked = true;
  a->invalidate("key-7");
  EXPECT_EQ(run(*a, "caa_goodkey").code, errc::unauthenticated);
}

TEST(key_authenticator, store_down_is_unavailable_and_not_cached) {
  fake_store store;
  store.add("caa_goodkey", false);
  store.down = true;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  EXPECT_EQ(run(*a, "caa_goodkey").code, errc::unavailable);
  store.down = false;
  EXPECT_TRUE(run(*a, "caa_goodkey").who);
}

TEST(key_authenticator, cache_is_bounded) {
  fake_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s, 8);
  for (int i = 0; i < 100; ++i)
    run(*a, "caa_junk" + std::to_string(i));
  store.add("caa_goodkey", false);
  EXPECT_TRUE(run(*a, "caa_goodkey").who);
}
