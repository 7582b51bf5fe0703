// The WebSocket test client: asynchronous Beast operations driven to completion with a deadline
// (`io_context::run_for`), so every call returns.

#include "tests/support/ws_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cctype>

namespace caa::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct ws_client::impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool open = false;
  bool ended = false;

  /// Runs the io_context until `done` or `guard` passes; on timeout the socket is closed and
  /// the pending operation is drained.
  bool drive(const bool& done, std::chrono::milliseconds guard) {
    ioc.restart();
    ioc.run_for(guard);
    if (done) return true;
    beast::get_lowest_layer(ws).close();
    ioc.restart();
    ioc.run_for(std::chrono::seconds{5});
    return false;
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}

ws_client::~ws_client() {
  if (impl_->open && !impl_->ended) close();
}

ws_handshake ws_client::connect(uint16_t port, const std::string& target,
                                const std::map<std::string, std::string>& headers,
                                int receive_buffer, std::chrono::milliseconds guard) {
  ws_handshake out;
  auto& sock = beast::get_lowest_layer(impl_->ws).socket();
  boost::system::error_code ec;
  sock.open(tcp::v4(), ec);
  if (ec) return out;
  if (receive_buffer > 0) sock.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
  sock.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return out;
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  impl_->ws.read_message_max(64u << 20);
  websocket::response_type res;
  bool done = false;
  boost::system::error_code hs_ec;
  impl_->ws.async_handshake(res, "127.0.0.1", target, [&](boost::system::error_code e) {
    hs_ec = e;
    done = true;
  });
  if (!impl_->drive(done, guard)) return out;
  out.status = res.result_int();
  out.body = res.body();
  for (const auto& f : res) {
    std::string name{f.name_string()};
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string{f.value()};
  }
  impl_->open = !hs_ec && out.status == 101;
  return out;
}

bool ws_client::send_text(const std::string& text) {
  if (!impl_->open || impl_->ended) return false;
  impl_->ws.text(true);
  bool done = false;
  boost::system::error_code ec;
  impl_->ws.async_write(asio::buffer(text), [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!impl_->drive(done, std::chrono::seconds{30}) || ec) impl_->ended = true;
  return !impl_->ended;
}

bool ws_client::send_binary(const std::string& bytes) {
  if (!impl_->open || impl_->ended) return false;
  impl_->ws.binary(true);
  bool done = false;
  boost::system::error_code ec;
  impl_->ws.async_write(asio::buffer(bytes), [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!impl_->drive(done, std::chrono::seconds{30}) || ec) impl_->ended = true;
  impl_->ws.text(true);
  return !impl_->ended;
}

ws_message ws_client::read(std::chrono::milliseconds guard) {
  ws_message out;
  if (!impl_->open || impl_->ended) {
    out.closed = true;
    return out;
  }
  bool done = false;
  boost::system::error_code ec;
  impl_->ws.async_read(impl_->buffer, [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!impl_->drive(done, guard)) {
    impl_->ended = true;
    out.timed_out = true;
    return out;
  }
  if (ec) {
    impl_->ended = true;
    out.closed = true;
    return out;
  }
  out.ok = true;
  out.binary = impl_->ws.got_binary();
  out.text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return out;
}

void ws_client::close() {
  if (!impl_->open || impl_->ended) return;
  impl_->ended = true;
  bool done = false;
  impl_->ws.async_close(websocket::close_code::normal,
                        [&](boost::system::error_code) { done = true; });
  impl_->drive(done, std::chrono::seconds{5});
}

uint16_t ws_client::close_code() const {
  return impl_->ws.reason().code;
}

std::string ws_client::close_reason() const {
  return std::string{impl_->ws.reason().reason.c_str()};
}

bool ws_client::closed() const {
  return impl_->ended;
}

}  // namespace caa::test
