#pragma once

// Internals of the model proxy: the state its endpoints share, and one client connection.
// Include only from transport/sandbox .cpp files (it pulls in Beast and Asio SSL).
//
// A connection runs on one strand. Per request: read it (header and body, bounded), check route
// and key (answered locally when refused), then one exchange with the upstream on a new
// connection: resolve, connect, TLS, write, read the response header, write it to the client,
// then relay the body chunk by chunk (one read, then one write; never more than one chunk held)
// while the usage scanner reads along. The upstream side of an exchange lives in an
// `upstream_io` that its pending operations keep alive, so an abandoned exchange never touches
// the next one.

#include "transport/sandbox/model_proxy.hpp"
#include "transport/sandbox/proxy_rules.hpp"
#include "transport/sandbox/usage_scanner.hpp"

#include "config/secret.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>

namespace caa::sandbox::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;

/// Shared state of a proxy, its endpoints and their connections.
struct proxy_core {
  /// The state of a proxy on `ctx` towards `c.base_url`; the key moves into `key`.
  proxy_core(net::io_context& ctx, upstream_config c,
             std::function<void(const usage_record&)> report);

  /// Adds `r` to the totals of its tenant, then reports it.
  void record(const usage_record& r);
  /// A copy of the totals.
  std::map<std::string, usage_record> totals() const;

  net::io_context& io;                                ///< where everything runs
  upstream_config cfg;                                ///< with `api_key` emptied
  std::variant<upstream_target, std::string> target;  ///< the upstream, or why not
  caa::secret key;                                    ///< the real key
  net::ssl::context tls;                              ///< verify peer, system CA store
  std::function<void(const usage_record&)> on_usage;  ///< the owner's report

 private:
  mutable std::mutex mtx_;
  std::map<std::string, usage_record> totals_;
};

/// Who an endpoint serves.
struct endpoint_info {
  caa::secret placeholder;  ///< the only key accepted
  std::string tenant_id;    ///< for usage
  std::string session_id;   ///< for usage and logs
};

/// The upstream side of one exchange.
struct upstream_io {
  upstream_io(const net::any_io_executor& ex, const upstream_target& to, net::ssl::context& ctx);

  /// The TCP layer (of the TLS stream when there is one).
  beast::tcp_stream& lowest() noexcept { return tls ? tls->next_layer() : *plain; }
  /// Calls `f` with the stream requests and responses go through.
  template <class F>
  void with_stream(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*plain);
  }
  /// Cancels everything pending and closes the connection.
  void close() noexcept;

  tcp::resolver resolver;                                            ///< the upstream's name
  bhttp::request<bhttp::string_body> request;                        ///< what is forwarded
  std::optional<beast::tcp_stream> plain;                            ///< http
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;           ///< https
  beast::flat_buffer buffer;                                         ///< response bytes read ahead
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;  ///< the response
  std::array<char, 16384> chunk{};                                   ///< one body chunk in transit
  bool connected = false;                                            ///< past connect and TLS
};

/// One client connection on an endpoint.
class proxy_connection : public std::enable_shared_from_this<proxy_connection> {
 public:
  /// The client side: a unix stream socket with Beast's timeouts.
  using client_stream = beast::basic_stream<local, net::any_io_executor>;

  proxy_connection(local::socket socket, std::shared_ptr<proxy_core> core,
                   std::shared_ptr<const endpoint_info> info,
                   std::shared_ptr<std::atomic<std::size_t>> active);
  ~proxy_connection();

  /// Starts reading requests on the connection's strand.
  void run();
  /// Ends the connection and its exchange; thread-safe.
  void shutdown();

 private:
  // The client side (proxy_connection.cpp).
  void do_read_request();
  void on_read_request(beast::error_code ec);
  void refuse(bhttp::status status, std::string_view type, std::string_view message,
              bool close_after = false);
  void on_refused(beast::error_code ec, bool close_after);
  void close();

  // The upstream side (proxy_upstream.cpp).
  void start_exchange();
  void on_connect_deadline(const std::shared_ptr<upstream_io>& up, beast::error_code ec);
  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results);
  void on_connect(beast::error_code ec, const tcp::endpoint& peer);
  void do_handshake();
  void on_handshake(beast::error_code ec);
  void do_forward();
  void on_forward(beast::error_code ec, std::size_t n);
  void do_read_head();
  void on_read_head(beast::error_code ec, std::size_t n);
  void upstream_failed(std::string_view what, const beast::error_code& ec);

  // The relay of the response (proxy_relay.cpp).
  void do_write_head();
  void on_write_head(beast::error_code ec);
  void do_read_body();
  void on_read_body(beast::error_code ec, std::size_t n);
  void do_write_body(std::size_t n);
  void on_write_body(beast::error_code ec);
  void do_write_last();
  void on_write_last(beast::error_code ec);
  void end_exchange();

  /// Wraps a member completion of the current exchange: dropped when the exchange is over.
  template <class... Args>
  auto upstream_handler(void (proxy_connection::*fn)(beast::error_code, Args...));

  std::shared_ptr<proxy_core> core_;
  std::shared_ptr<const endpoint_info> info_;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  client_stream client_;
  beast::flat_buffer client_buffer_;
  net::steady_timer connect_deadline_;
  std::optional<bhttp::request_parser<bhttp::string_body>> request_;
  bhttp::response<bhttp::string_body> refusal_;
  std::shared_ptr<upstream_io> up_;
  bhttp::response<bhttp::empty_body> head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> head_writer_;
  std::optional<usage_scanner> scanner_;
  usage_record usage_;
  bool usage_pending_ = false;  ///< the exchange has not been recorded yet
  bool responded_ = false;      ///< the response head went (no more local answers)
  bool chunked_ = false;        ///< the body goes to the client chunked
  bool keep_alive_ = false;     ///< the client wants another request after this one
  bool head_request_ = false;   ///< the request is a HEAD: answers carry no body
  bool closed_ = false;
};

template <class... Args>
auto proxy_connection::upstream_handler(void (proxy_connection::*fn)(beast::error_code, Args...)) {
  return [self = shared_from_this(), up = up_, fn](beast::error_code ec, Args... args) {
    if (self->closed_ || up != self->up_) return;
    ((*self).*fn)(ec, std::forward<Args>(args)...);
  };
}

/// One listening unix socket and its connections.
class proxy_endpoint : public std::enable_shared_from_this<proxy_endpoint> {
 public:
  proxy_endpoint(std::shared_ptr<proxy_core> core, std::shared_ptr<const endpoint_info> info,
                 std::string path);

  /// Creates the socket file (0600, owned by `uid`/`gid` when not -1) and listens.
  caf::error open(int uid, int gid);
  /// Starts accepting.
  void start();
  /// Removes the socket file, stops accepting and ends every connection; thread-safe.
  void close();

 private:
  void do_accept();
  void on_accept(beast::error_code ec, local::socket socket);
  void serve(local::socket socket);
  caf::error fail(std::string_view what, const beast::error_code& ec);

  std::shared_ptr<proxy_core> core_;
  std::shared_ptr<const endpoint_info> info_;
  std::string path_;
  local::acceptor acceptor_;
  net::steady_timer retry_;
  std::shared_ptr<std::atomic<std::size_t>> active_;
  std::mutex mtx_;
  bool closed_ = false;
  std::vector<std::weak_ptr<proxy_connection>> connections_;
  uint64_t dev_ = 0;  ///< identity of the socket file we created
  uint64_t ino_ = 0;
};

}  // namespace caa::sandbox::detail
