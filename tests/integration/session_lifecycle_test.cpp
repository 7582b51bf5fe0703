// Black-box tests of the life of agent sessions around their processes: an idle session
// hibernates and resumes with its context, also across a service restart; `kill -9` of the
// service mid-turn leaves no orphan and, after a restart, a contiguous history ending in
// `error` + `done{interrupted}`; an interrupt kills a long Bash tool's process; the child's
// environment holds none of the service's secrets; admission never exceeds its budget and
// refuses with 503 + Retry-After; TURN_TIMEOUT ends a stuck turn; SIGTERM drains and exits 0.
//
// Every test starts its OWN service process (on the scratch database of this test process and
// a private workspace root), because these tests stop, kill and restart it. Processes are found
// by scanning /proc: the CLI's argv carries `--session-id=<id>` or `--resume <id>`, and bubblewrap
// (its parent) carries the same argv. Needs DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model
// binary in CAA_BIN_DIR (skipped otherwise).

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/support/proc_scan.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {


// -- streams ------------------------------------------------------------------------------------

/// The `session_id` of an `init` event's data ("" when none).
std::string session_in(const std::string& data) {
  auto d = parse_json(data);
  if (d.IsObject() && d.HasMember("session_id") && d["session_id"].IsString())
    return d["session_id"].GetString();
  return {};
}

/// The `session_id` of the stream's `init` event ("" when none).
std::string session_of(const sse_result& r) {
  for (auto& e : r.events)
    if (e.event == "init")
      return session_in(e.data);
  return {};
}

/// The `reason` of the stream's last `done` event ("" when none).
std::string done_reason(const sse_result& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it)
    if (it->event == "done") {
      auto d = parse_json(it->data);
      return d.IsObject() && d.HasMember("reason") && d["reason"].IsString()
               ? d["reason"].GetString()
               : "";
    }
  return {};
}

/// The event names of a stream, for failure messages.
std::string names_of(const sse_result& r) {
  std::string out;
  for (auto& e : r.events)
    out += e.id + ":" + e.event + " ";
  return out;
}

/// Whether one request of the model's log mentions every word of `words`.
bool one_request_mentions(const std::string& log, std::initializer_list<std::string> words) {
  auto d = parse_json(log);
  if (!d.IsArray())
    return false;
  for (auto& entry : d.GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("body"))
      continue;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    entry["body"].Accept(w);
    std::string body{buf.GetString(), buf.GetSize()};
    bool all = true;
    for (auto& word : words)
      all = all && body.find(word) != std::string::npos;
    if (all)
      return true;
  }
  return false;
}

/// The tool_result blocks of the stream's `user` messages, as JSON text.
std::string tool_results_of(const sse_result& r) {
  std::string out;
  for (auto& e : r.events) {
    if (e.event != "message")
      continue;
    auto d = parse_json(e.data);
    if (!d.IsObject() || !d.HasMember("content") || !d["content"].IsArray())
      continue;
    for (auto& block : d["content"].GetArray()) {
      if (!block.IsObject() || !block.HasMember("type") || !block["type"].IsString() ||
          std::string{block["type"].GetString()} != "tool_result")
        continue;
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      block.Accept(w);
      out.append(buf.GetString(), buf.GetSize());
      out += '\n';
    }
  }
  return out;
}

/// A turn streamed on a thread of its own; remembers when `init` and `done` arrived.
class background_turn {
 public:
  background_turn(uint16_t port, std::map<std::string, std::string> headers, std::string body,
                  std::chrono::seconds guard = 120s) {
    thread_ = std::thread{[this, port, headers = std::move(headers), body = std::move(body),
                           guard] {
      auto r = sse_call(
        port, "POST", "/api/v1/query", headers, body,
        [this](const sse_event& e) {
          std::lock_guard<std::mutex> g{mtx_};
          if (e.event == "init" && session_.empty()) {
            session_ = session_in(e.data);
            started_ = true;
          }
          if (e.event == "done")
            done_at_ = std::chrono::steady_clock::now();
          return false;
        },
        guard);
      std::lock_guard<std::mutex> g{mtx_};
      result_ = std::move(r);
      finished_ = true;
    }};
  }
  ~background_turn() { join(); }
  background_turn(const background_turn&) = delete;
  background_turn& operator=(const background_turn&) = delete;

