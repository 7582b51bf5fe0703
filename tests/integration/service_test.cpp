// Black-box tests of the service binary against the real PostgreSQL and Redis: keys, auth,
// rate limits, readiness, dependency outages, redaction.

#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

class service_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env_database_url() || !env_redis_url())
      GTEST_SKIP() << "DATABASE_URL and REDIS_URL are required";
    admin_key_ = random_key();
  }

  std::map<std::string, std::string> admin() const { return {{"X-API-Key", admin_key_}}; }

  std::string admin_key_;
};

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

}  // namespace

TEST_F(service_test, health_is_public_and_readiness_reports_dependencies) {
  service_process svc{base_service_env(admin_key_)};
  auto live = http_call(svc.port(), "GET", "/health");
  EXPECT_EQ(live.status, 200u);
  EXPECT_NE(live.body.find("\"status\":\"ok\""), std::string::npos);
  EXPECT_FALSE(live.header("x-correlation-id").empty());
  EXPECT_TRUE(
      eventually([&] { return http_call(svc.port(), "GET", "/health/ready").status == 200; }));
  auto ready = http_call(svc.port(), "GET", "/health/ready");
  EXPECT_NE(ready.body.find("\"postgres\":{\"status\":\"ok\""), std::string::npos) << ready.body;
}

TEST_F(service_test, keys_create_list_revoke_and_scopes) {
  service_process svc{base_service_env(admin_key_)};
  auto port = svc.port();
  std::string agent_id;
  auto agent = create_key(port, admin(), "acme", R"(["agent"])", &agent_id);
  ASSERT_EQ(agent.rfind("caa_", 0), 0u);
  // The list never shows a key, only its prefix.
  auto list = http_call(port, "GET", "/api/v1/keys?tenant=acme", admin());
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.body.find(agent), std::string::npos);
  EXPECT_NE(list.body.find(agent.substr(0, 12)), std::string::npos);
  // 401 without a key, with a junk key, with Bearer of a junk key; 403 for agent on admin routes.
  EXPECT_EQ(http_call(port, "GET", "/api/v1/keys").status, 401u);
  EXPECT_EQ(http_call(port, "GET", "/api/v1/keys", {{"X-API-Key", random_key()}}).status, 401u);
  EXPECT_EQ(
      http_call(port, "GET", "/api/v1/keys", {{"Authorization", "Bearer " + random_key()}}).status,
      401u);
  auto forbidden = http_call(port, "GET", "/api/v1/keys", {{"Authorization", "Bearer " + agent}});
  EXPECT_EQ(forbidden.status, 403u);
  EXPECT_NE(forbidden.body.find("\"code\":\"FORBIDDEN\""), std::string::npos);
  // Admin scope only in tenant default.
  auto bad = http_call(port, "POST", "/api/v1/keys", admin(),
                       R"({"tenant":"acme","scopes":["admin"],"name":"x"})");
  EXPECT_EQ(bad.status, 422u);
  // Revoke: the key stops working within the cache TTL (<= 5 s).
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/keys/" + agent_id, admin()).status, 204u);
  EXPECT_TRUE(eventually(
      [&] {
        return http_call(port, "GET", "/api/v1/keys", {{"X-API-Key", agent}}).status == 401u;
      },
      6s));
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/keys/00000000-0000-4000-8000-000000000000", admin())
                .status,
            404u);
  EXPECT_EQ(http_call(port, "DELETE", "/api/v1/keys/not-a-uuid", admin()).status, 422u);
}

TEST_F(service_test, validation_lists_every_bad_field) {
  service_process svc{base_service_env(admin_key_)};
  auto r = http_call(svc.port(), "POST", "/api/v1/keys", admin(),
                     R"({"tenant":"Bad Name","scopes":"agent","extra":1})");
  ASSERT_EQ(r.status, 422u);
  auto d = parse(r.body);
  ASSERT_TRUE(d.IsObject());
  auto& errors = d["error"]["details"]["errors"];
  EXPECT_GE(errors.Size(), 4u) << r.body;  // tenant, scopes, name (missing), extra
  auto garbage = http_call(svc.port(), "POST", "/api/v1/keys", admin(), "{not json");
  EXPECT_EQ(garbage.status, 400u);
}

