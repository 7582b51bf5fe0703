#pragma once

// Internals of the egress proxy: the state its endpoints share, one tunnel, one endpoint.
// Include only from transport/sandbox .cpp files (it pulls in Asio).
//
// A tunnel runs on one strand: read the request head (bounded, with a deadline), check it
// (answered locally and closed when refused), resolve, check every address, connect to a
// checked one, answer 200, then splice: per direction one read into its own buffer, then one
// write of what was read, then the next read. An end of stream on one side shuts down sending
// on the other; the tunnel closes when both directions ended, on any error, or when no byte
// moved for `idle_timeout`.

#include "transport/sandbox/egress_proxy.hpp"
#include "transport/sandbox/egress_rules.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <mutex>

namespace caa::sandbox::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
using error_code = boost::system::error_code;

/// Shared state of a proxy, its endpoints and their tunnels.
struct egress_core {
  net::io_context& io;  ///< where everything runs
  egress_config cfg;    ///< with `address_check` set
};

/// One client connection on an endpoint: a CONNECT request, then its tunnel.
class egress_tunnel : public std::enable_shared_from_this<egress_tunnel> {
 public:
  egress_tunnel(local::socket client, std::shared_ptr<const egress_core> core,
                std::shared_ptr<const std::string> tenant_id,
                std::shared_ptr<std::atomic<std::size_t>> active);
  ~egress_tunnel();

  /// Starts reading the request on the tunnel's strand.
  void run();
  /// Ends the tunnel; thread-safe.
  void shutdown();

 private:
  enum class phase : uint8_t { head, connecting, answering, splicing, refusing, closed };
  /// The bytes of one direction in transit.
  struct flow {
    std::array<char, 16384> buf{};  ///< one read's worth
    bool ended = false;             ///< the source ended its stream
  };

  // The request and the connection to the target (egress_tunnel.cpp).
  void do_read_head();
  void on_read_head(error_code ec, std::size_t n);
  void do_resolve();
  void on_resolve(error_code ec, const tcp::resolver::results_type& results);
  void on_connect(error_code ec);
  void refuse(unsigned status, std::string_view log_msg);
  void on_refused(error_code ec);
  void arm(std::chrono::steady_clock::duration d);
  void on_deadline(error_code ec);
  void close();

  // The splice (egress_splice.cpp).
  void do_answer();
  void on_answer(error_code ec);
  void do_read(std::size_t dir);
  void on_read(std::size_t dir, error_code ec, std::size_t n);
  void do_write(std::size_t dir, std::size_t n);
  void on_write(std::size_t dir, error_code ec);
  void end_flow(std::size_t dir);

  /// Calls `f` with the client (side 0) or the upstream (side 1).
  template <class F>
  void with_side(std::size_t side, F&& f) {
    if (side == 0)
      f(client_);
    else
      f(upstream_);
  }

  std::shared_ptr<const egress_core> core_;
  std::shared_ptr<const std::string> tenant_id_;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  local::socket client_;
  tcp::socket upstream_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  std::string head_;           ///< the request head and any bytes read past it
  std::size_t head_size_ = 0;  ///< through the empty line
  connect_target target_;
  std::string response_;       ///< the local answer in flight
  std::array<flow, 2> flows_;  ///< [0] client -> upstream, [1] upstream -> client
  std::chrono::steady_clock::time_point last_active_;
  phase phase_ = phase::head;
};

/// One listening unix socket and its tunnels.
class egress_endpoint : public std::enable_shared_from_this<egress_endpoint> {
 public:
  egress_endpoint(std::shared_ptr<const egress_core> core, std::string tenant_id, std::string path);

  /// Creates the socket file (0600, owned by `uid`/`gid` when not -1) and listens.
  caf::error open(int uid, int gid);
  /// Starts accepting.
  void start();
  /// Removes the socket file, stops accepting and ends every tunnel; thread-safe.
  void close();

 private:
  void do_accept();
  void on_accept(error_code ec, local::socket socket);
  void serve(local::socket socket);
  caf::error fail(std::string_view what, const error_code& ec);

  std::shared_ptr<const egress_core> core_;
  std::shared_ptr<const std::string> tenant_id_;
  std::string path_;
  local::acceptor acceptor_;
  net::steady_timer retry_;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  std::mutex mtx_;
  bool closed_ = false;
  std::vector<std::weak_ptr<egress_tunnel>> tunnels_;
  uint64_t dev_ = 0;  ///< identity of the socket file we created
  uint64_t ino_ = 0;
};

}  // namespace caa::sandbox::detail
