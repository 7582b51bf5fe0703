#pragma once

// Accepts connections, caps their number, and tracks them for shutdown.
// Internal to transport/http: include only from .cpp files (it pulls in Asio).

#include "transport/http/http_session.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace caa::http {

/// Counts open connections and lets `stop` wait for them.
struct connection_gauge {
  std::atomic<std::size_t> active{0};
  std::mutex mtx;
  std::condition_variable cv;
  /// Open connections per peer address (API_MAX_CONNECTIONS_PER_IP; trusted proxies are not
  /// counted). Guarded by `mtx`.
  std::unordered_map<std::string, std::size_t> per_address;
};

/// The acceptor of one server.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Binds `endpoint`; throws `boost::system::system_error` when it cannot.
  listener(net::io_context& ioc, const tcp::endpoint& endpoint,
           std::shared_ptr<const edge_context> ctx);

  /// Starts accepting (any thread).
  void run();
  /// The bound port.
  uint16_t port() const noexcept { return port_; }
  /// Stops accepting; open connections continue (any thread).
  void stop_accepting();
  /// Asks every open connection to close when idle (any thread).
  void shutdown_sessions();
  /// Open connections right now.
  std::size_t connections() const noexcept { return gauge_->active.load(); }
  /// Waits until no connection is open or `timeout` passes; true when none is open.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, tcp::socket socket);
  void refuse(tcp::socket& socket, const caf::error& why);
  void track(const std::shared_ptr<http_session>& s);

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::shared_ptr<const edge_context> ctx_;
  std::shared_ptr<connection_gauge> gauge_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex sessions_mtx_;
  std::vector<std::weak_ptr<http_session>> sessions_;
};

}  // namespace caa::http
