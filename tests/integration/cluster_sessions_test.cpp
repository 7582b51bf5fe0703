// Sessions across three nodes on 127.0.0.1 (one PostgreSQL, one Redis, a WORKSPACE_ROOT each,
// the real CLI and the scripted model): a request for a session another node owns reaches it
// through the cluster link; a node that dies or pauses loses its sessions to the next node that
// is asked for them, once its lease ran out, and a paused one can never write again.

#include "tests/integration/session_lifecycle_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <csignal>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

const std::string cluster_secret = "cluster-sessions-secret-0123456789";

class cluster_sessions_test : public session_lifecycle_test {
 protected:
  void SetUp() override {
    session_lifecycle_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!env_redis_url()) GTEST_SKIP() << "REDIS_URL is required";
    prefix_ = "cs" + std::to_string(::getpid()) + "-" + random_digits() + "-";
  }

  void TearDown() override {
    if (HasFailure())
      for (auto& [name, node] : nodes_)
        if (node)
          std::fprintf(stderr, "---- log of node %s (tail) ----\n%s\n", name.c_str(),
                       tail(node->log()).c_str());
    for (auto& [name, node] : nodes_)
      if (node && stopped_.count(name) > 0) ::kill(node->pid(), SIGCONT);
    nodes_.clear();
    for (auto& dir : workspaces_) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    session_lifecycle_test::TearDown();
  }

  static std::string tail(const std::string& log) {
    return log.size() > 8000 ? "...\n" + log.substr(log.size() - 8000) : log;
  }

  /// Starts nodes `names` (each on a cluster port of its own, with its own WORKSPACE_ROOT, and
  /// SESSION_LEASE_TTL `lease_ttl`), waits until every one sees the others alive, and makes an
  /// agent key.
  void start_nodes(std::initializer_list<std::string> names, const std::string& lease_ttl = "3") {
    for (const auto& name : names) {
      auto env = env_;
      char tmpl[] = "/tmp/caa-cluster-ws-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      workspaces_.emplace_back(tmpl);
      env["WORKSPACE_ROOT"] = tmpl;
      env["NODE_ID"] = prefix_ + name;
      env["CLUSTER_PORT"] = std::to_string(free_port());
      env["CLUSTER_SECRET"] = cluster_secret;
      env["CLUSTER_HEARTBEAT"] = "0.5";
      env["CLUSTER_NODE_TTL"] = "3";
      env["SESSION_LEASE_TTL"] = lease_ttl;
      // The test retries while a lease runs out, and polls.
      env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "100000";
      env["RATE_LIMIT_QUERY_PER_MINUTE"] = "100000";
      nodes_[name] = std::make_unique<service_process>(env);
    }
    for (const auto& name : names) {
      for (const auto& other : names) {
        if (name == other) continue;
        ASSERT_TRUE(eventually([&] { return sees_alive(node(name).port(), other); }, 15s))
            << name << " does not see " << other;
      }
    }
    key_ =
        create_key(node(*names.begin()).port(), {{"X-API-Key", admin_}}, "cluster", R"(["agent"])");
    ASSERT_FALSE(key_.empty());
  }

  service_process& node(const std::string& name) { return *nodes_.at(name); }

  bool sees_alive(uint16_t port, const std::string& name) {
    auto r = http_call(port, "GET", "/api/v1/cluster", {{"X-API-Key", admin_}});
    auto d = parse_json(r.body);
    if (r.status != 200 || !d.IsObject() || !d.HasMember("nodes")) return false;
    for (auto& n : d["nodes"].GetArray())
      if (n["id"].GetString() == prefix_ + name)
        return std::string{n["state"].GetString()} == "alive";
    return false;
  }

  /// A turn of session `id` through the node on `port`, retried while it answers 503 (the
  /// former owner's lease still runs); its stream.
  sse_result turn_until_served(uint16_t port, const std::string& body,
                               std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    sse_result r;
    do {
      r = sse_call(port, "POST", "/api/v1/query", auth(), body, {}, 120s);
      if (r.status != 503) return r;
      std::this_thread::sleep_for(250ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return r;
  }

  /// The stored events of session `id`, read through the node on `port`.
  rapidjson::Document history(uint16_t port, const std::string& id) {
    auto r = http_call(port, "GET", "/api/v1/sessions/" + id + "/events?limit=1000", auth());
    auto d = parse_json(r.body);
    EXPECT_EQ(r.status, 200u) << r.body;
    return d;
  }

  /// Checks that the ids of `events` are 1..n and counts the `done{interrupted}` events.
  static int interrupted_dones(const rapidjson::Value& events) {
    int n = 0;
    for (rapidjson::SizeType i = 0; i < events.Size(); ++i) {
      EXPECT_EQ(events[i]["id"].GetUint64(), i + 1u) << "ids are 1..n without gap or repeat";
      if (std::string{events[i]["event"].GetString()} == "done" &&
          std::string{events[i]["data"]["reason"].GetString()} == "interrupted")
        ++n;
    }
    return n;
  }

  std::string prefix_;
  std::map<std::string, std::unique_ptr<service_process>> nodes_;
  std::set<std::string> stopped_;
  std::vector<std::string> workspaces_;
};

}  // namespace

