#pragma once

#include "router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include <memory>

namespace scripted_model {

/// Accepts connections and starts an `http_session` on its own strand for each.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Binds and listens on `endpoint`; throws `boost::system::system_error` on failure.
  listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
           std::shared_ptr<router> r);

  /// The bound port (useful when binding port 0).
  unsigned short port() const;

  /// Starts accepting.
  void run();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<router> router_;
};

}  // namespace scripted_model
