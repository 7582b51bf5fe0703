// The session actor's subscribers: replay from memory, the replay window, and flow control (a
// full subscriber waits for room and is never cut for speed; one whose next event left the
// window is told to replay from storage), driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

namespace {

/// A subscriber with room for `room` more events, like an HTTP stream whose queue fills: full,
/// it keeps the `when_writable` callbacks until `grant` gives it room (the writer drained).
class throttled_sink final : public recording_sink {
 public:
  explicit throttled_sink(std::size_t room) : room_(room) {}
  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
    if (room_ == 0)
      ++overruns;  // the session ignored `writable`
    else
      --room_;
    return recording_sink::deliver(seq, name, data);
  }
  bool writable() const override { return open() && room_ > 0; }
  void when_writable(std::function<void()> f) override {
    if (!open() || room_ > 0)
      f();
    else
      waiting.push_back(std::move(f));
  }
  void lagged() override {
    ++lags;
    close();
  }
  /// Gives room for `n` more events and calls the waiting callbacks.
  void grant(std::size_t n) {
    room_ += n;
    auto ready = std::move(waiting);
    waiting.clear();
    for (auto& f : ready) f();
  }

  int overruns = 0;
  int lags = 0;
  std::vector<std::function<void()>> waiting;

 private:
  std::size_t room_;
};

/// An assistant line whose text has `bytes` letters.
std::string big_assistant_line(std::size_t bytes) {
  return R"({"type":"assistant","message":{"model":"m","content":[{"type":"text","text":")" +
         std::string(bytes, 'x') + R"("}],"usage":{}},"parent_tool_use_id":null,"uuid":"u1",)" +
         R"("session_id":"cli-id"})";
}

}  // namespace

// -- flow control -------------------------------------------------------------------------------

TEST_F(session_machine_test, a_full_subscriber_waits_for_room_and_then_gets_every_event_in_order) {
  auto s = make_session();
  auto slow = std::make_shared<throttled_sink>(2);
  auto fast = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, slow, 0)));
  ASSERT_TRUE(ok(subscribe(s, fast, 0)));
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  // The fast one is not held back; the slow one got what fits and waits (not cut).
  EXPECT_EQ(fast->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(slow->waiting.size(), 1u);
  EXPECT_EQ(slow->closes, 0);
  slow->grant(1);
  sched.run();
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(slow->waiting.size(), 1u);  // full again: one callback, not one per event
  slow->grant(100);
  sched.run();
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  // Later events flow at once while there is room.
  ASSERT_ACCEPTED(run(s));
  line(s, 1, result_line);
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(slow->overruns, 0);
  EXPECT_EQ(slow->closes, 0);
  EXPECT_EQ(slow->lags, 0);
}

TEST_F(session_machine_test, a_subscriber_whose_next_event_left_the_window_is_told_to_replay) {
  auto s = make_session();
  auto slow = std::make_shared<throttled_sink>(1);
  ASSERT_TRUE(ok(subscribe(s, slow, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  ASSERT_EQ(slow->seqs(), (std::vector<uint64_t>{1}));
  // More events than the window keeps: event 2, which the slow one needs next, leaves memory.
  for (int i = 0; i < 4100; ++i) caf::anon_send(s, caa::atom::line_v, uint64_t{1}, assistant_line);
  sched.run();
  ASSERT_EQ(wl->events.size(), 4101u);
  EXPECT_EQ(slow->lags, 1);
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1}));  // no event skipped silently
  EXPECT_EQ(slow->overruns, 0);
  // It is gone: room and later events do not reach it; a new subscriber at the window's
  // start gets the whole window.
  slow->grant(10);
  line(s, 1, result_line);
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(slow->lags, 1);
  auto fresh = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, fresh, wl->events.size() - 4096)));
  EXPECT_EQ(fresh->seqs().size(), 4096u);
}

