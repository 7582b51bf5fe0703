// The event sinks of the session routes: SSE framing, overlap de-duplication, close_after_done,
// refusal by a full or closed stream; the collecting sink's one JSON document, its bound and its
// error answers. Fakes stand in for the HTTP stream and responder.

#include "transport/api/sse_sink.hpp"

#include "transport/http/error_catalog.hpp"
#include "transport/http/sse.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <thread>

using namespace caa;
using namespace caa::api;

namespace {

/// A stream that records chunks and refuses once `budget` chunks were queued.
class fake_stream final : public http::stream_sink {
 public:
  explicit fake_stream(std::size_t budget = 1000) : budget_(budget) {}
  bool push(std::string chunk) override {
    std::lock_guard<std::mutex> g{mtx};
    if (!open_ || chunks.size() >= budget_) {
      open_ = false;  // a refusing sink closes the connection
      return false;
    }
    chunks.push_back(std::move(chunk));
    return true;
  }
  void close() override {
    std::lock_guard<std::mutex> g{mtx};
    open_ = false;
    ++closes;
  }
  bool open() const override {
    std::lock_guard<std::mutex> g{mtx};
    return open_;
  }
  void on_closed(std::function<void()>) override {}
  /// Simulates the client going away.
  void drop() {
    std::lock_guard<std::mutex> g{mtx};
    open_ = false;
  }
  std::string wire() const {
    std::lock_guard<std::mutex> g{mtx};
    std::string out;
    for (auto& c : chunks) out += c;
    return out;
  }

  mutable std::mutex mtx;
  std::vector<std::string> chunks;
  int closes = 0;

 private:
  std::size_t budget_;
  bool open_ = true;
};

/// A responder that records its one answer.
class fake_responder final : public http::responder {
 public:
  void send(http::response r) override {
    ++answers;
    sent = std::move(r);
  }
  void fail(caf::error e) override {
    ++answers;
    failed = std::move(e);
  }
  std::shared_ptr<http::stream_sink> stream(
      unsigned, std::string, std::vector<std::pair<std::string, std::string>>) override {
    ++answers;
    return std::make_shared<fake_stream>();
  }

  int answers = 0;
  std::optional<http::response> sent;
  caf::error failed;
};

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

// -- sse_event_sink -----------------------------------------------------------------------------

TEST(sse_event_sink, writes_one_sse_frame_per_event) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, true};
  EXPECT_TRUE(sink.deliver(1, "init", R"({"session_id":"s"})"));
  EXPECT_TRUE(sink.deliver(2, "message", R"({"type":"assistant"})"));
  ASSERT_EQ(stream->chunks.size(), 2u);
  EXPECT_EQ(stream->chunks[0], "id: 1\nevent: init\ndata: {\"session_id\":\"s\"}\n\n");
  EXPECT_EQ(stream->chunks[1], http::sse::encode(2, "message", R"({"type":"assistant"})"));
  EXPECT_EQ(sink.last_seq(), 2u);
  EXPECT_TRUE(sink.open());
}

TEST(sse_event_sink, skips_events_it_already_wrote) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, false};
  EXPECT_TRUE(sink.deliver(5, "message", "{}"));
  EXPECT_TRUE(sink.deliver(4, "message", "{}"));  // replay and live overlap
  EXPECT_TRUE(sink.deliver(5, "message", "{}"));
  EXPECT_TRUE(sink.deliver(6, "result", "{}"));
  auto events = http::sse::parse(stream->wire());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, "5");
  EXPECT_EQ(events[1].id, "6");
}

TEST(sse_event_sink, close_after_done_ends_the_stream_after_done) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, true};
  EXPECT_TRUE(sink.deliver(1, "result", "{}"));
  EXPECT_TRUE(sink.deliver(2, "done", R"({"reason":"completed"})"));
  EXPECT_TRUE(sink.saw_done());
  EXPECT_FALSE(stream->open());
  EXPECT_FALSE(sink.open());
  EXPECT_FALSE(sink.deliver(3, "init", "{}"));  // the next turn is not part of this stream
  auto events = http::sse::parse(stream->wire());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events.back().name, "done");
}

