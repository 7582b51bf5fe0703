// Black-box tests of `GET /metrics` on the service binary: a valid Prometheus exposition without
// a key; request counters by route template and status that follow real requests; the bearer
// protection of METRICS_TOKEN; and, after a real turn (the real CLI against the scripted model),
// streamed and persisted events, then the CLI's exit once its session is deleted. Needs
// DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model binary in CAA_BIN_DIR (skipped otherwise).

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/unit/metrics_exposition.hpp"

#include <cstdlib>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// The suite-wide model and service (no METRICS_TOKEN), an admin key and an agent key.
class metrics_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("CAA_BIN_DIR");
    auto model_bin = std::string{bin ? bin : "build/bin"} + "/scripted_model";
    if (!env_database_url())
      skip_reason_ = "DATABASE_URL is required";
    else if (std::getenv("CLAUDE_CLI_PATH") == nullptr)
      skip_reason_ = "CLAUDE_CLI_PATH is required";
    else if (!std::filesystem::exists(model_bin))
      skip_reason_ = "the scripted_model binary is required";
    if (!skip_reason_.empty()) return;
    model_ = std::make_unique<scripted_model_child>(model_bin);
    admin_ = random_key();
    env_ = base_service_env(admin_);
    env_["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model_->port());
    env_["ANTHROPIC_API_KEY"] = "sk-test";
    service_ = std::make_unique<service_process>(env_);
    auto r = http_call(service_->port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                       R"({"tenant":"metrics","scopes":["agent"],"name":"metrics"})");
    auto d = parse_json(r.body);
    if (r.status != 201 || !d.IsObject())
      throw std::runtime_error("cannot create a key: " + r.body);
    agent_key_ = d["key"].GetString();
  }

  static void TearDownTestSuite() {
    if (service_ && std::getenv("CAA_TEST_DUMP_LOG") != nullptr)
      std::fprintf(stderr, "---- service log ----\n%s\n", service_->log().c_str());
    service_.reset();
    model_.reset();
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(service_) << "the service did not start";
  }

  /// Scrapes the suite's service (asserting a valid exposition).
  static prom_exposition scrape() {
    auto r = http_call(service_->port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200u) << r.body;
    auto e = parse_exposition(r.body);
    for (const auto& err : e.errors) ADD_FAILURE() << err;
    return e;
  }

  /// A sample of the suite's service, 0 when absent.
  static double value(const std::string& name, const std::map<std::string, std::string>& ls = {}) {
    return scrape().value(name, ls).value_or(0);
  }

  /// The sum of every sample named `name`.
  static double total(const std::string& name) {
    double sum = 0;
    for (const auto& s : scrape().samples)
      if (s.name == name) sum += s.value;
    return sum;
  }

  static inline std::unique_ptr<scripted_model_child> model_;
  static inline std::unique_ptr<service_process> service_;
  static inline std::map<std::string, std::string> env_;
  static inline std::string admin_;
  static inline std::string agent_key_;
  static inline std::string skip_reason_;
};

