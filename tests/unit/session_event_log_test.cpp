// The events of a session without an actor (session_event_log.hpp): numbering, the batches in
// flight, the replay window and its bounds, and the subscribers.

#include "actors/session_event_log.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using caa::detail::kept_event;
using caa::detail::session_event_log;
using caa::detail::subscriber;

namespace {

/// A sink that only knows whether it is open.
class open_sink final : public caa::event_sink {
 public:
  bool deliver(uint64_t, std::string_view, std::string_view) override { return open_; }
  bool open() const override { return open_; }
  void close() override {
    open_ = false;
    ++closes;
  }
  int closes = 0;

 private:
  bool open_ = true;
};

/// The seqs of `events`, in order.
template <class Events>
std::vector<uint64_t> seqs(const Events& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

/// Appends `n` events named "e" with `bytes` letters of data; stores them when `commit`.
void append_n(session_event_log& log, int n, std::size_t bytes = 1, bool commit = true) {
  for (int i = 0; i < n; ++i) log.append("e", std::string(bytes, 'x'));
  if (commit) {
    ASSERT_FALSE(log.next_batch().empty());
    log.commit();
  }
}

}  // namespace

TEST(session_event_log, numbers_events_after_the_stored_ones_and_writes_one_batch_at_a_time) {
  session_event_log log;
  log.start_after(7);
  EXPECT_EQ(log.append("a", "{}"), 8u);
  EXPECT_EQ(log.append("b", "{}"), 9u);
  EXPECT_EQ(log.last_seq(), 9u);
  EXPECT_EQ(log.committed_seq(), 7u);
  EXPECT_FALSE(log.quiet());
  auto batch = log.next_batch();
  EXPECT_EQ(seqs(batch), (std::vector<uint64_t>{8, 9}));
  EXPECT_TRUE(log.write_in_flight());
  log.append("c", "{}");
  EXPECT_TRUE(log.next_batch().empty()) << "a second batch while one is in flight";
  log.commit();
  EXPECT_EQ(log.committed_seq(), 9u);
  EXPECT_FALSE(log.write_in_flight());
  EXPECT_EQ(seqs(log.next_batch()), (std::vector<uint64_t>{10}));
  log.commit();
  EXPECT_EQ(log.committed_seq(), 10u);
  EXPECT_TRUE(log.quiet());
  EXPECT_TRUE(log.next_batch().empty());
}

TEST(session_event_log, a_failed_batch_goes_back_in_front_of_newer_events) {
  session_event_log log;
  log.append("a", "{}");
  log.append("b", "{}");
  ASSERT_EQ(log.next_batch().size(), 2u);
  log.append("c", "{}");
  log.put_back();
  EXPECT_FALSE(log.write_in_flight());
  EXPECT_EQ(log.committed_seq(), 0u);
  auto retry = log.next_batch();
  EXPECT_EQ(seqs(retry), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(retry[0].name, "a");
  EXPECT_EQ(retry[2].name, "c");
  log.commit();
  EXPECT_EQ(log.committed_seq(), 3u);
}

TEST(session_event_log, the_window_drops_the_oldest_committed_events_beyond_its_count) {
  session_event_log log{3, 1 << 20};
  append_n(log, 5, 1, false);
  EXPECT_EQ(log.window().size(), 5u) << "unstored events are never dropped";
  EXPECT_EQ(log.window_start(), 1u);
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  EXPECT_EQ(seqs(log.window()), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(log.window_start(), 3u);
  EXPECT_EQ(log.window_bytes(), 3u * 2);  // name "e" plus one letter each
}

TEST(session_event_log, the_window_is_bounded_in_bytes_and_keeps_the_newest_event) {
  session_event_log log{100, 10};
  append_n(log, 4, 4);  // 5 bytes each
  EXPECT_EQ(seqs(log.window()), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(log.window_bytes(), 10u);
  append_n(log, 1, 50);  // alone over the bound: it stays, the others go
  EXPECT_EQ(seqs(log.window()), (std::vector<uint64_t>{5}));
  EXPECT_EQ(log.window_bytes(), 51u);
}

TEST(session_event_log, an_empty_window_starts_after_the_stored_events) {
  session_event_log log;
  log.start_after(41);
  EXPECT_EQ(log.window_start(), 42u);
  EXPECT_FALSE(log.behind_window(41));
  EXPECT_TRUE(log.behind_window(40));
  EXPECT_EQ(log.visible_after(41), nullptr);
}

TEST(session_event_log, a_subscriber_gets_stored_events_only) {
  session_event_log log;
  append_n(log, 2);
  log.append("e", "x");  // not stored yet
  auto* next = log.visible_after(0);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->seq, 1u);
  ASSERT_NE(log.visible_after(1), nullptr);
  EXPECT_EQ(log.visible_after(1)->seq, 2u);
  EXPECT_EQ(log.visible_after(2), nullptr) << "event 3 is not stored yet";
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  ASSERT_NE(log.visible_after(2), nullptr);
  EXPECT_EQ(log.visible_after(2)->seq, 3u);
}

TEST(session_event_log, a_subscriber_whose_next_event_left_the_window_lags) {
  session_event_log log{3, 1 << 20};
  auto sink = std::make_shared<open_sink>();
  auto& sub = log.subscribe(sink, 1);
  EXPECT_EQ(sub.after, 1u);
  append_n(log, 6);  // the window keeps 4..6
  EXPECT_TRUE(log.behind_window(1)) << "event 2 left memory";
  EXPECT_TRUE(log.behind_window(2)) << "event 3 left memory";
  EXPECT_EQ(log.visible_after(1), nullptr);
  EXPECT_FALSE(log.behind_window(3));
  ASSERT_NE(log.visible_after(3), nullptr);
  EXPECT_EQ(log.visible_after(3)->seq, 4u);
}

TEST(session_event_log, subscribers_are_named_found_and_removed) {
  session_event_log log;
  auto a = std::make_shared<open_sink>();
  auto b = std::make_shared<open_sink>();
  auto c = std::make_shared<open_sink>();
  auto ida = log.subscribe(a, 0).id;
  auto idb = log.subscribe(b, 0).id;
  auto idc = log.subscribe(c, 0).id;
  EXPECT_NE(ida, idb);
  EXPECT_NE(idb, idc);
  ASSERT_NE(log.find_subscriber(idb), nullptr);
  EXPECT_EQ(log.find_subscriber(idb)->sink, b);
  log.remove_subscriber(idb);
  EXPECT_EQ(log.find_subscriber(idb), nullptr);
  EXPECT_EQ(b->closes, 0) << "removing does not close";
  // Each is seen once, in order; the dropped one goes.
  std::vector<uint64_t> seen;
  log.remove_subscribers_if([&](subscriber& s) {
    seen.push_back(s.id);
    return s.id == ida;
  });
  EXPECT_EQ(seen, (std::vector<uint64_t>{ida, idc}));
  ASSERT_EQ(log.subscribers().size(), 1u);
  EXPECT_EQ(log.subscribers().front().id, idc);
  auto d = std::make_shared<open_sink>();
  log.subscribe(d, 0);
  d->close();
  log.prune_subscribers();
  ASSERT_EQ(log.subscribers().size(), 1u) << "a gone client is pruned";
  log.close_subscribers();
  EXPECT_FALSE(log.has_subscribers());
  EXPECT_EQ(c->closes, 1);
}

TEST(session_event_log, early_events_are_visible_once_their_ids_are_reserved) {
  session_event_log log;
  log.start_after(10, 4);  // stored up to 10, a former mark of 4
  log.expect_early();
  auto mark = log.reservation_due();
  ASSERT_TRUE(mark);
  EXPECT_EQ(*mark, 10u + caa::detail::reserve_chunk);
  EXPECT_FALSE(log.reservation_due()) << "one mark write in flight at a time";
  EXPECT_FALSE(log.quiet()) << "a mark write in flight keeps the session from retiring";
  EXPECT_EQ(log.append("a", "{}", true), 11u);
  EXPECT_EQ(log.visible_seq(), 10u) << "not sent before its id is reserved";
  EXPECT_EQ(log.visible_after(10), nullptr);
  log.reserved(*mark);
  EXPECT_EQ(log.visible_seq(), 11u) << "sent before it is stored";
  ASSERT_NE(log.visible_after(10), nullptr);
  EXPECT_EQ(log.visible_after(10)->seq, 11u);
  EXPECT_EQ(log.committed_seq(), 10u);
  // Stored in the background: the batch holds it as any other.
  EXPECT_EQ(seqs(log.next_batch()), (std::vector<uint64_t>{11}));
  log.commit();
  EXPECT_EQ(log.committed_seq(), 11u);
  EXPECT_TRUE(log.quiet());
}

TEST(session_event_log, a_stored_only_event_holds_back_the_early_ones_after_it) {
  session_event_log log;
  log.start_after(0);
  log.expect_early();
  log.reserved(*log.reservation_due());
  log.append("a", "{}", true);
  log.append("b", "{}", false);  // sync: visible once stored
  log.append("c", "{}", true);
  EXPECT_EQ(log.visible_seq(), 1u) << "visibility is a prefix: c waits behind b";
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  EXPECT_EQ(log.visible_seq(), 3u);
}

TEST(session_event_log, early_sends_stop_at_the_mark_and_a_new_mark_is_due_before_it) {
  session_event_log log;
  log.start_after(0);
  log.expect_early();
  auto first = *log.reservation_due();
  log.reserved(first);
  uint64_t n = first + 10;
  for (uint64_t i = 0; i < n; ++i) log.append("e", "{}", true);
  EXPECT_EQ(log.visible_seq(), first) << "nothing above the stored mark is sent";
  auto next = log.reservation_due();
  ASSERT_TRUE(next) << "early events past half the chunk ask for the next mark";
  EXPECT_GT(*next, n);
  log.reservation_failed();
  EXPECT_EQ(log.visible_seq(), first);
  auto again = log.reservation_due();
  ASSERT_TRUE(again) << "a failed mark write is asked for again";
  log.reserved(*again);
  EXPECT_EQ(log.visible_seq(), std::min<uint64_t>(n, caa::detail::max_unstored_sends));
}

TEST(session_event_log, early_sends_stop_when_too_many_events_wait_for_storage) {
  session_event_log log;
  log.start_after(0);
  const auto cap = caa::detail::max_unstored_sends;
  for (uint64_t i = 0; i < cap + 100; ++i) {
    log.append("e", "{}", true);
    if (auto mark = log.reservation_due()) log.reserved(*mark);
  }
  EXPECT_EQ(log.visible_seq(), cap) << "at most max_unstored_sends sent ahead of storage";
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  EXPECT_EQ(log.visible_seq(), cap + 100);
}

TEST(session_event_log, the_mark_comes_back_down_once_every_early_event_is_stored) {
  session_event_log log;
  log.start_after(0);
  log.expect_early();
  EXPECT_FALSE(log.release_due()) << "an early event is expected";
  auto mark = *log.reservation_due();
  log.reserved(mark);
  for (int i = 0; i < 3; ++i) log.append("e", "{}", true);
  EXPECT_FALSE(log.release_due()) << "sent events are not stored yet";
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  EXPECT_FALSE(log.reservation_due()) << "every early event is stored: no mark is needed";
  auto down = log.release_due();
  ASSERT_TRUE(down);
  EXPECT_EQ(*down, 3u);
  EXPECT_EQ(log.reserved_seq(), 3u) << "lowered at once, before the write lands";
  EXPECT_FALSE(log.quiet());
  // An early event while the write is in flight waits for a new mark.
  log.append("late", "{}", true);
  EXPECT_EQ(log.visible_seq(), 3u);
  EXPECT_FALSE(log.reservation_due()) << "one mark write at a time";
  log.released();
  auto again = log.reservation_due();
  ASSERT_TRUE(again);
  log.reserved(*again);
  EXPECT_EQ(log.visible_seq(), 4u);
}

TEST(session_event_log, a_session_revived_above_its_mark_reports_the_hole) {
  session_event_log log;
  log.start_after(10, 25);
  EXPECT_EQ(log.hole(), (std::pair<uint64_t, uint64_t>{11, 26}))
      << "up to the mark, and the id of the gap event";
  EXPECT_EQ(log.append("a", "{}"), 27u) << "no id up to the mark is used again";
  session_event_log clean;
  clean.start_after(10, 4);
  auto [from, to] = clean.hole();
  EXPECT_GT(from, to) << "a mark below the stored events leaves no hole";
  EXPECT_EQ(clean.append("a", "{}"), 11u);
}
