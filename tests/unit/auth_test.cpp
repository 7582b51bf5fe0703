#include "transport/api/auth.hpp"
#include "transport/http/auth_throttle.hpp"

#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

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

TEST(key_authenticator, a_client_reconnecting_as_its_connection_closes_is_refused) {
  // The close of a revoked key's connection is what the client sees first; a reconnect at that
  // very moment must find the cache already cleared, never a valid entry from before the revoke.
  fake_store store;
  store.add("caa_goodkey", false, "k1");
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 60s);
  ASSERT_TRUE(run(*a, "caa_goodkey").who);
  auto owner = std::make_shared<int>(0);
  std::optional<errc> on_reconnect;
  a->watch("k1", owner, [&] { on_reconnect = run(*a, "caa_goodkey").code; });
  store.rows.begin()->second.revoked = true;
  a->invalidate("k1");
  ASSERT_TRUE(on_reconnect.has_value()) << "the connection was not closed";
  EXPECT_EQ(*on_reconnect, errc::unauthenticated);
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
  for (int i = 0; i < 100; ++i) run(*a, "caa_junk" + std::to_string(i));
  store.add("caa_goodkey", false);
  EXPECT_TRUE(run(*a, "caa_goodkey").who);
}

namespace {

/// A fake key store whose lookups stay pending until the test completes them.
struct deferred_store {
  using reply = std::function<void(std::optional<auth::key_row>, caf::error)>;
  std::mutex mtx;
  std::vector<reply> pending;
  int lookups = 0;

  auth::key_lookup lookup() {
    return [this](const auth::digest&, reply done) {
      std::lock_guard<std::mutex> guard{mtx};
      ++lookups;
      pending.push_back(std::move(done));
    };
  }

  /// Answers every pending lookup with `row` (or with an outage when `down`).
  void complete(const std::optional<auth::key_row>& row, bool down = false) {
    std::vector<reply> now;
    {
      std::lock_guard<std::mutex> guard{mtx};
      now.swap(pending);
    }
    for (auto& done : now)
      done(down ? std::nullopt : row, down ? make_error(errc::unavailable, "down") : caf::error{});
  }
};

auth::key_row row_of(const std::string& key, const std::string& id = "k1") {
  auth::key_row r;
  r.key_id = id;
  r.tenant_id = "t1";
  r.tenant_name = "acme";
  r.key_hash = hash_of(key);
  r.agent = true;
  return r;
}

/// Starts an authentication whose outcome lands in `out` when the lookup completes.
void start(auth::key_authenticator& a, const std::string& key, outcome& out, bool& answered) {
  a.authenticate(key, [&](std::optional<http::principal> p, caf::error e) {
    out.who = std::move(p);
    out.code = errc_of(e);
    answered = true;
  });
}

}  // namespace

TEST(key_authenticator, concurrent_misses_of_one_key_share_one_lookup) {
  deferred_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  std::array<outcome, 5> outs;
  std::array<bool, 5> answered{};
  for (size_t i = 0; i < outs.size(); ++i) start(*a, "caa_goodkey", outs[i], answered[i]);
  EXPECT_EQ(store.lookups, 1);
  EXPECT_FALSE(answered[0]);
  store.complete(row_of("caa_goodkey"));
  for (size_t i = 0; i < outs.size(); ++i) {
    EXPECT_TRUE(answered[i]);
    ASSERT_TRUE(outs[i].who);
    EXPECT_EQ(outs[i].who->tenant_name(), "acme");
  }
  EXPECT_TRUE(run(*a, "caa_goodkey").who);  // now cached
  EXPECT_EQ(store.lookups, 1);
}

TEST(key_authenticator, different_keys_are_looked_up_separately) {
  deferred_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  outcome one, two;
  bool a1 = false, a2 = false;
  start(*a, "caa_keyone", one, a1);
  start(*a, "caa_keytwo", two, a2);
  EXPECT_EQ(store.lookups, 2);
  store.complete(std::nullopt);
  EXPECT_EQ(one.code, errc::unauthenticated);
  EXPECT_EQ(two.code, errc::unauthenticated);
}

TEST(key_authenticator, failed_shared_lookup_answers_every_waiter_and_is_not_reused) {
  deferred_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  std::array<outcome, 3> outs;
  std::array<bool, 3> answered{};
  for (size_t i = 0; i < outs.size(); ++i) start(*a, "caa_goodkey", outs[i], answered[i]);
  store.complete(std::nullopt, true);
  for (size_t i = 0; i < outs.size(); ++i) {
    EXPECT_TRUE(answered[i]);
    EXPECT_EQ(outs[i].code, errc::unavailable);
  }
  outcome again;
  bool answered_again = false;
  start(*a, "caa_goodkey", again, answered_again);
  EXPECT_EQ(store.lookups, 2);  // the failure was neither cached nor joined
  store.complete(row_of("caa_goodkey"));
  EXPECT_TRUE(again.who);
}

