// The HTTP edge over Beast's in-memory test stream: every stage's failure path without sockets.
// `test::fail_count` fails the n-th read or write of the connection (and every one after it) for
// n = 0, 1, ... until a run sees no failure; each run must end cleanly: the I/O context runs out
// of work, the connection slot is released, every stream sink is told, and what was sent is a
// prefix of what a clean run sends. Deadlines are a few milliseconds where a deadline is the
// point, and are never asserted on.

#include "http_edge_rig.hpp"

namespace {

using namespace edge_rig;

// -- every operation fails once ---------------------------------------------------------------

TEST(edge_stream_fail_matrix, pipelined_requests_and_a_stream) {
  scripted_connection c;
  c.input = get("/health") + post_echo("hello body") + get("/api/v1/stream", agent) + get("/nope") +
            get("/health");
  c.read_size = 13;
  c.write_size = 48;
  auto out = fail_matrix(c);
  auto rs = responses_in(out);
  ASSERT_EQ(rs.size(), 5u) << out;
  EXPECT_EQ(rs[0].result_int(), 200u);
  EXPECT_EQ(rs[1].body(), "hello body");
  EXPECT_EQ(rs[2].body(), sse::encode(1, "message", R"({"n":1})") +
                              sse::encode(2, "message", R"({"n":2})") +
                              sse::encode(3, "message", R"({"n":3})"));
  EXPECT_EQ(rs[3].result_int(), 404u);
  EXPECT_EQ(rs[4].result_int(), 200u);
}

TEST(edge_stream_fail_matrix, stage_errors_and_a_closing_413) {
  const std::string uuid = "0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5e";
  scripted_connection c;
  c.input = get("/api/v1/sessions/" + uuid) +                                // 401: no key
            get("/api/v1/sessions/" + uuid, "X-API-Key: limited-key\r\n") +  // 429
            get("/api/v1/sessions/" + uuid, "X-API-Key: down-key\r\n") +     // 503
            get("/api/v1/sessions/not-a-uuid", agent) +                      // 422
            "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-Correlation-ID: c-413\r\n" + agent +
            "Content-Length: 65\r\n\r\n";  // 413, the connection closes
  c.read_size = 29;
  c.write_size = 64;
  auto out = fail_matrix(c);
  auto rs = responses_in(out);
  ASSERT_EQ(rs.size(), 5u) << out;
  EXPECT_EQ(rs[0].result_int(), 401u);
  EXPECT_EQ(rs[1].result_int(), 429u);
  EXPECT_EQ(rs[2].result_int(), 503u);
  EXPECT_EQ(rs[3].result_int(), 422u);
  EXPECT_EQ(rs[4].result_int(), 413u);
  EXPECT_EQ(rs[4][bhttp::field::connection], "close");
}

// -- one stage at a time ------------------------------------------------------------------------

TEST(edge_stream, read_error_while_idle) {
  for (std::size_t n : {0u, 2u}) {  // the first read; the read after one response
    auto fc = fail_at(n);
    rig r;
    auto server = r.make_stream(&fc);
    auto client = test::connect(server);
    server.append(get("/health"));
    r.serve(std::move(server));
    ASSERT_TRUE(r.run());
    r.expect_ended();
    EXPECT_EQ(r.probe->injected_failures, 1);
    EXPECT_EQ(r.handled, n == 0 ? 0 : 1);
    EXPECT_EQ(responses_in(std::string{client.str()}).size(), n == 0 ? 0u : 1u);
  }
}

TEST(edge_stream, read_error_mid_header) {
  auto fc = fail_at(2);  // the third read: the header is half there
  rig r;
  auto server = r.make_stream(&fc);
  server.read_size(10);
  auto client = test::connect(server);
  server.append(get("/health"));
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.probe->injected_failures, 1);
  EXPECT_EQ(r.handled, 0);
  EXPECT_TRUE(client.str().empty()) << "a peer that failed gets no answer";
}

TEST(edge_stream, peer_closes_mid_header) {
  rig r;
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append("GET /health HTTP/1.1\r\nHo");
  server.close_remote();
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.handled, 0);
  EXPECT_TRUE(client.str().empty());
}

TEST(edge_stream, header_timeout_is_408_then_close) {
  rig r;
  r.settings.header_timeout = seconds_d{0.005};
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append("GET /health HTTP/1.1\r\nHost: t\r\n");  // never finished; the peer stays
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_TRUE(r.probe->shut_send) << "a closing response half-closes before the linger";
  EXPECT_EQ(r.handled, 0);
  auto rs = responses_in(std::string{client.str()});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].result_int(), 408u);
  EXPECT_EQ(rs[0][bhttp::field::connection], "close");
}

TEST(edge_stream, read_failure_mid_body_closes_without_an_answer) {
  auto fc = fail_at(1, net::error::connection_reset);  // the first body read after the header
  rig r;
  r.probe->injected_code = net::error::connection_reset;
  auto server = r.make_stream(&fc);
  auto client = test::connect(server);
  server.append("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + agent +
                "Content-Length: 20\r\n\r\n12345");
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.probe->injected_failures, 1);
  EXPECT_EQ(r.handled, 0);
  EXPECT_TRUE(client.str().empty()) << "a peer that went away gets no answer";
}

