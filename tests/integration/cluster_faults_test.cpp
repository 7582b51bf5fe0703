// Faults of a three-node cluster on 127.0.0.1 (one PostgreSQL, the real CLI and the scripted
// model): Redis going away and coming back (a private redis-server of the test, never the shared
// one), and a node killed while a client streams its session through another node.

#include "tests/integration/cluster_fixture.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

class cluster_faults_test : public cluster_fixture {
 protected:
  cluster_faults_test() : cluster_fixture("cf") {}

  /// Whether node `name` is still the process the test started (it has not exited).
  bool still_running(const std::string& name, int pid) {
    int status = 0;
    return node(name).pid() == pid && ::waitpid(pid, &status, WNOHANG) == 0;
  }

  /// The lines of `log` after its first `from` bytes that are warnings or errors.
  static std::string complaints(const std::string& log, std::size_t from) {
    std::string out;
    std::istringstream in{log.substr(std::min(from, log.size()))};
    for (std::string line; std::getline(in, line);)
      if (line.find(R"("level":"warn)") != std::string::npos ||
          line.find(R"("level":"error)") != std::string::npos)
        out += line + '\n';
    return out;
  }
};

/// The ids of `events` as numbers.
std::vector<uint64_t> ids_of(const std::vector<sse_event>& events) {
  std::vector<uint64_t> out;
  for (auto& e : events) out.push_back(std::stoull(e.id));
  return out;
}

}  // namespace

TEST_F(cluster_faults_test, nodes_serve_through_a_redis_outage_and_membership_heals_after_it) {
  start_nodes({"a", "b", "c"});
  if (HasFatalFailure()) return;
  std::map<std::string, int> pids;
  for (const auto& name : {"a", "b", "c"}) pids[name] = node(name).pid();
  auto r1 = turn_until_served(node("a").port(), R"({"prompt":"[[echo]] outage-first"})");
  ASSERT_EQ(r1.status, 200u) << r1.body;
  ASSERT_EQ(done_reason(r1), "completed") << names_of(r1);
  auto id = session_of(r1);

  // Redis goes away: every node notices and keeps the last known list.
  std::map<std::string, std::size_t> log_at;
  for (const auto& name : {"a", "b", "c"}) log_at[name] = node(name).log().size();
  redis_->stop();
  for (const auto& name : {"a", "b", "c"})
    EXPECT_TRUE(
        eventually([&] { return member(node(name).port(), "a").source == "last_known"; }, 15s))
        << "node " << name << " does not report the last known membership";

  // Redis is not required: every node stays ready (its rate-limit buckets decide alone).
  for (const auto& name : {"a", "b", "c"}) {
    auto ready = http_call(node(name).port(), "GET", "/health/ready");
    EXPECT_EQ(ready.status, 200u) << "node " << name << ": " << ready.body;
  }

  // a serves the session it owns.
  auto r2 = turn_until_served(node("a").port(),
                              R"({"prompt":"[[echo]] outage-second","session_id":")" + id + "\"}");
  ASSERT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(session_of(r2), id);
  EXPECT_EQ(done_reason(r2), "completed") << names_of(r2);

  // A running turn on a is interrupted through b: the request crosses the cluster link.
  background_turn slow{node("a").port(), auth(),
                       R"({"prompt":"[[slow 100 100]]","session_id":")" + id + "\"}"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join()) << slow.join().body;
  std::this_thread::sleep_for(500ms);
  auto interrupt =
      http_call(node("b").port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth());
  EXPECT_EQ(interrupt.status, 200u) << interrupt.body;
  auto& stream = slow.join();
  EXPECT_EQ(done_reason(stream), "interrupted") << names_of(stream);

  // b (and c) still list a, alive, from the last known membership.
  for (const auto& name : {"b", "c"}) {
    auto seen = member(node(name).port(), "a");
    EXPECT_EQ(seen.source, "last_known") << "node " << name;
    EXPECT_EQ(seen.state, "alive") << "node " << name << " lost a while Redis is down";
  }
  for (const auto& name : {"a", "b", "c"})
    std::printf("[ outage   ] node %s, warnings and errors while Redis was down:\n%s", name,
                complaints(node(name).log(), log_at[name]).c_str());

  // Redis comes back on the same port (empty: nothing was saved): membership heals.
  ASSERT_TRUE(redis_->start()) << redis_->log();
  auto back_at = std::chrono::steady_clock::now();
  std::set<std::string> seen_gone;
  auto healed = [&] {
    bool all = true;
    for (const auto& name : {"a", "b", "c"})
      for (const auto& other : {"a", "b", "c"}) {
        if (std::string{name} == other) continue;
        auto m = member(node(name).port(), other);
        if (m.state == "gone") seen_gone.insert(std::string{name} + " saw " + other + " gone");
        all = all && m.source == "redis" && m.state == "alive" && m.link == "up";
      }
    return all;
  };
  EXPECT_TRUE(eventually(healed, 20s))
      << "the membership did not heal after Redis came back (see the nodes' logs)";
  std::printf("[ figures  ] membership healed %.3f s after Redis came back\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - back_at).count());
  for (const auto& g : seen_gone) std::printf("[ healing  ] %s while Redis came back\n", g.c_str());
  for (const auto& name : {"a", "b", "c"})
    EXPECT_TRUE(still_running(name, pids[name])) << "node " << name << " ended or restarted";

  // And a forwarded request works again through the healed links.
  background_turn again{node("a").port(), auth(),
                        R"({"prompt":"[[slow 100 100]]","session_id":")" + id + "\"}"};
  ASSERT_TRUE(again.wait_started()) << names_of(again.join()) << again.join().body;
  std::this_thread::sleep_for(500ms);
  auto interrupt2 =
      http_call(node("c").port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth());
  EXPECT_EQ(interrupt2.status, 200u) << interrupt2.body;
  EXPECT_EQ(done_reason(again.join()), "interrupted") << names_of(again.join());
  auto d = history(node("a").port(), id);
  ASSERT_TRUE(d.IsObject() && d.HasMember("events")) << "no history";
  EXPECT_EQ(interrupted_dones(d["events"]), 2);
}

