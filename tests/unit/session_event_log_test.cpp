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
  EXPECT_EQ(log.committed_after(41), nullptr);
}

TEST(session_event_log, a_subscriber_gets_stored_events_only) {
  session_event_log log;
  append_n(log, 2);
  log.append("e", "x");  // not stored yet
  auto* next = log.committed_after(0);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->seq, 1u);
  ASSERT_NE(log.committed_after(1), nullptr);
  EXPECT_EQ(log.committed_after(1)->seq, 2u);
  EXPECT_EQ(log.committed_after(2), nullptr) << "event 3 is not stored yet";
  ASSERT_FALSE(log.next_batch().empty());
  log.commit();
  ASSERT_NE(log.committed_after(2), nullptr);
  EXPECT_EQ(log.committed_after(2)->seq, 3u);
}

TEST(session_event_log, a_subscriber_whose_next_event_left_the_window_lags) {
  session_event_log log{3, 1 << 20};
  auto sink = std::make_shared<open_sink>();
  auto& sub = log.subscribe(sink, 1);
  EXPECT_EQ(sub.after, 1u);
  append_n(log, 6);  // the window keeps 4..6
  EXPECT_TRUE(log.behind_window(1)) << "event 2 left memory";
  EXPECT_TRUE(log.behind_window(2)) << "event 3 left memory";
  EXPECT_EQ(log.committed_after(1), nullptr);
  EXPECT_FALSE(log.behind_window(3));
  ASSERT_NE(log.committed_after(3), nullptr);
  EXPECT_EQ(log.committed_after(3)->seq, 4u);
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
