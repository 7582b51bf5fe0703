#pragma once

// Fixture of the HTTP edge tests over real sockets: an in-process server on 127.0.0.1 (port 0) with
// a fake authenticator, a fake rate limiter and test handlers; raw POSIX sockets as clients so
// every byte is under the test's control. Waits are hang guards only, never timing assertions.

#include "transport/api/auth.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/http/server.hpp"
#include "transport/http/sse.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace caa::auth {

/// Test access to the passkey: the test plays the auth module.
struct test_access {
  static http::auth_passkey passkey() { return passkey_issuer::issue(); }
};

}  // namespace caa::auth

/// Shared by the edge test files (one fixture class for the whole `edge_test` suite).
namespace edge_fixture {

using namespace caa;
using namespace caa::http;
using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;
using parsed = bhttp::response<bhttp::string_body>;

inline constexpr auto guard = 10s;  // hang guard for every wait
inline constexpr const char* uuid = "0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5e";

// -- raw client ---------------------------------------------------------------------------------

/// A blocking TCP client with poll()-based hang guards.
class raw_client {
 public:
  explicit raw_client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~raw_client() { ::close(fd_); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  bool connected() const { return connected_; }

  /// Half-closes: no more bytes from this side.
  void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads what is available (at most `most` bytes) within `timeout`; false on EOF, error or
  /// timeout.
  bool fill(std::chrono::milliseconds timeout, std::size_t most = 65536) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char tmp[65536];
    auto n = ::recv(fd_, tmp, std::min(sizeof(tmp), most), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  /// The next complete response (interim 1xx responses included), or nothing.
  std::optional<parsed> read_response(std::chrono::milliseconds timeout = guard) {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    p.eager(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t off = 0;
    for (;;) {
      if (off < buf_.size()) {
        boost::system::error_code ec;
        off += p.put(boost::asio::buffer(buf_.data() + off, buf_.size() - off), ec);
        if (ec && ec != bhttp::error::need_more) return std::nullopt;
        if (p.is_done()) {
          buf_.erase(0, off);
          return p.release();
        }
        if (!ec) continue;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || !fill(left)) return std::nullopt;
    }
  }

  /// Whether the server closes the connection within `timeout` (bytes before EOF are kept).
  bool wait_closed(std::chrono::milliseconds timeout = guard) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      if (!fill(left) && !eof_) return false;
    }
    return true;
  }

  const std::string& received() const { return buf_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

// -- fakes --------------------------------------------------------------------------------------

/// Runs callbacks on its own threads, as the real stages do.
class thread_bag {
 public:
  ~thread_bag() {
    std::lock_guard<std::mutex> g{mtx_};
    for (auto& t : threads_) t.join();
  }
  void run(std::function<void()> f) {
    std::lock_guard<std::mutex> g{mtx_};
    threads_.emplace_back(std::move(f));
  }

 private:
  std::mutex mtx_;
  std::vector<std::thread> threads_;
};

inline principal make_principal(std::string tenant, bool admin) {
  return principal{auth::test_access::passkey(), std::move(tenant), "t", "key-id", true, admin};
}

/// Keys: "agent-key", "admin-key", "limited-key" (rate limited), "down-key" (auth store down).
struct fake_authenticator : authenticator {
  thread_bag bag;
  std::atomic<int> calls{0};
  void authenticate(std::string key,
                    std::function<void(std::optional<principal>, caf::error)> done) override {
    ++calls;
    bag.run([key, done] {
      if (key == "agent-key")
        done(make_principal("tenant-a", false), {});
      else if (key == "admin-key")
        done(make_principal("tenant-admin", true), {});
      else if (key == "limited-key")
        done(make_principal("tenant-limited", false), {});
      else if (key == "down-key")
        done(std::nullopt, make_error(errc::unavailable, "postgres at 10.0.0.5:5432 refused"));
      else
        done(std::nullopt, make_error(errc::unauthenticated, "unknown key"));
    });
  }
};

struct fake_limiter : rate_limiter {
  thread_bag bag;
  void acquire(const principal& p, route_class, std::function<void(rate_decision)> done) override {
    bool limited = p.tenant_id() == "tenant-limited";
    bag.run([limited, done] { done(rate_decision{!limited, limited ? 2.5 : 0}); });
  }
};

// -- fixture ------------------------------------------------------------------------------------

inline response json(std::string body) {
  response r;
  r.body = std::move(body);
  return r;
}

struct edge_test : ::testing::Test {
  fake_authenticator auth;
  fake_limiter limiter;
  std::mutex mtx;
  std::vector<std::shared_ptr<responder>> parked;  // handlers that never answer
  std::promise<bool> flood_result;                 // push() == false seen by the flood handler
  std::promise<void> flood_closed;
  std::promise<void> watch_closed;
  std::shared_ptr<request> last_request;
  std::unique_ptr<server> srv;
  thread_bag producers;

  http_settings settings() {
    http_settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.io_threads = 2;
    s.max_connections = 64;
    s.max_body_bytes = 1024;
    s.max_query_body_bytes = 4096;
    s.header_timeout = seconds_d{0.5};
    s.body_timeout = seconds_d{0.5};
    s.keep_alive_timeout = seconds_d{5};
    s.request_timeout = seconds_d{0.5};
    s.cors_origins = {"https://app.example"};
    s.trusted_proxies = {"127.0.0.0/8"};
    return s;
  }

  router routes() {
    router r;
    auto agent = route_policy::requires_agent;
    auto general = route_class::general;
    r.add("GET", "/health", route_policy::public_route, general,
          [](auto, auto res) { res->send(json(R"({"status":"ok"})")); });
    r.add("GET", "/api/v1/sessions/{id:uuid}", agent, general,
          [](auto req, auto res) { res->send(json("{\"id\":\"" + req->params.at("id") + "\"}")); });
    r.add("DELETE", "/api/v1/sessions/{id:uuid}", agent, general, [](auto, auto res) {
      res->send(response{204, "", "", {}});
    });
    r.add("POST", "/api/v1/echo", agent, general, [this](auto req, auto res) {
      remember(req);
      res->send(json(std::to_string(req->body.size())));
    });
    r.add("POST", "/api/v1/query", agent, route_class::query,
          [](auto req, auto res) { res->send(json(std::to_string(req->body.size()))); });
    r.add("GET", "/api/v1/keys", route_policy::requires_admin, general,
          [](auto, auto res) { res->send(json("[]")); });
    r.add("GET", "/api/v1/inspect", agent, general, [this](auto req, auto res) {
      remember(req);
      res->send(json("{}"));
    });
    r.add("GET", "/api/v1/hang", agent, general, [this](auto, auto res) {
      std::lock_guard<std::mutex> g{mtx};
      parked.push_back(res);
    });
    r.add("GET", "/api/v1/drop", agent, general, [](auto, auto) {});
    r.add("GET", "/api/v1/throw", agent, general,
          [](auto, auto) -> void { throw std::runtime_error("SELECT secret FROM keys"); });
    r.add("GET", "/api/v1/fail", agent, general, [](auto, auto res) {
      res->fail(make_error(errc::session_not_found, "SELECT * FROM sessions at /srv/db.cpp"));
    });
    r.add("GET", "/api/v1/stream", agent, general, [](auto, auto res) {
      auto sink = res->stream(200, "text/event-stream", {});
      for (uint64_t i = 1; i <= 5; ++i)
        sink->push(sse::encode(i, "message", "{\"n\":" + std::to_string(i) + "}"));
      sink->close();
    });
    r.add("GET", "/api/v1/flood", agent, general, [this](auto, auto res) { flood(res); });
    r.add("GET", "/api/v1/trickle", agent, general, [this](auto, auto res) { trickle(res); });
    r.add("GET", "/api/v1/watch", agent, general, [this](auto, auto res) {
      auto sink = res->stream(200, "text/event-stream", {});
      sink->on_closed([this] { watch_closed.set_value(); });
    });
    return r;
  }

  void remember(std::shared_ptr<request> req) {
    std::lock_guard<std::mutex> g{mtx};
    last_request = std::move(req);
  }

  /// Pushes 16 KiB chunks (1 ms apart) until the sink refuses one.
  void flood(std::shared_ptr<responder> res) {
    auto sink = res->stream(200, "text/event-stream", {});
    sink->on_closed([this] { flood_closed.set_value(); });
    producers.run([this, sink] {
      std::string chunk(16 * 1024, 'x');
      for (int i = 0; i < 64 * 1024; ++i) {  // at most 1 GiB: the budget must stop it far earlier
        if (!sink->push(chunk)) {
          flood_result.set_value(true);
          return;
        }
        std::this_thread::sleep_for(1ms);
      }
      flood_result.set_value(false);
    });
  }

  /// Events of the `trickle` stream.
  static constexpr uint64_t trickle_events = 3000;

  /// Pushes `trickle_events` events of about 1 KiB, 0.2 ms apart, waiting while the sink is
  /// not writable (as a session does), then ends the stream.
  void trickle(std::shared_ptr<responder> res) {
    auto sink = res->stream(200, "text/event-stream", {});
    producers.run([sink] {
      std::string pad(1000, 'p');
      for (uint64_t i = 1; i <= trickle_events; ++i) {
        while (sink->open() && !sink->writable()) std::this_thread::sleep_for(1ms);
        auto data = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}";
        if (!sink->push(sse::encode(i, "message", data))) return;
        std::this_thread::sleep_for(200us);
      }
      sink->close();
    });
  }

  void start(http_settings s, edge_options o = {}) {
    srv = std::make_unique<server>(std::move(s), routes(), auth, limiter, o);
    srv->start();
  }

  void SetUp() override {
    edge_options o;
    o.keep_alive_interval = 100ms;
    o.linger = 200ms;
    o.stop_grace = 2s;
    start(settings(), o);
  }

  void TearDown() override {
    srv->stop();
    std::lock_guard<std::mutex> g{mtx};
    parked.clear();
  }

  std::unique_ptr<raw_client> connect() {
    auto c = std::make_unique<raw_client>(srv->port());
    EXPECT_TRUE(c->connected());
    return c;
  }

  /// One request on a fresh connection.
  std::optional<parsed> roundtrip(const std::string& raw) {
    auto c = connect();
    c->send(raw);
    return c->read_response();
  }

  std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
  }

  void expect_server_alive() {
    auto r = roundtrip(get("/health"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200u);
  }
};

inline std::string code_of(const parsed& r) {
  rapidjson::Document d;
  d.Parse(r.body().c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error")) return "";
  return d["error"]["code"].GetString();
}

/// The request under test gets exactly `status`, the error envelope and Connection: close.
inline void expect_closing_error(raw_client& c, unsigned status, const std::string& what) {
  auto r = c.read_response();
  ASSERT_TRUE(r) << what;
  EXPECT_EQ(r->result_int(), status) << what;
  EXPECT_FALSE(code_of(*r).empty()) << what;
  EXPECT_EQ((*r)[bhttp::field::connection], "close") << what;
  EXPECT_FALSE((*r)["X-Correlation-ID"].empty()) << what;
  EXPECT_TRUE(c.wait_closed()) << what;
}

}  // namespace edge_fixture
