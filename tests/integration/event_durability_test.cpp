// Black-box tests of event durability (EVENT_DURABILITY, a turn's `durability`): an async turn
// sends its events before PostgreSQL has them and stores them within EVENT_FLUSH_INTERVAL;
// `kill -9` of the service then loses the unstored ones, but no id a client saw is ever used
// again, and a client that reconnects with such an id gets a `gap` event naming the hole, then
// the rest of the history. Every test starts its own service (session_lifecycle_fixture.hpp).

#include "tests/integration/session_lifecycle_fixture.hpp"
#include "tests/unit/metrics_exposition.hpp"

#include <thread>
#include <utility>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// The events of a history page (`GET .../events`) as (id, name) pairs.
std::vector<std::pair<uint64_t, std::string>> history_of(const http_result& page) {
  std::vector<std::pair<uint64_t, std::string>> out;
  auto d = parse_json(page.body);
  if (!d.IsObject() || !d.HasMember("events") || !d["events"].IsArray()) return out;
  for (auto& e : d["events"].GetArray())
    out.emplace_back(e["id"].GetUint64(), e["event"].GetString());
  return out;
}

std::string describe(const std::vector<std::pair<uint64_t, std::string>>& events) {
  std::string out;
  for (auto& [id, name] : events) out += std::to_string(id) + ":" + name + " ";
  return out;
}

/// The stored history of session `id`, one page of up to 1,000 events.
std::vector<std::pair<uint64_t, std::string>> stored_history(
    uint16_t port, const std::map<std::string, std::string>& auth, const std::string& id) {
  return history_of(http_call(port, "GET", "/api/v1/sessions/" + id + "/events?limit=1000", auth));
}

/// Reconnects to session `id`'s stream with `Last-Event-ID: last` until event `until` arrives.
sse_result resume_after(uint16_t port, const std::string& key, const std::string& id, uint64_t last,
                        const std::string& until) {
  return sse_call(
      port, "GET", "/api/v1/sessions/" + id + "/events",
      {{"X-API-Key", key},
       {"Accept", "text/event-stream"},
       {"Last-Event-ID", std::to_string(last)}},
      {}, [until](const sse_event& e) { return e.event == until; }, 20s);
}

}  // namespace

TEST_F(session_lifecycle_test, an_async_turn_is_stored_after_it_is_sent_and_matches_the_stream) {
  start({{"TENANT_DURABILITY_ALLOW", "lifecycle"}, {"EVENT_FLUSH_INTERVAL", "20"}});
  auto r = turn(R"({"prompt":"[[echo]] durable-async","durability":"async"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  ASSERT_EQ(id.size(), 36u);
  std::vector<std::pair<uint64_t, std::string>> streamed;
  for (auto& e : r.events) streamed.emplace_back(std::stoull(e.id), e.event);
  std::vector<std::pair<uint64_t, std::string>> stored;
  EXPECT_TRUE(eventually(
      [&] {
        stored = stored_history(port(), auth(), id);
        return stored.size() >= streamed.size();
      },
      10s));
  EXPECT_EQ(stored, streamed) << "stored: " << describe(stored)
                              << "\nstreamed: " << describe(streamed);

  // A sync turn of the same session continues the ids.
  auto sync =
      turn(R"({"prompt":"[[echo]] durable-sync","durability":"sync","session_id":")" + id + "\"}");
  ASSERT_EQ(sync.status, 200u) << sync.body;
  EXPECT_EQ(done_reason(sync), "completed") << names_of(sync);
  ASSERT_FALSE(sync.events.empty());
  EXPECT_EQ(std::stoull(sync.events.front().id), streamed.back().first + 1);

  // Stopped cleanly, nothing was lost: the mark came back down and the ids go on without a hole.
  auto last = std::stoull(sync.events.back().id);
  ASSERT_EQ(service_->terminate(60s), 0);
  restart();
  auto third = turn(R"({"prompt":"[[echo]] durable-again","durability":"async","session_id":")" +
                    id + "\"}");
  ASSERT_EQ(third.status, 200u) << third.body;
  EXPECT_EQ(done_reason(third), "completed") << names_of(third);
  ASSERT_FALSE(third.events.empty());
  EXPECT_EQ(std::stoull(third.events.front().id), last + 1) << names_of(third);
}

