#include "listener.hpp"

#include "http_session.hpp"

#include <boost/asio/strand.hpp>

#include <iostream>

namespace scripted_model {

listener::listener(net::io_context& ioc, const net::ip::tcp::endpoint& endpoint,
                   std::shared_ptr<router> r)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), router_(std::move(r)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

unsigned short listener::port() const {
  return acceptor_.local_endpoint().port();
}

void listener::run() {
  do_accept();
}

void listener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(beast::error_code ec, net::ip::tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;  // stopped
  if (ec) {
    std::cerr << "scripted_model: accept: " << ec.message() << '\n';
  } else {
    std::make_shared<http_session>(std::move(socket), router_)->run();
  }
  do_accept();
}

}  // namespace scripted_model