  /// Waits until `init` arrived (false when the stream ended first or `limit` passed).
  bool wait_started(std::chrono::milliseconds limit = 60s) {
    eventually([&] { return started_.load() || finished_.load(); }, limit);
    return started_.load();
  }
  /// The session id of `init` ("" before it).
  std::string session() {
    std::lock_guard<std::mutex> g{mtx_};
    return session_;
  }
  /// Waits for the end of the stream and returns it.
  const sse_result& join() {
    if (thread_.joinable())
      thread_.join();
    return result_;
  }
  /// When `done` arrived (nullopt: never).
  std::optional<std::chrono::steady_clock::time_point> done_at() {
    std::lock_guard<std::mutex> g{mtx_};
    return done_at_;
  }

 private:
  std::thread thread_;
  std::mutex mtx_;
  std::string session_;
  std::atomic<bool> started_{false};
  std::atomic<bool> finished_{false};
  std::optional<std::chrono::steady_clock::time_point> done_at_;
  sse_result result_;
};

/// A number for unique command lines (`sleep 300.<n>`).
std::string random_digits() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(100000 + rng() % 900000);
}

// -- fixture ------------------------------------------------------------------------------------

/// One scripted model per suite; one service per test, started by the test with its settings.
class session_lifecycle_test : public ::testing::Test {
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
    if (skip_reason_.empty())
      model_ = std::make_unique<scripted_model_child>(model_bin);  // main thread: PDEATHSIG
  }
  static void TearDownTestSuite() { model_.reset(); }

  void SetUp() override {
    if (!skip_reason_.empty())
      GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(model_) << "the scripted model did not start";
    admin_ = random_key();
    env_ = base_service_env(admin_);
    env_["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model_->port());
    env_["ANTHROPIC_API_KEY"] = "sk-test";
  }

  void TearDown() override {
    if (HasFailure() || std::getenv("CAA_TEST_DUMP_LOG") != nullptr) {
      auto tail = [](std::string log) {
        return log.size() > 12000 ? "...\n" + log.substr(log.size() - 12000) : log;
      };
      if (!previous_log_.empty())
        std::fprintf(stderr, "---- log of the service before the restart (tail) ----\n%s\n",
                     tail(previous_log_).c_str());
      if (service_)
        std::fprintf(stderr, "---- service log (tail) ----\n%s\n", tail(service_->log()).c_str());
    }
    service_.reset();
    if (auto it = env_.find("WORKSPACE_ROOT"); it != env_.end() && !it->second.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(it->second, ec);
    }
  }

  /// Starts the service with `settings` added to the environment (on the test's main thread:
  /// the service gets PR_SET_PDEATHSIG of the thread that starts it), and an agent key.
  void start(const std::map<std::string, std::string>& settings) {
    for (auto& [k, v] : settings)
      env_[k] = v;
    service_ = std::make_unique<service_process>(env_);
    auto r = http_call(port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                       R"({"tenant":"lifecycle","scopes":["agent"],"name":"lifecycle"})");
    auto d = parse_json(r.body);
    if (r.status != 201 || !d.IsObject())
      throw std::runtime_error("cannot create a key: " + r.body);
    key_ = d["key"].GetString();
  }

  /// Starts a new service on the same database, workspace root and settings (the previous one
  /// must have ended).
  void restart() {
    previous_log_ = service_ ? service_->log() : std::string{};
    service_.reset();
    service_ = std::make_unique<service_process>(env_);
  }

  uint16_t port() const { return service_->port(); }
  std::map<std::string, std::string> auth() const { return {{"X-API-Key", key_}}; }

  /// POSTs a turn and reads its whole stream.
  sse_result turn(const std::string& body, sse_stop stop = {}, std::chrono::seconds guard = 120s) {
    return sse_call(port(), "POST", "/api/v1/query", auth(), body, std::move(stop), guard);
  }
  /// The status of session `id` ("" when not 200).
  std::string status_of(const std::string& id) {
    auto r = http_call(port(), "GET", "/api/v1/sessions/" + id, auth());
    auto d = parse_json(r.body);
    return r.status == 200 && d.IsObject() && d.HasMember("status") && d["status"].IsString()
             ? d["status"].GetString()
             : "";
  }
  /// The bodies of the requests the model received, as one JSON text.
  static std::string model_log() { return http_call(model_->port(), "GET", "/_log").body; }

  static inline std::unique_ptr<scripted_model_child> model_;
  static inline std::string skip_reason_;
  std::unique_ptr<service_process> service_;
  std::map<std::string, std::string> env_;
  std::string admin_;
  std::string key_;
  std::string previous_log_;  ///< the log of the service `restart` replaced
};

