#pragma once

// Helpers of the egress tests: blocking sockets with deadlines, echo servers on 127.0.0.1 and
// on unix sockets, the relay binary as a child process, a private temp dir. Loopback only;
// everything stops by itself.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace caa::sandbox::testing {

using namespace std::chrono_literals;

/// A private directory under the system temp dir, removed with its contents.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// `name` inside the directory.
  std::string path(std::string_view name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

/// An owned descriptor.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  ~fd_guard();
  fd_guard(fd_guard&& other) noexcept : fd_(other.release()) {}
  fd_guard& operator=(fd_guard&& other) noexcept;

  /// The descriptor (-1: none).
  int get() const noexcept { return fd_; }
  /// Gives up ownership.
  int release() noexcept { return std::exchange(fd_, -1); }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_;
};

/// A blocking TCP connection to 127.0.0.1:`port` whose reads and writes time out after 10 s;
/// retried until `wait` passes (for a listener that is starting).
fd_guard connect_tcp(uint16_t port, std::chrono::milliseconds wait = 0ms);
/// The same to a unix socket.
fd_guard connect_unix(const std::string& path, std::chrono::milliseconds wait = 0ms);
/// Writes all of `data`.
bool send_all(int fd, std::string_view data);
/// Reads until `needle` was seen (the bytes read so far on EOF, error or timeout).
std::string read_until(int fd, std::string_view needle);
/// Reads exactly `n` bytes (fewer on EOF, error or timeout).
std::string read_n(int fd, std::size_t n);
/// Reads until EOF; nullopt on a timeout (the peer did not close).
std::optional<std::string> read_to_end(int fd);
/// A port on 127.0.0.1 that was free a moment ago.
uint16_t free_port();
/// A listening socket on 127.0.0.1:0 and its port (to hold a port).
std::pair<fd_guard, uint16_t> hold_port();

/// Echoes every connection until its client closes, on 127.0.0.1 (port chosen by the system)
/// or on a unix socket.
class echo_server {
 public:
  /// On 127.0.0.1.
  echo_server();
  /// On the unix socket `path`.
  explicit echo_server(const std::string& path);
  ~echo_server();
  echo_server(const echo_server&) = delete;
  echo_server& operator=(const echo_server&) = delete;

  /// The TCP port (0 for a unix socket).
  uint16_t port() const noexcept { return port_; }
  /// Connections accepted so far.
  std::size_t accepted() const noexcept { return accepted_.load(); }

 private:
  void start();
  void serve(int fd);

  fd_guard listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread thread_;  ///< accepts; joins its connections' threads when stopped
};

/// The relay binary (next to the test binary) as a child process; killed when still running
/// at destruction.
class relay_process {
 public:
  /// Runs `caa-sandbox-relay --listen 127.0.0.1:<port> --socket <socket> -- <program...>`,
  /// its stdout into a pipe.
  relay_process(uint16_t port, const std::string& socket, std::vector<std::string> program);
  ~relay_process();
  relay_process(const relay_process&) = delete;
  relay_process& operator=(const relay_process&) = delete;

  /// The relay's pid.
  pid_t pid() const noexcept { return pid_; }
  /// Its exit status as a shell shows it (128 + signal when killed); nullopt after `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit = 10000ms);
  /// What it (its child) wrote to stdout; call after `wait`.
  std::string output();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  fd_guard stdout_;
};

}  // namespace caa::sandbox::testing
