// Sessions across three nodes on 127.0.0.1 (one PostgreSQL, one Redis, a WORKSPACE_ROOT each,
// the real CLI and the scripted model): a request for a session another node owns reaches it
// through the cluster link (turns too); a full node places new sessions on a node with room; a
// node that dies or pauses loses its sessions to the next node that
// is asked for them, once its lease ran out, and a paused one can never write again.

#include "tests/integration/cluster_fixture.hpp"
#include "tests/support/ws_client.hpp"

#include <csignal>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

class cluster_sessions_test : public cluster_fixture {
 protected:
  cluster_sessions_test() : cluster_fixture("cs") {}
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
  // Now a turn through c is forwarded to a: a's process runs it with the session's context,
  // and its stream comes back through c. (The placement test below checks by a file in the
  // workspace where a forwarded turn runs.)
  auto marker = unique_word("forwarded");
  auto through = sse_call(node("c").port(), "POST", "/api/v1/sessions/" + id + "/resume", auth(),
                          R"({"prompt":"[[echo]] )" + marker + "\"}", {}, 120s);
  ASSERT_EQ(through.status, 200u) << through.body;
  EXPECT_EQ(session_of(through), id);
  EXPECT_EQ(done_reason(through), "completed") << names_of(through);
  EXPECT_EQ(node("c").log().find("agent CLI started"), std::string::npos)
      << "node c started no process of its own";
  EXPECT_TRUE(one_request_mentions(model_log(), {command, marker}))
      << "the forwarded turn carries the session's earlier turn";
}

TEST_F(cluster_sessions_test, a_full_node_places_a_new_session_on_a_node_with_room) {
  // b holds at most one agent process; a has the default budget.
  node_env_["b"]["MAX_AGENT_PROCESSES"] = "1";
  node_env_["b"]["WARM_POOL_SIZE"] = "0";
  start_nodes({"a", "b"});
  auto here = unique_word("placed-here");
  auto r1 = turn_until_served(
      node("b").port(), R"({"prompt":"[[bash touch )" + here + R"(]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(r1.status, 200u) << r1.body;
  ASSERT_EQ(done_reason(r1), "completed") << names_of(r1);
  EXPECT_TRUE(in_workspace(1, here)) << "b had room: the first session is b's";
  // b's process stays (idle) and fills its budget; a learns it from b's next announcement.
  ASSERT_TRUE(eventually(
      [&] {
        auto r = http_call(node("a").port(), "GET", "/api/v1/cluster", {{"X-API-Key", admin_}});
        auto d = parse_json(r.body);
        if (r.status != 200 || !d.IsObject() || !d.HasMember("nodes")) return false;
        for (auto& n : d["nodes"].GetArray())
          if (n["id"].GetString() == prefix_ + "b") return n["processes"].GetUint64() >= 1;
        return false;
      },
      15s));
  // A new session through b now goes to a, and the client sees nothing of it.
  auto there = unique_word("placed-there");
  auto r2 = sse_call(node("b").port(), "POST", "/api/v1/query", auth(),
                     R"({"prompt":"[[bash touch )" + there + R"(]]","allowed_tools":["Bash"]})", {},
                     120s);
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);
  EXPECT_TRUE(in_workspace(0, there)) << "placed on a, which had room";
  EXPECT_FALSE(in_workspace(1, there));
  EXPECT_NE(node("b").log().find("session placed on another node"), std::string::npos);
  // The session is a's: its next turn through a runs there at once, with the context.
  auto id = session_of(r2);
  auto next = unique_word("placed-next");
  auto r3 =
      sse_call(node("a").port(), "POST", "/api/v1/query", auth(),
               R"({"prompt":"[[echo]] )" + next + R"(","session_id":")" + id + "\"}", {}, 120s);
  ASSERT_EQ(r3.status, 200u) << r3.body;
  EXPECT_EQ(done_reason(r3), "completed") << names_of(r3);
  EXPECT_TRUE(one_request_mentions(model_log(), {there, next}));
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

TEST_F(cluster_sessions_test, a_spend_cap_set_through_one_node_holds_on_every_node) {
  start_nodes({"a", "b"});
  std::map<std::string, std::string> admin{{"X-API-Key", admin_}};
  auto made =
      http_call(node("a").port(), "POST", "/api/v1/keys", admin,
                R"({"tenant":")" + unique_word("capped") + R"(","scopes":["agent"],"name":"cap"})");
  ASSERT_EQ(made.status, 201u) << made.body;
  auto d = parse_json(made.body);
  std::map<std::string, std::string> capped{{"X-API-Key", d["key"].GetString()}};
  std::string tenant = d["tenant_id"].GetString();
  // The cap is stored through b; the first turn runs on a, under it (nothing spent yet).
  auto put = http_call(node("b").port(), "PUT", "/api/v1/tenants/" + tenant + "/limits", admin,
                       R"({"daily_usd":0.000001})");
  ASSERT_EQ(put.status, 200u) << put.body;
  auto first = sse_call(node("a").port(), "POST", "/api/v1/query", capped,
                        R"({"prompt":"[[echo]] spent on a"})", {}, 120s);
  ASSERT_EQ(done_reason(first), "completed") << names_of(first) << first.body;
  auto id = session_of(first);
  // b reads the spend of a's turn from PostgreSQL once a stored it.
  ASSERT_TRUE(eventually([&] {
    auto u = parse_json(http_call(node("b").port(), "GET", "/api/v1/usage", capped).body);
    return u.IsObject() && u.HasMember("total") && u["total"]["turns"].GetInt64() >= 1;
  }));
  // A new session through b: refused by b; a turn of a's session through b: refused by a.
  auto fresh = http_call(node("b").port(), "POST", "/api/v1/query", capped,
                         R"({"prompt":"[[echo]] new on b"})");
  EXPECT_EQ(fresh.status, 402u) << fresh.body;
  EXPECT_NE(fresh.body.find("BUDGET_EXCEEDED"), std::string::npos) << fresh.body;
  auto forwarded = http_call(node("b").port(), "POST", "/api/v1/sessions/" + id + "/resume", capped,
                             R"({"prompt":"[[echo]] through b"})");
  EXPECT_EQ(forwarded.status, 402u) << forwarded.body;
  EXPECT_NE(forwarded.body.find("BUDGET_EXCEEDED"), std::string::npos) << forwarded.body;
  // Another tenant runs on b meanwhile.
  auto other = sse_call(node("b").port(), "POST", "/api/v1/query", auth(),
                        R"({"prompt":"[[echo]] not capped"})", {}, 120s);
  EXPECT_EQ(done_reason(other), "completed") << names_of(other) << other.body;
}
