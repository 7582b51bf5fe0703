// The rate limiter of the edge against the real Redis of the test run (REDIS_URL): two limiter
// instances (two "nodes") share one bucket within the documented bound, a limiter whose Redis
// is unreachable decides alone, reconciliation resumes when Redis is back, and its rounds are
// counted in the service's metrics. Counting assertions only: the decision itself never waits
// for Redis.

#include "transport/api/limiter.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/crypto.hpp"
#include "storage/redis/redis_pool.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"
#include "transport/api/auth.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
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

constexpr unsigned per_minute = 30;
constexpr auto sync_interval = 50ms;
constexpr auto redis_timeout = 500ms;

/// One decision, and whether it came before `acquire` returned.
struct answer {
  bool answered = false;
  http::rate_decision d;
};

answer take(api::redis_rate_limiter& l, const http::principal& p) {
  answer a;
  l.acquire(p, http::route_class::general, [&a](http::rate_decision d) {
    a.answered = true;
    a.d = d;
  });
  return a;
}

/// Takes until refused; the number admitted.
int drain(api::redis_rate_limiter& l, const http::principal& p) {
  for (int n = 0; n < 1000; ++n) {
    auto a = take(l, p);
    EXPECT_TRUE(a.answered);
    if (!a.d.allowed) {
      EXPECT_GT(a.d.retry_after_seconds, 0.0);
      return n;
    }
  }
  ADD_FAILURE() << "never refused";
  return 1000;
}

/// The documented worst case of `nodes` nodes over `window_s` seconds:
/// B + r * W + (N - 1) * (B + r * T), T = sync interval + the Redis deadline.
double documented_limit(int nodes, double window_s) {
  double b = per_minute;
  double r = b / 60.0;
  double t = std::chrono::duration<double>(sync_interval + redis_timeout).count();
  return b + r * window_s + (nodes - 1) * (b + r * t);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class limiter_test : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& p : pools_) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  }

  storage::redis_actor pool(const std::string& url) {
    storage::redis_pool_config cfg{url, 2, redis_timeout};
    auto p = storage::spawn_redis_pool(sys_, cfg);
    EXPECT_TRUE(p);
    pools_.push_back(*p);
    return *p;
  }

  std::unique_ptr<api::redis_rate_limiter> node(const storage::redis_actor& redis) {
    auth_settings limits;
    limits.rate_limit_query_per_minute = per_minute;
    limits.rate_limit_general_per_minute = per_minute;
    limits.rate_limit_sync_interval_ms = static_cast<unsigned>(sync_interval.count());
    return std::make_unique<api::redis_rate_limiter>(sys_, redis, limits, redis_timeout);
  }

  /// A caller with a key id no other test run uses.
  static http::principal caller() {
    auto key_id = "lt-" + storage::to_hex(storage::random_bytes(8));
    return {auth::test_access::passkey(), "tenant", "t", key_id, true, false};
  }

  test::storage_test_config cfg_;
  caf::actor_system sys_{cfg_};
  std::vector<storage::redis_actor> pools_;
};

}  // namespace

TEST_F(limiter_test, two_nodes_share_one_bucket_within_the_documented_bound) {
  auto url = test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto a = node(pool(*url));
  auto b = node(pool(*url));
  auto who = caller();
  auto t0 = std::chrono::steady_clock::now();
  // Node a empties the bucket and keeps asking (a bucket is reconciled only when used) until a
  // round that started after the drain has reached Redis.
  int admitted = drain(*a, who);
  EXPECT_GE(admitted, static_cast<int>(per_minute));
  auto rounds_a = a->reconciled_rounds();
  ASSERT_TRUE(test::eventually([&] {
    admitted += take(*a, who).d.allowed ? 1 : 0;
    return a->reconciled_rounds() >= rounds_a + 2;
  }));
  // Node b has not used the bucket: its first request is decided on a full local bucket (the
  // over-admission the bound allows); its next rounds teach it what node a took.
  auto first = take(*b, who);
  ASSERT_TRUE(first.answered);
  admitted += first.d.allowed ? 1 : 0;
  auto t_b = std::chrono::steady_clock::now();
  int by_b = 0;
  auto rounds_b = b->reconciled_rounds();
  ASSERT_TRUE(test::eventually([&] {
    by_b += take(*b, who).d.allowed ? 1 : 0;
    return b->reconciled_rounds() >= rounds_b + 2;
  }));
  // Alone, b would admit a whole bucket more; it admits only what refilled meanwhile, plus what
  // refills during one round (sync interval + Redis round trip, at most the timeout) before its
  // answer lowers the bucket, plus its first request.
  by_b += drain(*b, who);
  auto one_round = std::chrono::duration<double>(sync_interval + redis_timeout).count();
  EXPECT_LE(by_b, static_cast<int>(per_minute / 60.0 * seconds_since(t0)) + 2 +
                      static_cast<int>(std::ceil(per_minute / 60.0 * one_round)))
      << seconds_since(t_b) << " s";
  admitted += by_b;
  // Both keep asking for a while (each round: each node until refused); the whole stays within
  // the documented bound for two nodes.
  for (int round = 0; round < 20; ++round) {
    admitted += drain(*a, who);
    admitted += drain(*b, who);
    std::this_thread::sleep_for(sync_interval);
  }
  EXPECT_LE(admitted, documented_limit(2, seconds_since(t0)));
  // Two independent nodes would have admitted two full buckets (2 * 30) and more.
  EXPECT_LT(admitted, static_cast<int>(per_minute * 3 / 2));
  EXPECT_EQ(a->failed_rounds(), 0u);
  EXPECT_EQ(b->failed_rounds(), 0u);
}

