// Black-box tests of the warm pool: a new session whose spawn-time options match a warm process
// takes it (its id is the warm process's `--session-id`), a session with other options does not,
// the pool refills in the background, and the warm process gives its slot up before any session
// has to wait: the process budget is never exceeded.

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/support/proc_scan.hpp"

#include <atomic>
#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace caa::test {

class warm_pool_test : public session_flow_test {
 protected:
  static void SetUpTestSuite() {
    // One tenant may hold the whole budget here: the test is about the pool, not the shares.
    start_suite({{"MAX_AGENT_PROCESSES", "2"},
                 {"TENANT_MAX_AGENT_PROCESSES", "2"},
                 {"WARM_POOL_SIZE", "1"},
                 {"SESSION_IDLE_TIMEOUT", "600"}});
  }

  /// The session ids the service log says were given a warm process.
  static bool took_warm(const std::string& session) {
    auto log = service_->log();
    for (std::size_t at = 0; (at = log.find("taken from the warm pool", at)) != std::string::npos;
         ++at) {
      auto end = log.find('\n', at);
      if (log.substr(at, end - at).find(session) != std::string::npos) return true;
    }
    return false;
  }

  /// The value of gauge `name` in /metrics (-1 when absent).
  static long gauge(const std::string& name) {
    auto r = http_call(port(), "GET", "/metrics");
    auto at = r.body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stol(r.body.substr(at + name.size() + 2));
  }

  /// A new session with `options` (JSON members after the prompt); its id.
  static std::string start(const std::string& options) {
    auto r = turn(alpha_, R"({"prompt":"[[echo]] warm pool")" + options + "}");
    EXPECT_EQ(done_reason(r), "completed") << r.body;
    return session_of(r);
  }
};

TEST_F(warm_pool_test, matching_sessions_take_warm_processes_and_the_budget_holds) {
  // Sample the agent processes of the service the whole time: never more than the budget.
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> peak{0};
  std::thread sampler{[&] {
    while (!stop) {
      auto n = agent_processes(service_->pid()).size();
      if (n > peak) peak = n;
      std::this_thread::sleep_for(20ms);
    }
  }};

  const std::string opts = R"(,"max_turns":7)";
  auto first = start(opts);  // cold: the pool learns these options and warms a process
  EXPECT_FALSE(took_warm(first));
  ASSERT_TRUE(eventually([] { return gauge("caa_agent_processes_warm") == 1; }, 60s))
      << "the pool warmed a process for these options";

  auto second = start(opts);
  EXPECT_TRUE(took_warm(second)) << "a matching new session takes the warm process";
  // Both slots are the sessions' now: the pool refills only when one is free.
  EXPECT_EQ(http_call(port(), "DELETE", "/api/v1/sessions/" + first, auth(alpha_)).status, 204u);
  ASSERT_TRUE(eventually([] { return gauge("caa_agent_processes_warm") == 1; }, 60s))
      << "the pool refills in the background";

  // Other options need a slot while the budget is full (a session and a warm process): the
  // warm process gives its slot up, the idle session keeps its process.
  auto other = start(R"(,"max_turns":9)");
  EXPECT_FALSE(took_warm(other)) << "other options never take a warm process";
  EXPECT_EQ(status_of(alpha_, second), "idle") << "no session hibernated while a warm one could go";
  stop = true;
  sampler.join();
  EXPECT_LE(peak.load(), 2u) << "never more agent processes than MAX_AGENT_PROCESSES";
}

}  // namespace caa::test
