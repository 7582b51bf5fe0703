#pragma once

// Helpers of the model proxy integration tests: a scriptable fake upstream on 127.0.0.1 (its
// own io_context and thread, coroutine per connection, records every request) and a client
// over a unix socket whose every operation has a deadline. Everything stops by itself.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "transport/sandbox/model_proxy.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace caa::sandbox::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
using namespace std::chrono_literals;

/// One request as the fake upstream saw it (header names lower-case).
struct seen_request {
  std::string method;                          ///< e.g. "POST"
  std::string target;                          ///< path and query
  std::map<std::string, std::string> headers;  ///< lower-case name -> value
  std::string body;                            ///< the body
};

/// A fake Anthropic upstream on 127.0.0.1:0.
class fake_upstream {
 public:
  /// Answers one request on `stream`.
  using responder = std::function<net::awaitable<void>(fake_upstream&, beast::tcp_stream&,
                                                       const http::request<http::string_body>&)>;

  explicit fake_upstream(responder r);
  ~fake_upstream();
  fake_upstream(const fake_upstream&) = delete;
  fake_upstream& operator=(const fake_upstream&) = delete;

  /// `http://127.0.0.1:<port>`.
  std::string base_url() const;
  /// The requests seen so far.
  std::vector<seen_request> requests() const;
  /// Lets a responder waiting in `wait_release` go on.
  void release() { released_ = true; }
  /// Waits (polling) until `release` or `limit`; true when released.
  net::awaitable<bool> wait_release(std::chrono::milliseconds limit);

  /// Writes a complete response with a Content-Length.
  static net::awaitable<void> reply(beast::tcp_stream& s, unsigned status, std::string type,
                                    std::string body);
  /// Writes a chunked response header.
  static net::awaitable<void> begin_chunked(beast::tcp_stream& s, std::string type);
  /// Writes one chunk.
  static net::awaitable<void> chunk(beast::tcp_stream& s, const std::string& data);
  /// Writes the last chunk.
  static net::awaitable<void> end_chunked(beast::tcp_stream& s);

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(beast::tcp_stream stream);

  net::io_context io_;
  tcp::acceptor acceptor_;
  responder responder_;
  std::atomic<bool> released_{false};
  mutable std::mutex mtx_;
  std::vector<seen_request> requests_;
  std::thread thread_;
};

/// A client of a proxy endpoint; every call gives up after `timeout`.
class unix_client {
 public:
  /// Connects to `path`; `connected()` tells whether it worked.
  explicit unix_client(const std::string& path, std::chrono::seconds timeout = 10s);

  /// Whether the connect succeeded.
  bool connected() const { return !connect_error_; }
  /// Writes `req` (prepare_payload is called).
  beast::error_code send(http::request<http::string_body> req);
  /// Reads one whole response (to a HEAD request: without a body).
  beast::error_code receive(http::response<http::string_body>& res, bool to_head = false);
  /// Reads the next response until its body contains `needle` (or it ends, or fails).
  beast::error_code receive_until(std::string_view needle);
  /// Reads the rest of the response started by `receive_until`.
  beast::error_code receive_rest(http::response<http::string_body>& res);
  /// The body received so far by `receive_until`.
  const std::string& partial_body() { return parser_->get().body(); }
  /// Reads anything: the error at the end (eof when the proxy closed cleanly).
  beast::error_code read_to_end();

 private:
  template <class Op>
  beast::error_code run(Op&& op);

  net::io_context io_;
  beast::basic_stream<local> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::chrono::seconds timeout_;
  beast::error_code connect_error_;
};

/// A Messages API request with the usual CLI headers and `key` as x-api-key (none when empty).
http::request<http::string_body> messages_request(std::string target, std::string key,
                                                  std::string body);

/// Polls `done` for up to `limit`; its last value.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms);

/// A realistic SSE stream: message_start (input 25, cache creation 7, cache read 3), text
/// deltas, message_delta (output 42), message_stop; split into events.
std::vector<std::string> sse_events();

/// The real key of the tests' operator.
inline constexpr std::string_view real_key = "sk-ant-api03-operator-real-key";

/// A proxy on two I/O threads, its usage reports, a private temp dir for sockets.
class proxy_fixture : public ::testing::Test {
 protected:
  proxy_fixture();
  ~proxy_fixture() override;

  /// Starts the proxy towards `base_url`; `tune` may change the config first.
  model_proxy& start(std::string base_url,
                     const std::function<void(upstream_config&)>& tune = nullptr);
  /// Opens an endpoint at `socket(name)`; fails the test when it cannot.
  std::shared_ptr<void> open(const std::string& name, const std::string& placeholder,
                             const std::string& tenant = "tenant-a",
                             const std::string& session = "session-1");
  /// The socket path of `name` in the temp dir.
  std::string socket(const std::string& name) const { return (dir_ / name).string(); }
  /// The usage reports so far.
  std::vector<usage_record> records() const;
  /// Waits until there are `n` usage reports.
  bool await_records(std::size_t n) const;

  std::filesystem::path dir_;
  std::shared_ptr<model_proxy> proxy_;

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  mutable std::mutex mtx_;
  std::vector<usage_record> records_;
};

}  // namespace caa::sandbox::testing