TEST_F(cluster_sessions_test, a_turn_on_one_node_is_interrupted_and_locked_through_the_others) {
  start_nodes({"a", "b", "c"});
  auto command = "sleep 300." + random_digits();
  background_turn t{node("a").port(), auth(),
                    R"({"prompt":"[[bash )" + command + R"(]]","allowed_tools":["Bash"]})"};
  ASSERT_TRUE(t.wait_started()) << names_of(t.join()) << t.join().body;
  auto id = t.session();
  ASSERT_TRUE(eventually([&] { return !processes_with(command).empty(); }, 30s))
      << "the Bash tool runs on node a";
  // A second turn through c while a runs one: what a itself would answer.
  auto locked = http_call(node("c").port(), "POST", "/api/v1/query", auth(),
                          R"({"prompt":"[[echo]] second","session_id":")" + id + "\"}");
  EXPECT_EQ(locked.status, 409u) << locked.body;
  EXPECT_NE(locked.body.find("SESSION_LOCKED"), std::string::npos) << locked.body;
  // A live stream of the session attached through c: a's events come over the cluster link.
  sse_result through_c;
  std::thread watcher{[&] {
    through_c = sse_call(
        node("c").port(), "GET", "/api/v1/sessions/" + id + "/events",
        {{"X-API-Key", key_}, {"Accept", "text/event-stream"}}, "",
        [](const sse_event& e) { return e.event == "done"; }, 60s);
  }};
  // And a WebSocket subscription through b.
  ws_client ws;
  ASSERT_EQ(ws.connect(node("b").port(), "/api/v1/ws", auth()).status, 101u);
  ASSERT_TRUE(ws.send_text(R"({"type":"subscribe","session_id":")" + id + "\"}"));
  std::this_thread::sleep_for(1s);  // attached (replayed what is stored, then live)
  // The interrupt through b reaches a's session actor.
  auto asked = std::chrono::steady_clock::now();
  auto r = http_call(node("b").port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth());
  EXPECT_EQ(r.status, 200u) << r.body;
  auto& stream = t.join();
  EXPECT_EQ(done_reason(stream), "interrupted") << names_of(stream);
  auto done_at = t.done_at();
  ASSERT_TRUE(done_at.has_value());
  auto took = std::chrono::duration<double>(*done_at - asked).count();
  std::printf("[ figures  ] done{interrupted} on node a %.3f s after the interrupt through b\n",
              took);
  EXPECT_LT(took, 5.0) << "a bound against a hang, not a performance figure";
  watcher.join();
  EXPECT_EQ(through_c.status, 200u) << through_c.body;
  EXPECT_EQ(done_reason(through_c), "interrupted") << names_of(through_c);
  // The WebSocket on b, up to the same done.
  std::map<std::string, std::string> seen_by_b;
  for (int frames = 0; frames < 10000; ++frames) {
    auto m = ws.read(30s);
    if (!m.ok) break;
    auto d = parse_json(m.text);
    if (!d.IsObject() || !d.HasMember("type") || std::string{d["type"].GetString()} != "event")
      continue;
    std::string name = d["event"].GetString();
    seen_by_b[std::to_string(d["id"].GetUint64())] = name;
    if (name == "done") break;
  }
  // Every event of a's own stream reached c and b under the same id and name.
  std::map<std::string, std::string> seen_by_c;
  for (auto& e : through_c.events) seen_by_c[e.id] = e.event;
  for (auto* seen : {&seen_by_c, &seen_by_b}) {
    for (auto& e : stream.events) {
      auto at = seen->find(e.id);
      ASSERT_NE(at, seen->end()) << "event " << e.id << " (" << e.event << ") missed "
                                 << (seen == &seen_by_c ? "the SSE stream on c"
                                                        : "the WebSocket on b");
      EXPECT_EQ(at->second, e.event) << "event " << e.id;
    }
  }
  // Once the turn ended, an interrupt through c finds nothing to interrupt (a's answer).
  auto idle = http_call(node("c").port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth());
  EXPECT_EQ(idle.status, 409u) << idle.body;
}

