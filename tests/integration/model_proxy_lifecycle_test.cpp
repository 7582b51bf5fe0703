// Integration tests of the model proxy's edges: endpoint teardown, the socket file, upstream
// failures, limits. Loopback and temp-dir unix sockets only.

#include "model_proxy_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace caa::sandbox::testing {
namespace {

constexpr std::string_view body =
    R"({"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]})";

/// Sends the first SSE event and never the rest (until 10 s pass).
net::awaitable<void> stalled_stream(fake_upstream& up, beast::tcp_stream& s,
                                    const http::request<http::string_body>&) {
  co_await fake_upstream::begin_chunked(s, "text/event-stream");
  co_await fake_upstream::chunk(s, sse_events()[0]);
  co_await up.wait_release(10s);
}

/// Answers 429 like the API does.
net::awaitable<void> rate_limited(fake_upstream&, beast::tcp_stream& s,
                                  const http::request<http::string_body>&) {
  http::response<http::string_body> res{http::status::too_many_requests, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::retry_after, "7");
  res.body() = R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})";
  res.prepare_payload();
  co_await http::async_write(s, res, net::as_tuple(net::use_awaitable));
}

http::response<http::string_body> exchange(unix_client& c, http::request<http::string_body> req) {
  http::response<http::string_body> res;
  EXPECT_FALSE(c.send(std::move(req)));
  EXPECT_FALSE(c.receive(res));
  return res;
}

std::string closed_port_url() {
  net::io_context io;
  tcp::acceptor a{io, {net::ip::make_address("127.0.0.1"), 0}};
  auto port = a.local_endpoint().port();
  a.close();
  return "http://127.0.0.1:" + std::to_string(port);
}

using ModelProxyEdges = proxy_fixture;

TEST_F(ModelProxyEdges, HandleDestructionRemovesTheSocketAndEndsExchanges) {
  fake_upstream up{stalled_stream};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client idle{socket("a.sock")};
  unix_client busy{socket("a.sock")};
  ASSERT_TRUE(idle.connected());
  ASSERT_FALSE(busy.send(messages_request("/v1/messages", placeholder, std::string{body})));
  ASSERT_FALSE(busy.receive_until("message_start"));
  EXPECT_TRUE(std::filesystem::exists(socket("a.sock")));
  auto t0 = std::chrono::steady_clock::now();
  handle.reset();
  EXPECT_FALSE(std::filesystem::exists(socket("a.sock")));
  EXPECT_FALSE(unix_client{socket("a.sock")}.connected());
  http::response<http::string_body> res;
  EXPECT_TRUE(busy.receive_rest(res));  // cut: no last chunk
  EXPECT_TRUE(idle.read_to_end());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(await_records(1));  // what the cut exchange consumed still counts
  EXPECT_EQ(records().front().input_tokens, 25u);
  EXPECT_EQ(records().front().status, 200u);
  up.release();
}

TEST_F(ModelProxyEdges, SocketFileIsPrivateAndOwnedAsAsked) {
  start("http://127.0.0.1:9");
  {
    std::ofstream stale{socket("a.sock")};  // a leftover file is replaced
    stale << "x";
  }
  auto handle = open("a.sock", make_placeholder_key());
  struct stat st {};
  ASSERT_EQ(::lstat(socket("a.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
  auto owned =
      proxy_->open_endpoint(socket("b.sock"), make_placeholder_key(), "t", "s", 200123, 200124);
  ASSERT_TRUE(owned);
  ASSERT_EQ(::lstat(socket("b.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 200123u);
  EXPECT_EQ(st.st_gid, 200124u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ModelProxyEdges, AReopenedPathSurvivesTheOldHandle) {
  fake_upstream up{rate_limited};
  start(up.base_url());
  auto old_key = make_placeholder_key();
  auto new_key = make_placeholder_key();
  auto old_handle = open("a.sock", old_key);
  auto new_handle = open("a.sock", new_key);
  old_handle.reset();
  ASSERT_TRUE(std::filesystem::exists(socket("a.sock")));
  unix_client c{socket("a.sock")};
  auto res = exchange(c, messages_request("/v1/messages", new_key, std::string{body}));
  EXPECT_EQ(res.result_int(), 429u);  // passed through with its body and headers
  EXPECT_EQ(res[http::field::retry_after], "7");
  EXPECT_NE(res.body().find("rate_limit_error"), std::string::npos);
  ASSERT_TRUE(await_records(1));
  EXPECT_EQ(records().front().status, 429u);
}

TEST_F(ModelProxyEdges, UpstreamDownGivesAGeneric502) {
  auto url = closed_port_url();
  start(url);
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  for (int i = 0; i < 2; ++i) {  // the connection stays usable
    auto res = exchange(c, messages_request("/v1/messages", placeholder, std::string{body}));
    EXPECT_EQ(res.result_int(), 502u);
    EXPECT_NE(res.body().find(R"("type":"api_error")"), std::string::npos);
    EXPECT_EQ(res.body().find(real_key), std::string::npos);
    EXPECT_EQ(res.body().find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(res.body().find("refused"), std::string::npos);
  }
  ASSERT_TRUE(await_records(2));
  EXPECT_EQ(records().front().status, 502u);
  EXPECT_EQ(records().front().requests, 1u);
}

TEST_F(ModelProxyEdges, ConnectTimeoutGives502) {
  // A TLS upstream that accepts and never answers the handshake.
  net::io_context io;
  tcp::acceptor silent{io, {net::ip::make_address("127.0.0.1"), 0}};
  start("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()),
        [](upstream_config& cfg) { cfg.connect_timeout = 1s; });
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  auto t0 = std::chrono::steady_clock::now();
  auto res = exchange(c, messages_request("/v1/messages", placeholder, std::string{body}));
  EXPECT_EQ(res.result_int(), 502u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST_F(ModelProxyEdges, OversizedRequestGets413AndIsNotForwarded) {
  fake_upstream up{rate_limited};
  start(up.base_url(), [](upstream_config& cfg) { cfg.max_request_bytes = 1024; });
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  auto res = exchange(c, messages_request("/v1/messages", placeholder, std::string(2000, ' ')));
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_NE(res.body().find("request_too_large"), std::string::npos);
  EXPECT_TRUE(up.requests().empty());
}

TEST_F(ModelProxyEdges, ConnectionsPerEndpointAreCapped) {
  fake_upstream up{rate_limited};
  start(up.base_url(), [](upstream_config& cfg) { cfg.max_connections = 2; });
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  auto first = std::make_unique<unix_client>(socket("a.sock"));
  unix_client second{socket("a.sock")};
  unix_client third{socket("a.sock")};
  http::response<http::string_body> res;
  ASSERT_FALSE(third.receive(res));
  EXPECT_EQ(res.result_int(), 529u);
  EXPECT_NE(res.body().find("overloaded_error"), std::string::npos);
  first.reset();  // frees a slot
  EXPECT_TRUE(eventually([&] {
    unix_client again{socket("a.sock"), 2s};
    http::response<http::string_body> r;
    return !again.send(messages_request("/v1/messages", placeholder, std::string{body})) &&
           !again.receive(r) && r.result_int() == 429u;
  }));
}

TEST_F(ModelProxyEdges, MalformedRequestGets400) {
  start("http://127.0.0.1:9");
  auto handle = open("a.sock", make_placeholder_key());
  net::io_context io;
  local::socket s{io};
  s.connect(local::endpoint{socket("a.sock")});
  std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  net::write(s, net::buffer(garbage));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(s, buffer, res, ec);
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_FALSE(res.keep_alive());
}

}  // namespace
}  // namespace caa::sandbox::testing
