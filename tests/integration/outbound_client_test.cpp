// The outbound client against small HTTP servers on loopback, with a resolver injected so that
// test names map to chosen addresses: forbidden answers are refused before any connection (also
// when a rebinding resolver answers differently the second time), an allowed POST arrives with
// its headers and body, redirects are not followed, and deadlines, size caps and statuses hold.

#include "transport/outbound/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace caa::outbound;
using namespace std::chrono_literals;

/// A received request.
using request = bhttp::request<bhttp::string_body>;

/// A raw HTTP response for `status` with `body`.
std::string response(unsigned status, const std::string& body, const std::string& extra = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: text/plain\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

/// An HTTP server on `address` (loopback): counts accepted connections, records requests and
/// answers each with `answer` (nothing: it holds the connection until the peer closes it). With
/// a `greeting` it speaks first: it writes that on accepting and reads nothing.
class test_server {
 public:
  using answer_fn = std::function<std::optional<std::string>(const request&)>;

  explicit test_server(answer_fn answer, const std::string& address = "127.0.0.1",
                       uint16_t port = 0, std::string greeting = {})
      : answer_(std::move(answer)), greeting_(std::move(greeting)), acceptor_(io_) {
    tcp::endpoint ep{asio::ip::make_address(address), port};
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }

  ~test_server() {
    stopping_ = true;
    boost::system::error_code ignored;
    {
      std::lock_guard lock{mutex_};
      for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    for (auto& t : connections_) t.join();
  }

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::vector<request> requests() const {
    std::lock_guard lock{mutex_};
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      auto socket = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      ++accepted_;
      std::lock_guard lock{mutex_};
      sockets_.push_back(socket);  // kept open until the end: no fd reuse
      connections_.emplace_back([this, socket] { serve(*socket); });
    }
  }

  void serve(tcp::socket& socket) {
    beast::flat_buffer buf;
    request req;
    boost::system::error_code ec;
    if (!greeting_.empty()) {
      asio::write(socket, asio::buffer(greeting_), ec);
      socket.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    bhttp::read(socket, buf, req, ec);
    if (ec) return;
    {
      std::lock_guard lock{mutex_};
      requests_.push_back(req);
    }
    if (auto raw = answer_(req)) {
      asio::write(socket, asio::buffer(*raw), ec);
      socket.shutdown(tcp::socket::shutdown_send, ec);
    }
    char byte = 0;
    socket.read_some(asio::buffer(&byte, 1), ec);  // until the client closes (or we stop)
  }

  answer_fn answer_;
  std::string greeting_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> connections_;
  std::vector<request> requests_;
  std::thread thread_;
};

/// An answer of 200 "fine".
std::optional<std::string> fine(const request&) {
  return response(200, "fine");
}

/// A resolver whose n-th call for a name answers `answers[name][min(n, last)]`; unknown names
/// fail. Counts its calls.
struct fake_resolver {
  std::map<std::string, std::vector<std::vector<std::string>>> answers;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

  resolver_fn fn() const {
    return [answers = answers, calls = calls](
               const std::string& host, const std::string&,
               std::function<void(bool, std::vector<std::string>)> done) {
      auto n = static_cast<std::size_t>((*calls)++);
      auto it = answers.find(host);
      if (it == answers.end()) return done(false, {});
      done(true, it->second[std::min(n, it->second.size() - 1)]);
    };
  }
};

/// An io_context running on its own thread, and a client on it.
class outbound_client : public ::testing::Test {
 protected:
  ~outbound_client() override {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }

  std::shared_ptr<client> make(egress_policy policy, const fake_resolver& r) {
    return client::make(io_, std::move(policy), r.fn());
  }

  /// POSTs and waits (hang guard: one minute).
  post_result post(client& c, post_request req) {
    auto p = std::make_shared<std::promise<post_result>>();
    auto f = p->get_future();
    c.post(std::move(req), [p](post_result r) { p->set_value(std::move(r)); });
    if (f.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "no result within the hang guard";
      return {};
    }
    return f.get();
  }

  static egress_policy loopback() {
    egress_policy p;
    p.allow_cidrs = {"127.0.0.1/32"};
    p.allow_http = true;
    return p;
  }

  static post_request to(const std::string& url, std::string body = R"({"a":1})") {
    post_request r;
    r.url = url;
    r.body = std::move(body);
    return r;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{
      asio::make_work_guard(io_)};
  std::thread thread_{[this] { io_.run(); }};
};

std::string url(uint16_t port, const std::string& host = "hook.test") {
  return "http://" + host + ":" + std::to_string(port) + "/hook?x=1";
}

TEST_F(outbound_client, any_forbidden_answer_is_refused_without_connecting) {
  test_server forbidden{fine};
  egress_policy policy;
  policy.allow_http = true;
  fake_resolver r;
  r.answers["hook.test"] = {{"93.184.216.34", "127.0.0.1"}};
  r.answers["mapped.test"] = {{"::ffff:127.0.0.1"}};
  r.answers["nat64.test"] = {{"2606:4700::1111", "64:ff9b::7f00:1"}};
  r.answers["meta.test"] = {{"169.254.169.254"}};
  r.answers["junk.test"] = {{"127.1"}};
  auto c = make(policy, r);
  for (auto host : {"hook.test", "mapped.test", "nat64.test", "meta.test", "junk.test"})
    EXPECT_EQ(post(*c, to(url(forbidden.port(), host))).error, failure::refused) << host;
  // Literal and local hosts are refused before resolution.
  for (auto host : {"127.0.0.1", "2130706433", "localhost", "[::ffff:7f00:1]"})
    EXPECT_EQ(post(*c, to(url(forbidden.port(), host))).error, failure::refused) << host;
  EXPECT_EQ(*r.calls, 5);
  EXPECT_EQ(forbidden.accepted(), 0);
  EXPECT_EQ(c->connections_opened(), 0u);
}

TEST_F(outbound_client, a_rebinding_resolver_cannot_redirect_the_connection) {
  // 127.0.0.2 stands for a public address (allow-listed); 127.0.0.1 is the forbidden target,
  // on the same port. The first resolution answers the allowed address, every later one the
  // forbidden: the client must connect to what it checked, resolving once.
  std::unique_ptr<test_server> good, forbidden;
  for (int attempt = 0; attempt < 20 && !forbidden; ++attempt) {
    good = std::make_unique<test_server>(fine, "127.0.0.2");
    try {
      forbidden = std::make_unique<test_server>(fine, "127.0.0.1", good->port());
    } catch (const boost::system::system_error&) {
      good.reset();  // the port is taken on 127.0.0.1: another one
    }
  }
  ASSERT_TRUE(forbidden);
  egress_policy policy;
  policy.allow_cidrs = {"127.0.0.2/32"};
  policy.allow_http = true;
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.2"}, {"127.0.0.1"}};
  auto c = make(policy, r);
  auto first = post(*c, to(url(good->port())));
  EXPECT_TRUE(first.ok()) << to_string(first.error);
  EXPECT_EQ(*r.calls, 1);
  EXPECT_EQ(post(*c, to(url(good->port()))).error, failure::refused);
  EXPECT_EQ(good->requests().size(), 1u);
  EXPECT_EQ(forbidden->accepted(), 0);
  EXPECT_EQ(c->connections_opened(), 1u);
}

TEST_F(outbound_client, an_allowed_post_arrives_with_headers_and_body) {
  test_server server{
      [](const request&) { return response(200, R"({"ok":true})", "X-Extra: 1\r\n"); }};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto c = make(loopback(), r);
  auto req = to(url(server.port()), R"({"event":"PreToolUse"})");
  req.headers = {{"X-Signature", "s3cret"}, {"Authorization", "Bearer t"}};
  auto res = post(*c, req);
  EXPECT_TRUE(res.ok()) << to_string(res.error);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, R"({"ok":true})");
  EXPECT_EQ(res.content_type, "text/plain");
  auto got = server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method(), bhttp::verb::post);
  EXPECT_EQ(got[0].target(), "/hook?x=1");
  EXPECT_EQ(got[0][bhttp::field::host], "hook.test:" + std::to_string(server.port()));
  EXPECT_EQ(got[0][bhttp::field::content_type], "application/json");
  EXPECT_EQ(got[0]["X-Signature"], "s3cret");
  EXPECT_EQ(got[0][bhttp::field::authorization], "Bearer t");
  EXPECT_EQ(got[0].body(), R"({"event":"PreToolUse"})");
  EXPECT_EQ(c->connections_opened(), 1u);
  // An allow-listed IP literal is used as it is, without asking the resolver.
  EXPECT_TRUE(post(*c, to(url(server.port(), "127.0.0.1"))).ok());
  EXPECT_EQ(*r.calls, 1);
}

TEST_F(outbound_client, redirects_are_not_followed) {
  test_server target{fine};
  test_server redirector{[&](const request&) {
    return response(302, "",
                    "Location: http://127.0.0.1:" + std::to_string(target.port()) + "/\r\n");
  }};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto c = make(loopback(), r);
  auto res = post(*c, to(url(redirector.port())));
  EXPECT_EQ(res.error, failure::none);
  EXPECT_EQ(res.status, 302u);
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(target.accepted(), 0);
}

TEST_F(outbound_client, a_silent_server_is_a_timeout) {
  test_server silent{[](const request&) { return std::nullopt; }};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto c = make(loopback(), r);
  auto req = to(url(silent.port()));
  req.timeout = 300ms;
  EXPECT_EQ(post(*c, req).error, failure::timeout);
  // A resolver that never answers is bounded by the same deadline.
  auto stuck = client::make(io_, loopback(), [](auto&&...) {});
  EXPECT_EQ(post(*stuck, req).error, failure::timeout);
}

TEST_F(outbound_client, an_oversize_response_is_too_large) {
  test_server big{[](const request&) { return response(200, std::string(4096, 'x')); }};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto policy = loopback();
  policy.max_response_bytes = 1024;
  auto c = make(policy, r);
  auto res = post(*c, to(url(big.port())));
  EXPECT_EQ(res.error, failure::too_large);
  EXPECT_FALSE(res.ok());
  EXPECT_TRUE(res.body.empty());
}

TEST_F(outbound_client, a_non_2xx_answer_is_not_ok) {
  test_server failing{[](const request&) { return response(503, "busy"); }};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto c = make(loopback(), r);
  auto res = post(*c, to(url(failing.port())));
  EXPECT_EQ(res.error, failure::none);
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(res.body, "busy");
  EXPECT_FALSE(res.ok());
}

TEST_F(outbound_client, other_failures) {
  test_server plain{fine};
  test_server not_tls{fine, "127.0.0.1", 0, response(200, "plain")};
  fake_resolver r;
  r.answers["hook.test"] = {{"127.0.0.1"}};
  auto c = make(loopback(), r);
  // https to a server that answers in plain HTTP: the handshake fails.
  EXPECT_EQ(post(*c, to("https://hook.test:" + std::to_string(not_tls.port()) + "/")).error,
            failure::tls);
  EXPECT_EQ(post(*c, to(url(plain.port(), "unknown.test"))).error, failure::resolve);
  // A header that would inject a line is never sent.
  auto injected = to(url(plain.port()));
  injected.headers = {{"X-A", "v\r\nX-Injected: 1"}};
  EXPECT_EQ(post(*c, injected).error, failure::protocol);
  EXPECT_TRUE(plain.requests().empty());
}

TEST_F(outbound_client, the_system_resolver) {
  test_server server{fine};
  auto policy = loopback();
  policy.allow_cidrs.push_back("::1/128");
  auto c = client::make(io_, policy);
  EXPECT_TRUE(post(*c, to(url(server.port(), "localhost"))).ok());
  auto strict = loopback();
  strict.allow_cidrs.clear();
  auto refusing = client::make(io_, strict);
  EXPECT_EQ(post(*refusing, to(url(server.port(), "localhost"))).error, failure::refused);
  EXPECT_EQ(server.accepted(), 1);
}

}  // namespace