// -- tests --------------------------------------------------------------------------------------

TEST_F(session_lifecycle_test, an_idle_session_hibernates_and_resumes_with_its_context) {
  start({{"SESSION_IDLE_TIMEOUT", "1"}});
  auto first = unique_word("hibernate-first");
  auto second = unique_word("hibernate-second");
  auto r = turn(R"({"prompt":"[[echo]] )" + first + "\"}");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  ASSERT_EQ(id.size(), 36u) << r.body;

  EXPECT_TRUE(eventually([&] { return status_of(id) == "hibernated"; }, 20s))
    << "status after the idle timeout: " << status_of(id);
  EXPECT_TRUE(eventually([&] { return session_processes(id).empty(); }, 20s))
    << "a hibernated session has no process:\n" << describe(session_processes(id));

  bool resumed = false;
  auto r2 = turn(R"({"prompt":"[[echo]] )" + second + R"(","session_id":")" + id + "\"}",
                 [&](const sse_event& e) {
                   if (e.event == "init")
                     resumed = !processes_with("--resume " + id).empty();
                   return false;
                 });
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(session_of(r2), id);
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
  EXPECT_TRUE(resumed) << "the turn after hibernation runs a CLI with --resume <id>";
  EXPECT_TRUE(one_request_mentions(model_log(), {first, second}))
    << "the model's request of turn 2 carries turn 1's prompt";
}

TEST_F(session_lifecycle_test, a_session_resumes_after_a_service_restart) {
  start({});
  auto first = unique_word("restart-first");
  auto second = unique_word("restart-second");
  auto r = turn(R"({"prompt":"[[echo]] )" + first + "\"}");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  ASSERT_EQ(id.size(), 36u) << r.body;

  EXPECT_EQ(service_->terminate(60s), 0) << "SIGTERM: a clean exit";
  EXPECT_TRUE(eventually([&] { return session_processes(id).empty(); }, 5s))
    << "no agent process outlives the service:\n" << describe(session_processes(id));

  restart();
  EXPECT_EQ(status_of(id), "hibernated");
  auto r2 = turn(R"({"prompt":"[[echo]] )" + second + R"(","session_id":")" + id + "\"}");
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(session_of(r2), id);
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
  EXPECT_TRUE(one_request_mentions(model_log(), {first, second}))
    << "the model's request after the restart carries turn 1's prompt";
}

TEST_F(session_lifecycle_test, kill_9_mid_turn_leaves_no_orphan_and_a_contiguous_history) {
  start({});
  background_turn slow{port(), auth(), R"({"prompt":"[[slow 50 200]]"})"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join()) << slow.join().body;
  auto id = slow.session();
  ASSERT_EQ(id.size(), 36u);
  std::this_thread::sleep_for(500ms);  // some chunks stream (and are committed) first
  auto tree = session_processes(id);
  EXPECT_FALSE(tree.empty()) << "the running turn has its agent process";

  service_->kill_hard();
  auto& seen = slow.join();
  EXPECT_TRUE(eventually(
    [&] { return survivors(tree).empty() && session_processes(id).empty(); }, 5s))
    << "orphans after kill -9 of the service:\n"
    << describe(survivors(tree)) << describe(session_processes(id));

  restart();
  auto page = http_call(port(), "GET", "/api/v1/sessions/" + id + "/events?limit=1000", auth());
  ASSERT_EQ(page.status, 200u) << page.body;
  auto d = parse_json(page.body);
  ASSERT_TRUE(d.IsObject() && d.HasMember("events") && d["events"].IsArray()) << page.body;
  auto& events = d["events"];
  ASSERT_GE(events.Size(), 3u) << page.body;  // init, ..., error, done
  for (rapidjson::SizeType i = 0; i < events.Size(); ++i)
    EXPECT_EQ(events[i]["id"].GetUint64(), i + 1u) << "ids are 1..n without gap or repeat";
  auto n = events.Size();
  EXPECT_STREQ(events[0]["event"].GetString(), "init");
  EXPECT_STREQ(events[n - 2]["event"].GetString(), "error") << page.body;
  EXPECT_STREQ(events[n - 1]["event"].GetString(), "done") << page.body;
  auto& done = events[n - 1]["data"];
  ASSERT_TRUE(done.IsObject() && done.HasMember("reason")) << page.body;
  EXPECT_STREQ(done["reason"].GetString(), "interrupted");
  // Everything the client received before the kill is in the history, under the same id.
  for (auto& e : seen.events) {
    auto seq = std::stoull(e.id);
    ASSERT_LE(seq, n - 2u) << "event " << e.id << " (" << e.event << ") was received but is lost";
    EXPECT_EQ(events[static_cast<rapidjson::SizeType>(seq - 1)]["event"].GetString(), e.event);
  }
  EXPECT_EQ(status_of(id), "interrupted");

  auto again = turn(R"({"prompt":"[[echo]] after the crash","session_id":")" + id + "\"}");
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(session_of(again), id);
  EXPECT_EQ(done_reason(again), "completed") << names_of(again);
  ASSERT_FALSE(again.events.empty());
  EXPECT_EQ(std::stoull(again.events.front().id), n + 1u) << "the next turn continues the ids";
}

