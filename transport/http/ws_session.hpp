#pragma once

// One accepted WebSocket connection: one strand, one read and one write in flight, a bounded
// queue of unwritten messages, Beast's idle timeout with keep-alive pings, a close handshake
// bounded by a deadline. Internal to transport/http: include only from .cpp files (Beast).

#include "transport/http/http_session.hpp"
#include "transport/http/ws_upgrade.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace caa::http {

namespace websocket = boost::beast::websocket;

class ws_link;

/// A WebSocket connection after the upgrade. Every member function runs on the connection's
/// strand unless it says otherwise.
class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  /// A connection on `socket` for the upgrade request `upgrade`; `shell` is the HTTP session it
  /// came from (kept alive so the listener counts and can shut down this connection).
  ws_session(tcp::socket socket, bhttp::request<bhttp::empty_body> upgrade,
             std::shared_ptr<request> req, std::shared_ptr<ws_endpoint> endpoint,
             std::shared_ptr<const edge_context> ctx, std::shared_ptr<void> shell);
  ~ws_session();

  /// Sends the 101 and starts serving (any thread).
  void run();
  /// Queues a message already counted by the link (any thread).
  void post_send(std::string text);
  /// Closes with `code` after the message being written (any thread).
  void post_close(uint16_t code, std::string reason);

 private:
  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t n);
  void start_close(uint16_t code, const std::string& reason);
  void do_close_handshake();
  void on_closed();

  websocket::stream<boost::beast::tcp_stream> ws_;
  bhttp::request<bhttp::empty_body> upgrade_;
  std::shared_ptr<request> req_;
  std::shared_ptr<ws_endpoint> endpoint_;
  std::shared_ptr<const edge_context> ctx_;
  std::shared_ptr<void> shell_;
  std::shared_ptr<ws_link> link_;
  std::shared_ptr<ws_handler> handler_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  net::steady_timer write_timer_;
  net::steady_timer close_timer_;
  uint64_t write_gen_ = 0;
  websocket::close_reason close_reason_;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool closed_ = false;
};

/// The `ws_channel` of one connection: counts unwritten messages and bytes against the budget
/// and forwards to the session's strand. Thread-safe.
class ws_link final : public ws_channel {
 public:
  /// A link to `session` with a budget of `max_bytes` and `max_frames` unwritten.
  ws_link(std::weak_ptr<ws_session> session, std::size_t max_bytes, std::size_t max_frames);

  bool send(std::string text) override;
  void close(uint16_t code, std::string reason) override;
  bool open() const override;
  bool writable() const override;
  void when_writable(std::function<void()> f) override;

  /// Reports that a message of `n` bytes was written or dropped (called by the session).
  void written(std::size_t n);
  /// Reports that the connection ended; later sends are refused.
  void ended();

 private:
  bool has_room() const;  ///< below half the budgets; with `mtx_` held

  mutable std::mutex mtx_;
  std::weak_ptr<ws_session> session_;
  std::size_t max_bytes_;
  std::size_t max_frames_;
  std::size_t bytes_ = 0;
  std::size_t frames_ = 0;
  bool open_ = true;
  bool ended_ = false;
  std::vector<std::function<void()>> waiting_;  ///< `when_writable` callbacks
};

}  // namespace caa::http
