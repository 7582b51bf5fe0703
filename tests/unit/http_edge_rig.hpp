#pragma once

// The rig of the edge tests over Beast's in-memory test stream: one connection's I/O context, a
// real router with test routes, fake authenticator, rate limiter and WebSocket endpoint, counters
// of what happened, and the fail-count matrix runner.

#include "http_test_stream.hpp"

#include "transport/api/auth.hpp"
#include "transport/http/http_session.hpp"
#include "transport/http/sse.hpp"
#include "transport/http/ws_upgrade.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>
#include <vector>

namespace caa::auth {

/// Test access to the passkey: the test plays the auth module.
struct test_access {
  static http::auth_passkey passkey() { return passkey_issuer::issue(); }
};

}  // namespace caa::auth

/// Shared by the edge tests over the test stream.
namespace edge_rig {

using namespace caa;
using namespace caa::http;
using namespace std::chrono_literals;
namespace test = boost::beast::test;
using caa::http::testing::stream_probe;
using caa::http::testing::test_stream_backend;
using parsed = bhttp::response<bhttp::string_body>;

inline constexpr auto guard = 10s;  // hang guard of every run, never a timing assertion
inline const std::string agent = "X-API-Key: agent-key\r\n";

/// A fail count failing the operation of 0-based `index` and every later one. (Beast's counter
/// fails its n-th operation counted from 1: `fail_count{0}` and `fail_count{1}` both fail the
/// first.)
inline test::fail_count fail_at(std::size_t index,
                                boost::system::error_code ec = test::error::test_failure) {
  return test::fail_count{index + 1, ec};
}

/// Counts released connections.
class counting_slot final : public connection_slot {
 public:
  explicit counting_slot(int& released) : released_(released) {}
  ~counting_slot() override { ++released_; }
  counting_slot(const counting_slot&) = delete;
  counting_slot& operator=(const counting_slot&) = delete;

 private:
  int& released_;
};

inline principal make_principal(std::string tenant) {
  return principal{auth::test_access::passkey(), std::move(tenant), "t", "key-id", true, false};
}

/// "agent-key" and "limited-key" authenticate, "down-key" finds the key store down, any other key
/// is unknown. Answers at once on the calling thread (the session posts back to its strand).
struct fake_authenticator : authenticator {
  void authenticate(std::string key,
                    std::function<void(std::optional<principal>, caf::error)> done) override {
    if (key == "agent-key")
      done(make_principal("tenant-a"), {});
    else if (key == "limited-key")
      done(make_principal("tenant-limited"), {});
    else if (key == "down-key")
      done(std::nullopt, make_error(errc::unavailable, "key store down"));
    else
      done(std::nullopt, make_error(errc::unauthenticated, "unknown key"));
  }
};

/// Refuses every request of "tenant-limited".
struct fake_limiter : rate_limiter {
  void acquire(const principal& p, route_class, std::function<void(rate_decision)> done) override {
    bool limited = p.tenant_id() == "tenant-limited";
    done(rate_decision{!limited, limited ? 2.0 : 0});
  }
};

/// A WebSocket endpoint that counts the connections it is given.
struct counting_endpoint : ws_endpoint {
  int opened = 0;
  void redeem_ticket(std::string,
                     std::function<void(std::optional<principal>, caf::error)> done) override {
    done(std::nullopt, make_error(errc::unauthenticated, "no tickets here"));
  }
  std::shared_ptr<ws_handler> open(std::shared_ptr<request>, std::shared_ptr<ws_channel>,
                                   rate_limiter&) override {
    ++opened;
    return nullptr;
  }
};

/// The complete responses at the start of `bytes`, in order.
inline std::vector<parsed> responses_in(const std::string& bytes) {
  std::vector<parsed> out;
  std::size_t off = 0;
  while (off < bytes.size()) {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(boost::none);
    p.eager(true);
    while (!p.is_done()) {
      boost::system::error_code ec;
      auto used = p.put(net::buffer(bytes.data() + off, bytes.size() - off), ec);
      off += used;
      if (ec || used == 0) return out;  // incomplete (or not a response)
    }
    out.push_back(p.release());
  }
  return out;
}

inline std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\nX-Correlation-ID: c-" +
         std::to_string(target.size()) + "\r\n" + extra + "\r\n";
}