TEST(sse_event_sink, an_attached_stream_stays_open_across_turns) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, false};
  EXPECT_TRUE(sink.deliver(1, "done", R"({"reason":"completed"})"));
  EXPECT_TRUE(sink.open());
  EXPECT_TRUE(sink.deliver(2, "init", "{}"));
  EXPECT_EQ(stream->chunks.size(), 2u);
  EXPECT_EQ(stream->closes, 0);
}

TEST(sse_event_sink, a_refusing_stream_makes_deliver_fail) {
  auto stream = std::make_shared<fake_stream>(2);  // a slow reader: budget of two frames
  sse_event_sink sink{stream, false};
  EXPECT_TRUE(sink.deliver(1, "message", "{}"));
  EXPECT_TRUE(sink.deliver(2, "message", "{}"));
  EXPECT_FALSE(sink.deliver(3, "message", "{}"));
  EXPECT_FALSE(sink.open());
  EXPECT_FALSE(sink.deliver(4, "message", "{}"));
  EXPECT_EQ(sink.last_seq(), 2u);
}

TEST(sse_event_sink, a_gone_client_makes_deliver_fail) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, true};
  stream->drop();
  EXPECT_FALSE(sink.open());
  EXPECT_FALSE(sink.deliver(1, "message", "{}"));
  EXPECT_TRUE(stream->chunks.empty());
}

TEST(sse_event_sink, close_and_destruction_end_the_stream) {
  auto stream = std::make_shared<fake_stream>();
  {
    sse_event_sink sink{stream, false};
    sink.close();
    EXPECT_FALSE(sink.open());
    EXPECT_FALSE(sink.deliver(1, "message", "{}"));
  }
  EXPECT_EQ(stream->closes, 1);
  auto other = std::make_shared<fake_stream>();
  { sse_event_sink sink{other, false}; }
  EXPECT_FALSE(other->open());
}

TEST(sse_event_sink, concurrent_delivery_writes_each_seq_once_in_order) {
  auto stream = std::make_shared<fake_stream>(100000);
  sse_event_sink sink{stream, false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (uint64_t seq = 1; seq <= 500; ++seq) sink.deliver(seq, "message", "{}");
    });
  for (auto& t : threads) t.join();
  auto events = http::sse::parse(stream->wire());
  ASSERT_FALSE(events.empty());
  for (std::size_t i = 1; i < events.size(); ++i)
    EXPECT_LT(std::stoull(events[i - 1].id), std::stoull(events[i].id));
  EXPECT_EQ(events.back().id, "500");
}

TEST(sse_event_sink, a_lag_without_a_hook_ends_the_stream) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, false};
  ASSERT_TRUE(sink.deliver(1, "message", "{}"));
  sink.lagged();
  EXPECT_FALSE(sink.open());
  EXPECT_EQ(stream->closes, 1);
}

TEST(sse_event_sink, a_lag_with_a_hook_keeps_the_stream_and_goes_on_after_the_last_seq) {
  auto stream = std::make_shared<fake_stream>();
  auto sink = std::make_shared<sse_event_sink>(stream, true);
  std::vector<uint64_t> resumed_after;
  // The hook runs outside the sink's lock: it may deliver (a replay) right away.
  sink->on_lagged([&] {
    resumed_after.push_back(sink->last_seq());
    EXPECT_TRUE(sink->deliver(3, "message", "{}"));
  });
  ASSERT_TRUE(sink->deliver(1, "message", "{}"));
  ASSERT_TRUE(sink->deliver(2, "message", "{}"));
  sink->lagged();
  EXPECT_TRUE(sink->open());
  EXPECT_EQ(stream->closes, 0);
  EXPECT_EQ(resumed_after, (std::vector<uint64_t>{2}));
  sink->lagged();  // every lag of the stream goes on
  EXPECT_EQ(resumed_after, (std::vector<uint64_t>{2, 3}));
  ASSERT_TRUE(sink->deliver(4, "done", "{}"));
  EXPECT_FALSE(sink->open());  // the turn's stream ended after its done
  sink->lagged();              // closed: the hook does not run again
  EXPECT_EQ(resumed_after.size(), 2u);
  auto events = http::sse::parse(stream->wire());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.back().name, "done");
}