TEST(key_authenticator, lookup_in_flight_at_a_revoke_is_not_cached_nor_joined) {
  deferred_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  outcome before, after;
  bool b = false, c = false;
  start(*a, "caa_goodkey", before, b);
  a->invalidate("k1");
  start(*a, "caa_goodkey", after, c);
  EXPECT_EQ(store.lookups, 2);  // the request after the revoke did not join the older lookup
  auto revoked = row_of("caa_goodkey");
  revoked.revoked = true;
  {
    // The older lookup read the row before the revoke; the newer one after it.
    std::vector<deferred_store::reply> replies;
    replies.swap(store.pending);
    replies[0](row_of("caa_goodkey"), caf::error{});
    replies[1](revoked, caf::error{});
  }
  EXPECT_TRUE(before.who);
  EXPECT_EQ(after.code, errc::unauthenticated);
  EXPECT_EQ(run(*a, "caa_goodkey").code, errc::unauthenticated);  // the stale row was not cached
}

TEST(key_authenticator, misses_from_many_threads_share_one_lookup) {
  deferred_store store;
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s);
  constexpr int n = 8;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&] {
      a->authenticate("caa_goodkey", [&](std::optional<http::principal> p, caf::error) {
        if (p) ++accepted;
      });
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(store.lookups, 1);
  store.complete(row_of("caa_goodkey"));
  EXPECT_EQ(accepted.load(), n);
}

TEST(key_authenticator, a_flood_of_unknown_keys_never_pushes_out_a_working_key) {
  fake_store store;
  store.add("caa_goodkey", false);
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 4s, 100);
  ASSERT_TRUE(run(*a, "caa_goodkey").who);
  for (int i = 0; i < 5'000; ++i)
    EXPECT_EQ(run(*a, "caa_junk" + std::to_string(i)).code, errc::unauthenticated);
  auto [known, unknown] = a->cache_sizes();
  EXPECT_EQ(known, 1u);
  EXPECT_EQ(unknown, 100u) << "the negative cache is bounded (least recently used go first)";
  auto before = store.lookups;
  EXPECT_TRUE(run(*a, "caa_goodkey").who);
  EXPECT_EQ(store.lookups, before) << "the working key is still cached";
  // The most recent unknown keys are still answered from the negative cache.
  run(*a, "caa_junk4999");
  EXPECT_EQ(store.lookups, before);
}

TEST(key_authenticator, a_key_that_worked_is_vouched_for_and_a_revoked_one_is_not) {
  fake_store store;
  store.add("caa_goodkey", false, "k1");
  auto a = std::make_shared<auth::key_authenticator>(store.lookup(), 1ms);
  EXPECT_FALSE(a->vouched("caa_goodkey")) << "never seen";
  ASSERT_TRUE(run(*a, "caa_goodkey").who);
  EXPECT_TRUE(a->vouched("caa_goodkey"));
  EXPECT_FALSE(a->vouched("caa_otherkey"));
  store.rows.begin()->second.revoked = true;
  a->invalidate("k1");
  EXPECT_FALSE(a->vouched("caa_goodkey")) << "a revoke ends the vouching";
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(run(*a, "caa_goodkey").code, errc::unauthenticated);
  EXPECT_FALSE(a->vouched("caa_goodkey"));
}

TEST(auth_throttle, an_address_that_fails_too_often_waits_and_others_do_not) {
  http::auth_throttle t{3, 4};
  auto now = std::chrono::steady_clock::now();
  double retry = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(t.blocked("10.0.0.1", now, retry));
    t.failed("10.0.0.1", now);
  }
  ASSERT_TRUE(t.blocked("10.0.0.1", now, retry));
  EXPECT_NEAR(retry, 20.0, 0.5) << "3 per minute: one more try every 20 s";
  EXPECT_FALSE(t.blocked("10.0.0.2", now, retry));
  EXPECT_FALSE(t.blocked("10.0.0.1", now + 21s, retry));
  // Bounded: at most 4 addresses; full buckets are forgotten to make room.
  for (int i = 0; i < 10; ++i) t.failed("192.0.2." + std::to_string(i), now + 21s);
  EXPECT_LE(t.tracked(), 4u);
  for (int i = 0; i < 10; ++i) t.failed("198.51.100." + std::to_string(i), now + 10min);
  EXPECT_LE(t.tracked(), 4u);
}
