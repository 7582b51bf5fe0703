// Integration tests of the egress proxy over its unix socket: refusals (allow-list, forbidden
// addresses, methods, limits, deadlines), endpoint teardown, and the splice. Tests send traffic
// to loopback only, so a successful tunnel to a public host cannot be tested here: the splice
// is tested against an echo server on 127.0.0.1, which only a test's own address check lets
// through (the default guard refuses it, as the refusal tests show).

#include "egress_test_support.hpp"

#include "transport/sandbox/egress_proxy.hpp"

#include "config/logging.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <functional>
#include <mutex>

namespace caa::sandbox::testing {
namespace {

constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";

/// A proxy on two I/O threads, one endpoint at `socket_`, the log lines it wrote.
class EgressProxy : public ::testing::Test {
 protected:
  EgressProxy() : work_(boost::asio::make_work_guard(io_)) {
    log::set_level(log_level::info);
    log::set_sink([this](std::string_view line) {
      std::lock_guard<std::mutex> guard{mtx_};
      logs_ += line;
      logs_ += '\n';
    });
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~EgressProxy() override {
    handle_.reset();
    proxy_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    log::set_sink({});
  }

  /// Starts the proxy with `allow` (and `tune`) and opens the endpoint of "tenant-a".
  void start(std::vector<std::string> allow,
             const std::function<void(egress_config&)>& tune = nullptr) {
    egress_config cfg;
    cfg.allow = std::move(allow);
    if (tune) tune(cfg);
    proxy_ = egress_proxy::make(io_, std::move(cfg));
    auto handle = proxy_->open_endpoint(socket_, "tenant-a");
    ASSERT_TRUE(handle) << to_string(handle.error());
    handle_ = std::move(*handle);
  }

  /// Sends `raw` on a new connection; everything the proxy answered before it closed.
  std::string ask(std::string_view raw) {
    auto c = connect_unix(socket_);
    EXPECT_TRUE(c);
    EXPECT_TRUE(send_all(c.get(), raw));
    auto answer = read_to_end(c.get());
    EXPECT_TRUE(answer.has_value()) << "the proxy did not close";
    return answer.value_or("");
  }

  /// A tunnel to `port` on 127.0.0.1, answered 200 (the test fails otherwise).
  fd_guard tunnel(uint16_t port, std::string_view early = {}) {
    auto c = connect_unix(socket_);
    auto head = "CONNECT 127.0.0.1:" + std::to_string(port) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_TRUE(send_all(c.get(), head + std::string{early}));
    EXPECT_EQ(read_n(c.get(), established.size()), established);
    return c;
  }

  /// What was logged so far.
  std::string logs() {
    std::lock_guard<std::mutex> guard{mtx_};
    return logs_;
  }

  /// Lets the proxy reach 127.0.0.1 (only) at `port`.
  static std::function<void(egress_config&)> loopback_only() {
    return [](egress_config& cfg) {
      cfg.address_check = [](std::string_view addr) { return addr == "127.0.0.1"; };
    };
  }

  temp_dir dir_;
  std::string socket_ = dir_.path("p.sock");
  std::shared_ptr<egress_proxy> proxy_;
  std::shared_ptr<void> handle_;

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::mutex mtx_;
  std::string logs_;
};

TEST_F(EgressProxy, RefusesAHostNotOnTheList) {
  start({"example.com", ".example.net"});
  auto answer = ask("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  answer = ask("CONNECT example.com:8443 HTTP/1.1\r\n\r\n");  // not a default port
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 ", 0), 0u) << answer;
  auto log = logs();
  EXPECT_NE(log.find("egress refused"), std::string::npos) << log;
  EXPECT_NE(log.find("tenant-a"), std::string::npos) << log;
  EXPECT_NE(log.find("example.org:443"), std::string::npos) << log;
}

TEST_F(EgressProxy, RefusesListedNamesThatResolveToLoopback) {
  start({"localhost", "127.0.0.1", "[::1]", "0.0.0.0"});  // the default address check
  for (auto target : {"localhost:443", "127.0.0.1:443", "[::1]:443", "0.0.0.0:80"}) {
    auto answer = ask("CONNECT " + std::string{target} + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 403 ", 0), 0u) << target << ": " << answer;
  }
  EXPECT_NE(logs().find("forbidden address"), std::string::npos) << logs();
}

TEST_F(EgressProxy, AnswersOtherRequestsWith405Or400) {
  start({"example.com"});
  auto answer =
      ask("GET http://example.com/secret?token=abc HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Allow: CONNECT\r\n"), std::string::npos) << answer;
  answer = ask("CONNECT example.com HTTP/1.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
  answer = ask(std::string(9000, 'A'));  // no end of head within the limit
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer.substr(0, 40);
  auto log = logs();
  EXPECT_NE(log.find("\"status\":405"), std::string::npos) << log;
  EXPECT_EQ(log.find("secret"), std::string::npos) << log;  // never the URL
}

TEST_F(EgressProxy, HandleDestructionRemovesTheSocketAndEndsTunnels) {
  echo_server echo;
  start({"127.0.0.1:" + std::to_string(echo.port())}, loopback_only());
  auto c = tunnel(echo.port());
  ASSERT_TRUE(std::filesystem::exists(socket_));
  handle_.reset();
  EXPECT_FALSE(std::filesystem::exists(socket_));
  EXPECT_FALSE(connect_unix(socket_));
  EXPECT_TRUE(read_to_end(c.get()).has_value());  // closed, not timed out
}

TEST_F(EgressProxy, SplicesBothWaysToAnAllowedAddress) {
  echo_server echo;
  start({"127.0.0.1:" + std::to_string(echo.port())}, loopback_only());
  auto c = tunnel(echo.port(), "early");  // bytes right after the head go first
  EXPECT_EQ(read_n(c.get(), 5), "early");
  std::string big(2u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i);
  std::thread writer{[&] { EXPECT_TRUE(send_all(c.get(), big)); }};
  auto back = read_n(c.get(), big.size());
  writer.join();
  EXPECT_TRUE(back == big) << "got " << back.size() << " bytes";
  ASSERT_TRUE(send_all(c.get(), "bye"));
  ::shutdown(c.get(), SHUT_WR);  // travels to the echo server, which closes
  EXPECT_EQ(read_to_end(c.get()), "bye");
}

TEST_F(EgressProxy, CapsTunnelsPerEndpoint) {
  start({"example.com"}, [](egress_config& cfg) { cfg.max_tunnels = 1; });
  auto first = connect_unix(socket_);
  ASSERT_TRUE(first);
  auto second = connect_unix(socket_);  // answered at once, before it sends anything
  ASSERT_TRUE(second);
  auto answer = read_to_end(second.get()).value_or("");
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 ", 0), 0u) << answer;
  first = fd_guard{};  // frees the slot once the proxy sees it closed
  std::string later;
  for (int i = 0; i < 250 && (later.empty() || later.starts_with("HTTP/1.1 503 ")); ++i) {
    std::this_thread::sleep_for(20ms);
    auto c = connect_unix(socket_);
    send_all(c.get(), "CONNECT example.org:443 HTTP/1.1\r\n\r\n");  // may come too late
    later = read_to_end(c.get()).value_or("");
  }
  EXPECT_EQ(later.rfind("HTTP/1.1 403 ", 0), 0u) << later;
}

TEST_F(EgressProxy, EndsSilentClientsAndIdleTunnels) {
  echo_server echo;
  start({"127.0.0.1:" + std::to_string(echo.port())}, [](egress_config& cfg) {
    loopback_only()(cfg);
    cfg.head_timeout = std::chrono::seconds{1};
    cfg.idle_timeout = std::chrono::seconds{1};
  });
  auto silent = connect_unix(socket_);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_end(silent.get()), "");
  auto c = tunnel(echo.port());
  ASSERT_TRUE(send_all(c.get(), "ping"));
  EXPECT_EQ(read_n(c.get(), 4), "ping");
  EXPECT_EQ(read_to_end(c.get()), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
}

TEST_F(EgressProxy, WorksBehindTheRelay) {
  echo_server echo;
  start({"127.0.0.1:" + std::to_string(echo.port())}, loopback_only());
  auto port = free_port();
  relay_process relay{port, socket_, {"/bin/sh", "-c", "exec sleep 30"}};
  auto c = connect_tcp(port, 5000ms);
  ASSERT_TRUE(c);
  auto head = "CONNECT 127.0.0.1:" + std::to_string(echo.port()) + " HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(send_all(c.get(), head));
  EXPECT_EQ(read_n(c.get(), established.size()), established);
  ASSERT_TRUE(send_all(c.get(), "through"));
  EXPECT_EQ(read_n(c.get(), 7), "through");
  auto refused = connect_tcp(port);
  ASSERT_TRUE(send_all(refused.get(), "CONNECT example.com:443 HTTP/1.1\r\n\r\n"));
  auto answer = read_to_end(refused.get()).value_or("");
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 ", 0), 0u) << answer;
  ASSERT_EQ(::kill(relay.pid(), SIGTERM), 0);
  EXPECT_EQ(relay.wait(5000ms), 128 + SIGTERM);
}

}  // namespace
}  // namespace caa::sandbox::testing
