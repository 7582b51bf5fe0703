// Black-box tests of the life of agent sessions around their processes: an idle session
// hibernates and resumes with its context, also across a service restart; `kill -9` of the
// service mid-turn leaves no orphan and, after a restart, a contiguous history ending in
// `error` + `done{interrupted}`; an interrupt kills a long Bash tool's process; the child's
// environment holds none of the service's secrets (limits: session_limits_test.cpp).
//
// Every test starts its OWN service process (on the scratch database of this test process and
// a private workspace root), because these tests stop, kill and restart it. Processes are found
// by scanning /proc: the CLI's argv carries `--session-id=<id>` or `--resume <id>`, and bubblewrap
// (its parent) carries the same argv. Needs DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model
// binary in CAA_BIN_DIR (skipped otherwise).

#include "tests/integration/session_lifecycle_fixture.hpp"

using namespace caa::test;
using namespace std::chrono_literals;

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
      << "a hibernated session has no process:\n"
      << describe(session_processes(id));

  bool resumed = false;
  auto r2 = turn(R"({"prompt":"[[echo]] )" + second + R"(","session_id":")" + id + "\"}",
                 [&](const sse_event& e) {
                   if (e.event == "init") resumed = !processes_with("--resume " + id).empty();
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
      << "no agent process outlives the service:\n"
      << describe(session_processes(id));

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
  EXPECT_TRUE(
      eventually([&] { return survivors(tree).empty() && session_processes(id).empty(); }, 5s))
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
      << "the tool's process is killed:\n"
      << describe(processes_with(command));
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
      << "the dump is the child's environment:\n"
      << dump;
  for (std::string secret :
       {std::string{"DATABASE_URL"}, std::string{"REDIS_URL"}, std::string{"CAA_CANARY_SECRET"},
        canary, admin_, env_["DATABASE_URL"]}) {
    EXPECT_EQ(dump.find(secret), std::string::npos) << secret << " leaks into:\n" << dump;
    EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " is in the stream";
  }
  if (auto redis = env_.find("REDIS_URL"); redis != env_.end()) {
    EXPECT_EQ(dump.find(redis->second), std::string::npos) << "REDIS_URL's value leaks";
  }
}

TEST_F(session_lifecycle_test, a_revival_race_of_two_tenants_never_crosses_tenants) {
  // After a restart the session is only in PostgreSQL: the first request for it revives it. The
  // owner's and an intruder's requests fire together; the revival of one must never answer the
  // other (the intruder got the owner's actor, the owner got "not found").
  start({});
  auto r = turn(R"({"prompt":"[[echo]] )" + unique_word("race") + "\"}");
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  auto made = http_call(port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                        R"({"tenant":"intruder","scopes":["agent"],"name":"intruder"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  std::map<std::string, std::string> intruder{
      {"X-API-Key", parse_json(made.body)["key"].GetString()}};
  constexpr int rounds = 5;
  constexpr int per_tenant = 3;
  for (int round = 0; round < rounds; ++round) {
    ASSERT_EQ(service_->terminate(60s), 0);
    restart();
    std::vector<unsigned> owner_status(per_tenant), intruder_status(per_tenant);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    auto fire = [&](std::map<std::string, std::string> who, unsigned& out) {
      ++ready;
      while (ready.load() < 2 * per_tenant) std::this_thread::yield();
      out = http_call(port(), "POST", "/api/v1/sessions/" + id + "/interrupt", who).status;
    };
    for (int i = 0; i < per_tenant; ++i) {
      threads.emplace_back(fire, auth(), std::ref(owner_status[i]));
      threads.emplace_back(fire, intruder, std::ref(intruder_status[i]));
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < per_tenant; ++i) {
      EXPECT_NE(owner_status[i], 404u) << "round " << round << ": the owner was told not found";
      EXPECT_NE(owner_status[i], 0u) << "round " << round;
      EXPECT_EQ(intruder_status[i], 404u) << "round " << round << ": the intruder reached it";
    }
  }
}

TEST_F(session_lifecycle_test, one_tenant_cannot_hold_every_agent_process) {
  // A budget of 2: each tenant's share is 1. The first tenant's slow turn holds its share; its
  // second turn waits and is refused with 429 TENANT_CAPACITY, while another tenant is served.
  start({{"MAX_AGENT_PROCESSES", "2"}, {"ADMISSION_WAIT", "2"}, {"WARM_POOL_SIZE", "0"}});
  background_turn slow{port(), auth(), R"({"prompt":"[[slow 30 200]]"})"};
  ASSERT_TRUE(slow.wait_started()) << slow.join().body;
  auto second = turn(R"({"prompt":"[[echo]] second of the same tenant"})");
  EXPECT_EQ(second.status, 429u) << second.body;
  EXPECT_NE(second.body.find("TENANT_CAPACITY"), std::string::npos) << second.body;
  EXPECT_FALSE(second.header("retry-after").empty());
  auto made = http_call(port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                        R"({"tenant":"other","scopes":["agent"],"name":"other"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  std::map<std::string, std::string> other{{"X-API-Key", parse_json(made.body)["key"].GetString()}};
  auto r = sse_call(port(), "POST", "/api/v1/query", other,
                    R"({"prompt":"[[echo]] another tenant"})", {}, 120s);
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(done_reason(r), "completed") << names_of(r);
  slow.join();
}

TEST_F(session_lifecycle_test, an_attached_stream_of_a_revoked_key_ends_within_the_cache_ttl) {
  start({{"KEY_CACHE_TTL", "2"}});
  auto made = http_call(port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                        R"({"tenant":"lifecycle","scopes":["agent"],"name":"to-revoke"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  auto doc = parse_json(made.body);
  std::map<std::string, std::string> who{{"X-API-Key", doc["key"].GetString()}};
  std::string key_id = doc["id"].GetString();
  auto r = sse_call(port(), "POST", "/api/v1/query", who, R"({"prompt":"[[echo]] revoke me"})", {},
                    120s);
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  // Attach to the idle session's stream; it stays open, waiting for the next turn.
  auto headers = who;
  headers["Accept"] = "text/event-stream";
  std::atomic<bool> ended{false};
  std::chrono::steady_clock::time_point ended_at;
  std::thread reader{[&] {
    auto s = sse_call(port(), "GET", "/api/v1/sessions/" + id + "/events", headers, {}, {}, 30s);
    ended_at = std::chrono::steady_clock::now();
    ended = s.ended;
  }};
  std::this_thread::sleep_for(1s);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(http_call(port(), "DELETE", "/api/v1/keys/" + key_id, {{"X-API-Key", admin_}}).status,
            204u);
  reader.join();
  EXPECT_TRUE(ended.load()) << "the stream did not end (it ran into the guard)";
  EXPECT_LT(std::chrono::duration<double>(ended_at - t0).count(), 2.5)
      << "the stream outlived KEY_CACHE_TTL after the revoke";
}
