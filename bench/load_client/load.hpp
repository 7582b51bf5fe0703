#pragma once

// The load client: N concurrent streams (SSE or WebSocket) of new sessions and warm turns, or
// N keep-alive connections of plain reads, against the service, the floor or a baseline. One
// I/O thread; every event's added latency is its arrival time minus the send time the fake CLI
// stamped into it (`t=<19 digits>;`, CLOCK_MONOTONIC, same machine).

#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bench::load {

/// Command line of the client (see `usage()` in options.cpp).
struct options {
  std::string mode = "sse";        ///< sse | ws | read | attach
  std::string target = "service";  ///< service | floor | node | proxy: request shape
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string key;         ///< X-API-Key (service)
  int streams = 1;         ///< concurrent streams (read mode: connections)
  int turns = 1;           ///< turns per stream: the first is a new session, then warm
  int64_t events = 10;     ///< fake CLI events per turn
  int64_t bytes = 200;     ///< fake CLI event size
  double rate = 0;         ///< fake CLI events/s per stream (0: as fast as possible)
  int ramp_ms = 0;         ///< stream starts spread over this long
  double duration_s = 5;   ///< read and attach modes: how long
  std::string session_id;  ///< read: the session; attach: comma-separated ids or @FILE
  int pid = 0;             ///< process whose CPU and RSS are sampled (0: none)
  double timeout_s = 120;  ///< hang guard per request
  std::string label = "run";
  std::string out;     ///< JSON result file (empty: stdout)
  bool stamps = true;  ///< events carry the fake CLI's `t=` stamp (--no-stamps: not)
};

/// Parses argv; exits with usage on an error.
options parse_options(int argc, char** argv);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns();

/// CPU and memory of a process from /proc.
struct proc_sample {
  double cpu_s = 0;   ///< utime + stime
  double rss_mb = 0;  ///< VmRSS
  bool ok = false;
};

/// Reads /proc/<pid>/stat and /proc/<pid>/status.
proc_sample sample_proc(int pid);

/// Everything one run records (one thread: no locking).
struct recorder {
  std::vector<int64_t> latency_ns;             ///< per stamped event: arrival - send
  std::vector<int64_t> latency_warm_ns;        ///< same, events of warm turns only
  std::vector<int64_t> ttfe_cold_ns;           ///< request sent -> first event, new sessions
  std::vector<int64_t> ttfe_warm_ns;           ///< same, warm turns
  std::vector<int64_t> turn_ns;                ///< request sent -> end of the turn's stream
  std::vector<int64_t> request_ns;             ///< read mode: request -> full response
  std::map<std::string, int64_t> errors;       ///< by HTTP status or failure kind
  std::map<std::string, int64_t> error_codes;  ///< "<status or error_event> <envelope code>"
  int64_t retry_after = 0;                     ///< refused responses (429/503) with `Retry-After`
  int64_t events = 0;                          ///< stamped events received (--no-stamps: payloads)
  bool stamps = true;                          ///< options::stamps
  int64_t frames = 0;                          ///< all SSE data lines / WS frames received
  int64_t turns_ok = 0;
  int64_t requests_ok = 0;
  int active = 0;     ///< streams running now
  int remaining = 0;  ///< streams not finished yet
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  double rss_peak_mb = 0;

  void error(const std::string& kind) { ++errors[kind]; }
};

/// What a stream reports while it reads one turn.
class turn_reader {
 public:
  turn_reader(recorder& rec, int64_t sent_ns, bool warm)
      : rec_(rec), sent_ns_(sent_ns), warm_(warm) {}

  /// Feeds received bytes (SSE text) that arrived at `arrival_ns`.
  void feed_sse(std::string_view bytes, int64_t arrival_ns);
  /// Handles one complete payload (an SSE data line or a WebSocket frame).
  void on_payload(std::string_view data, int64_t arrival_ns);
  /// Marks the turn complete.
  void finish(int64_t end_ns);

  std::string session_id;  ///< the first `"session_id":"..."` seen
  bool saw_done = false;   ///< a `done` event (or WS `"event":"done"`) arrived
  bool saw_error = false;  ///< an `error` event arrived
  std::string error_code;  ///< the `code` of the first `error` event

 private:
  recorder& rec_;
  int64_t sent_ns_;
  bool warm_;
  bool first_ = true;
  std::string line_;
  std::string event_name_;
};

/// The per-request hang guard of `o`.
inline std::chrono::nanoseconds timeout_of(const options& o) {
  return std::chrono::nanoseconds{static_cast<int64_t>(o.timeout_s * 1e9)};
}

/// The value of `"code":"..."` in `json` ("" when none).
std::string code_of(std::string_view json);

/// The prompt that configures the fake CLI for one turn.
std::string prompt_text(const options& o);

/// One SSE stream: `o.turns` turns (service, floor, node or proxy request shape).
boost::asio::awaitable<void> sse_stream(const options& o, recorder& rec, int index);

/// One WebSocket stream on `/api/v1/ws` (service only).
boost::asio::awaitable<void> ws_stream(const options& o, recorder& rec, int index);

/// One keep-alive connection reading `GET /api/v1/sessions/{id}` (floor: `GET /ping`) until
/// `deadline_ns`.
boost::asio::awaitable<void> read_loop(const options& o, recorder& rec, int64_t deadline_ns);

/// One idle SSE stream attached to `GET /api/v1/sessions/{id}/events` (service only; the
/// session is `index` modulo the comma-separated `--session` list), held open until
/// `deadline_ns`. Counts an open stream as a request; the RSS samples show its cost.
boost::asio::awaitable<void> attach_stream(const options& o, recorder& rec, int index,
                                           int64_t deadline_ns);

/// Writes the result document of a finished run.
void write_report(const options& o, const recorder& rec, const proc_sample& before,
                  const proc_sample& after);

}  // namespace bench::load
