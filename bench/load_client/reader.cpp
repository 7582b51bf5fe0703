#include "bench/load_client/load.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace bench::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr asio::experimental::as_tuple_t<asio::use_awaitable_t<>> use_tuple{};

}  // namespace

asio::awaitable<void> read_loop(const options& o, recorder& rec, int64_t deadline_ns) {
  auto exec = co_await asio::this_coro::executor;
  tcp::endpoint ep{asio::ip::make_address(o.host), o.port};
  beast::tcp_stream stream{exec};
  beast::flat_buffer buf;
  bool connected = false;
  http::request<http::empty_body> req{
      http::verb::get, o.target == "floor" ? "/ping" : "/api/v1/sessions/" + o.session_id, 11};
  req.set(http::field::host, o.host);
  if (!o.key.empty()) req.set("X-API-Key", o.key);
  ++rec.active;
  while (now_ns() < deadline_ns) {
    stream.expires_after(timeout_of(o));
    if (!connected) {
      auto [ec] = co_await stream.async_connect(ep, use_tuple);
      if (ec) {
        rec.error("connect");
        break;
      }
      stream.socket().set_option(tcp::no_delay(true));
      buf.clear();
      connected = true;
    }
    auto sent = now_ns();
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    http::response<http::string_body> res;
    auto [rec_ec, rn] = wec ? std::tuple{wec, std::size_t{0}}
                            : co_await http::async_read(stream, buf, res, use_tuple);
    if (wec || rec_ec) {
      rec.error(wec ? "write" : "read");
      connected = false;
      stream.close();
      continue;
    }
    rec.request_ns.push_back(now_ns() - sent);
    if (res.result_int() == 200)
      ++rec.requests_ok;
    else
      rec.error(std::to_string(res.result_int()));
    if (!res.keep_alive()) {
      connected = false;
      stream.close();
    }
  }
  --rec.active;
}

}  // namespace bench::load
