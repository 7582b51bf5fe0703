// floor: the physical floor of the benchmark, a zero-cost proxy. For each loopback client it
// runs the fake CLI as a child (as the service does, minus everything the service adds) and
// writes each stdout line of it as one SSE frame (`data: <line>\n\n`, one chunk, one write).
//
//   floor --cli /abs/path/fake_cli [--port 0] [--port-file F]
//
//   POST /turn   body = the prompt ("bench events=100 bytes=200 rate=0"); the first request of
//                a connection starts the fake CLI (initialize + the user message), later ones
//                are warm turns of the same process; the response (chunked SSE) ends after the
//                `result` line. Closing the connection closes the CLI's stdin (it exits).
//                `POST /turn?partial=1` (the connection's first turn) starts the fake CLI with
//                `--include-partial-messages`: its events are `stream_event` text deltas.
//   GET /ping    a small JSON answer: the floor of request latency.

#include "bench/floor/child.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>
#include <csignal>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using tuple_awaitable = asio::experimental::as_tuple_t<asio::use_awaitable_t<>>;

namespace {

constexpr tuple_awaitable use_tuple{};

struct config {
  std::string cli;
  unsigned short port = 0;
  std::string port_file;
};

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string user_message(std::string_view prompt) {
  return R"({"type":"user","message":{"role":"user","content":)" + json_quote(prompt) +
         R"(},"parent_tool_use_id":null,"session_id":""})";
}

/// The chunk of one SSE frame carrying `line`.
std::string sse_chunk(std::string_view line) {
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", line.size() + 8);
  std::string out = size;
  out.append("data: ").append(line).append("\n\n\r\n");
  return out;
}

/// Streams the child's lines up to the turn's `result` line; false when the client or the
/// child is gone.
asio::awaitable<bool> stream_turn(tcp::socket& sock, asio::posix::stream_descriptor& out,
                                  std::string& pending) {
  static const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(sock, asio::buffer(head), use_tuple);
  if (ec) co_return false;
  for (;;) {
    auto [rec, len] =
        co_await asio::async_read_until(out, asio::dynamic_buffer(pending), '\n', use_tuple);
    if (rec) co_return false;
    std::string_view line{pending.data(), len - 1};
    bool is_result = line.starts_with(R"({"type":"result")");
    if (!line.starts_with(R"({"type":"control_response")")) {
      auto chunk = sse_chunk(line);
      if (is_result) chunk += "0\r\n\r\n";
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(chunk), use_tuple);
      if (wec) co_return false;
    }
    pending.erase(0, len);
    if (is_result) co_return true;
  }
}

asio::awaitable<void> serve(tcp::socket sock, const config& cfg) {
  sock.set_option(tcp::no_delay(true));
  beast::flat_buffer buf;
  bench::floor::child cli;
  std::optional<asio::posix::stream_descriptor> out;
  std::string pending;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(sock, buf, req, use_tuple);
    if (ec) break;
    if (req.method() == http::verb::get) {
      static const std::string pong =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: 15\r\n\r\n{\"status\":\"ok\"}";
      auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(pong), use_tuple);
      if (wec) break;
      continue;
    }
    if (cli.pid < 0) {
      std::vector<std::string> argv{cfg.cli,     "--output-format", "stream-json",
                                    "--verbose", "--input-format",  "stream-json"};
      if (req.target().find("partial=1") != std::string_view::npos)
        argv.emplace_back("--include-partial-messages");
      cli = bench::floor::spawn_child(argv);
      if (cli.pid < 0) break;
      out.emplace(sock.get_executor(), cli.stdout_fd);
      bench::floor::write_all(cli.stdin_fd, R"({"type":"control_request","request_id":"f1",)"
                                            R"("request":{"subtype":"initialize"}})");
    }
    if (!bench::floor::write_all(cli.stdin_fd, user_message(req.body()))) break;
    if (!co_await stream_turn(sock, *out, pending)) break;
  }
  if (cli.stdin_fd >= 0) ::close(cli.stdin_fd);  // the CLI exits at EOF; SIGCHLD reaps it
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc, const config& cfg) {
  for (;;) {
    auto [ec, sock] = co_await acc.async_accept(use_tuple);
    if (ec) co_return;
    asio::co_spawn(acc.get_executor(), serve(std::move(sock), cfg), asio::detached);
  }
}

asio::awaitable<void> reap_loop(asio::signal_set& sigs) {
  for (;;) {
    auto [ec, sig] = co_await sigs.async_wait(use_tuple);
    if (ec) co_return;
    if (sig == SIGCHLD) {
      bench::floor::reap_children();
    } else {
      sigs.get_executor().target<asio::io_context::executor_type>()->context().stop();
      co_return;
    }
  }
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    if (k == "--cli")
      c.cli = argv[i + 1];
    else if (k == "--port")
      c.port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
    else if (k == "--port-file")
      c.port_file = argv[i + 1];
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  auto cfg = parse(argc, argv);
  if (cfg.cli.empty() || cfg.cli[0] != '/') {
    std::cerr << "usage: floor --cli /abs/path/fake_cli [--port N] [--port-file F]\n";
    return 2;
  }
  asio::io_context io{1};
  tcp::acceptor acc{io, {asio::ip::make_address("127.0.0.1"), cfg.port}};
  acc.listen(4096);
  auto port = acc.local_endpoint().port();
  if (!cfg.port_file.empty()) std::ofstream{cfg.port_file} << port << "\n";
  std::cerr << "floor listening on 127.0.0.1:" << port << "\n";
  asio::signal_set sigs{io, SIGCHLD, SIGINT, SIGTERM};
  ::signal(SIGPIPE, SIG_IGN);
  asio::co_spawn(io, accept_loop(acc, cfg), asio::detached);
  asio::co_spawn(io, reap_loop(sigs), asio::detached);
  io.run();
  return 0;
}
