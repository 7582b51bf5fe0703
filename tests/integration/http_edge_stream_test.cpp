// The HTTP edge over real sockets: deadlines, handler failures, streams, connection caps, stop.

#include "http_edge_fixture.hpp"

#include "transport/http/http_session.hpp"
#include "transport/http/wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>

namespace {

using namespace edge_fixture;

const std::string agent = "X-API-Key: agent-key\r\n";

// -- deadlines ------------------------------------------------------------------------------------

TEST_F(edge_test, slow_header_is_cut_off) {
  auto c = connect();
  c->send("GET /health HTTP/1.1\r\nHost: t\r\n");  // never finished
  EXPECT_TRUE(c->wait_closed()) << "the header deadline must close the connection";
  EXPECT_NE(c->received().find(" 408 "), std::string::npos);
  expect_server_alive();
}

TEST_F(edge_test, silent_connection_is_closed) {
  auto c = connect();
  EXPECT_TRUE(c->wait_closed());
  EXPECT_TRUE(c->received().empty());
}

TEST_F(edge_test, slow_body_is_408) {
  auto c = connect();
  c->send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + agent + "Content-Length: 10\r\n\r\nab");
  expect_closing_error(*c, 408, "slow body");
}

TEST_F(edge_test, handler_that_never_answers_is_503) {
  auto c = connect();
  c->send(get("/api/v1/hang", agent));
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503u);
  EXPECT_EQ(code_of(*r), "SERVICE_UNAVAILABLE");
  EXPECT_EQ((*r)[bhttp::field::retry_after], "1");
  {
    std::lock_guard<std::mutex> g{mtx};
    ASSERT_EQ(parked.size(), 1u);
    parked.front()->send(json("{}"));  // too late: dropped
  }
  c->send(get("/health"));  // the connection is still usable
  r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

// -- handler failures
// -------------------------------------------------------------------------------

TEST_F(edge_test, dropped_responder_is_500_with_only_a_correlation_id) {
  for (const char* target : {"/api/v1/drop", "/api/v1/throw"}) {
    auto r = roundtrip(get(target, agent + "X-Correlation-ID: c-500\r\n"));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 500u);
    rapidjson::Document d;
    d.Parse(r->body().c_str());
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["error"]["code"].GetString(), "INTERNAL_ERROR");
    const auto& details = d["error"]["details"];
    ASSERT_EQ(details.MemberCount(), 1u);
    EXPECT_STREQ(details["correlation_id"].GetString(), "c-500");
    EXPECT_EQ(r->body().find("SELECT"), std::string::npos);
  }
}

TEST_F(edge_test, handler_errors_use_the_catalogue_only) {
  auto r = roundtrip(get("/api/v1/fail", agent));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404u);
  EXPECT_EQ(code_of(*r), "SESSION_NOT_FOUND");
  EXPECT_EQ(r->body().find("SELECT"), std::string::npos);
  EXPECT_EQ(r->body().find("/srv"), std::string::npos);
}

TEST_F(edge_test, no_content_responses_have_no_body) {
  auto c = connect();
  c->send("DELETE /api/v1/sessions/" + std::string{uuid} + " HTTP/1.1\r\nHost: t\r\n" + agent +
          "\r\n" + get("/health"));
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 204u);
  r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

// -- streams
// ----------------------------------------------------------------------------------------

TEST_F(edge_test, streamed_events_arrive_intact_and_the_connection_stays_usable) {
  auto c = connect();
  c->send(get("/api/v1/stream", agent + "X-Correlation-ID: s-1\r\n"));
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ((*r)[bhttp::field::content_type], "text/event-stream");
  EXPECT_EQ((*r)[bhttp::field::cache_control], "no-cache");
  EXPECT_EQ((*r)["X-Accel-Buffering"], "no");
  EXPECT_EQ((*r)["X-Correlation-ID"], "s-1");
  EXPECT_EQ((*r)[bhttp::field::transfer_encoding], "chunked");
  auto events = sse::parse(r->body());
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, std::to_string(i + 1));
    EXPECT_EQ(events[i].data, "{\"n\":" + std::to_string(i + 1) + "}");
  }
  c->send(get("/health"));
  r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

