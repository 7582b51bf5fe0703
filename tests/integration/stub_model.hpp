// A minimal fake of the Anthropic Messages API for driver tests: the first model call of a turn
// answers with one Bash tool_use running `command`, the call carrying its tool_result with
// text "done". Plain blocking sockets, one thread per connection, `Connection: close`. The
// project's full fake is tests/support/scripted_model; this one only keeps the driver's tests
// self-contained.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace caa::claude::test {

class stub_model {
 public:
  explicit stub_model(std::string command) : command_(std::move(command)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread{[this] { accept_loop(); }};
  }

  ~stub_model() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard<std::mutex> guard{mtx_};
    for (int fd : clients_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int fd : clients_) ::close(fd);
  }

  /// The loopback port (0 when the socket could not be set up).
  uint16_t port() const { return port_; }

  /// How many /v1/messages calls were answered.
  int message_calls() const { return message_calls_.load(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> guard{mtx_};
      clients_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  /// Reads one request (headers and Content-Length body), answers it, closes.
  void serve(int fd) {
    std::string req;
    char buf[65536];
    size_t body_at = std::string::npos;
    size_t want = 0;
    while (true) {
      if (body_at == std::string::npos && (body_at = req.find("\r\n\r\n")) != std::string::npos) {
        body_at += 4;
        want = content_length(req.substr(0, body_at));
      }
      if (body_at != std::string::npos && req.size() >= body_at + want) break;
      auto n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    auto reply =
        answer(req.substr(0, req.find(' ')), req.substr(0, req.find("\r\n")), req.substr(body_at));
    for (size_t off = 0; off < reply.size();) {
      auto n = ::write(fd, reply.data() + off, reply.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
  }

  static size_t content_length(std::string headers) {
    for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto at = headers.find("content-length:");
    return at == std::string::npos ? 0 : std::stoul(headers.substr(at + 15));
  }

  std::string answer(const std::string& method, const std::string& request_line,
                     const std::string& body) {
    if (method != "POST") return response("404 Not Found", "text/plain", "");
    if (request_line.find("count_tokens") != std::string::npos)
      return response("200 OK", "application/json", R"({"input_tokens":10})");
    ++message_calls_;
    bool tool_done = body.find("\"tool_result\"") != std::string::npos;
    return response("200 OK", "text/event-stream", tool_done ? text_stream() : tool_stream());
  }

  static std::string response(const std::string& status, const std::string& type,
                              const std::string& body) {
    return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
           "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  }

  static std::string event(const std::string& name, const std::string& data) {
    return "event: " + name + "\ndata: " + data + "\n\n";
  }

  static std::string stream(const std::string& block, const std::string& delta,
                            const std::string& stop_reason) {
    return event("message_start",
                 R"({"type":"message_start","message":{"id":"msg_stub","type":"message",)"
                 R"("role":"assistant","model":"claude-stub","content":[],"stop_reason":null,)"
                 R"("stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}})") +
           event("content_block_start",
                 R"({"type":"content_block_start","index":0,"content_block":)" + block + "}") +
           event("content_block_delta",
                 R"({"type":"content_block_delta","index":0,"delta":)" + delta + "}") +
           event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
           event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" +
                                      stop_reason +
                                      R"(","stop_sequence":null},"usage":{"output_tokens":2}})") +
           event("message_stop", R"({"type":"message_stop"})");
  }

  std::string tool_stream() const {
    std::string input = R"({\"command\":\")" + command_ + R"(\",\"description\":\"stub\"})";
    return stream(R"({"type":"tool_use","id":"toolu_stub","name":"Bash","input":{}})",
                  R"({"type":"input_json_delta","partial_json":")" + input + "\"}", "tool_use");
  }

  static std::string text_stream() {
    return stream(R"({"type":"text","text":""})", R"({"type":"text_delta","text":"done"})",
                  "end_turn");
  }

  std::string command_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> message_calls_{0};
  std::thread acceptor_;
  std::mutex mtx_;
  std::vector<int> clients_;
  std::vector<std::thread> workers_;
};

}  // namespace caa::claude::test