TEST(sse_event_sink, a_closed_stream_that_lags_does_not_go_on) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, false};
  int runs = 0;
  sink.on_lagged([&] { ++runs; });
  sink.close();
  sink.lagged();
  EXPECT_EQ(runs, 0);
}

TEST(sse_event_sink, a_stalled_stream_is_closed_not_caught_up) {
  auto stream = std::make_shared<fake_stream>();
  sse_event_sink sink{stream, false};
  int runs = 0;
  sink.on_lagged([&] { ++runs; });
  sink.stalled();
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(sink.open());
  EXPECT_EQ(stream->closes, 1);
}

// -- collecting_sink ----------------------------------------------------------------------------

const char* assistant_two_blocks =
    R"({"type":"assistant","content":[{"type":"text","text":"hi"},)"
    R"({"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}],)"
    R"("parent_tool_use_id":null,"uuid":"u1"})";

const char* result_success =
    R"({"subtype":"success","is_error":false,"num_turns":2,"duration_ms":120,)"
    R"("total_cost_usd":0.5,"usage":{"input_tokens":3,"output_tokens":4},"result":"done!",)"
    R"("structured_output":{"answer":42},"stop_reason":"end_turn"})";

TEST(collecting_sink, answers_one_document_on_done) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "11111111-1111-4111-8111-111111111111"};
  EXPECT_TRUE(sink.deliver(1, "init", R"({"session_id":"other"})"));
  EXPECT_TRUE(sink.deliver(2, "message", assistant_two_blocks));
  EXPECT_TRUE(sink.deliver(3, "message", R"({"type":"user","content":[{"type":"tool_result"}]})"));
  EXPECT_TRUE(sink.deliver(4, "message",
                           R"({"type":"assistant","content":[{"type":"text","text":"sub"}],)"
                           R"("parent_tool_use_id":"t1"})"));
  EXPECT_TRUE(sink.deliver(5, "result", result_success));
  EXPECT_EQ(res->answers, 0);
  EXPECT_TRUE(sink.deliver(6, "done", R"({"reason":"completed"})"));
  ASSERT_EQ(res->answers, 1);
  ASSERT_TRUE(res->sent);
  EXPECT_EQ(res->sent->status, 200u);
  auto d = parse(res->sent->body);
  ASSERT_TRUE(d.IsObject()) << res->sent->body;
  EXPECT_STREQ(d["session_id"].GetString(), "11111111-1111-4111-8111-111111111111");
  EXPECT_STREQ(d["result"].GetString(), "done!");
  EXPECT_EQ(d["structured_output"]["answer"].GetInt(), 42);
  ASSERT_EQ(d["content"].Size(), 2u);  // the subagent's and the user's blocks are left out
  EXPECT_STREQ(d["content"][0]["text"].GetString(), "hi");
  EXPECT_STREQ(d["content"][1]["name"].GetString(), "Bash");
  EXPECT_EQ(d["usage"]["output_tokens"].GetInt(), 4);
  EXPECT_DOUBLE_EQ(d["total_cost_usd"].GetDouble(), 0.5);
  EXPECT_EQ(d["num_turns"].GetInt(), 2);
  EXPECT_EQ(d["duration_ms"].GetInt(), 120);
  EXPECT_FALSE(d["is_error"].GetBool());
  EXPECT_STREQ(d["stop_reason"].GetString(), "end_turn");
  EXPECT_STREQ(d["done_reason"].GetString(), "completed");
  EXPECT_FALSE(d["truncated"].GetBool());
  EXPECT_FALSE(sink.open());
  EXPECT_FALSE(sink.deliver(7, "init", "{}"));
  sink.close();
  EXPECT_EQ(res->answers, 1);
}

