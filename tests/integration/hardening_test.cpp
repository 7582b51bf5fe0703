// Black-box tests of the service binary against hostile clients (issue: hardening): WebSocket
// frame floods, revoked keys on open connections, floods of unknown keys, many connections of
// one address. Each test starts its own service with the limits it needs; every connection
// goes to loopback. Needs DATABASE_URL and REDIS_URL (skipped otherwise).

#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

class hardening_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_database_url() || !env_redis_url())
      GTEST_SKIP() << "DATABASE_URL and REDIS_URL are required";
    admin_key_ = random_key();
  }

  std::map<std::string, std::string> admin() const { return {{"X-API-Key", admin_key_}}; }

  std::string admin_key_;
};

/// The `code` of an error frame ("" for other frames).
std::string error_code(const std::string& frame) {
  auto d = parse(frame);
  if (!d.IsObject() || !d.HasMember("type") || std::string{d["type"].GetString()} != "error")
    return {};
  return d.HasMember("code") && d["code"].IsString() ? d["code"].GetString() : "";
}

}  // namespace

TEST_F(hardening_test, every_websocket_frame_takes_a_rate_limit_token) {
  auto env = base_service_env(admin_key_);
  env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "20";
  service_process svc{env};
  auto key = create_key(svc.port(), admin(), "flood", R"(["agent"])");
  ws_client c;
  ASSERT_EQ(c.connect(svc.port(), "/api/v1/ws", {{"X-API-Key", key}}).status, 101u);
  // 60 interrupts of a session that does not exist: each allowed one is looked up (and answers
  // SESSION_NOT_FOUND), each refused one answers RATE_LIMIT_EXCEEDED with a retry_after.
  constexpr int frames = 60;
  for (int i = 0; i < frames; ++i)
    ASSERT_TRUE(
        c.send_text(R"({"type":"interrupt","session_id":"00000000-0000-4000-8000-00000000000)" +
                    std::to_string(i % 10) + "\"}"));
  int served = 0;
  int limited = 0;
  for (int i = 0; i < frames; ++i) {
    auto m = c.read(30s);
    ASSERT_TRUE(m.ok) << "frame " << i << " got no answer";
    auto code = error_code(m.text);
    if (code == "RATE_LIMIT_EXCEEDED") {
      ++limited;
      EXPECT_NE(m.text.find("\"retry_after\""), std::string::npos) << m.text;
    } else {
      EXPECT_EQ(code, "SESSION_NOT_FOUND") << m.text;
      ++served;
    }
  }
  EXPECT_LE(served, 21) << "a bucket of 20 per minute (one more may refill during the test)";
  EXPECT_GE(served, 19);
  EXPECT_EQ(served + limited, frames);
  // Pings count too: the connection stays open and keeps being limited.
  ASSERT_TRUE(c.send_text(R"({"type":"ping"})"));
  auto m = c.read(30s);
  ASSERT_TRUE(m.ok);
  EXPECT_EQ(error_code(m.text), "RATE_LIMIT_EXCEEDED") << m.text;
}

namespace {

using steady = std::chrono::steady_clock;

/// The median of `xs` (milliseconds).
double median_ms(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

/// A random key in our format that no store knows.
std::string junk_key(int i) {
  return "caa_" + std::string(39, 'x') + std::to_string(1000 + i);
}

}  // namespace

TEST_F(hardening_test, a_flood_of_unknown_keys_is_limited_per_address_and_a_working_key_goes_on) {
  auto env = base_service_env(admin_key_);
  env["AUTH_FAILURES_PER_MINUTE"] = "20";
  service_process svc{env};
  auto key = create_key(svc.port(), admin(), "flooded", R"(["agent"])");
  std::map<std::string, std::string> good{{"X-API-Key", key}};
  auto timed = [&](const std::map<std::string, std::string>& h) {
    auto t0 = steady::now();
    auto r = http_call(svc.port(), "GET", "/api/v1/sessions", h);
    return std::pair{r, std::chrono::duration<double, std::milli>(steady::now() - t0).count()};
  };
  std::vector<double> before, during;
  for (int i = 0; i < 10; ++i) {
    auto [r, ms] = timed(good);
    ASSERT_EQ(r.status, 200u) << r.body;
    before.push_back(ms);
  }
  // 300 unknown keys from this address (4 threads), the working key in between.
  std::atomic<int> unauthorized{0}, limited{0}, other{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < 4; ++t)
    flood.emplace_back([&, t] {
      for (int i = 0; i < 75; ++i) {
        auto r = http_call(svc.port(), "GET", "/api/v1/sessions",
                           {{"X-API-Key", junk_key(t * 100 + i)}});
        if (r.status == 401u)
          ++unauthorized;
        else if (r.status == 429u && r.body.find("RATE_LIMIT_EXCEEDED") != std::string::npos &&
                 !r.header("retry-after").empty())
          ++limited;
        else
          ++other;
      }
    });
  for (int i = 0; i < 20; ++i) {
    auto [r, ms] = timed(good);
    EXPECT_EQ(r.status, 200u) << "the working key was refused during the flood: " << r.body;
    during.push_back(ms);
  }
  for (auto& t : flood) t.join();
  EXPECT_EQ(other.load(), 0);
  // The budget (20), plus at most one request per flooding thread that passed the check while
  // another's failure was being counted, plus a token refilled during the flood.
  EXPECT_LE(unauthorized.load(), 20 + 4 + 1) << "more key lookups than the address's budget";
  EXPECT_GE(limited.load(), 300 - 25);
  // A key never seen from this address waits like the flood.
  EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/sessions", {{"X-API-Key", junk_key(999)}}).status,
            429u);
  // Past its cache lifetime the working key is looked up again: still served (vouched for).
  std::this_thread::sleep_for(5s);
  auto [after, ms] = timed(good);
  EXPECT_EQ(after.status, 200u) << after.body;
  std::printf(
      "[ figures  ] working key latency: median %.2f ms before, %.2f ms during the flood "
      "(%d unauthorized, %d limited)\n",
      median_ms(before), median_ms(during), unauthorized.load(), limited.load());
}

