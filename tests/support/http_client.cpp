// The test HTTP clients: one request and response, raw bytes, and an SSE reader.
#include "tests/support/service_fixture.hpp"

#include "tests/support/pg_fixture.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <limits>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace caa::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

/// Connects to 127.0.0.1:`port` with deadline `guard` and writes one request (throws on error).
void send_request(beast::tcp_stream& stream, std::chrono::seconds guard, uint16_t port,
                  const std::string& method, const std::string& target,
                  const std::map<std::string, std::string>& headers, const std::string& body) {
  stream.expires_after(guard);
  stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    if (headers.count("Content-Type") == 0) req.set(bhttp::field::content_type, "application/json");
    req.prepare_payload();
  }
  bhttp::write(stream, req);
}

}  // namespace

std::string http_result::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

http_result http_call(uint16_t port, const std::string& method, const std::string& target,
                      const std::map<std::string, std::string>& headers, const std::string& body) {
  http_result out;
  try {
    asio::io_context io;
    beast::tcp_stream stream{io};
    send_request(stream, std::chrono::seconds{30}, port, method, target, headers, body);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(stream, buf, parser);
    auto& res = parser.get();
    out.status = res.result_int();
    for (auto& f : res) {
      std::string name{f.name_string()};
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string{f.value()};
    }
    out.body = res.body();
  } catch (const std::exception&) {
    out.status = 0;
  }
  return out;
}

std::string raw_exchange(uint16_t port, const std::string& bytes, std::chrono::milliseconds wait) {
  asio::io_context io;
  tcp::socket sock{io};
  boost::system::error_code ec;
  sock.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {};
  asio::write(sock, asio::buffer(bytes), ec);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + wait;
  sock.non_blocking(true);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = sock.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
      continue;
    }
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

// -- sse_call -----------------------------------------------------------------------------------

std::string sse_result::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

namespace {

/// Moves every complete event ("...\n\n") at the front of `pending` into `out`; returns how many
/// it added.
std::size_t take_events(std::string& pending, std::vector<sse_event>& out) {
  std::size_t added = 0;
  for (auto end = pending.find("\n\n"); end != std::string::npos; end = pending.find("\n\n")) {
    std::istringstream block{pending.substr(0, end)};
    pending.erase(0, end + 2);
    sse_event ev;
    bool data = false;
    for (std::string line; std::getline(block, line);) {
      if (line.empty() || line[0] == ':') continue;
      auto colon = line.find(':');
      auto field = line.substr(0, colon);
      auto value = colon == std::string::npos ? std::string{} : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "id")
        ev.id = value;
      else if (field == "event")
        ev.event = value;
      else if (field == "data") {
        ev.data += (data ? "\n" : "") + value;
        data = true;
      }
    }
    if (!data) continue;  // a comment block (keep-alive)
    if (ev.event.empty()) ev.event = "message";
    out.push_back(std::move(ev));
    ++added;
  }
  return added;
}

/// Ends the reads of a blocking stream once `limit` passed: the synchronous reads of a
/// `beast::tcp_stream` ignore its expiry, so a thread shuts the socket down instead (a blocked
/// read then returns). Destroy it before the socket.
class read_guard {
 public:
  read_guard(int fd, std::chrono::seconds limit)
      : thread_{[this, fd, limit] {
          std::unique_lock<std::mutex> g{mtx_};
          if (!cv_.wait_for(g, limit, [this] { return done_; })) ::shutdown(fd, SHUT_RDWR);
        }} {}
  ~read_guard() {
    {
      std::lock_guard<std::mutex> g{mtx_};
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  read_guard(const read_guard&) = delete;
  read_guard& operator=(const read_guard&) = delete;

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

sse_result sse_call(uint16_t port, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body,
                    sse_stop stop, std::chrono::seconds guard, int receive_buffer) {
  sse_result out;
  try {
    asio::io_context io;
    beast::tcp_stream stream{io};
    if (receive_buffer > 0) {  // before connecting: the window it announces follows it
      stream.socket().open(tcp::v4());
      stream.socket().set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    }
    send_request(stream, guard, port, method, target, headers, body);
    read_guard deadline{stream.socket().native_handle(), guard};
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    bhttp::read_header(stream, buf, parser);
    out.status = parser.get().result_int();
    for (auto& f : parser.get()) {
      std::string name{f.name_string()};
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string{f.value()};
    }
    std::string pending;
    char chunk[8192];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      boost::system::error_code ec;
      bhttp::read_some(stream, buf, parser, ec);  // returns as soon as bytes arrive
      if (ec && ec != bhttp::error::need_buffer)
        return out;  // guard, reset, or the server dropped the connection
      auto n = sizeof(chunk) - parser.get().body().size;
      out.body.append(chunk, n);
      pending.append(chunk, n);
      auto first = out.events.size();
      if (take_events(pending, out.events) == 0 || !stop) continue;
      for (auto i = first; i < out.events.size(); ++i)
        if (stop(out.events[i])) {
          out.events.resize(i + 1);
          return out;
        }
    }
    out.ended = true;
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace caa::test
