#pragma once

// caa-sandbox-relay: runs inside the agent sandbox as the parent of the CLI. It listens on the
// sandbox's own loopback (where the CLI's tools find their HTTPS proxy) and relays every TCP
// connection, byte for byte, to a new connection to the egress proxy's unix socket bound into
// the sandbox. Plain POSIX: the C and C++ standard libraries only.

#include <poll.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace caa::relay {

/// Most connections relayed at once; more are accepted and closed at once.
inline constexpr std::size_t max_connections = 64;

/// Bytes buffered per direction of one connection.
inline constexpr std::size_t buffer_bytes = 16384;

/// The relayed connections of one listener. Single-threaded, non-blocking descriptors only.
class relay_table {
 public:
  /// Relays connections accepted on `listener` (non-blocking; -1: none) to `socket_path`.
  relay_table(int listener, std::string socket_path);
  /// Closes the listener and every connection.
  ~relay_table();
  relay_table(const relay_table&) = delete;
  relay_table& operator=(const relay_table&) = delete;

  /// Appends what to wait for: the listener, then two entries per connection.
  void add_pollfds(std::vector<pollfd>& fds) const;
  /// Handles what poll reported for the entries `add_pollfds` appended at `first`.
  void on_events(const std::vector<pollfd>& fds, std::size_t first);
  /// Connections open now.
  std::size_t size() const noexcept { return conns_.size(); }

 private:
  struct conn;

  void accept_all();
  void open(int client);
  static void step(conn& c, short tcp_events, short unix_events);

  int listener_;
  std::string path_;
  std::vector<std::unique_ptr<conn>> conns_;
};

}  // namespace caa::relay
