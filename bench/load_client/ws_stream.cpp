#include "bench/load_client/load.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>

namespace bench::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr asio::experimental::as_tuple_t<asio::use_awaitable_t<>> use_tuple{};

std::string prompt_frame(const options& o, const std::string& session_id) {
  std::string out = R"({"type":"prompt","prompt":")" + prompt_text(o) + "\"";
  if (!session_id.empty()) out += R"(,"session_id":")" + session_id + "\"";
  if (o.partial) out += R"(,"include_partial_messages":true)";
  if (!o.durability.empty()) out += R"(,"durability":")" + o.durability + "\"";
  return out + "}";
}

/// Reads frames until the turn's `done` event; false when the stream must stop.
asio::awaitable<bool> read_ws_turn(websocket::stream<beast::tcp_stream>& ws, turn_reader& reader,
                                   recorder& rec, const options& o) {
  beast::flat_buffer buf;
  for (;;) {
    beast::get_lowest_layer(ws).expires_after(timeout_of(o));
    auto [ec, n] = co_await ws.async_read(buf, use_tuple);
    auto arrival = now_ns();
    if (ec) {
      rec.error(ec == beast::error::timeout ? "timeout" : "ws_read");
      co_return false;
    }
    std::string_view frame{static_cast<const char*>(buf.data().data()), buf.size()};
    if (frame.find(R"("type":"error")") != std::string_view::npos &&
        frame.find(R"("type":"event")") == std::string_view::npos) {
      rec.error("ws_error_frame");
      co_return false;
    }
    if (frame.find(R"("type":"event")") != std::string_view::npos)
      reader.on_payload(frame, arrival);
    if (frame.find(R"("event":"done")") != std::string_view::npos) {
      reader.saw_done = true;
      reader.finish(arrival);
      co_return true;
    }
    buf.consume(buf.size());
  }
}

}  // namespace

asio::awaitable<void> ws_stream(const options& o, recorder& rec, int index) {
  auto exec = co_await asio::this_coro::executor;
  websocket::stream<beast::tcp_stream> ws{exec};
  tcp::endpoint ep{asio::ip::make_address(o.host), o.port};
  ++rec.active;
  auto& low = beast::get_lowest_layer(ws);
  low.expires_after(timeout_of(o));
  auto [cec] = co_await low.async_connect(ep, use_tuple);
  if (cec) {
    rec.error("connect");
    --rec.active;
    co_return;
  }
  low.socket().set_option(tcp::no_delay(true));
  low.expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws.set_option(websocket::stream_base::decorator([&o](websocket::request_type& req) {
    if (!o.key.empty()) req.set("X-API-Key", o.key);
  }));
  websocket::response_type res;
  auto [hec] = co_await ws.async_handshake(res, o.host, "/api/v1/ws", use_tuple);
  if (hec) {
    // A refused upgrade: the status says why (404 when the route does not exist yet).
    rec.error(res.result_int() != 0 ? std::to_string(res.result_int()) : "ws_handshake");
    --rec.active;
    co_return;
  }
  std::string session_id;
  for (int turn = 0; turn < o.turns; ++turn) {
    turn_reader reader{rec, now_ns(), turn > 0};
    auto [wec, wn] = co_await ws.async_write(asio::buffer(prompt_frame(o, session_id)), use_tuple);
    if (wec) {
      rec.error("ws_write");
      break;
    }
    if (!co_await read_ws_turn(ws, reader, rec, o)) break;
    if (!reader.session_id.empty()) session_id = reader.session_id;
  }
  auto [clec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
  (void)clec;
  --rec.active;
}

}  // namespace bench::load
