// The Redis pool and the rate limits' reconciliation script against a real server (REDIS_URL),
// and the pool's behaviour when Redis is unreachable or hangs.

#include "config/errc.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/crypto.hpp"
#include "storage/redis/rate_limit.hpp"
#include "storage/redis/redis_pool.hpp"
#include "tests/support/pg_fixture.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>

using namespace caa::storage;
using namespace std::chrono_literals;
using caa::errc;
using caa::errc_of;

namespace {

/// Polls `pred` until it holds or `limit` passes.
bool within(std::chrono::milliseconds limit, const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class redis_test : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& p : pools_) caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  }

  redis_actor pool(const std::string& url, caf::timespan timeout = 500ms) {
    redis_pool_config cfg{url, 2, timeout};
    auto p = spawn_redis_pool(sys_, cfg);
    EXPECT_TRUE(p);
    pools_.push_back(*p);
    return *p;
  }

  caf::expected<redis_reply> run(const redis_actor& r, std::vector<std::string> args) {
    caf::expected<redis_reply> out{caa::make_error(errc::internal)};
    caf::scoped_actor self{sys_};
    self->request(r, 5s, redis_command{std::move(args)})
        .receive([&](redis_reply& x) { out = std::move(x); },
                 [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  static std::string unique_key(const std::string& what) {
    return what + ":" + to_hex(random_bytes(8));
  }

  caa::test::storage_test_config cfg_;
  caf::actor_system sys_{cfg_};
  std::vector<redis_actor> pools_;
};

/// A socket that accepts connections (kernel backlog) but never answers: a hung Redis.
class silent_server {
 public:
  silent_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~silent_server() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace

TEST_F(redis_test, commands_round_trip) {
  auto url = caa::test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto r = pool(*url);
  auto key = unique_key("caa:test");
  auto set = run(r, {"SET", key, std::string{"v\0x", 3}, "EX", "10"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->kind, redis_reply_kind::status);
  auto get = run(r, {"GET", key});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->kind, redis_reply_kind::string);
  EXPECT_EQ(get->str, std::string("v\0x", 3));
  auto err = run(r, {"NOSUCHCOMMAND"});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->kind, redis_reply_kind::error);
}

TEST_F(redis_test, reconcile_script_charges_the_cluster_bucket) {
  auto url = caa::test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto r = pool(*url);
  auto key = unique_key("k1:query");
  auto other = unique_key("k2:query");
  // A new bucket starts full: 10 - 3 taken.
  auto first = run(r, reconcile_command({{key, 10, 3}}, 0, 1, false).args);
  ASSERT_TRUE(first);
  auto left = parse_reconcile_reply(*first, 1);
  ASSERT_TRUE(left) << first->str;
  EXPECT_DOUBLE_EQ((*left)[0], 7.0);
  // More than it holds: a debt (less what refilled meanwhile); buckets are per key.
  auto second = run(r, reconcile_command({{key, 10, 8}, {other, 10, 1}}, 0, 2, false).args);
  ASSERT_TRUE(second);
  left = parse_reconcile_reply(*second, 2);
  ASSERT_TRUE(left) << second->str;
  EXPECT_GE((*left)[0], -1.0);
  EXPECT_LT((*left)[0], -0.5);
  EXPECT_DOUBLE_EQ((*left)[1], 9.0);
  // It expires once it would be full again, plus a minute (11 tokens at 1 per 6 s: 66 s).
  auto ttl = run(r, {"TTL", rate_limit_key(key)});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 120);
  EXPECT_LE(ttl->integer, 126);
  ttl = run(r, {"TTL", rate_limit_key(other)});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 120);
}

TEST_F(redis_test, bucket_sync_reloads_a_flushed_script_and_counts_its_rounds) {
  auto url = caa::test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto r = pool(*url);
  ASSERT_TRUE(run(r, {"SCRIPT", "FLUSH"}));
  auto buckets = std::make_shared<node_buckets>();
  auto stats = std::make_shared<bucket_sync_stats>();
  auto key = unique_key("noscript");
  ASSERT_TRUE(buckets->take(key, 10, steady_seconds()).allowed);
  auto& m = caa::metrics::service();
  auto ok_before = m.rate_limit_sync_ok.value();
  bucket_sync_options opts;
  opts.interval = 20ms;
  auto sync = spawn_bucket_sync(sys_, r, buckets, stats, opts);
  EXPECT_TRUE(within(10s, [&] { return stats->rounds.load() >= 1; }));
  caf::anon_send_exit(sync, caf::exit_reason::user_shutdown);
  EXPECT_EQ(stats->failures.load(), 0u);  // NOSCRIPT was answered with EVAL, not a failure
  EXPECT_GE(m.rate_limit_sync_ok.value(), ok_before + 1);
  auto tokens = run(r, {"HGET", rate_limit_key(key), "tokens"});
  ASSERT_TRUE(tokens);
  EXPECT_DOUBLE_EQ(std::strtod(tokens->str.c_str(), nullptr), 9.0);  // the token taken here
  auto exists = run(r, {"SCRIPT", "EXISTS", sha1_hex(reconcile_script)});
  ASSERT_TRUE(exists);
  ASSERT_EQ(exists->elements.size(), 1u);
  EXPECT_EQ(exists->elements[0], "1");
}

TEST_F(redis_test, unreachable_redis_is_unavailable_at_once) {
  auto r = pool("redis://127.0.0.1:" + std::to_string(caa::test::closed_port()));
  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto failed = run(r, {"PING"});
    ASSERT_FALSE(failed);
    EXPECT_EQ(errc_of(failed.error()), errc::unavailable) << i;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms) << i;
  }
}

TEST_F(redis_test, hung_redis_fails_within_the_timeout) {
  silent_server hung;
  auto r = pool("redis://127.0.0.1:" + std::to_string(hung.port()), 200ms);
  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto failed = run(r, {"PING"});
    ASSERT_FALSE(failed);
    EXPECT_EQ(errc_of(failed.error()), errc::unavailable) << i;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 700ms) << i;  // 200 ms plus slack
  }
}