TEST(edge_stream, body_over_the_limit_mid_stream_is_413_then_close) {
  rig r;
  auto server = r.make_stream();
  auto client = test::connect(server);
  std::string chunk(40, 'c');
  server.append("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + agent +
                "Transfer-Encoding: chunked\r\n\r\n28\r\n" + chunk + "\r\n28\r\n" + chunk + "\r\n");
  r.serve(std::move(server));  // the peer stays: the linger deadline closes
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_TRUE(r.probe->shut_send);
  EXPECT_EQ(r.handled, 0);
  auto rs = responses_in(std::string{client.str()});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].result_int(), 413u);
  EXPECT_EQ(rs[0][bhttp::field::connection], "close");
}

TEST(edge_stream, write_failure_of_a_response_closes) {
  auto fc = fail_at(3);  // one read, two writes of 16 bytes, then the failure
  rig r;
  auto server = r.make_stream(&fc);
  server.write_size(16);
  auto client = test::connect(server);
  server.append(get("/health") + get("/health"));
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.probe->injected_failures, 1);
  EXPECT_EQ(r.handled, 1) << "the second request is not served after the failure";
  EXPECT_EQ(client.str().size(), 32u) << "the bytes written before the failure, nothing after";
  EXPECT_EQ(client.str().substr(0, 9), "HTTP/1.1 ");
}

TEST(edge_stream, write_failure_during_a_stream_ends_the_sink) {
  auto fc = fail_at(3);  // read the request, write the head, read (pending): the event fails
  rig r;
  auto server = r.make_stream(&fc);
  auto client = test::connect(server);
  server.append(get("/api/v1/watch", agent));
  r.serve(std::move(server));
  ASSERT_TRUE(r.run_until([&] { return !client.str().empty(); })) << "the stream head";
  ASSERT_EQ(r.sinks.size(), 1u);
  auto head = std::string{client.str()};
  EXPECT_NE(head.find("text/event-stream"), std::string::npos);
  EXPECT_TRUE(r.sinks[0]->push(sse::encode(1, "message", "{}")));  // queued, then fails
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.probe->injected_failures, 1);
  EXPECT_EQ(client.str(), head) << "nothing after the failed write";
  EXPECT_FALSE(r.sinks[0]->push(sse::encode(2, "message", "{}"))) << "the producer learns";
}

TEST(edge_stream, peer_closing_during_a_stream_ends_the_sink) {
  rig r;
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append(get("/api/v1/watch", agent));
  r.serve(std::move(server));
  ASSERT_TRUE(r.run_until([&] { return !client.str().empty(); }));
  ASSERT_EQ(r.sinks.size(), 1u);
  auto event = sse::encode(1, "message", "{}");
  EXPECT_TRUE(r.sinks[0]->push(event));
  ASSERT_TRUE(r.run_until([&] { return client.str().find("id: 1") != std::string::npos; }));
  client.close();  // the session's pending read sees the end
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.sinks_ended, 1);
  EXPECT_FALSE(r.sinks[0]->push(event));
}

TEST(edge_stream, pipelined_requests_are_answered_in_order) {
  rig r;
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append(get("/api/v1/slow", agent) + get("/health") + post_echo("second") +
                get("/api/v1/slow", agent));
  server.close_remote();
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  auto rs = responses_in(std::string{client.str()});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].body(), "slow");
  EXPECT_EQ(rs[1].body(), R"({"status":"ok"})");
  EXPECT_EQ(rs[2].body(), "second");
  EXPECT_EQ(rs[3].body(), "slow");
}

TEST(edge_stream, a_late_answer_after_the_deadline_is_dropped) {
  rig r;
  r.settings.request_timeout = seconds_d{0.005};
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append(get("/api/v1/hang", agent));
  r.serve(std::move(server));
  ASSERT_TRUE(r.run_until([&] { return responses_in(std::string{client.str()}).size() == 1; }));
  r.settle();  // the session waits for the next request
  ASSERT_EQ(r.parked.size(), 1u);
  r.parked.front()->send(response{200, "late answer", "text/plain", {}});  // the session waits
  client.close();
  ASSERT_TRUE(r.run());
  r.expect_ended();
  auto rs = responses_in(std::string{client.str()});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].result_int(), 503u);
  EXPECT_EQ(client.str().find("late answer"), std::string::npos);
}

TEST(edge_stream, an_upgrade_over_the_test_stream_is_answered_as_a_plain_request) {
  rig r;  // a WebSocket needs the TCP socket: the seam documents this refusal
  auto server = r.make_stream();
  auto client = test::connect(server);
  server.append(get("/api/v1/ws", agent + "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                                          "Sec-WebSocket-Version: 13\r\n"
                                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
  server.close_remote();
  r.serve(std::move(server));
  ASSERT_TRUE(r.run());
  r.expect_ended();
  EXPECT_EQ(r.endpoint->opened, 0);
  auto rs = responses_in(std::string{client.str()});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].result_int(), 400u);
}

}  // namespace
