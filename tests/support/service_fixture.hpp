#pragma once

// Test support for black-box tests of the service binary: start it with a chosen environment on
// a free port, talk HTTP to it, and cut its dependencies with a TCP fault proxy.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace caa::test {

/// A complete HTTP response as a test sees it.
struct http_result {
  unsigned status = 0;                         ///< 0: no response (connection failed or closed)
  std::map<std::string, std::string> headers;  ///< lower-cased names
  std::string body;

  /// Header `name` (lower case), or "".
  std::string header(const std::string& name) const;
};

/// Sends one request to 127.0.0.1:`port` on a fresh connection and reads the response (BLOCKING,
/// with a 30 s guard). `headers` are sent as given.
http_result http_call(uint16_t port, const std::string& method, const std::string& target,
                      const std::map<std::string, std::string>& headers = {},
                      const std::string& body = {});

/// Sends raw bytes and returns everything the server sent until it closed or `wait` passed.
std::string raw_exchange(uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds wait = std::chrono::milliseconds{2000});

/// A TCP forwarder on 127.0.0.1 in front of a real server; it can refuse new connections and cut
/// existing ones, like a dependency going down.
class tcp_proxy {
 public:
  /// Forwards a free local port to 127.0.0.1:`target_port`.
  explicit tcp_proxy(uint16_t target_port);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// The local port clients connect to.
  uint16_t port() const noexcept { return port_; }
  /// down: close every open connection and close new ones at once; up: forward again.
  void set_down(bool down);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  uint16_t port_ = 0;
};

/// The service binary running as a child process of the test.
class service_process {
 public:
  /// Starts `$CAA_BIN_DIR/claude-agent-api` with exactly `env` (plus PATH and API_PORT=0 unless
  /// given) and waits until it listens. Throws std::runtime_error if it does not start.
  explicit service_process(std::map<std::string, std::string> env);
  /// Stops it (SIGTERM, then SIGKILL after 15 s).
  ~service_process();
  service_process(const service_process&) = delete;
  service_process& operator=(const service_process&) = delete;

  /// The port it listens on.
  uint16_t port() const noexcept { return port_; }
  /// Its process id.
  int pid() const noexcept { return pid_; }
  /// Everything it wrote to stderr so far (its log).
  std::string log() const;
  /// Sends SIGTERM and waits for the exit; returns the exit status (-1 if killed).
  int terminate(std::chrono::seconds limit = std::chrono::seconds{30});
  /// Sends SIGKILL and reaps it.
  void kill_hard();

 private:
  int pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;
};

/// Runs the service with `env` (plus the defaults of `service_process`) until it exits: its
/// exit status, or nothing when it was still running after `limit` (it is killed then).
std::optional<int> service_exit_status(std::map<std::string, std::string> env,
                                       std::chrono::seconds limit);

/// The environment every service test starts from: the scratch database of this test process,
/// REDIS_URL, the CLI, a bootstrap key `admin_key`, and a private workspace root (removed when
/// the test process exits).
std::map<std::string, std::string> base_service_env(const std::string& admin_key);

/// A port of 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
uint16_t free_port();

/// A random key in our format ("caa_" + 43 characters).
std::string random_key();

/// Creates a key of `tenant` with `scopes` (a JSON array) through `POST /api/v1/keys` of the
/// service on `port` as `auth`; its id in `*id` when given. "" when the service refused.
std::string create_key(uint16_t port, const std::map<std::string, std::string>& auth,
                       const std::string& tenant, const std::string& scopes,
                       std::string* id = nullptr);

/// Waits until `pred` holds or `limit` passes (polling every 50 ms); returns the last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds{10000}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return pred();
}

/// One server-sent event as a test sees it.
struct sse_event {
  std::string id;     ///< the `id:` field ("" when absent)
  std::string event;  ///< the `event:` field ("message" when absent)
  std::string data;   ///< the `data:` lines joined with '\n'
};

/// A streamed response: the head, and the events read before the stream ended.
struct sse_result {
  unsigned status = 0;                         ///< 0: no response (connection failed)
  std::map<std::string, std::string> headers;  ///< lower-cased names
  std::vector<sse_event> events;               ///< complete events, in order
  std::string body;                            ///< the raw body (e.g. an error envelope)
  bool ended = false;                          ///< the server ended the body (not stop/guard)

  /// Header `name` (lower case), or "".
  std::string header(const std::string& name) const;
};

/// Decides after each event whether to stop reading (true: the test closes the connection).
using sse_stop = std::function<bool(const sse_event&)>;

/// Sends one request to 127.0.0.1:`port` on a fresh connection and reads the response as SSE
/// until the server ends it, `stop` returns true for an event, or `guard` passes (BLOCKING).
/// A non-streamed response (e.g. an error) is read whole into `body`. `receive_buffer` (bytes,
/// 0: the system's) sets the socket's receive buffer: a small one makes a paused reader fall
/// behind sooner.
sse_result sse_call(uint16_t port, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers = {},
                    const std::string& body = {}, sse_stop stop = {},
                    std::chrono::seconds guard = std::chrono::seconds{120}, int receive_buffer = 0);

}  // namespace caa::test