TEST_F(hardening_test, one_address_holds_at_most_its_connections_and_idle_ones_are_closed) {
  auto env = base_service_env(admin_key_);
  env["API_MAX_CONNECTIONS_PER_IP"] = "5";
  env["API_HEADER_TIMEOUT"] = "2";
  service_process svc{env};
  namespace asio = boost::asio;
  asio::io_context io;
  auto endpoint = asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), svc.port()};
  // Five connections that send half a request and then nothing (slowloris).
  std::vector<asio::ip::tcp::socket> held;
  for (int i = 0; i < 5; ++i) {
    held.emplace_back(io);
    held.back().connect(endpoint);
    asio::write(held.back(), asio::buffer(std::string{"GET /health HTTP/1.1\r\nHost: x\r\n"}));
  }
  std::this_thread::sleep_for(200ms);
  // The sixth is refused with 429 TOO_MANY_CONNECTIONS.
  auto refused = raw_exchange(svc.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(refused.find(" 429 "), std::string::npos) << refused;
  EXPECT_NE(refused.find("TOO_MANY_CONNECTIONS"), std::string::npos) << refused;
  // The header timeout closes the slow ones; the address is served again.
  for (auto& s : held) {
    boost::system::error_code ec;
    char buf[512];
    auto deadline = steady::now() + 10s;
    while (!ec && steady::now() < deadline) s.read_some(asio::buffer(buf), ec);
    EXPECT_TRUE(ec) << "a slow connection was not closed";
  }
  EXPECT_TRUE(eventually([&] { return http_call(svc.port(), "GET", "/health").status == 200u; }));
}

TEST_F(hardening_test, a_revoked_keys_websocket_is_closed_within_the_cache_ttl_on_every_node) {
  // Two nodes on one database: the WebSocket is on node B, the key is revoked through node A.
  auto env = base_service_env(admin_key_);
  env["KEY_CACHE_TTL"] = "2";
  service_process a{env};
  service_process b{env};
  std::string key_id;
  auto key = create_key(a.port(), admin(), "revoked", R"(["agent"])", &key_id);
  ws_client local, remote;
  ASSERT_EQ(local.connect(a.port(), "/api/v1/ws", {{"X-API-Key", key}}).status, 101u);
  ASSERT_EQ(remote.connect(b.port(), "/api/v1/ws", {{"X-API-Key", key}}).status, 101u);
  ASSERT_TRUE(remote.send_text(R"({"type":"ping"})"));
  ASSERT_TRUE(remote.read(10s).ok);
  auto t0 = steady::now();
  ASSERT_EQ(http_call(a.port(), "DELETE", "/api/v1/keys/" + key_id, admin()).status, 204u);
  for (auto* c : {&local, &remote}) {
    auto m = c->read(10s);
    EXPECT_TRUE(m.closed) << "still open after the revoke: " << m.text;
    EXPECT_EQ(c->close_code(), 4001u);
    EXPECT_NE(c->close_reason().find("revoked"), std::string::npos) << c->close_reason();
  }
  auto took = std::chrono::duration<double>(steady::now() - t0).count();
  EXPECT_LT(took, 2.0 + 0.5) << "node B closed it later than KEY_CACHE_TTL";
  std::printf("[ figures  ] both WebSockets closed %.2f s after the revoke (TTL 2 s)\n", took);
  // And the key opens nothing new on either node.
  ws_client again;
  EXPECT_EQ(again.connect(b.port(), "/api/v1/ws", {{"X-API-Key", key}}).status, 401u);
}