TEST_F(session_machine_test, a_lagged_subscriber_is_dropped_but_not_closed_by_the_session) {
  // An SSE stream that goes on from storage when it lags keeps its connection open: the
  // session drops the subscription and leaves the sink alone.
  class catching_up_sink final : public recording_sink {
   public:
    bool writable() const override { return open() && room > 0; }
    void when_writable(std::function<void()> f) override { waiting.push_back(std::move(f)); }
    bool deliver(uint64_t seq, std::string_view name, std::string_view data) override {
      if (room > 0) --room;
      return recording_sink::deliver(seq, name, data);
    }
    void lagged() override { ++lags; }  // goes on elsewhere; stays open
    std::size_t room = 1;
    int lags = 0;
    std::vector<std::function<void()>> waiting;
  };
  auto s = make_session();
  auto behind = std::make_shared<catching_up_sink>();
  ASSERT_TRUE(ok(subscribe(s, behind, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  for (int i = 0; i < 4100; ++i) caf::anon_send(s, caa::atom::line_v, uint64_t{1}, assistant_line);
  sched.run();
  ASSERT_EQ(behind->seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(behind->lags, 1);
  EXPECT_EQ(behind->closes, 0) << "the session closed a sink it had told to replay";
  EXPECT_TRUE(behind->open());
  line(s, 1, result_line);
  EXPECT_EQ(behind->seqs(), (std::vector<uint64_t>{1})) << "a dropped subscription got events";
}

TEST_F(session_machine_test, the_window_is_bounded_in_bytes_as_well) {
  auto s = make_session();
  auto slow = std::make_shared<throttled_sink>(1);
  ASSERT_TRUE(ok(subscribe(s, slow, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  // Four events of 3 MB: the window keeps at most 8 MB, so the oldest of them leave it.
  for (int i = 0; i < 4; ++i) line(s, 1, big_assistant_line(3u << 20));
  ASSERT_EQ(wl->events.size(), 5u);
  EXPECT_REFUSED(subscribe(s, std::make_shared<recording_sink>(), 1), errc::conflict);
  auto last = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, last, 4)));
  EXPECT_EQ(last->seqs(), (std::vector<uint64_t>{5}));
  slow->grant(10);
  sched.run();
  EXPECT_EQ(slow->lags, 1);
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1}));
}

TEST_F(session_machine_test, a_subscriber_that_takes_nothing_within_the_stall_timeout_is_cut) {
  auto s = make_session();  // stall timeout 30 s (the default)
  auto stalled = std::make_shared<throttled_sink>(1);
  auto slow = std::make_shared<throttled_sink>(1);
  ASSERT_TRUE(ok(subscribe(s, stalled, 0)));
  ASSERT_TRUE(ok(subscribe(s, slow, 0)));
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);  // both got event 1 and wait for room
  advance(20s);
  slow->grant(1);  // the slow one takes one more event: a new wait starts
  sched.run();
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2}));
  advance(11s);  // 31 s since the stalled one began to wait, 11 s into the slow one's new wait
  EXPECT_EQ(stalled->lags, 1);
  EXPECT_EQ(stalled->seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(slow->lags, 0);
  slow->grant(10);
  sched.run();
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  advance(60s);
  EXPECT_EQ(slow->lags, 0);  // not waiting: never cut
}

TEST_F(session_machine_test, a_subscriber_that_goes_away_while_waiting_is_dropped) {
  auto s = make_session();
  auto slow = std::make_shared<throttled_sink>(1);
  ASSERT_TRUE(ok(subscribe(s, slow, 0)));
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  ASSERT_EQ(slow->waiting.size(), 1u);
  slow->close();  // the client disconnected; the connection reports the end as "writable"
  slow->grant(0);
  sched.run();
  EXPECT_EQ(slow->seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(slow->closes, 2);  // its own close, then the session's when it dropped it
}

// -- subscriptions ------------------------------------------------------------------------------

TEST_F(session_machine_test, subscribe_after_two_replays_only_three_and_on) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  auto sink = std::make_shared<recording_sink>();
  auto head = subscribe(s, sink, 2);
  ASSERT_TRUE(head && *head);
  EXPECT_EQ(**head, 4u);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{3, 4}));
  // The replayed events came in one batch (one write of the connection).
  EXPECT_EQ(sink->got[0].batch, 1);
  EXPECT_EQ(sink->got[1].batch, 1);
  // Then live.
  ASSERT_ACCEPTED(run(s));
  line(s, 1, result_line);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{3, 4, 5, 6}));
}

TEST_F(session_machine_test, a_closed_subscriber_is_dropped) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  ASSERT_EQ(sink->got.size(), 1u);
  sink->close();
  line(s, 1, assistant_line);
  EXPECT_EQ(sink->got.size(), 1u);
  EXPECT_EQ(wl->events.size(), 2u);
}

TEST_F(session_machine_test, subscribing_behind_the_replay_window_is_a_conflict) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  // 4096 events are kept in memory; produce more.
  for (int i = 0; i < 4100; ++i) caf::anon_send(s, caa::atom::line_v, uint64_t{1}, assistant_line);
  sched.run();
  ASSERT_EQ(wl->events.size(), 4101u);
  auto old = subscribe(s, std::make_shared<recording_sink>(), 2);
  EXPECT_REFUSED(old, errc::conflict);
  auto zero = subscribe(s, std::make_shared<recording_sink>(), 0);
  EXPECT_REFUSED(zero, errc::conflict);
  // Right at the window's start is fine: 4101 - 4096 = 5 is the last event not in memory.
  auto sink = std::make_shared<recording_sink>();
  auto edge = subscribe(s, sink, 5);
  ASSERT_TRUE(edge && *edge);
  EXPECT_EQ(**edge, 4101u);
  ASSERT_EQ(sink->got.size(), 4096u);
  EXPECT_EQ(sink->got.front().seq, 6u);
  EXPECT_EQ(sink->got.back().seq, 4101u);
}

TEST_F(session_machine_test, a_revived_session_continues_its_seqs_and_refuses_older_replays) {
  auto who = identity();
  who.last_seq = 50;
  who.turns = 7;
  auto s = make_session(who, deps());
  EXPECT_REFUSED(subscribe(s, std::make_shared<recording_sink>(), 10), errc::conflict);
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 50)));
  auto a = run(s);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 8u);
  EXPECT_EQ((*a)->after_seq, 50u);
  complete_turn(s, 1);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{51, 52, 53, 54}));
}
