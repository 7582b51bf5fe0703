#pragma once

// One HTTP/1.1 connection: one strand, one request at a time (pipelined requests wait in the
// buffer and are answered in order), every stage bounded by a limit and a deadline.
//
// Stages of a request, in order (each may answer with an error and end the request):
//   1. idle: wait for the first byte (keep_alive_timeout; for the connection's first request the
//      absolute header_timeout runs from accept);
//   2. header: read until the empty line within header_timeout (absolute), pre-scan it
//      (header_scan.hpp: 414/431/400), parse it with Beast, check framing (400);
//   3. route (404/405/400), CORS preflight for OPTIONS (204), Content-Length vs the route class
//      limit (413, the body is never read);
//   4. authentication for non-public routes (401/403), then the rate limiter (429);
//   5. path parameter validation (422) — after authentication, so anonymous callers learn nothing;
//   6. body into a string_body parser with the route limit (413 mid-stream) within body_timeout;
//   7. the handler, answered through a `responder` within request_timeout (else 503).
// Internal to transport/http: include only from .cpp files (it pulls in Beast).

#include "transport/http/auth_throttle.hpp"
#include "transport/http/byte_stream.hpp"
#include "transport/http/client_ip.hpp"
#include "transport/http/cors.hpp"
#include "transport/http/error_catalog.hpp"
#include "transport/http/header_scan.hpp"
#include "transport/http/router.hpp"
#include "transport/http/server.hpp"
#include "transport/http/sse.hpp"

#include "config/settings.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace caa::http {

struct ws_route;

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

/// What every connection of one server shares; read-only once the server runs.
struct edge_context {
  http_settings settings;
  router routes;
  authenticator& auth;
  rate_limiter& limiter;
  cors_policy cors;
  trusted_proxies proxies;
  edge_options options;
  std::shared_ptr<auth_throttle> throttle;  ///< failed authentications per address (or none)
};

/// Held by a session while it lives; lets the listener count connections.
class connection_slot {
 public:
  virtual ~connection_slot() = default;
};

/// The bytes a stream's producer hands to its connection (shared by the stream link, on the
/// producer's thread, and the connection, on its strand).
///
/// * **Batched hand-off.** The producer appends and posts one task only when none is on its way;
///   that task takes all that came meanwhile: one strand hand-off per batch of events.
/// * **Direct writes.** While the connection has nothing queued and no write in flight, it opens
///   the outbox on its socket: the producer then writes a chunk to the socket itself, without
///   waking the connection's thread (what the socket does not take at once goes the batched way,
///   and the outbox stays shut until the connection is idle again). Every direct write happens
///   under the outbox's lock, and the connection shuts the outbox (which waits for a write in
///   progress) before any write of its own and before it closes the socket: the bytes keep their
///   order and a closed descriptor is never written.
class stream_outbox {
 public:
  /// What `add` did with a chunk.
  enum class outcome : uint8_t {
    sent,    ///< written to the socket whole
    post,    ///< queued: the caller must post the task that takes the bytes
    queued,  ///< queued behind a task already on its way
  };
  /// What the connection's task takes.
  struct taken {
    std::string framed;              ///< the unwritten rest of a direct write, framed already
    std::size_t framed_payload = 0;  ///< the stream bytes (unframed) that rest completes
    std::string raw;                 ///< chunks added since, not framed
  };

  /// Writes `chunk` to the socket when the outbox is open and nothing waits, else queues it.
  outcome add(std::string chunk);
  /// Everything queued since the last take (the posted task calls this once).
  taken take();
  /// Connection side: lets `add` write to socket `fd` (chunked framing when `chunked`) while
  /// nothing is queued; stays shut when something is (its task will come).
  void open(int fd, bool chunked);
  /// Connection side: no more direct writes; returns once a write in progress is done.
  void shut();

 private:
  std::mutex mtx_;
  std::string bytes_;
  std::string framed_;
  std::size_t framed_payload_ = 0;
  bool posted_ = false;
  int fd_ = -1;  ///< >= 0: open
  bool chunked_ = false;
};

