// Black-box tests of the service binary against hostile clients (issue: hardening): WebSocket
// frame floods, revoked keys on open connections, floods of unknown keys, many connections of
// one address. Each test starts its own service with the limits it needs; every connection
// goes to loopback. Needs DATABASE_URL and REDIS_URL (skipped otherwise).

#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <string>
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

  /// A new key of `tenant` with `scopes` (a JSON array); its id in `id` when given.
  static std::string create_key(uint16_t port, const std::map<std::string, std::string>& auth,
                                const std::string& tenant, const std::string& scopes,
                                std::string* id = nullptr) {
    auto r = http_call(port, "POST", "/api/v1/keys", auth,
                       R"({"tenant":")" + tenant + R"(","scopes":)" + scopes + R"(,"name":"t"})");
    EXPECT_EQ(r.status, 201u) << r.body;
    auto d = parse(r.body);
    if (!d.IsObject() || !d.HasMember("key"))
      return {};
    if (id != nullptr)
      *id = d["id"].GetString();
    return d["key"].GetString();
  }

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
    ASSERT_TRUE(c.send_text(
      R"({"type":"interrupt","session_id":"00000000-0000-4000-8000-00000000000)" +
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
