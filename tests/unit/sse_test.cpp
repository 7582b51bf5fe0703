// SSE encoding (no injection, round trip through the tiny parser) and the bounded sink.

#include "transport/http/sse.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace caa::http;

namespace {

TEST(sse, encodes_one_event) {
  EXPECT_EQ(sse::encode(7, "message", R"({"a":1})"), "id: 7\nevent: message\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sse::keep_alive(), ": keep-alive\n\n");
}

TEST(sse, newlines_cannot_inject_events) {
  auto wire = sse::encode(1, "message", "{\"a\":1}\n\nevent: done\ndata: {}\r\rid: 99\r\n");
  auto events = sse::parse(wire);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "1");
  EXPECT_EQ(events[0].name, "message");
  EXPECT_EQ(events[0].data.find('\n'), std::string::npos);
  EXPECT_EQ(wire.find("\n\nevent"), std::string::npos);
}

TEST(sse, event_names_are_sanitised) {
  auto events = sse::parse(sse::encode(2, "x\ndata: evil\n\nevent: y", "{}"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name.find_first_of("\r\n: "), std::string::npos);
  EXPECT_EQ(events[0].data, "{}");
}

TEST(sse, keep_alive_comments_are_not_events) {
  auto stream = sse::keep_alive() + sse::encode(3, "done", "{}") + sse::keep_alive();
  auto events = sse::parse(stream);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], (sse::event{"3", "done", "{}"}));
}

// Property: for any data, encode yields exactly one event whose data is the input with CR and LF
// replaced by spaces; without CR/LF the round trip is exact.
TEST(sse, round_trip_property) {
  std::mt19937 rng{12345};
  const std::string alphabet = "ab{}\":,\\ \r\n\t:idatevn\x01\x7f\xc3\xa9";
  std::uniform_int_distribution<size_t> len{0, 64};
  std::uniform_int_distribution<size_t> pick{0, alphabet.size() - 1};
  for (int i = 0; i < 5000; ++i) {
    std::string data;
    for (size_t n = len(rng); n > 0; --n) data += alphabet[pick(rng)];
    std::string expected = data;
    for (auto& c : expected)
      if (c == '\r' || c == '\n') c = ' ';
    std::string stream;
    for (uint64_t id = 1; id <= 3; ++id) stream += sse::encode(id, "message", data);
    auto events = sse::parse(stream);
    ASSERT_EQ(events.size(), 3u) << i;
    for (uint64_t id = 1; id <= 3; ++id) {
      EXPECT_EQ(events[id - 1].id, std::to_string(id));
      EXPECT_EQ(events[id - 1].name, "message");
      // The parser strips one leading space after "data:"; encode always writes exactly one.
      EXPECT_EQ(events[id - 1].data, expected);
    }
  }
}

TEST(sse, parser_handles_crlf_and_multiline_data) {
  auto events =
      sse::parse("id: 1\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\ndata: c\n\ndata: partial");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], (sse::event{"1", "x", "a\nb"}));
  EXPECT_EQ(events[1], (sse::event{"", "message", "c"}));
}

/// Records what the sink asks of the connection.
struct fake_transport : stream_transport {
  std::vector<std::string> sent;
  int finishes = 0;
  int aborts = 0;
  bool transmit(std::string chunk) override {
    sent.push_back(std::move(chunk));
    return false;
  }
  void finish() override { ++finishes; }
  void abort() override { ++aborts; }
};

TEST(bounded_sink, refuses_data_over_the_budget_and_aborts) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  int closed = 0;
  sink.on_closed([&] { ++closed; });
  EXPECT_TRUE(sink.push(std::string(60, 'a')));
  EXPECT_TRUE(sink.push(std::string(40, 'b')));
  EXPECT_FALSE(sink.push("c"));  // 101 bytes queued: over the budget
  EXPECT_EQ(t->aborts, 1);
  EXPECT_FALSE(sink.open());
  EXPECT_FALSE(sink.push("d"));
  EXPECT_EQ(t->sent.size(), 2u);
  EXPECT_EQ(closed, 0);  // fires when the connection reports the end
  sink.ended();
  sink.ended();
  EXPECT_EQ(closed, 1);
}

