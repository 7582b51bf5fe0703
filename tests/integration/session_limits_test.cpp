// Black-box tests of the limits around agent sessions: admission never exceeds its budget and
// refuses with 503 + Retry-After; TURN_TIMEOUT ends a stuck turn; SIGTERM drains a running turn
// and exits 0. Every test starts its own service (session_lifecycle_fixture.hpp).

#include "tests/integration/session_lifecycle_fixture.hpp"

using namespace caa::test;
using namespace std::chrono_literals;

TEST_F(session_lifecycle_test, admission_keeps_the_budget_and_refuses_with_retry_after) {
  start({{"MAX_AGENT_PROCESSES", "1"}, {"ADMISSION_WAIT", "1"}, {"SESSION_IDLE_TIMEOUT", "300"}});
  // Sample the service's agent processes all along.
  std::atomic<bool> sampling{true};
  std::atomic<std::size_t> peak{0};
  std::mutex peak_mtx;
  std::string peak_procs;
  auto service_pid = service_->pid();
  std::thread sampler{[&] {
    while (sampling) {
      auto procs = agent_processes(service_pid);
      if (procs.size() > peak) {
        peak = procs.size();
        std::lock_guard<std::mutex> g{peak_mtx};
        peak_procs = describe(procs);
      }
      std::this_thread::sleep_for(20ms);
    }
  }};
  struct stop_sampler {
    std::atomic<bool>& flag;
    std::thread& t;
    ~stop_sampler() {
      flag = false;
      if (t.joinable()) t.join();
    }
  } stopper{sampling, sampler};

  background_turn a{port(), auth(), R"({"prompt":"[[slow 30 200]]"})"};
  ASSERT_TRUE(a.wait_started()) << names_of(a.join()) << a.join().body;
  auto a_id = a.session();
  auto refused = http_call(port(), "POST", "/api/v1/query", auth(), R"({"prompt":"[[echo]] B"})");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_NE(refused.body.find("CAPACITY_EXHAUSTED"), std::string::npos) << refused.body;
  EXPECT_FALSE(refused.header("retry-after").empty()) << "503 carries Retry-After";

  auto& ra = a.join();
  EXPECT_EQ(done_reason(ra), "completed") << names_of(ra);
  EXPECT_TRUE(eventually([&] { return status_of(a_id) == "idle"; }, 5s))
      << "A keeps its warm process (and its slot); status: " << status_of(a_id);
  EXPECT_FALSE(session_processes(a_id).empty()) << "A's process stays warm after its turn";

  // A is idle and holds the only slot: a new session's turn makes A hibernate (LRU).
  auto b = turn(R"({"prompt":"[[echo]] B again"})");
  EXPECT_EQ(b.status, 200u) << b.body;
  EXPECT_EQ(done_reason(b), "completed") << names_of(b) << b.body;
  EXPECT_TRUE(eventually([&] { return status_of(a_id) == "hibernated"; }, 10s))
      << "A's status: " << status_of(a_id);
  EXPECT_TRUE(session_processes(a_id).empty()) << describe(session_processes(a_id));

  sampling = false;
  sampler.join();
  std::lock_guard<std::mutex> g{peak_mtx};
  EXPECT_LE(peak.load(), 1u) << "never more agent processes than MAX_AGENT_PROCESSES:\n"
                             << peak_procs;
  EXPECT_GE(peak.load(), 1u) << "the sampler saw the agent processes at all";
}

TEST_F(session_lifecycle_test, turn_timeout_ends_a_stuck_turn) {
  // 8 s: long enough that the echo turn below (a respawn and a resume) never hits it, even on a
  // loaded machine (5 s was seen to be too short with builds running beside the suite).
  start({{"TURN_TIMEOUT", "8"}});
  auto t0 = std::chrono::steady_clock::now();
  auto r = turn(R"({"prompt":"[[slow 150 200]]"})", {}, 45s);  // 30 s of streaming if not ended
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(r.ended) << "the stream ended before the 30 s guard: " << names_of(r);
  auto reason = done_reason(r);
  EXPECT_TRUE(reason == "interrupted" || reason == "error") << "done{" << reason << "}";
  EXPECT_LT(took, 25s) << "ended by TURN_TIMEOUT, not by the end of the slow reply";
  auto id = session_of(r);
  ASSERT_EQ(id.size(), 36u);
  auto again = turn(R"({"prompt":"[[echo]] after the timeout","session_id":")" + id + "\"}");
  EXPECT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(done_reason(again), "completed") << names_of(again);
}

TEST_F(session_lifecycle_test, sigterm_drains_a_running_turn_and_exits_0) {
  start({{"DRAIN_GRACE_PERIOD", "30"}});
  background_turn t{port(), auth(), R"({"prompt":"[[slow 20 200]]"})"};  // about 4 s
  ASSERT_TRUE(t.wait_started()) << names_of(t.join()) << t.join().body;
  auto id = t.session();
  auto tree = session_processes(id);
  EXPECT_FALSE(tree.empty());
  auto p = port();

  std::atomic<int> exit_code{-2};
  std::thread stopper{[&] { exit_code = service_->terminate(90s); }};
  http_result ready;
  EXPECT_TRUE(eventually(
      [&] {
        ready = http_call(p, "GET", "/health/ready");
        return ready.status == 503;
      },
      3s))
      << "readiness while draining: " << ready.status << " " << ready.body;
  EXPECT_NE(ready.body.find("draining"), std::string::npos) << ready.body;
  auto fresh = http_call(p, "POST", "/api/v1/query", auth(), R"({"prompt":"[[echo]] late"})");
  EXPECT_EQ(fresh.status, 503u) << fresh.body;
  EXPECT_NE(fresh.body.find("SERVICE_UNAVAILABLE"), std::string::npos) << fresh.body;

  auto& stream = t.join();
  EXPECT_TRUE(stream.ended) << names_of(stream);
  EXPECT_EQ(done_reason(stream), "completed")
      << "the grace period lets the turn finish: " << names_of(stream);
  stopper.join();
  EXPECT_EQ(exit_code.load(), 0) << "the drained service exits 0";
  EXPECT_TRUE(
      eventually([&] { return survivors(tree).empty() && session_processes(id).empty(); }, 5s))
      << "no agent process is left:\n"
      << describe(survivors(tree)) << describe(session_processes(id));
}