TEST(collecting_sink, a_failed_turn_answers_the_error_envelope) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "s"};
  sink.deliver(1, "init", "{}");
  sink.deliver(2, "error", R"({"code":"AGENT_ERROR","message":"The agent process failed."})");
  sink.deliver(3, "done", R"({"reason":"error"})");
  ASSERT_EQ(res->answers, 1);
  EXPECT_FALSE(res->sent);
  EXPECT_EQ(errc_of(res->failed), errc::agent_error);
  EXPECT_EQ(http::error_response(res->failed, "c").status, 502u);
}

TEST(collecting_sink, an_interrupted_turn_without_result_is_still_a_document) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "s"};
  sink.deliver(1, "message", assistant_two_blocks);
  sink.deliver(2, "done", R"({"reason":"interrupted"})");
  ASSERT_TRUE(res->sent);
  auto d = parse(res->sent->body);
  EXPECT_TRUE(d["result"].IsNull());
  EXPECT_TRUE(d["is_error"].GetBool());
  EXPECT_STREQ(d["done_reason"].GetString(), "interrupted");
  EXPECT_EQ(d["content"].Size(), 2u);
}

TEST(collecting_sink, content_is_capped_and_flagged_truncated) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "s", 60};  // room for the text block only
  sink.deliver(1, "message", assistant_two_blocks);
  sink.deliver(
      2, "message",
      R"({"type":"assistant","content":[{"type":"text","text":"x"}],"parent_tool_use_id":null})");
  sink.deliver(3, "result", result_success);
  sink.deliver(4, "done", R"({"reason":"completed"})");
  ASSERT_TRUE(res->sent);
  auto d = parse(res->sent->body);
  EXPECT_TRUE(d["truncated"].GetBool());
  ASSERT_EQ(d["content"].Size(), 1u);  // nothing after the first block that did not fit
  EXPECT_STREQ(d["result"].GetString(), "done!");
}

TEST(collecting_sink, a_session_that_goes_away_answers_unavailable) {
  auto res = std::make_shared<fake_responder>();
  {
    collecting_sink sink{res, "s"};
    sink.deliver(1, "init", "{}");
    sink.close();
    EXPECT_FALSE(sink.open());
  }
  ASSERT_EQ(res->answers, 1);
  EXPECT_EQ(errc_of(res->failed), errc::unavailable);
  auto dropped = std::make_shared<fake_responder>();
  { collecting_sink sink{dropped, "s"}; }  // dropped by the session without close()
  EXPECT_EQ(dropped->answers, 1);
  EXPECT_EQ(errc_of(dropped->failed), errc::unavailable);
}

TEST(collecting_sink, a_result_before_the_session_goes_away_is_answered) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "s"};
  sink.deliver(1, "result", result_success);
  sink.close();
  ASSERT_TRUE(res->sent);
  auto d = parse(res->sent->body);
  EXPECT_TRUE(d["done_reason"].IsNull());
  EXPECT_STREQ(d["result"].GetString(), "done!");
}

TEST(collecting_sink, malformed_event_data_is_ignored) {
  auto res = std::make_shared<fake_responder>();
  collecting_sink sink{res, "s"};
  sink.deliver(1, "message", "not json");
  sink.deliver(2, "message", R"({"type":"assistant","content":"text"})");
  sink.deliver(3, "result", "[1,2]");
  sink.deliver(4, "done", "{}");
  ASSERT_TRUE(res->sent);
  auto d = parse(res->sent->body);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["content"].Size(), 0u);
  EXPECT_TRUE(d["result"].IsNull());
  EXPECT_STREQ(d["done_reason"].GetString(), "completed");
}

}  // namespace