TEST(bounded_sink, corked_chunks_go_out_as_one_and_count_against_the_budget_at_once) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  sink.cork();
  EXPECT_TRUE(sink.push(std::string(30, 'a')));
  EXPECT_TRUE(sink.push(std::string(30, 'b')));
  EXPECT_TRUE(t->sent.empty()) << "held while corked";
  EXPECT_FALSE(sink.writable()) << "60 held bytes are over half the budget";
  sink.uncork();
  ASSERT_EQ(t->sent.size(), 1u);
  EXPECT_EQ(t->sent[0], std::string(30, 'a') + std::string(30, 'b'));
  EXPECT_TRUE(sink.push("c")) << "uncorked: each push goes out by itself";
  EXPECT_EQ(t->sent.size(), 2u);
  sink.uncork();  // nothing held: nothing sent
  EXPECT_EQ(t->sent.size(), 2u);
}

TEST(bounded_sink, closing_a_corked_sink_sends_what_it_held_first) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  sink.cork();
  ASSERT_TRUE(sink.push("last event"));
  sink.close();
  ASSERT_EQ(t->sent.size(), 1u);
  EXPECT_EQ(t->sent[0], "last event");
  EXPECT_EQ(t->finishes, 1);
}

TEST(bounded_sink, a_large_corked_batch_goes_out_in_parts_of_at_most_the_hold_limit) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 1 << 20};
  sink.cork();
  const std::string frame(1000, 'f');
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(sink.push(frame));
  sink.uncork();
  std::string all;
  for (const auto& c : t->sent) {
    EXPECT_LE(c.size(), bounded_sink::max_held_bytes + frame.size());
    all += c;
  }
  EXPECT_GE(t->sent.size(), 2u);
  EXPECT_EQ(all.size(), 100 * frame.size()) << "nothing lost, nothing repeated";
}

TEST(bounded_sink, written_bytes_free_the_budget) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(sink.push(std::string(80, 'x'))) << i;
    sink.written(80);
  }
  EXPECT_EQ(t->aborts, 0);
  sink.close();
  EXPECT_EQ(t->finishes, 1);
  EXPECT_FALSE(sink.push("late"));
  sink.close();
  EXPECT_EQ(t->finishes, 1);
}

TEST(bounded_sink, a_gone_connection_closes_the_sink) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  int closed = 0;
  sink.on_closed([&] { ++closed; });
  t.reset();
  EXPECT_FALSE(sink.push("x"));
  EXPECT_EQ(closed, 1);
  int late = 0;
  sink.on_closed([&] { ++late; });  // registered after the end: called at once
  EXPECT_EQ(late, 1);
}

TEST(bounded_sink, is_writable_below_half_its_budget_and_says_when_it_is_again) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  int ready = 0;
  sink.when_writable([&] { ++ready; });  // writable now: called at once
  EXPECT_EQ(ready, 1);
  ASSERT_TRUE(sink.push(std::string(49, 'a')));
  EXPECT_TRUE(sink.writable());
  ASSERT_TRUE(sink.push(std::string(1, 'b')));
  EXPECT_FALSE(sink.writable());  // 50 of 100 queued
  sink.when_writable([&] { ++ready; });
  sink.when_writable([&] { ++ready; });
  EXPECT_EQ(ready, 1);
  sink.written(0);
  EXPECT_EQ(ready, 1);
  sink.written(1);  // 49 queued: both waiting callbacks run, once
  EXPECT_EQ(ready, 3);
  EXPECT_TRUE(sink.writable());
  sink.written(49);
  EXPECT_EQ(ready, 3);
  EXPECT_EQ(t->aborts, 0);
}

TEST(bounded_sink, a_producer_that_waits_for_room_is_never_cut_even_for_big_chunks) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  // A chunk larger than the whole budget is taken while the sink is writable.
  ASSERT_TRUE(sink.push(std::string(300, 'x')));
  EXPECT_FALSE(sink.writable());
  int ready = 0;
  sink.when_writable([&] { ++ready; });
  sink.written(300);
  EXPECT_EQ(ready, 1);
  ASSERT_TRUE(sink.push(std::string(10, 'y')));
  EXPECT_EQ(t->aborts, 0);
  EXPECT_EQ(t->sent.size(), 2u);
}

TEST(bounded_sink, the_end_of_the_stream_releases_the_waiting_producers) {
  auto t = std::make_shared<fake_transport>();
  bounded_sink sink{t, 100};
  ASSERT_TRUE(sink.push(std::string(80, 'x')));
  int ready = 0;
  sink.when_writable([&] { ++ready; });
  EXPECT_EQ(ready, 0);
  sink.ended();
  EXPECT_EQ(ready, 1);
  EXPECT_FALSE(sink.writable());
  sink.when_writable([&] { ++ready; });  // ended: at once
  EXPECT_EQ(ready, 2);
}

}  // namespace
