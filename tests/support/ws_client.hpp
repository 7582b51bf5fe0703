#pragma once

// A WebSocket test client (Beast): every call is BLOCKING with a deadline, so a test never hangs
// on a server that stops answering.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace caa::test {

/// The outcome of an opening handshake.
struct ws_handshake {
  unsigned status = 0;  ///< 101 on success; the HTTP status of a refusal; 0: no answer
  std::string body;     ///< the body of a refusal (the error envelope)
  std::map<std::string, std::string> headers;  ///< lower-cased names
};

/// One message read, or why none was.
struct ws_message {
  bool ok = false;         ///< a message was read
  bool binary = false;     ///< it was a binary message
  std::string text;        ///< its payload
  bool closed = false;     ///< the connection ended instead (see `ws_client::close_code`)
  bool timed_out = false;  ///< nothing arrived within the deadline
};

/// One client connection to 127.0.0.1.
class ws_client {
 public:
  ws_client();
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Connects to `port` and asks to upgrade `target` with `headers`. `receive_buffer` > 0 sets a
  /// small socket receive buffer first (to make a reader that stops reading look slow early).
  ws_handshake connect(uint16_t port, const std::string& target,
                       const std::map<std::string, std::string>& headers = {},
                       int receive_buffer = 0,
                       std::chrono::milliseconds guard = std::chrono::seconds{30});

  /// Sends a text message; false when the connection is gone.
  bool send_text(const std::string& text);
  /// Sends a binary message; false when the connection is gone.
  bool send_binary(const std::string& bytes);
  /// Reads the next message (answering pings on the way) within `guard`.
  ws_message read(std::chrono::milliseconds guard = std::chrono::seconds{30});
  /// Sends a close frame with code 1000 and waits (bounded) for the server's.
  void close();

  /// The close code the server sent (0: none yet, or the connection broke without one).
  uint16_t close_code() const;
  /// The reason the server gave with its close frame.
  std::string close_reason() const;
  /// Whether the connection ended.
  bool closed() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caa::test
