#pragma once

// One POST of the outbound client: resolve, check every address, connect to a checked address,
// TLS, write, read a capped response; a single deadline covers it all. Runs on its own strand.

#include "transport/outbound/client.hpp"
#include "transport/outbound/guard.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <memory>
#include <optional>

namespace caa::outbound {

/// Shared state of a client and its running exchanges.
struct client::core {
  boost::asio::io_context& io;           ///< where everything runs
  egress_policy policy;                  ///< what may be reached
  resolver_fn resolver;                  ///< the system resolver when empty
  boost::asio::ssl::context tls;         ///< verify peer, system CA store
  std::atomic<uint64_t> connections{0};  ///< connections opened so far
};

namespace detail {

/// One POST, from resolution to the result.
class exchange : public std::enable_shared_from_this<exchange> {
 public:
  using strand_type = boost::asio::strand<boost::asio::io_context::executor_type>;

  exchange(std::shared_ptr<client::core> core, url_parts url, post_request req,
           std::function<void(post_result)> done);

  /// Starts the exchange on its strand.
  void start();

 private:
  void do_resolve();
  void on_resolve(bool ok, const std::vector<std::string>& addresses);
  void do_connect(const std::vector<ip_bytes>& addresses);
  void on_connect(boost::system::error_code ec);
  void do_handshake();
  void on_handshake(boost::system::error_code ec);
  void do_write();
  void on_write(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec);
  void on_deadline(boost::system::error_code ec);

  /// Delivers `r` once, then closes everything.
  void finish(post_result r);
  /// Delivers just `f`.
  void fail(failure f) { finish(post_result{f, 0, {}, {}}); }

  std::shared_ptr<client::core> core_;
  url_parts url_;
  post_request req_;
  std::function<void(post_result)> done_;
  strand_type strand_;
  boost::asio::steady_timer deadline_;
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
  boost::beast::flat_buffer buffer_;
  bool resolved_ = false;
  bool finished_ = false;
};

}  // namespace detail

}  // namespace caa::outbound