TEST_F(edge_test, a_slow_reader_gets_every_event_once_and_in_order) {
  // The producer honours `writable`; the reader takes 4 KiB at a time through a small receive
  // buffer. Chunks then wait behind the connection's write in many small batches, which the
  // connection joins into one write (the join once lost every batch after the second).
  raw_client c{srv->port(), 4096};
  ASSERT_TRUE(c.connected());
  c.send(get("/api/v1/trickle", agent));
  // Not reading at first: the socket fills, then the connection's queue up to the budget.
  std::this_thread::sleep_for(1500ms);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (c.received().find("\r\n0\r\n\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    c.fill(1000ms, 4096);
    std::this_thread::sleep_for(1ms);
  }
  auto r = c.read_response(1000ms);
  ASSERT_TRUE(r) << "the stream did not end within 60 s";
  auto events = sse::parse(r->body());
  ASSERT_EQ(events.size(), trickle_events);
  for (std::size_t i = 0; i < events.size(); ++i)
    ASSERT_EQ(events[i].id, std::to_string(i + 1)) << "event " << i << " of the stream";
}

TEST_F(edge_test, idle_stream_gets_keep_alive_comments_and_ends_on_disconnect) {
  auto closed = watch_closed.get_future();
  {
    auto c = connect();
    c->send(get("/api/v1/watch", agent));
    // The head, then at least one ": keep-alive" comment (every 100 ms in this test).
    for (int i = 0; i < 50 && c->received().find(": keep-alive") == std::string::npos; ++i)
      c->fill(guard);
    EXPECT_NE(c->received().find(": keep-alive\n\n"), std::string::npos);
    EXPECT_EQ(closed.wait_for(0s), std::future_status::timeout);
  }  // the client goes away
  EXPECT_EQ(closed.wait_for(guard), std::future_status::ready) << "on_closed must fire";
}

TEST_F(edge_test, slow_reader_is_cut_off_at_the_budget) {
  auto result = flood_result.get_future();
  auto closed = flood_closed.get_future();
  raw_client c{srv->port(), 4096};
  ASSERT_TRUE(c.connected());
  c.send(get("/api/v1/flood", agent));  // and never read
  ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(result.get()) << "push() must refuse data once 256 KiB are queued";
  EXPECT_EQ(closed.wait_for(guard), std::future_status::ready) << "on_closed must fire";
  EXPECT_TRUE(c.wait_closed(30s));
  expect_server_alive();
}

// -- connections
// ------------------------------------------------------------------------------------

TEST_F(edge_test, connections_over_the_cap_are_refused) {
  srv->stop();
  auto s = settings();
  s.max_connections = 2;
  start(s);
  auto a = connect();
  auto b = connect();
  for (auto* c : {a.get(), b.get()}) {  // make sure both are accepted and counted
    c->send(get("/health"));
    auto r = c->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200u);
  }
  auto third = connect();
  third->send(get("/health"));
  auto r = third->read_response();
  if (r) {
    EXPECT_EQ(r->result_int(), 503u);  // or closed without a response: both refuse
  }
  EXPECT_TRUE(third->wait_closed());
  a.reset();
  b.reset();
  for (int i = 0; i < 100 && srv->connections() > 0; ++i)
    std::this_thread::sleep_for(20ms);  // hang guard while the server notices
  expect_server_alive();
}

TEST_F(edge_test, stop_closes_idle_connections_and_streams) {
  auto closed = watch_closed.get_future();
  auto idle = connect();
  idle->send(get("/health"));
  ASSERT_TRUE(idle->read_response());
  auto streaming = connect();
  streaming->send(get("/api/v1/watch", agent));
  for (int i = 0; i < 50 && streaming->received().find("200 OK") == std::string::npos; ++i)
    streaming->fill(guard);
  srv->stop();
  EXPECT_TRUE(idle->wait_closed());
  EXPECT_TRUE(streaming->wait_closed());
  EXPECT_EQ(closed.wait_for(guard), std::future_status::ready);
  raw_client late{srv->port()};
  EXPECT_FALSE(late.connected() && late.send(get("/health")) && late.read_response(1s));
}

// -- the stream outbox: direct writes to an idle connection's socket -----------------------------

/// A connected pair of stream sockets: [0] the connection's, [1] the client's.
struct socket_pair {
  std::array<int, 2> fd{-1, -1};
  socket_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd.data()), 0); }
  ~socket_pair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
  /// Everything readable at the client's end now.
  std::string drain() const {
    std::string out;
    std::array<char, 65536> buf{};
    for (;;) {
      auto n = ::recv(fd[1], buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) return out;
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
};

using caa::http::stream_outbox;
using outcome = stream_outbox::outcome;

TEST(stream_outbox, a_shut_outbox_queues_and_asks_for_one_task_per_batch) {
  stream_outbox o;
  EXPECT_EQ(o.add("a"), outcome::post);
  EXPECT_EQ(o.add("b"), outcome::queued);
  auto t = o.take();
  EXPECT_EQ(t.raw, "ab");
  EXPECT_TRUE(t.framed.empty());
  EXPECT_EQ(o.add("c"), outcome::post) << "the next batch asks for a task again";
}

TEST(stream_outbox, an_open_outbox_writes_framed_chunks_itself) {
  socket_pair p;
  stream_outbox o;
  o.open(p.fd[0], true);
  EXPECT_EQ(o.add("data: x\n\n"), outcome::sent);
  EXPECT_EQ(o.add("data: y\n\n"), outcome::sent);
  EXPECT_EQ(p.drain(),
            caa::http::frame_chunk("data: x\n\n") + caa::http::frame_chunk("data: y\n\n"));
  auto t = o.take();
  EXPECT_TRUE(t.raw.empty() && t.framed.empty());

  o.shut();
  EXPECT_EQ(o.add("z"), outcome::post) << "shut: the connection writes";
  EXPECT_TRUE(p.drain().empty());
}

TEST(stream_outbox, it_stays_shut_while_bytes_wait_for_the_connection) {
  socket_pair p;
  stream_outbox o;
  EXPECT_EQ(o.add("first"), outcome::post);
  o.open(p.fd[0], false);  // the task taking "first" is on its way: it must write first
  EXPECT_EQ(o.add("second"), outcome::queued);
  EXPECT_TRUE(p.drain().empty());
  EXPECT_EQ(o.take().raw, "firstsecond");
  o.open(p.fd[0], false);
  EXPECT_EQ(o.add("third"), outcome::sent);
  EXPECT_EQ(p.drain(), "third");
}

TEST(stream_outbox, what_a_full_socket_does_not_take_goes_to_the_connection_in_order) {
  socket_pair p;
  int small = 4096;
  ASSERT_EQ(::setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  stream_outbox o;
  o.open(p.fd[0], true);
  const std::string big(1 << 20, 'q');
  EXPECT_EQ(o.add(big), outcome::post) << "the socket cannot take 1 MiB at once";
  EXPECT_EQ(o.add("after"), outcome::queued) << "shut until the connection is idle again";
  auto received = p.drain();
  auto t = o.take();
  EXPECT_EQ(t.framed_payload, big.size());
  EXPECT_EQ(received + t.framed, caa::http::frame_chunk(big)) << "no byte lost or repeated";
  EXPECT_EQ(t.raw, "after") << "later chunks follow, unframed (the connection frames them)";
}

}  // namespace
