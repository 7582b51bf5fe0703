// The sandbox's model proxy counts the requests it forwards (and their upstream token counts)
// per tenant and session; the usage meter writes them to PostgreSQL every USAGE_FLUSH_INTERVAL
// and once more at shutdown. Here the interval is longer than the suite, so the counts of a turn
// reach `GET /api/v1/usage` (`model_requests`) only through the write at shutdown: the test
// sees none before it stops the service and all of them after it started it again.

#include "tests/integration/session_flow_fixture.hpp"

#include <rapidjson/document.h>

#include <filesystem>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// `model_requests` of the report's total and of its group `key` (-1 when absent).
struct proxy_counts {
  int64_t total = -1;
  int64_t group = -1;
};

}  // namespace

class usage_proxy_test : public session_flow_test {
 protected:
  static void SetUpTestSuite() {
    start_suite({{"AGENT_SANDBOX", "strict"}, {"USAGE_FLUSH_INTERVAL", "600000"}});
  }

  static void TearDownTestSuite() {
    session_flow_test::TearDownTestSuite();
    std::error_code ec;
    if (auto it = env_.find("WORKSPACE_ROOT"); it != env_.end() && !it->second.empty())
      std::filesystem::remove_all(it->second, ec);
  }

  /// The proxy's request counts of `who` by session, with `session`'s group.
  static proxy_counts counts(const tenant_key& who, const std::string& session) {
    proxy_counts out;
    auto r = http_call(port(), "GET", "/api/v1/usage?group_by=session", auth(who));
    auto d = parse_json(r.body);
    if (r.status != 200 || !d.IsObject()) return out;
    out.total = d["total"]["model_requests"].GetInt64();
    for (auto& g : d["groups"].GetArray())
      if (g["key"].GetString() == session) out.group = g["model_requests"].GetInt64();
    return out;
  }
};

TEST_F(usage_proxy_test, the_proxys_counts_reach_the_report_through_the_write_at_shutdown) {
  // Three model requests: two Bash steps and the closing text.
  auto a = turn(alpha_, R"({"prompt":"[[chain 2]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(done_reason(a), "completed") << a.body;
  auto id = session_of(a);
  ASSERT_EQ(id.size(), 36u) << a.body;
  // The turn's ledger row is there; the proxy's counts wait for the next write.
  ASSERT_TRUE(eventually([&] {
    auto r = http_call(port(), "GET", "/api/v1/usage", auth(alpha_));
    auto d = parse_json(r.body);
    return d.IsObject() && d.HasMember("total") && d["total"]["turns"].GetInt64() >= 1;
  }));
  EXPECT_EQ(counts(alpha_, id).total, 0) << "written before the interval or the shutdown";

  ASSERT_EQ(service_->terminate(60s), 0) << service_->log();
  service_ = std::make_unique<service_process>(env_);

  auto after = counts(alpha_, id);
  EXPECT_GE(after.group, 3) << "the session's model requests";
  EXPECT_EQ(after.total, after.group) << "one session of this tenant made requests";
  EXPECT_EQ(counts(beta_, id).total, 0) << "another tenant's report shows none of them";
}
