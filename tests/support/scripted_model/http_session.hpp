#pragma once

#include "router.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

namespace scripted_model {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

/// One HTTP/1.1 keep-alive connection. Reads a request, asks the router, writes the response:
/// complete, or as an SSE stream in chunked encoding with the scripted pauses. A client that
/// goes away mid-stream just ends the session. All handlers run on the connection's strand.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  /// Takes ownership of an accepted socket.
  http_session(net::ip::tcp::socket&& socket, std::shared_ptr<router> r);

  /// Starts reading requests.
  void run();

 private:
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  void on_delay(beast::error_code ec);
  void do_write_complete();
  void on_write_complete(beast::error_code ec, std::size_t bytes);
  void do_write_stream_header();
  void on_write_stream_header(beast::error_code ec, std::size_t bytes);
  void do_next_event();
  void do_write_event(std::size_t end);
  void on_write_event(beast::error_code ec, std::size_t bytes, std::size_t end);
  void on_write_last_chunk(beast::error_code ec, std::size_t bytes);
  void finish_response();
  void do_close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<router> router_;
  net::steady_timer timer_;
  response_plan plan_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  std::size_t next_event_ = 0;
  std::string batch_;
  std::optional<http::response<http::string_body>> complete_;
  std::optional<http::response<http::empty_body>> header_;
  std::optional<http::response_serializer<http::empty_body>> header_sr_;
};

}  // namespace scripted_model