TEST_F(service_test, unknown_key_fields_are_named_only_when_plain_identifiers) {
  service_process svc{base_service_env(admin_key_)};
  auto field_of = [&](const std::string& name) {
    auto r = http_call(svc.port(), "POST", "/api/v1/keys", admin(),
                       R"({"scopes":["agent"],"name":"n",")" + name + R"(":1})");
    EXPECT_EQ(r.status, 422u) << r.body;
    auto d = parse(r.body);
    if (!d.IsObject() || !d["error"]["details"]["errors"].IsArray() ||
        d["error"]["details"]["errors"].Size() != 1)
      return std::string{"(not one error) "} + r.body;
    return std::string{d["error"]["details"]["errors"][0]["field"].GetString()};
  };
  EXPECT_EQ(field_of("extra_1"), "extra_1");
  EXPECT_EQ(field_of(std::string(64, 'n')), std::string(64, 'n'));
  EXPECT_EQ(field_of(std::string(65, 'n')), "body");
  EXPECT_EQ(field_of(R"(bad\nname)"), "body");
  EXPECT_EQ(field_of(R"(a\u0000b)"), "body");
}

TEST_F(service_test, bootstrap_key_is_rotated_by_a_restart_with_a_new_api_key) {
  auto old_key = admin_key_;
  {
    service_process svc{base_service_env(old_key)};
    EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/keys", admin()).status, 200u);
  }
  auto new_key = random_key();
  service_process svc{base_service_env(new_key)};
  EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/keys", {{"X-API-Key", new_key}}).status, 200u);
  EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/keys", {{"X-API-Key", old_key}}).status, 401u);
}

