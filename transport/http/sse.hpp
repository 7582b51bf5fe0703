#pragma once

// Server-sent events: the wire encoding and the bounded `stream_sink` the edge hands to handlers.

#include "transport/http/types.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

namespace sse {

/// The SSE content type.
inline constexpr std::string_view content_type = "text/event-stream";

/// Encodes one event: "id: N\nevent: X\ndata: {...}\n\n". CR and LF in `json_data` become spaces
/// (insignificant whitespace in valid JSON, where strings cannot hold raw line breaks), so the
/// data is always one line and no `\n\nevent:` can be injected. Characters of `event_name`
/// outside [A-Za-z0-9_.-] become '_'.
std::string encode(uint64_t id, std::string_view event_name, std::string_view json_data);

/// The keep-alive comment sent every 15 s while a stream is open.
std::string keep_alive();

/// One parsed event.
struct event {
  std::string id;
  std::string name;  ///< "message" when the event had no `event:` field
  std::string data;  ///< the `data:` lines joined with '\n'

  friend bool operator==(const event&, const event&) = default;
};

/// Parses complete events from an SSE byte stream (a tiny parser for tests and fuzzing; follows
/// the HTML living standard's line rules: CRLF, LF or CR end a line; ':' lines are comments).
std::vector<event> parse(std::string_view stream);

}  // namespace sse

/// The connection side of a stream, implemented by the HTTP session. Thread-safe.
class stream_transport {
 public:
  virtual ~stream_transport() = default;
  /// Writes `chunk` now when the connection is idle (true: it was written whole), else queues
  /// it for the connection's strand (one write in flight at a time).
  virtual bool transmit(std::string chunk) = 0;
  /// Ends the stream once the queued chunks are written.
  virtual void finish() = 0;
  /// Drops the connection now (budget exceeded, server stopping).
  virtual void abort() = 0;
};

/// The `stream_sink` given to handlers: bounded by a byte budget of queued, unwritten data.
/// It is writable below half the budget; a push is accepted while fewer than `budget` bytes are
/// queued (so the queue never holds more than the budget plus one chunk) and refused beyond,
/// which aborts the connection: only a producer that ignores `writable` is ever cut.
class bounded_sink final : public stream_sink {
 public:
  /// A sink writing to `transport` that refuses data once `budget` bytes are queued.
  bounded_sink(std::weak_ptr<stream_transport> transport, std::size_t budget);
  ~bounded_sink() override;

  bool push(std::string chunk) override;
  void cork() override;
  void uncork() override;
  void close() override;
  bool open() const override;
  void on_closed(std::function<void()> f) override;
  bool writable() const override;
  void when_writable(std::function<void()> f) override;

  /// Reports that `n` queued bytes were written (called by the transport).
  void written(std::size_t n);
  /// Reports that the stream is over for any reason; fires `on_closed` once.
  void ended();

  /// Chunks held while corked go to the connection at once beyond this many bytes.
  static constexpr std::size_t max_held_bytes = 64 * 1024;

 private:
  /// Transmits `chunk` (when not empty) through `t`; reports it written when it went out whole.
  void hand_over(const std::shared_ptr<stream_transport>& t, std::string chunk);

  mutable std::mutex mtx_;
  std::weak_ptr<stream_transport> transport_;
  std::size_t budget_;
  std::size_t queued_ = 0;
  bool open_ = true;
  bool ended_ = false;
  bool corked_ = false;
  std::string held_;  ///< chunks pushed while corked, not yet handed to the transport
  std::function<void()> on_closed_;
  std::vector<std::function<void()>> waiting_;  ///< `when_writable` callbacks
};

}  // namespace caa::http