TEST_F(cluster_sessions_test, a_killed_nodes_session_is_taken_over_with_its_context) {
  start_nodes({"a", "b"});
  auto first = unique_word("takeover-first");
  auto second = unique_word("takeover-second");
  auto r1 = turn_until_served(node("a").port(), R"({"prompt":"[[echo]] )" + first + "\"}");
  ASSERT_EQ(r1.status, 200u) << r1.body;
  ASSERT_EQ(done_reason(r1), "completed") << names_of(r1);
  auto id = session_of(r1);
  background_turn slow{node("a").port(), auth(),
                       R"({"prompt":"[[slow 100 100]]","session_id":")" + id + "\"}"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join());
  std::this_thread::sleep_for(500ms);
  node("a").kill_hard();
  slow.join();
  // Through b: refused while a's lease runs (503), then taken over and served with the context.
  auto r2 = turn_until_served(
      node("b").port(), R"({"prompt":"[[echo]] )" + second + R"(","session_id":")" + id + "\"}");
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(session_of(r2), id);
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
  EXPECT_TRUE(one_request_mentions(model_log(), {first, second}))
      << "the first turn on node b carries the turn of node a (transcript from PostgreSQL)";
  auto d = history(node("b").port(), id);
  ASSERT_TRUE(d.IsObject() && d.HasMember("events")) << "no history";
  EXPECT_EQ(interrupted_dones(d["events"]), 1) << "the cut turn ends interrupted exactly once";
}

TEST_F(cluster_sessions_test, a_paused_node_is_fenced_out_after_a_takeover) {
  start_nodes({"a", "b"});
  auto r1 = turn_until_served(node("a").port(), R"({"prompt":"[[echo]] fenced-first"})");
  ASSERT_EQ(r1.status, 200u) << r1.body;
  auto id = session_of(r1);
  background_turn slow{node("a").port(), auth(),
                       R"({"prompt":"[[slow 100 100]]","session_id":")" + id + "\"}"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join());
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(::kill(node("a").pid(), SIGSTOP), 0);
  stopped_.insert("a");
  auto r2 = turn_until_served(node("b").port(), R"({"prompt":"[[echo]] fenced-second",)"
                                                R"("session_id":")" +
                                                    id + "\"}");
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
  auto before = history(node("b").port(), id);
  ASSERT_TRUE(before.IsObject() && before.HasMember("events"));
  auto stored = before["events"].Size();
  // a wakes up: its session actor's next write fails in SQL and the actor ends.
  ASSERT_EQ(::kill(node("a").pid(), SIGCONT), 0);
  stopped_.erase("a");
  EXPECT_TRUE(eventually(
      [&] { return node("a").log().find("taken over by another node") != std::string::npos; }, 15s))
      << "node a never noticed the takeover";
  slow.join();
  auto after = history(node("b").port(), id);
  ASSERT_TRUE(after.IsObject() && after.HasMember("events"));
  EXPECT_EQ(after["events"].Size(), stored) << "the paused node appended after the takeover";
  EXPECT_EQ(interrupted_dones(after["events"]), 1);
  auto last = after["events"].Size() - 1;
  EXPECT_STREQ(after["events"][last]["event"].GetString(), "done");
  EXPECT_STREQ(after["events"][last]["data"]["reason"].GetString(), "completed");
}

TEST_F(cluster_sessions_test, a_draining_node_hands_its_resting_sessions_off_at_once) {
  // A lease that outlives the test: only its release lets b serve the session at once.
  start_nodes({"a", "b"}, "120");
  auto r1 = turn_until_served(node("a").port(), R"({"prompt":"[[echo]] handoff-first"})");
  ASSERT_EQ(r1.status, 200u) << r1.body;
  auto id = session_of(r1);
  // SIGTERM: the drain hibernates the idle session and releases its lease.
  EXPECT_EQ(node("a").terminate(60s), 0);
  // The first request through b is served: no wait for a lease to run out.
  auto r2 =
      sse_call(node("b").port(), "POST", "/api/v1/query", auth(),
               R"({"prompt":"[[echo]] handoff-second","session_id":")" + id + "\"}", {}, 120s);
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
}