TEST_F(service_test, rate_limit_answers_429_with_retry_after) {
  auto env = base_service_env(admin_key_);
  env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "5";
  service_process svc{env};
  std::string key = create_key(svc.port(), admin(), "default", R"(["agent","admin"])", nullptr);
  // The admin key is fine; only `key` is exhausted (create_key above used one admin token).
  int ok = 0;
  http_result last;
  for (int i = 0; i < 8; ++i) {
    last = http_call(svc.port(), "GET", "/api/v1/keys?tenant=none", {{"X-API-Key", key}});
    ok += last.status == 403u || last.status == 200u;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(last.status, 429u);
  EXPECT_NE(last.body.find("RATE_LIMIT_EXCEEDED"), std::string::npos);
  EXPECT_GE(std::stoi(last.header("retry-after")), 1);
}

TEST_F(service_test, redis_down_still_serves_and_limits_locally) {
  auto redis_port =
      static_cast<uint16_t>(std::stoi(env_redis_url()->substr(env_redis_url()->rfind(':') + 1)));
  tcp_proxy proxy{redis_port};
  auto env = base_service_env(admin_key_);
  env["REDIS_URL"] = "redis://127.0.0.1:" + std::to_string(proxy.port()) + "/0";
  env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "3";
  service_process svc{env};
  EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/keys", admin()).status, 200u);
  proxy.set_down(true);
  // Requests keep being served (never a 5xx), and the local buckets still limit.
  std::vector<unsigned> statuses;
  for (int i = 0; i < 4; ++i)
    statuses.push_back(http_call(svc.port(), "GET", "/api/v1/keys", admin()).status);
  EXPECT_EQ(statuses.front(), 200u);
  EXPECT_EQ(statuses.back(), 429u);
  for (auto s : statuses) EXPECT_LT(s, 500u);
  EXPECT_TRUE(eventually([&] {
    return http_call(svc.port(), "GET", "/health/ready")
               .body.find("\"redis\":{\"status\":\"down\"") != std::string::npos;
  }));
  EXPECT_EQ(http_call(svc.port(), "GET", "/health/ready").status, 200u);  // Redis is optional
}

TEST_F(service_test, postgres_down_gives_503_not_a_hang_and_recovers) {
  auto url = *env_database_url();
  auto* db = shared_scratch_database();
  // Route the service to the scratch database through a proxy we can cut.
  auto at = db->url().rfind('@');
  auto colon = db->url().find(':', at);
  auto slash = db->url().find('/', colon);
  auto pg_port = static_cast<uint16_t>(std::stoi(db->url().substr(colon + 1, slash - colon - 1)));
  tcp_proxy proxy{pg_port};
  auto env = base_service_env(admin_key_);
  env["DATABASE_URL"] =
      db->url().substr(0, colon + 1) + std::to_string(proxy.port()) + db->url().substr(slash);
  env["DB_TIMEOUT"] = "2";
  service_process svc{env};
  EXPECT_TRUE(
      eventually([&] { return http_call(svc.port(), "GET", "/health/ready").status == 200; }));
  proxy.set_down(true);
  EXPECT_TRUE(
      eventually([&] { return http_call(svc.port(), "GET", "/health/ready").status == 503; }));
  // A request needing PostgreSQL (a key not in the cache) gets 503 with Retry-After, quickly.
  auto t0 = std::chrono::steady_clock::now();
  auto r = http_call(svc.port(), "GET", "/api/v1/keys", {{"X-API-Key", random_key()}});
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);  // a hang guard, not a timing bar
  EXPECT_EQ(r.body.find("pqxx"), std::string::npos);
  proxy.set_down(false);
  EXPECT_TRUE(
      eventually([&] { return http_call(svc.port(), "GET", "/health/ready").status == 200; }, 20s));
  EXPECT_EQ(http_call(svc.port(), "GET", "/api/v1/keys", admin()).status, 200u);
}

TEST_F(service_test, secrets_never_reach_the_log) {
  auto env = base_service_env(admin_key_);
  env["ANTHROPIC_API_KEY"] = "CANARY_anthropic_0f3b";
  service_process svc{env};
  auto canary = "caa_CANARY" + random_key().substr(14);
  http_call(svc.port(), "GET", "/api/v1/keys?api_key=CANARY_query_77", {{"X-API-Key", canary}});
  http_call(svc.port(), "GET", "/api/v1/keys", {{"Authorization", "Bearer " + canary}});
  http_call(svc.port(), "POST", "/api/v1/keys", admin(),
            R"({"tenant":"x","scopes":["agent"],"name":"CANARY_body_55"})");
  auto created = create_key(svc.port(), admin(), "logcheck", R"(["agent"])", nullptr);
  svc.terminate();
  auto log = svc.log();
  EXPECT_FALSE(log.empty());
  for (const std::string& secret :
       {canary, admin_key_, std::string{"CANARY_anthropic_0f3b"}, std::string{"CANARY_query_77"},
        std::string{"CANARY_body_55"}, created})
    EXPECT_EQ(log.find(secret), std::string::npos) << "leaked: " << secret.substr(0, 12);
}

TEST_F(service_test, a_port_in_use_ends_the_service_with_status_1_instead_of_hanging) {
  // Found by the benchmark: the listener failed, the actors stayed, the process never ended.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto env = base_service_env(admin_key_);
  env["API_PORT"] = std::to_string(ntohs(addr.sin_port));
  auto status = service_exit_status(env, std::chrono::seconds{90});  // a hang guard only
  ::close(fd);
  ASSERT_TRUE(status.has_value()) << "the service did not exit";
  EXPECT_EQ(*status, 1);
}

TEST_F(service_test, sigterm_exits_zero) {
  service_process svc{base_service_env(admin_key_)};
  EXPECT_EQ(svc.terminate(), 0);
}