TEST_F(session_lifecycle_test, durability_async_is_refused_for_a_tenant_not_allowed) {
  start({});
  auto r = http_call(port(), "POST", "/api/v1/query", auth(),
                     R"({"prompt":"[[echo]] x","durability":"async"})");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_NE(r.body.find("durability"), std::string::npos) << r.body;
  auto bad = http_call(port(), "POST", "/api/v1/query", auth(),
                       R"({"prompt":"[[echo]] x","durability":"later"})");
  EXPECT_EQ(bad.status, 422u) << bad.body;
}

TEST_F(session_lifecycle_test, kill_9_after_async_sends_never_reuses_a_seen_id_and_reports_a_gap) {
  // Events are sent at once and stored only after 30 s: the kill comes long before that.
  start({{"EVENT_DURABILITY", "async"}, {"EVENT_FLUSH_INTERVAL", "30000"}});
  background_turn slow{port(), auth(),
                       R"({"prompt":"[[slow 50 200]]","include_partial_messages":true})"};
  ASSERT_TRUE(slow.wait_started()) << names_of(slow.join()) << slow.join().body;
  auto id = slow.session();
  ASSERT_EQ(id.size(), 36u);
  std::this_thread::sleep_for(800ms);  // some chunks stream
  auto before = stored_history(port(), auth(), id);
  EXPECT_TRUE(before.empty()) << "sent but not stored yet: " << describe(before);

  service_->kill_hard();
  auto& seen = slow.join();
  ASSERT_GE(seen.events.size(), 3u) << names_of(seen);
  uint64_t last_seen = 0;
  for (auto& e : seen.events) last_seen = std::max<uint64_t>(last_seen, std::stoull(e.id));

  restart();
  auto history = stored_history(port(), auth(), id);
  ASSERT_EQ(history.size(), 2u) << describe(history);
  EXPECT_EQ(history[0].second, "error");
  EXPECT_EQ(history[1].second, "done");
  EXPECT_GT(history[0].first, last_seen) << "the terminal events use no id a client saw";
  auto hole_end = history[0].first - 1;

  // A client that saw the lost events reconnects: a gap, then the rest of the history.
  auto resumed = resume_after(port(), key_, id, last_seen, "done");
  ASSERT_EQ(resumed.status, 200u) << resumed.body;
  ASSERT_EQ(resumed.events.size(), 3u) << names_of(resumed);
  EXPECT_EQ(resumed.events[0].event, "gap");
  EXPECT_EQ(resumed.events[0].id, std::to_string(hole_end));
  auto gap = parse_json(resumed.events[0].data);
  ASSERT_TRUE(gap.IsObject() && gap.HasMember("from") && gap.HasMember("to"))
      << resumed.events[0].data;
  EXPECT_EQ(gap["from"].GetUint64(), 1u);
  EXPECT_EQ(gap["to"].GetUint64(), hole_end);
  EXPECT_EQ(resumed.events[1].event, "error");
  EXPECT_EQ(resumed.events[2].event, "done");

  // The next turn continues above everything, in either mode.
  auto again = turn(R"({"prompt":"[[echo]] after the loss","durability":"sync","session_id":")" +
                    id + "\"}");
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(done_reason(again), "completed") << names_of(again);
  ASSERT_FALSE(again.events.empty());
  EXPECT_EQ(std::stoull(again.events.front().id), history[1].first + 1);
}