TEST_F(cluster_faults_test, a_stream_through_another_node_ends_when_the_owner_dies_and_resumes) {
  start_nodes({"a", "b", "c"});
  // A long turn on a (a chain of Bash calls: events all along), streamed through b's attached
  // stream of the session.
  background_turn slow{node("a").port(), auth(),
                       R"({"prompt":"[[chain 1000]]","allowed_tools":["Bash"]})"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join()) << slow.join().body;
  auto id = slow.session();
  std::atomic<std::size_t> received{0};
  sse_result through_b;
  std::atomic<bool> b_finished{false};
  std::jthread watcher{[&] {  // joined on every way out (its stream has a guard)
    through_b = sse_call(
        node("b").port(), "GET", "/api/v1/sessions/" + id + "/events",
        {{"X-API-Key", key_}, {"Accept", "text/event-stream"}}, "",
        [&](const sse_event&) {
          ++received;
          return false;
        },
        60s);
    b_finished = true;
  }};
  // Some of a's events come live over the link before a dies.
  EXPECT_TRUE(eventually([&] { return received.load() >= 8; }, 60s)) << "no live events through b";
  ASSERT_FALSE(b_finished.load()) << "the stream through b ended before the kill";
  auto killed_at = std::chrono::steady_clock::now();
  node("a").kill_hard();
  // The stream through b ends by itself (the link broke), well before its guard.
  EXPECT_TRUE(eventually([&] { return b_finished.load(); }, 30s))
      << "the stream through b still hangs 30 s after its owner died";
  watcher.join();
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::printf("[ figures  ] the stream through b ended %.3f s after kill -9 of a\n", took);
  slow.join();
  EXPECT_EQ(through_b.status, 200u) << through_b.body;
  EXPECT_TRUE(through_b.ended) << "the stream through b did not end cleanly";
  ASSERT_FALSE(through_b.events.empty());
  auto got = ids_of(through_b.events);
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], i + 1) << "ids through b are 1..n: " << names_of(through_b);
  EXPECT_EQ(done_reason(through_b), "") << "the turn cannot have ended: " << names_of(through_b);

  // Resume on c with Last-Event-ID: refused streams (a's lease still runs) end after the stored
  // events; once c took the session over, the rest up to the cut turn's done{interrupted}.
  std::vector<sse_event> resumed;
  uint64_t last = got.back();
  int reconnects = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ++reconnects;
    auto r = sse_call(
        node("c").port(), "GET", "/api/v1/sessions/" + id + "/events",
        {{"X-API-Key", key_},
         {"Accept", "text/event-stream"},
         {"Last-Event-ID", std::to_string(last)}},
        "", [](const sse_event& e) { return e.event == "done"; }, 30s);
    ASSERT_EQ(r.status, 200u) << r.body;
    for (auto& e : r.events) {
      ASSERT_EQ(std::stoull(e.id), last + 1) << "a gap or a repeat after " << last;
      last = std::stoull(e.id);
      resumed.push_back(e);
      done = done || e.event == "done";
    }
    if (!done) {
      ASSERT_TRUE(r.ended) << "a resumed stream that cannot be served must end, not hang";
      std::this_thread::sleep_for(250ms);
    }
  }
  ASSERT_TRUE(done) << "no done after " << reconnects << " reconnects";
  sse_result rest;
  rest.events = resumed;
  EXPECT_EQ(done_reason(rest), "interrupted") << names_of(rest);
  std::printf("[ figures  ] %zu events through b, %zu more on c after %d connections\n", got.size(),
              resumed.size(), reconnects);
  // The stored history is exactly what the client got, through both nodes.
  auto d = history(node("c").port(), id);
  ASSERT_TRUE(d.IsObject() && d.HasMember("events")) << "no history";
  auto& events = d["events"];
  EXPECT_EQ(interrupted_dones(events), 1);
  std::vector<sse_event> all = through_b.events;
  all.insert(all.end(), resumed.begin(), resumed.end());
  ASSERT_EQ(events.Size(), all.size()) << "the client missed events or got extra ones";
  for (rapidjson::SizeType i = 0; i < events.Size(); ++i)
    EXPECT_EQ(events[i]["event"].GetString(), all[i].event) << "event " << i + 1;
}
