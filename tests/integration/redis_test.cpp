// The Redis pool and the rate limiter against a real server (REDIS_URL), and their behaviour
// when Redis is unreachable or hangs.

#include "config/errc.hpp"
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

using namespace caa::storage;
using namespace std::chrono_literals;
using caa::errc;
using caa::errc_of;

namespace {

struct decision {
  bool allowed = false;
  double retry_after_s = 0;
  std::chrono::steady_clock::duration elapsed{};
};

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

  decision take(const redis_actor& r, const std::string& key, unsigned per_minute,
                caf::timespan timeout = 500ms) {
    auto start = std::chrono::steady_clock::now();
    auto d = caa::test::await_callbacks<std::pair<bool, double>>([&](auto ok, auto) {
      take_token(
          sys_, r, key, per_minute,
          [ok](bool allowed, double retry) { ok(std::make_pair(allowed, retry)); }, timeout);
    });
    EXPECT_TRUE(d);
    return {d->first, d->second, std::chrono::steady_clock::now() - start};
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

TEST_F(redis_test, eleventh_request_in_a_minute_is_refused) {
  auto url = caa::test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto r = pool(*url);
  auto key = unique_key("k1:query");
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(take(r, key, 10).allowed) << i;
  auto refused = take(r, key, 10);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after_s, 0.0);
  EXPECT_LE(refused.retry_after_s, 6.0);
  EXPECT_TRUE(take(r, unique_key("k2:query"), 10).allowed);  // buckets are per key
  auto ttl = run(r, {"TTL", rate_limit_key(key)});
  ASSERT_TRUE(ttl);
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 120);
}

TEST_F(redis_test, script_cache_flush_falls_back_to_eval) {
  auto url = caa::test::env_redis_url();
  if (!url) GTEST_SKIP() << "REDIS_URL not set";
  auto r = pool(*url);
  ASSERT_TRUE(run(r, {"SCRIPT", "FLUSH"}));
  auto key = unique_key("noscript");
  EXPECT_TRUE(take(r, key, 1).allowed);
  EXPECT_FALSE(take(r, key, 1).allowed);  // the bucket lives in Redis, not in the fallback
  auto exists = run(r, {"SCRIPT", "EXISTS", sha1_hex(token_bucket_script)});
  ASSERT_TRUE(exists);
  ASSERT_EQ(exists->elements.size(), 1u);
  EXPECT_EQ(exists->elements[0], "1");
}

TEST_F(redis_test, unreachable_redis_falls_back_to_local_buckets) {
  auto r = pool("redis://127.0.0.1:" + std::to_string(caa::test::closed_port()));
  auto failed = run(r, {"PING"});
  ASSERT_FALSE(failed);
  EXPECT_EQ(errc_of(failed.error()), errc::unavailable);
  auto key = unique_key("down");
  for (int i = 0; i < 10; ++i) {
    auto d = take(r, key, 10);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_LT(d.elapsed, 500ms);
  }
  auto refused = take(r, key, 10);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after_s, 0.0);
}

TEST_F(redis_test, hung_redis_never_blocks_longer_than_the_timeout) {
  silent_server hung;
  auto r = pool("redis://127.0.0.1:" + std::to_string(hung.port()), 200ms);
  auto key = unique_key("hung");
  for (int i = 0; i < 5; ++i) {
    auto d = take(r, key, 10, 200ms);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_LT(d.elapsed, 500ms) << i;  // the 200 ms timeout plus scheduling slack
  }
}
