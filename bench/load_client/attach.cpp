#include "bench/load_client/load.hpp"

#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace bench::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr asio::experimental::as_tuple_t<asio::use_awaitable_t<>> use_tuple{};

/// The ids of `--session`: a comma-separated list, or `@FILE` with one id per line.
std::vector<std::string> session_ids(const std::string& arg) {
  std::vector<std::string> ids;
  if (!arg.empty() && arg.front() == '@') {
    std::ifstream in{arg.substr(1)};
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) ids.push_back(line);
    return ids;
  }
  std::size_t start = 0;
  const auto& list = arg;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto id = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!id.empty()) ids.push_back(id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

/// Session `index` of the `--session` ids (read once).
std::string session_of(const std::string& arg, int index) {
  static const auto ids = session_ids(arg);
  return ids.empty() ? std::string{} : ids[static_cast<std::size_t>(index) % ids.size()];
}

}  // namespace

asio::awaitable<void> attach_stream(const options& o, recorder& rec, int index,
                                    int64_t deadline_ns) {
  auto exec = co_await asio::this_coro::executor;
  beast::tcp_stream stream{exec};
  stream.expires_after(timeout_of(o));
  auto [cec] = co_await stream.async_connect({asio::ip::make_address(o.host), o.port}, use_tuple);
  if (cec) {
    rec.error("connect");
    co_return;
  }
  // From now on (an id far ahead of the session's last event): nothing is replayed, the stream
  // waits for live events and keep-alive comments.
  auto req = "GET /api/v1/sessions/" + session_of(o.session_id, index) +
             "/events HTTP/1.1\r\nHost: " + o.host + "\r\nX-API-Key: " + o.key +
             "\r\nAccept: text/event-stream\r\nLast-Event-ID: 1000000000000\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(req), use_tuple);
  if (wec) {
    rec.error("write");
    co_return;
  }
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    auto [rec_ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
    if (rec_ec) {
      rec.error("read_head");
      co_return;
    }
    head.append(buf, n);
  }
  if (head.compare(0, 12, "HTTP/1.1 200") != 0) {
    rec.error(head.size() >= 12 ? head.substr(9, 3) : "bad_head");
    co_return;
  }
  ++rec.requests_ok;  // one stream open
  ++rec.active;
  // Hold it open, reading what comes (keep-alive comments), until the deadline.
  while (now_ns() < deadline_ns) {
    stream.expires_at(std::chrono::steady_clock::now() +
                      std::chrono::nanoseconds{deadline_ns - now_ns()});
    auto [rec_ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_tuple);
    if (rec_ec) {
      if (now_ns() < deadline_ns) rec.error("stream_ended");
      break;
    }
    rec.frames += static_cast<int64_t>(n > 0);
  }
  --rec.active;
}

}  // namespace bench::load