/// One connection. Every member function runs on the connection's strand unless it says otherwise.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  /// A session on `socket` (whose executor must be a strand).
  http_session(tcp::socket socket, std::shared_ptr<const edge_context> ctx,
               std::unique_ptr<connection_slot> slot);
  /// A session on `stream` (whose executor must be a strand). Over a stream that is not a TCP
  /// socket (tests) a WebSocket upgrade cannot be handed over: the route answers it as a plain
  /// request (400).
  http_session(byte_stream stream, std::shared_ptr<const edge_context> ctx,
               std::unique_ptr<connection_slot> slot);
  ~http_session();

  /// Starts serving (any thread).
  void run();
  /// Closes the connection if idle, else after the current response (any thread).
  void shutdown();

  /// A handler's complete answer to request `seq` (any thread).
  void post_answer(uint64_t seq, response r);
  /// A handler's error for request `seq` (any thread).
  void post_failure(uint64_t seq, caf::error e);
  /// A handler's streamed answer for request `seq` (any thread); `link` feeds `sink` through
  /// `outbox`.
  void post_stream(uint64_t seq, response head, std::shared_ptr<bounded_sink> sink,
                   std::shared_ptr<stream_transport> link, std::shared_ptr<stream_outbox> outbox);
  /// Queues the bytes `outbox` holds for stream `seq` when the task runs (any thread; used
  /// by the stream link, which posts once per batch of chunks: see `stream_outbox`).
  void post_stream_data(uint64_t seq, std::shared_ptr<stream_outbox> outbox);
  /// Ends stream `seq` after its queued bytes (any thread).
  void post_stream_finish(uint64_t seq);
  /// Drops the connection of stream `seq` now (any thread).
  void post_stream_abort(uint64_t seq);

 private:
  enum class phase : uint8_t { idle, header, stages, body, handler, writing, streaming, closed };

  /// One queued write.
  struct out_item {
    std::string bytes;
    std::size_t payload = 0;     ///< stream bytes to report to the sink once written
    bool ends_response = false;  ///< the exchange is complete once this is written
  };

  /// Per-request state, reset by `start_request`.
  struct exchange {
    uint64_t seq = 0;
    std::chrono::steady_clock::time_point started;
    std::string correlation_id;
    std::string method = "-";
    std::string route = "-";
    std::string origin;
    std::string tenant_id;
    std::string client_ip;
    const route_info* info = nullptr;
    const handler* target = nullptr;
    route_match matched;
    std::optional<principal> caller;
    unsigned status = 0;
    bool keep_alive = false;
    bool close_after = false;
    bool body_pending = false;  ///< a body follows the header and was not read
    bool head_only = false;
    bool http10 = false;
    bool parsed = false;
    bool logged = false;
    bool openai_errors = false;  ///< an OpenAI-compatible path (`/v1/...`): OpenAI's error shape
  };

  // Reading and the header stage (http_session.cpp).
  void start_request();
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void process_header();
  void on_header(std::size_t size);
  bool check_framing();
  void route_request();
  void arm_deadline(std::chrono::steady_clock::duration d);
  void on_deadline();

  // Authentication, rate limit, body, handler (http_session_stages.cpp).
  void do_authenticate();
  void on_authenticated(uint64_t seq, std::optional<principal> p, const caf::error& err);
  void do_rate_limit();
  void on_rate_decided(uint64_t seq, rate_decision d);
  void check_params();
  void do_read_body();
  void on_body_read(boost::system::error_code ec, std::size_t n);
  void do_dispatch();
  std::shared_ptr<request> make_request();
  std::size_t body_limit() const;

  // WebSocket routes: ticket authentication and the hand-over of an upgrade (ws_handover.cpp).
  const ws_route* upgrade_route() const;
  void do_authenticate_ticket();
  /// Answers a failed authentication (counted against the client address when it is a 401).
  void fail_authentication(const caf::error& e);
  bool hand_over(const ws_route& route, const std::shared_ptr<request>& req);

  // Writing and streaming (http_session_write.cpp).
  void send_response(const response& r, bool add_cors = true);
  /// The error response of `e` in the shape of the route (OpenAI's on `/v1/...`).
  response shaped_error(const caf::error& e);
  void send_error(const caf::error& e);
  void send_edge_error(edge_condition x);
  void reject(const caf::error& e);
  header_list common_headers();
  void add_handler_headers(header_list& out, const header_list& from);
  void queue(out_item item);
  /// Joins the writes queued behind the front one into it (see the .cpp).
  void join_queued_writes();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t n);
  void finish_exchange();
  void start_stream(const response& head, std::shared_ptr<bounded_sink> sink,
                    std::shared_ptr<stream_transport> link, std::shared_ptr<stream_outbox> outbox);
  /// Lets the stream's producer write to the socket directly while the connection is idle.
  void open_outbox();
  /// Ends direct writes for good (before the socket closes or the exchange ends).
  void shut_outbox();
  void end_stream_writes();
  void do_ping();
  void do_linger();
  void do_close();
  void log_exchange();

  byte_stream stream_;
  std::shared_ptr<const edge_context> ctx_;
  std::unique_ptr<connection_slot> slot_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::array<char, 16384> read_buf_{};
  header_scanner scanner_;
  net::steady_timer deadline_;
  net::steady_timer write_timer_;
  net::steady_timer ping_timer_;
  uint64_t deadline_gen_ = 0;
  uint64_t write_gen_ = 0;
  phase phase_ = phase::idle;
  exchange ex_;
  uint64_t next_seq_ = 0;
  uint64_t awaiting_ = 0;  ///< the request whose handler may still answer (0: none)
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> body_parser_;
  /// Refuses chunk extensions over 1 KiB (legal but useless to us, and a memory lever).
  std::function<void(std::uint64_t, boost::beast::string_view, boost::system::error_code&)>
      chunk_header_guard_;
  std::deque<out_item> out_;
  bool read_pending_ = false;
  bool write_pending_ = false;
  bool resume_after_cancel_ = false;
  bool first_request_ = true;
  bool stopping_ = false;
  bool lingering_ = false;
  bool stream_chunked_ = false;
  bool stream_finishing_ = false;
  bool stream_terminated_ = false;
  std::shared_ptr<bounded_sink> sink_;
  std::shared_ptr<stream_transport> link_;
  std::shared_ptr<stream_outbox> outbox_;  ///< of the stream, while it streams
  std::function<void()> on_shutdown_;      ///< set when the connection became a WebSocket
};

/// The responder handed to the handler of request `seq` on `session`.
/// `budget` bounds the queued bytes of a stream it starts.
std::shared_ptr<responder> make_responder(std::weak_ptr<http_session> session, uint64_t seq,
                                          std::size_t budget);

}  // namespace caa::http