TEST_F(limiter_test, a_node_whose_redis_is_unreachable_decides_alone) {
  auto down = node(pool("redis://127.0.0.1:" + std::to_string(test::closed_port())));
  auto who = caller();
  for (unsigned i = 0; i < per_minute; ++i) {
    auto a = take(*down, who);
    ASSERT_TRUE(a.answered) << i;  // decided before acquire returned: no Redis on the path
    EXPECT_TRUE(a.d.allowed) << i;
  }
  auto refused = take(*down, who);
  ASSERT_TRUE(refused.answered);
  EXPECT_FALSE(refused.d.allowed);
  EXPECT_GT(refused.d.retry_after_seconds, 0.0);
  EXPECT_LE(refused.d.retry_after_seconds, 60.0 / per_minute);
  // The background round fails (and is logged once); decisions go on meanwhile.
  EXPECT_TRUE(test::eventually([&] { return down->failed_rounds() >= 1; }));
  EXPECT_TRUE(take(*down, who).answered);
  EXPECT_EQ(down->reconciled_rounds(), 0u);
}

TEST_F(limiter_test, reconciliation_resumes_when_redis_is_back) {
  auto url = test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto ep = storage::parse_redis_url(*url);
  ASSERT_TRUE(ep);
  test::tcp_proxy proxy{ep->port};
  std::string auth;
  if (!ep->password.empty()) auth = ep->username + ":" + ep->password + "@";
  auto via_proxy = "redis://" + auth + "127.0.0.1:" + std::to_string(proxy.port()) + "/" +
                   std::to_string(ep->db);
  auto n = node(pool(via_proxy));
  auto who = caller();
  ASSERT_TRUE(take(*n, who).d.allowed);
  ASSERT_TRUE(test::eventually([&] { return n->reconciled_rounds() >= 1; }));
  proxy.set_down(true);
  auto failed = n->failed_rounds();
  EXPECT_TRUE(test::eventually([&] {
    EXPECT_TRUE(take(*n, who).answered);  // used: the next round has something to report
    return n->failed_rounds() > failed;
  }));
  proxy.set_down(false);
  auto rounds = n->reconciled_rounds();
  EXPECT_TRUE(test::eventually(
      [&] {
        EXPECT_TRUE(take(*n, who).answered);
        return n->reconciled_rounds() > rounds;
      },
      30s));
}

TEST_F(limiter_test, reconciliation_rounds_are_counted_in_the_metrics) {
  auto url = test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto& m = metrics::service();
  auto ok = m.rate_limit_sync_ok.value();
  auto n = node(pool(*url));
  auto who = caller();
  // While its bucket is used, each round reports it (no other limiter runs in this process).
  EXPECT_TRUE(test::eventually([&] {
    EXPECT_TRUE(take(*n, who).answered);
    return n->reconciled_rounds() >= 2 && m.rate_limit_sync_buckets.value() == 1;
  }));
  // Idle: the rounds report nothing, call no Redis and are not counted.
  EXPECT_TRUE(test::eventually([&] { return m.rate_limit_sync_buckets.value() == 0; }));
  auto rounds = n->reconciled_rounds();
  EXPECT_GE(rounds, 2u);
  EXPECT_EQ(m.rate_limit_sync_ok.value(), ok + rounds);
  std::this_thread::sleep_for(4 * sync_interval);
  EXPECT_EQ(m.rate_limit_sync_ok.value(), ok + rounds);
  // A node whose Redis is unreachable counts failed rounds.
  auto failed = m.rate_limit_sync_failed.value();
  auto down = node(pool("redis://127.0.0.1:" + std::to_string(test::closed_port())));
  EXPECT_TRUE(take(*down, who).answered);
  EXPECT_TRUE(test::eventually([&] { return m.rate_limit_sync_failed.value() > failed; }));
  EXPECT_EQ(m.rate_limit_sync_failed.value(), failed + down->failed_rounds());
}
