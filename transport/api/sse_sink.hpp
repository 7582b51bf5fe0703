#pragma once

// The `event_sink`s of the session routes: the SSE subscriber of `POST /api/v1/query` and of an
// attached `GET .../events` stream, and the collector behind `POST /api/v1/query/single`.
//
// Both are handed to a session actor (`subscribe`) and called from its thread; replay code may
// call them from another CAF thread. Both are thread-safe and never block.

#include "actors/session_types.hpp"
#include "config/errc.hpp"
#include "transport/http/types.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caa::api {

/// The `errc` behind the public code of an `error` event (AGENT_ERROR when unknown): the error
/// answer of a turn that failed before its answer began.
errc errc_of_code(std::string_view code);

/// A sink over an HTTP stream that can go on when it falls behind the session's memory
/// (`lagged`): with a hook (`on_lagged`), the stream stays open and the hook replays what it
/// missed from storage; without one, the stream ends.
class resumable_sink : public event_sink {
 public:
  /// Runs the hook of `on_lagged` (outside every lock) while the sink is open; else closes.
  void lagged() final;
  /// Closes: a stalled reader is cut, not caught up.
  void stalled() final { close(); }
  /// What `lagged` runs instead of ending the stream: the caller replays from storage after
  /// `last_seq()` and subscribes the sink again. Set before the sink is first subscribed; kept
  /// for every later lag.
  void on_lagged(std::function<void()> f);
  /// The highest seq delivered so far (0 when none).
  virtual uint64_t last_seq() const = 0;

 private:
  std::mutex hook_mtx_;
  std::function<void()> on_lagged_;
};

/// Writes events as SSE frames (`id: <seq>\nevent: <name>\ndata: <json>\n\n`) into an HTTP
/// stream. Events at or below the last written seq are skipped, so a replay from PostgreSQL and
/// the live subscription may overlap without duplicates.
class sse_event_sink final : public resumable_sink {
 public:
  /// Writes into `stream`; with `close_after_done` the stream ends after the first `done` event
  /// (the stream of one turn), otherwise it stays open for later turns (an attached stream).
  sse_event_sink(std::shared_ptr<http::stream_sink> stream, bool close_after_done);
  /// Ends the stream if it is still open (the session dropped this subscriber).
  ~sse_event_sink() override;

  sse_event_sink(const sse_event_sink&) = delete;
  sse_event_sink& operator=(const sse_event_sink&) = delete;

  /// Writes one event; false when the stream refused it (slow reader over its byte budget,
  /// client gone) or is closed. A refused event closes the stream: the client reconnects with
  /// Last-Event-ID.
  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override;
  /// Whether the stream is open and has not ended after its `done`.
  bool open() const override;
  /// The frames of a batch go to the connection as one write (see `http::stream_sink::cork`).
  void cork() override;
  void uncork() override;
  /// Ends the stream after the frames already queued.
  void close() override;
  /// Whether the HTTP stream's queue has room.
  bool writable() const override;
  /// Waits for room in the HTTP stream's queue.
  void when_writable(std::function<void()> f) override;

  /// The highest seq written so far (0 when none).
  uint64_t last_seq() const override;
  /// Whether a `done` event was written.
  bool saw_done() const;

 private:
  mutable std::mutex mtx_;
  const std::shared_ptr<http::stream_sink> stream_;
  bool close_after_done_;
  uint64_t last_seq_ = 0;
  bool done_ = false;
  bool closed_ = false;
};

/// Collects one turn's events and answers `POST /api/v1/query/single` with ONE JSON document
/// when the turn's `done` arrives:
///   {session_id, result, structured_output, content, usage, total_cost_usd, num_turns,
///    duration_ms, is_error, subtype, stop_reason, done_reason, truncated}
/// `content` holds the content blocks of the turn's assistant messages of the main agent
/// (subagent messages, i.e. those with a `parent_tool_use_id`, are left out). The other fields
/// come from the turn's `result` event (null when absent).
///
/// Bounds: the content blocks kept are capped at `max_bytes` (of their JSON text); a block that
/// would pass the cap is dropped with every later one, and `truncated` is true. The `result`
/// fields are always kept (they come from one event, bounded by the CLI's line limit).
///
/// A turn that ends without a `result`: `done{interrupted}` still answers 200 with the document
/// (`is_error` true, `result` null); otherwise (`done{error}`, or the session dropped the
/// subscriber) the answer is the error envelope of the turn's `error` event code (AGENT_ERROR
/// when unknown, SERVICE_UNAVAILABLE when the session went away).
class collecting_sink final : public event_sink {
 public:
  /// The default cap of collected content blocks: 16 MiB.
  static constexpr std::size_t default_max_bytes = std::size_t{16} << 20;

  /// Answers `res` for session `session_id` once the turn is done.
  collecting_sink(std::shared_ptr<http::responder> res, std::string session_id,
                  std::size_t max_bytes = default_max_bytes);
  /// Answers with what it has, if it has not answered yet.
  ~collecting_sink() override;

  collecting_sink(const collecting_sink&) = delete;
  collecting_sink& operator=(const collecting_sink&) = delete;

  /// Takes one event; false once the answer was sent.
  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override;
  /// Whether the answer is still to be sent.
  bool open() const override;
  /// The session dropped this subscriber: answers with what it has.
  void close() override;

  /// The document for what was collected so far (for tests; the answer uses the same).
  std::string document() const;

 private:
  void take_message(std::string_view data);
  void take_error(std::string_view data);
  void finish_locked(std::optional<std::string> done_reason, bool session_gone);
  std::string document_locked() const;

  mutable std::mutex mtx_;
  std::shared_ptr<http::responder> res_;
  std::string session_id_;
  std::size_t max_bytes_;
  std::vector<std::string> blocks_;
  std::size_t block_bytes_ = 0;
  bool truncated_ = false;
  std::optional<std::string> result_;      ///< data of the `result` event
  std::optional<std::string> error_code_;  ///< `code` of the `error` event
  std::optional<std::string> done_reason_;
  uint64_t last_seq_ = 0;
  bool answered_ = false;
};

}  // namespace caa::api