TEST_F(metrics_test, metrics_need_no_key_and_are_a_valid_exposition) {
  auto r = http_call(service_->port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  auto e = parse_exposition(r.body);
  for (const auto& err : e.errors) ADD_FAILURE() << err;
  for (auto name : {"caa_http_requests_total",
                    "caa_http_request_duration_seconds",
                    "caa_sessions",
                    "caa_agent_processes_live",
                    "caa_agent_processes_starting",
                    "caa_agent_processes_warm",
                    "caa_admission_queue_depth",
                    "caa_admission_wait_seconds",
                    "caa_events_streamed_total",
                    "caa_events_persisted_total",
                    "caa_event_batch_events",
                    "caa_event_persist_lag_seconds",
                    "caa_db_pipeline_reads",
                    "caa_subscriber_drops_total",
                    "caa_stream_catch_ups_total",
                    "caa_webhook_calls_total",
                    "caa_webhook_failures_total",
                    "caa_cli_exits_total",
                    "caa_rate_limit_sync_rounds_total",
                    "caa_rate_limit_sync_buckets"})
    EXPECT_TRUE(e.types.count(name)) << name;
  // The budget is published as soon as admission runs.
  EXPECT_GE(e.value("caa_agent_process_budget").value_or(0), 1);
}

TEST_F(metrics_test, requests_are_counted_by_route_template_and_status) {
  std::map<std::string, std::string> found{
      {"route", "/api/v1/sessions/{id:uuid}"}, {"method", "GET"}, {"status", "404"}};
  std::map<std::string, std::string> unmatched{{"route", "unmatched"}, {"status", "404"}};
  std::map<std::string, std::string> health{{"route", "/health"}, {"status", "200"}};
  auto before_found = value("caa_http_requests_total", found);
  auto before_unmatched = value("caa_http_requests_total", unmatched);
  auto before_health = value("caa_http_requests_total", health);
  auto before_hist =
      value("caa_http_request_duration_seconds_count", {{"route", "/api/v1/sessions/{id:uuid}"}});

  // A real path of that template (a session nobody has): counted under the template.
  auto missing =
      http_call(service_->port(), "GET", "/api/v1/sessions/6f1c2b0a-3d4e-4f50-8a6b-7c8d9e0f1a2b",
                {{"X-API-Key", agent_key_}});
  ASSERT_EQ(missing.status, 404u) << missing.body;
  ASSERT_EQ(http_call(service_->port(), "GET", "/no/such/path/at/all").status, 404u);
  ASSERT_EQ(http_call(service_->port(), "GET", "/health").status, 200u);
  ASSERT_EQ(http_call(service_->port(), "GET", "/health").status, 200u);

  // The edge records an exchange once its last byte is written: wait for it (a hang guard).
  EXPECT_TRUE(eventually([&] {
    return value("caa_http_requests_total", found) == before_found + 1 &&
           value("caa_http_requests_total", unmatched) == before_unmatched + 1 &&
           value("caa_http_requests_total", health) == before_health + 2;
  }));
  EXPECT_EQ(value("caa_http_requests_total", found), before_found + 1);
  EXPECT_EQ(
      value("caa_http_request_duration_seconds_count", {{"route", "/api/v1/sessions/{id:uuid}"}}),
      before_hist + 1);
  // Raw paths never become labels.
  for (const auto& s : scrape().samples) {
    auto route = s.labels.find("route");
    if (route != s.labels.end()) {
      EXPECT_EQ(route->second.find("6f1c2b0a"), std::string::npos) << route->second;
    }
  }
}

TEST_F(metrics_test, a_turn_streams_and_persists_events_and_the_cli_exit_follows_the_delete) {
  auto streamed = value("caa_events_streamed_total");
  auto persisted = value("caa_events_persisted_total");
  auto batches = value("caa_event_batch_events_count");
  auto lags = value("caa_event_persist_lag_seconds_count");
  auto granted = value("caa_admission_granted_total");
  auto killed = value("caa_cli_exits_total", {{"code", "137"}});

  auto r = sse_call(service_->port(), "POST", "/api/v1/query", {{"X-API-Key", agent_key_}},
                    R"({"prompt":"say something short about metrics"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  std::string session_id;
  for (const auto& ev : r.events)
    if (ev.event == "init") {
      auto d = parse_json(ev.data);
      session_id = d["session_id"].GetString();
    }
  ASSERT_FALSE(session_id.empty());
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events.back().event, "done");
  auto events = static_cast<double>(r.events.size());

  EXPECT_TRUE(eventually([&] {
    auto e = scrape();
    return e.value("caa_events_streamed_total").value_or(0) >= streamed + events &&
           e.value("caa_events_persisted_total").value_or(0) >= persisted + events &&
           e.value("caa_sessions", {{"state", "idle"}}).value_or(0) >= 1;
  }));
  auto e = scrape();
  EXPECT_GE(e.value("caa_events_streamed_total").value_or(0), streamed + events);
  EXPECT_GE(e.value("caa_events_persisted_total").value_or(0), persisted + events);
  EXPECT_GT(e.value("caa_event_batch_events_count").value_or(0), batches);
  EXPECT_GT(e.value("caa_event_persist_lag_seconds_count").value_or(0), lags);
  EXPECT_GE(e.value("caa_admission_granted_total").value_or(0), granted + 1);
  EXPECT_GE(e.value("caa_admission_wait_seconds_count").value_or(0), 1);
  EXPECT_GE(e.value("caa_sessions_loaded").value_or(0), 1);
  EXPECT_GE(e.value("caa_agent_processes_live").value_or(0), 1);  // the session's CLI waits
  EXPECT_EQ(e.value("caa_cli_exits_total", {{"code", "137"}}).value_or(0), killed);

  auto del = http_call(service_->port(), "DELETE", "/api/v1/sessions/" + session_id,
                       {{"X-API-Key", agent_key_}});
  ASSERT_EQ(del.status, 204u) << del.body;
  // Deleting kills the CLI (SIGKILL: 128 + 9); the exit is counted once it is reaped.
  EXPECT_TRUE(eventually([&] { return value("caa_cli_exits_total", {{"code", "137"}}) > killed; }));
  EXPECT_EQ(value("caa_cli_exits_total", {{"code", "137"}}), killed + 1);
  EXPECT_TRUE(eventually([&] { return value("caa_agent_process_slots_held") == 0; }));
  // No drift: once the session's CLI is gone, the live processes are the warm pool's only.
  EXPECT_TRUE(eventually([&] {
    auto e = scrape();
    return e.value("caa_agent_processes_live") == e.value("caa_agent_processes_warm") &&
           e.value("caa_agent_processes_starting") == 0;
  }));
  EXPECT_EQ(value("caa_sessions", {{"state", "running"}}), 0);
}

/// Scrapes a service on `port` with `headers`.
http_result scrape_with(uint16_t port, const std::map<std::string, std::string>& headers) {
  return http_call(port, "GET", "/metrics", headers);
}

TEST_F(metrics_test, metrics_token_requires_the_exact_bearer) {
  auto env = env_;
  const std::string token = "metrics-" + random_key().substr(4, 24);
  env["METRICS_TOKEN"] = token;
  service_process protected_service{env};
  auto port = protected_service.port();

  auto none = scrape_with(port, {});
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(none.body.find("caa_"), std::string::npos);
  EXPECT_EQ(scrape_with(port, {{"Authorization", "Bearer " + token + "x"}}).status, 401u);
  EXPECT_EQ(scrape_with(port, {{"Authorization", "Bearer " + token.substr(1)}}).status, 401u);
  EXPECT_EQ(scrape_with(port, {{"Authorization", "Basic " + token}}).status, 401u);
  EXPECT_EQ(scrape_with(port, {{"X-API-Key", token}}).status, 401u);  // only the bearer form
  EXPECT_EQ(scrape_with(port, {{"Authorization", "Bearer " + admin_}}).status, 401u);

  auto ok = scrape_with(port, {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto e = parse_exposition(ok.body);
  for (const auto& err : e.errors) ADD_FAILURE() << err;
  EXPECT_EQ(scrape_with(port, {{"Authorization", "bearer " + token}}).status, 200u);
  // The token never reaches the log.
  EXPECT_EQ(protected_service.log().find(token), std::string::npos);
  // Other public routes stay public.
  EXPECT_EQ(http_call(port, "GET", "/health").status, 200u);
}

}  // namespace
