#pragma once

// WebSocket routes of the edge. A route whose handler is a `ws_route` is served like any other
// GET up to the handler stage (limits, correlation id, authentication, scope, rate limit): only
// then is a valid upgrade request handed to the route's `ws_endpoint` and answered with 101. A
// request without a usable key gets the normal 401 envelope and no upgrade; on WebSocket routes
// (only there) a single-use ticket in the query string (`?ticket=`) may stand in for the key.
//
// After the handshake the connection belongs to `transport/http/ws_session.cpp`: one writer, a
// bounded outbound queue (a reader that falls behind is closed with 1008), WebSocket pings and an
// idle timeout (WS_IDLE_TIMEOUT), messages up to API_MAX_QUERY_BODY_BYTES (larger: 1009). The
// API's side of a connection is a `ws_handler`; it answers through a `ws_channel`.

#include "transport/http/types.hpp"

#include <caf/error.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace caa::http {

/// WebSocket close codes used by the service.
namespace ws_close {
inline constexpr uint16_t normal = 1000;        ///< the client or the API ended it
inline constexpr uint16_t going_away = 1001;    ///< the server is shutting down
inline constexpr uint16_t policy = 1008;        ///< the reader was too slow (queue over budget)
inline constexpr uint16_t unauthorized = 4001;  ///< authentication failed after the upgrade
}  // namespace ws_close

/// The sending side of one accepted WebSocket connection. Thread-safe; never blocks.
class ws_channel {
 public:
  virtual ~ws_channel() = default;
  /// Queues one text message. Returns false when the connection is closed or closing, or when
  /// the unwritten queue is already at its byte or message budget: the connection is then
  /// closed with 1008 (so the queue never holds more than the budget plus one message).
  virtual bool send(std::string text) = 0;
  /// Whether the queue has room (below half its byte and message budgets). A producer that
  /// sends only while this holds, and waits with `when_writable` otherwise, is never cut.
  virtual bool writable() const { return open(); }
  /// Calls `f` once, on any thread, when the queue is writable again or the connection ended
  /// (at once when it is writable or ended now).
  // By value: implementations keep `f` until there is room.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void when_writable(std::function<void()> f) { f(); }
  /// Closes the connection with `code` and `reason` after the message being written.
  virtual void close(uint16_t code, std::string reason) = 0;
  /// Whether messages are still accepted.
  virtual bool open() const = 0;
};

/// The API's side of one connection. Called on the connection's strand, one call at a time; it
/// must not block (it talks to actors asynchronously and answers through its `ws_channel`).
class ws_handler {
 public:
  virtual ~ws_handler() = default;
  /// One complete client message (`binary`: it was a binary message).
  virtual void on_message(std::string payload, bool binary) = 0;
  /// The connection is closed (by either side, a timeout or the server); called once.
  virtual void on_close() = 0;
};

/// The behaviour of one WebSocket route.
class ws_endpoint {
 public:
  virtual ~ws_endpoint() = default;
  /// Resolves a `?ticket=` (no key header was presented) and calls `done` exactly once, on any
  /// thread, with its principal or an error (`errc::unauthenticated`).
  virtual void redeem_ticket(std::string ticket,
                             std::function<void(std::optional<principal>, caf::error)> done) = 0;
  /// The connection of `req` (its caller is set) was accepted. `limiter` outlives the connection.
  virtual std::shared_ptr<ws_handler> open(std::shared_ptr<request> req,
                                           std::shared_ptr<ws_channel> channel,
                                           rate_limiter& limiter) = 0;
};

/// The handler registered for a WebSocket route (the edge recognises it by type). Called as a
/// plain handler only for a request that is not a WebSocket upgrade: 400.
struct ws_route {
  std::shared_ptr<ws_endpoint> endpoint;  ///< what serves accepted connections

  /// Answers a request that is not an upgrade with 400 BAD_REQUEST.
  void operator()(const std::shared_ptr<request>& req, const std::shared_ptr<responder>& res) const;
};

}  // namespace caa::http