TEST_F(session_lifecycle_test, interrupt_during_a_long_bash_kills_the_tool_process) {
  start({});
  auto command = "sleep 300." + random_digits();
  background_turn t{port(), auth(),
                    R"({"prompt":"[[bash )" + command + R"(]]","allowed_tools":["Bash"]})"};
  ASSERT_TRUE(t.wait_started()) << names_of(t.join()) << t.join().body;
  auto id = t.session();
  ASSERT_TRUE(eventually([&] { return !processes_with(command).empty(); }, 30s))
    << "the Bash tool runs `" << command << "`";
  auto sleepers = processes_with(command);

  auto asked = std::chrono::steady_clock::now();
  auto r = http_call(port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth());
  EXPECT_EQ(r.status, 200u) << r.body;
  auto& stream = t.join();
  EXPECT_TRUE(stream.ended) << names_of(stream);
  EXPECT_EQ(done_reason(stream), "interrupted") << names_of(stream);
  auto done_at = t.done_at();
  ASSERT_TRUE(done_at.has_value());
  EXPECT_LT(*done_at - asked, 2s) << "done{interrupted} follows the interrupt at once";
  EXPECT_TRUE(eventually(
    [&] { return survivors(sleepers).empty() && processes_with(command).empty(); }, 5s))
    << "the tool's process is killed:\n" << describe(processes_with(command));
}

TEST_F(session_lifecycle_test, the_child_environment_holds_none_of_the_service_secrets) {
  auto canary = "canary-" + random_digits() + random_digits();
  start({{"CAA_CANARY_SECRET", canary}});
  auto r = turn(R"({"prompt":"[[bash env]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(done_reason(r), "completed") << names_of(r);
  auto dump = tool_results_of(r);
  ASSERT_FALSE(dump.empty()) << "the Bash tool's result is streamed: " << names_of(r);
  EXPECT_NE(dump.find("ANTHROPIC_BASE_URL"), std::string::npos)
    << "the dump is the child's environment:\n" << dump;
  for (std::string secret : {std::string{"DATABASE_URL"}, std::string{"REDIS_URL"},
                             std::string{"CAA_CANARY_SECRET"}, canary, admin_,
                             env_["DATABASE_URL"]}) {
    EXPECT_EQ(dump.find(secret), std::string::npos) << secret << " leaks into:\n" << dump;
    EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " is in the stream";
  }
  if (auto redis = env_.find("REDIS_URL"); redis != env_.end()) {
    EXPECT_EQ(dump.find(redis->second), std::string::npos) << "REDIS_URL's value leaks";
  }
}

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
      if (t.joinable())
        t.join();
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
  // 5 s: long enough that the echo turn below never hits it, even on a loaded machine.
  start({{"TURN_TIMEOUT", "5"}});
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
  EXPECT_EQ(done_reason(stream), "completed") << "the grace period lets the turn finish: "
                                              << names_of(stream);
  stopper.join();
  EXPECT_EQ(exit_code.load(), 0) << "the drained service exits 0";
  EXPECT_TRUE(eventually(
    [&] { return survivors(tree).empty() && session_processes(id).empty(); }, 5s))
    << "no agent process is left:\n" << describe(survivors(tree)) << describe(session_processes(id));
}

}  // namespace
