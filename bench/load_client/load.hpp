#pragma once

// The load client: N concurrent streams (SSE or WebSocket) of new sessions and warm turns, or
// N keep-alive connections of plain reads, against the service, the floor or a baseline. One
// I/O thread; every event's added latency is its arrival time minus the send time the fake CLI
// stamped into it (`t=<19 digits>;`, CLOCK_MONOTONIC, same machine). With `--ports` (several
// service nodes of one cluster) the warm turns are recorded apart by the node the client reads
// them from: the session's owner (local) or another node (forwarded).

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
  std::vector<int> pids;   ///< processes whose CPU and RSS are sampled (summed)
  double timeout_s = 120;  ///< hang guard per request
  std::string label = "run";
  std::string out;         ///< JSON result file (empty: stdout)
  bool stamps = true;      ///< events carry the fake CLI's `t=` stamp (--no-stamps: not)
  std::string durability;  ///< service: `"durability"` of every turn (sync | async; empty: none)
  bool partial = false;    ///< --partial: token deltas (`include_partial_messages`)

  // Cluster runs (cluster_stream.cpp).
  std::vector<unsigned short> ports;  ///< --ports: the nodes of a cluster (sse, service only)
  std::string forward = "turn";       ///< cluster: turn | attach (how a non-owner is used)
  int settle_ms = 200;                ///< cluster attach: wait after the attach answered
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

/// Reads /proc/<pid>/stat and /proc/<pid>/status of each of `pids` and sums them (ok when every
/// one was read).
proc_sample sample_proc(const std::vector<int>& pids);

/// Where a cluster stream reads its warm turns: nowhere special (single node, cold turns), the
/// session's owner, or another node.
enum class path : uint8_t { none, local, forwarded };

/// The nodes of stream `index` in a cluster of `nodes`: the owner (its first turn opens the
/// session there) and the front node its warm turns are read from. Streams go in pairs: both
/// streams of a pair open their sessions on the same node (pair j on node j mod N); the first
/// reads its warm turns from that owner (local), the second from another node (forwarded, the
/// other nodes in turn). So with an even number of streams exactly half are forwarded, and every
/// node owns as many local as forwarded streams.
struct cluster_plan {
  int owner = 0;
  int front = 0;
  path warm = path::local;
};

inline cluster_plan plan_of(int index, int nodes) {
  cluster_plan p;
  int pair = index / 2;
  p.owner = pair % nodes;
  bool forwarded = nodes > 1 && index % 2 == 1;
  p.front = forwarded ? (p.owner + 1 + (pair / nodes) % (nodes - 1)) % nodes : p.owner;
  p.warm = forwarded ? path::forwarded : path::local;
  return p;
}

/// The warm turns of one path of a cluster run.
struct path_stats {
  std::vector<int64_t> latency_ns;        ///< per stamped event: arrival - send
  std::vector<int64_t> ttfe_ns;           ///< request sent -> first event
  std::map<std::string, int64_t> errors;  ///< by HTTP status or failure kind
  int64_t events = 0;                     ///< stamped events received
  int64_t turns_ok = 0;
  int64_t first_sent_ns = 0;  ///< the first warm turn's request
  int64_t last_end_ns = 0;    ///< the last warm turn's end
};

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
  path_stats local;      ///< cluster: warm turns read from the owner
  path_stats forwarded;  ///< cluster: warm turns read from another node

  void error(const std::string& kind) { ++errors[kind]; }
  path_stats* stats_of(path p) {
    return p == path::local ? &local : p == path::forwarded ? &forwarded : nullptr;
  }
};

/// What a stream reports while it reads one turn.
class turn_reader {
 public:
  /// A reader of one turn sent at `sent_ns`; `p` names the cluster path of a warm turn, and a
  /// reader that does not `record` only follows the stream (its events are counted elsewhere).
  turn_reader(recorder& rec, int64_t sent_ns, bool warm, path p = path::none, bool record = true);

  /// Feeds received bytes (SSE text) that arrived at `arrival_ns`.
  void feed_sse(std::string_view bytes, int64_t arrival_ns);
  /// Handles one complete payload (an SSE data line or a WebSocket frame).
  void on_payload(std::string_view data, int64_t arrival_ns);
  /// Marks the turn complete.
  void finish(int64_t end_ns);
  /// Records a failure of the turn (also under its cluster path).
  void fail(const std::string& kind);
  /// The `done` event was read to its end (the blank line after it).
  bool complete() const { return complete_; }

  std::string session_id;  ///< the first `"session_id":"..."` seen
  bool saw_done = false;   ///< a `done` event (or WS `"event":"done"`) arrived
  bool saw_error = false;  ///< an `error` event arrived
  std::string error_code;  ///< the `code` of the first `error` event
  std::string last_id;     ///< the last SSE `id:` seen

 private:
  recorder& rec_;
  int64_t sent_ns_;
  bool warm_;
  path path_;
  bool record_;
  bool first_ = true;
  bool complete_ = false;
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

/// One SSE stream of a cluster run (`--ports`): the first turn opens a session on its owner
/// (`plan_of`), the warm turns are read from the front node: posted to it (`--forward turn`),
/// or posted to the owner and read through an SSE attach on the front node (`--forward attach`).
boost::asio::awaitable<void> cluster_stream(const options& o, recorder& rec, int index);

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