inline std::string post_echo(const std::string& body) {
  return "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-Correlation-ID: c-echo\r\n" + agent +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// One connection's world: an I/O context, the edge's collaborators, test routes and counters.
/// A rig serves one connection.
class rig {
 public:
  rig() {
    settings.max_body_bytes = 64;
    settings.header_timeout = seconds_d{5};
    settings.body_timeout = seconds_d{5};
    settings.keep_alive_timeout = seconds_d{5};
    settings.request_timeout = seconds_d{5};
    options.keep_alive_interval = 1h;  // no keep-alive comments: the output stays deterministic
    options.linger = 5ms;
    options.auth_failures_per_minute = 0;
  }

  net::io_context ioc;
  http_settings settings;
  edge_options options;
  fake_authenticator auth;
  fake_limiter limiter;
  std::shared_ptr<stream_probe> probe = std::make_shared<stream_probe>();
  std::shared_ptr<counting_endpoint> endpoint = std::make_shared<counting_endpoint>();
  int released = 0;                                 ///< connection slots released
  int handled = 0;                                  ///< handler calls
  std::vector<std::shared_ptr<stream_sink>> sinks;  ///< of the streams started
  int sinks_ended = 0;                              ///< `on_closed` calls of those sinks
  std::vector<std::shared_ptr<responder>> parked;   ///< responders of /api/v1/hang

  /// A server-side stream on the rig's context, failing as `fc` says (if given).
  test::stream make_stream(test::fail_count* fc = nullptr) {
    return fc ? test::stream{ioc, *fc} : test::stream{ioc};
  }

  /// Serves `server` (owned by the session from now on); the rig keeps no reference to the
  /// session, so its end releases the slot.
  void serve(test::stream server) {
    auto ctx = std::make_shared<edge_context>(
        edge_context{settings, routes(), auth, limiter, cors_policy{std::vector<std::string>{}},
                     trusted_proxies{std::vector<std::string>{}}, options, nullptr});
    auto backend = std::make_unique<test_stream_backend>(std::move(server), probe);
    std::make_shared<http_session>(byte_stream{std::move(backend)}, std::move(ctx),
                                   std::make_unique<counting_slot>(released))
        ->run();
  }

  /// Runs until no work is left; false when the hang guard expired first.
  bool run() {
    ioc.restart();
    ioc.run_for(guard);
    return ioc.stopped();
  }

  /// Runs handlers one by one until `done` holds; false when the work ran out first.
  bool run_until(const std::function<bool()>& done) {
    ioc.restart();
    while (!done())
      if (ioc.run_one_for(guard) == 0) return false;
    return true;
  }

  /// Runs the handlers that are ready (not the timers), then returns.
  void settle() {
    ioc.restart();
    ioc.poll();
  }

  /// The connection ended cleanly: closed by the session (and never written after), its slot
  /// released, its sinks told.
  void expect_ended(const std::string& what = "") const {
    EXPECT_TRUE(probe->closed) << what;
    EXPECT_EQ(probe->writes_after_close, 0) << what;
    EXPECT_EQ(released, 1) << what;
    EXPECT_EQ(sinks_ended, static_cast<int>(sinks.size())) << what;
    for (const auto& s : sinks) EXPECT_FALSE(s->open()) << what;
  }

 private:
  router routes() {
    router r;
    auto general = route_class::general;
    auto agent_only = route_policy::requires_agent;
    r.add("GET", "/health", route_policy::public_route, general, [this](auto, auto res) {
      ++handled;
      res->send(response{200, R"({"status":"ok"})", "application/json", {}});
    });
    r.add("POST", "/api/v1/echo", agent_only, general, [this](auto req, auto res) {
      ++handled;
      res->send(response{200, req->body, "text/plain", {}});
    });
    r.add("GET", "/api/v1/sessions/{id:uuid}", agent_only, general, [this](auto req, auto res) {
      ++handled;
      res->send(response{200, req->params.at("id"), "text/plain", {}});
    });
    r.add("GET", "/api/v1/slow", agent_only, general, [this](auto, auto res) {
      ++handled;  // answers after the requests behind it were received
      auto timer = std::make_shared<net::steady_timer>(ioc, 2ms);
      timer->async_wait([timer, res](boost::system::error_code) {
        res->send(response{200, "slow", "text/plain", {}});
      });
    });
    r.add("GET", "/api/v1/hang", agent_only, general, [this](auto, auto res) {
      ++handled;
      parked.push_back(std::move(res));
    });
    r.add("GET", "/api/v1/stream", agent_only, general, [this](auto, auto res) {
      auto sink = open_stream(*res);
      for (uint64_t i = 1; i <= 3; ++i)
        sink->push(sse::encode(i, "message", "{\"n\":" + std::to_string(i) + "}"));
      sink->close();
    });
    r.add("GET", "/api/v1/ws", agent_only, general, ws_route{endpoint});
    r.add("GET", "/api/v1/watch", agent_only, general,
          [this](auto, auto res) { open_stream(*res); });
    return r;
  }

  std::shared_ptr<stream_sink> open_stream(responder& res) {
    ++handled;
    auto sink = res.stream(200, std::string{sse::content_type}, {});
    sink->on_closed([this] { ++sinks_ended; });
    sinks.push_back(sink);
    return sink;
  }
};

/// A connection whose peer sends `input` and then closes its side; reads deliver at most
/// `read_size` bytes and writes take at most `write_size`.
struct scripted_connection {
  std::string input;
  std::size_t read_size = 4096;
  std::size_t write_size = 4096;
};

/// What the peer received in one run of `c`, with the n-th operation failing; checks that the run
/// ended cleanly. Sets `failed` to whether a failure was injected.
inline std::string run_with_failure(const scripted_connection& c, std::size_t n, bool& failed) {
  auto fc = fail_at(n);
  rig r;
  auto server = r.make_stream(&fc);
  server.read_size(c.read_size);
  server.write_size(c.write_size);
  auto client = test::connect(server);
  server.append(c.input);
  server.close_remote();
  r.serve(std::move(server));
  auto what = "failing operation " + std::to_string(n);
  EXPECT_TRUE(r.run()) << what << ": the connection hung";
  r.expect_ended(what);
  failed = r.probe->operations > n;
  return std::string{client.str()};
}

/// Runs `c` failing each operation in turn; returns the output of the first run without a
/// failure, after checking that every failing run sent a prefix of it.
inline std::string fail_matrix(const scripted_connection& c) {
  std::vector<std::string> partial;
  for (std::size_t n = 0; n < 10000; ++n) {
    bool failed = false;
    auto out = run_with_failure(c, n, failed);
    if (::testing::Test::HasFailure()) return {};
    if (!failed) {
      EXPECT_GT(partial.size(), 4u) << "the scenario should take several operations";
      for (std::size_t i = 0; i < partial.size(); ++i)
        EXPECT_EQ(out.substr(0, partial[i].size()), partial[i])
            << "a failure at operation " << i << " changed what was sent before it";
      return out;
    }
    partial.push_back(std::move(out));
  }
  ADD_FAILURE() << "the failures never ended";
  return {};
}

}  // namespace edge_rig