TEST_F(session_lifecycle_test, a_reconnect_into_the_hole_of_an_idle_session_gets_the_gap) {
  start({{"EVENT_DURABILITY", "async"}, {"EVENT_FLUSH_INTERVAL", "30000"}});
  auto r = turn(R"({"prompt":"[[echo]] lost-when-idle"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(done_reason(r), "completed") << names_of(r);
  auto id = session_of(r);
  auto last_seen = std::stoull(r.events.back().id);
  EXPECT_TRUE(eventually([&] { return status_of(id) == "idle"; }, 5s)) << status_of(id);
  service_->kill_hard();  // the turn's events were sent, none is stored
  restart();
  auto history = stored_history(port(), auth(), id);
  EXPECT_TRUE(history.empty()) << describe(history);

  // Nothing is stored above the client's id: the session's actor names the hole.
  auto resumed = resume_after(port(), key_, id, last_seen, "gap");
  ASSERT_EQ(resumed.status, 200u) << resumed.body;
  ASSERT_FALSE(resumed.events.empty()) << names_of(resumed);
  EXPECT_EQ(resumed.events[0].event, "gap");
  auto gap = parse_json(resumed.events[0].data);
  ASSERT_TRUE(gap.IsObject() && gap.HasMember("from") && gap.HasMember("to"))
      << resumed.events[0].data;
  EXPECT_EQ(gap["from"].GetUint64(), 1u);
  EXPECT_GE(gap["to"].GetUint64(), last_seen);
  EXPECT_EQ(resumed.events[0].id, std::to_string(gap["to"].GetUint64()));

  // The next turn starts above the hole.
  auto again = turn(R"({"prompt":"[[echo]] after the idle loss","session_id":")" + id + "\"}");
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(done_reason(again), "completed") << names_of(again);
  ASSERT_FALSE(again.events.empty());
  EXPECT_EQ(std::stoull(again.events.front().id), gap["to"].GetUint64() + 1)
      << "first turn: " << names_of(r) << "\nresumed: " << names_of(resumed)
      << resumed.events[0].data << "\nnext: " << names_of(again);
}

// A reader slower than its agent: many more token deltas than a session keeps in memory (4,096
// events) arrive while the client reads nothing (the socket buffers on loopback hold a few MB,
// hence 50,000). Its stream falls behind the session's memory and goes on from PostgreSQL, then
// live again: every event once, in order, up to `done`, on the one connection (before, the
// stream ended there, with no `done`, and the client had to reconnect with Last-Event-ID).
TEST_F(session_lifecycle_test, a_stream_behind_the_sessions_memory_goes_on_from_storage) {
  start({{"TENANT_DURABILITY_ALLOW", "lifecycle"}});
  auto catch_ups = [&] {
    return parse_exposition(http_call(port(), "GET", "/metrics").body)
        .value("caa_stream_catch_ups_total")
        .value_or(-1);
  };
  ASSERT_EQ(catch_ups(), 0);
  bool paused = false;
  // A small receive buffer: what the connection holds besides its queue stays small.
  auto r = sse_call(
      port(), "POST", "/api/v1/query", auth(),
      R"({"prompt":"[[slow 50000 0]]","include_partial_messages":true,"durability":"async"})",
      [&](const sse_event&) {
        if (!std::exchange(paused, true)) std::this_thread::sleep_for(12s);
        return false;
      },
      120s, 4096);
  ASSERT_EQ(r.status, 200u) << r.body.substr(0, 400);
  auto missing = [&] {
    std::string out = r.ended ? "ended" : "not ended";
    // What the service said of the stream (its catch-ups, how a replay ended), for a failure.
    auto log = service_->log();
    auto said = "\nservice log (its end):\n" +
                log.substr(log.size() - std::min<std::size_t>(log.size(), 3000));
    for (std::size_t i = 1; i < r.events.size(); ++i)
      if (std::stoull(r.events[i].id) != std::stoull(r.events[i - 1].id) + 1)
        return out + "; " + r.events[i - 1].id + " -> " + r.events[i].id + said;
    return out + "; last " + (r.events.empty() ? "-" : r.events.back().id) + said;
  };
  ASSERT_GT(r.events.size(), 50000u) << missing();
  EXPECT_EQ(r.events.back().event, "done") << missing();
  EXPECT_EQ(done_reason(r), "completed");
  auto first = std::stoull(r.events.front().id);
  for (std::size_t i = 0; i < r.events.size(); ++i)
    ASSERT_EQ(std::stoull(r.events[i].id), first + i) << "event " << i << "; " << missing();
  // The pause put the stream behind the session's memory (else this test proves nothing).
  EXPECT_GE(catch_ups(), 1) << r.body.size() << " bytes streamed";
}
