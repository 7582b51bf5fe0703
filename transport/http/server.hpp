#pragma once

// The HTTP server: an io_context, `io_threads` threads and a listener. Beast stays in the .cpp.

#include "config/settings.hpp"
#include "transport/http/router.hpp"
#include "transport/http/types.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace caa::http {

/// Edge limits that are constants in production (tests shorten them).
struct edge_options {
  std::size_t stream_budget_bytes = 256 * 1024;  ///< queued, unwritten stream bytes per connection
  std::chrono::milliseconds write_stall{30000};  ///< a write making no progress this long: close
  std::chrono::milliseconds keep_alive_interval{15000};  ///< SSE ": keep-alive" comment period
  std::chrono::milliseconds linger{2000};      ///< after a closing response, drain input this long
  std::chrono::milliseconds stop_grace{5000};  ///< `stop()` waits this long for busy connections
  /// AUTH_FAILURES_PER_MINUTE: failed authentications per client address (0: unlimited).
  unsigned auth_failures_per_minute = 60;
};

/// Serves `router` on `http_settings::host:port`.
class server {
 public:
  /// A server; nothing is bound before `start`. `auth` and `limiter` must outlive it.
  server(const http_settings& settings, router routes, authenticator& auth, rate_limiter& limiter,
         edge_options options = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds (port 0: any free port), starts accepting and runs the I/O threads. Throws
  /// `std::system_error` when the address cannot be bound.
  void start();

  /// The bound port (after `start`).
  uint16_t port() const noexcept;

  /// Stops accepting new connections; existing ones continue (the first drain phase).
  void stop_accepting();

  /// Stops accepting, closes idle connections and streams, lets busy requests answer (at most
  /// `edge_options::stop_grace`), then stops the I/O threads and joins them. Idempotent. Must not
  /// be called from an I/O thread.
  void stop();

  /// Open connections right now.
  std::size_t connections() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caa::http
