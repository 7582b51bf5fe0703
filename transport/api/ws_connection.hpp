#pragma once

// The API side of one WebSocket connection (`GET /api/v1/ws`): it decodes client frames, drives
// the caller's sessions through the same flows as the HTTP routes and forwards their events.
//
// One connection may drive several sessions of its tenant; each session it prompted or
// subscribed to has one `ws_event_sink` (events are numbered per session, duplicates of a
// replay and the live stream are skipped). A session of another tenant answers an error frame
// SESSION_NOT_FOUND and is not touched. A bad frame answers an error frame; the connection stays
// open. Closing the connection drops its subscriptions; it never interrupts a running turn.

#include "actors/session_types.hpp"
#include "transport/api/query_request.hpp"
#include "transport/api/session_flow.hpp"
#include "transport/api/ws_frames.hpp"
#include "transport/http/ws_upgrade.hpp"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace caa::api {

/// The subscription of one connection to one session: events become `event` frames.
/// Thread-safe; never blocks (a refused frame means the connection is closing: 1008).
class ws_event_sink final : public event_sink {
 public:
  /// Sends the events of `session_id` after `after` through `channel`.
  ws_event_sink(std::shared_ptr<http::ws_channel> channel, std::string session_id, uint64_t after);

  bool deliver(uint64_t seq, std::string_view name, std::string_view data) override;
  bool open() const override;
  /// Ends the subscription (the connection stays open).
  void close() override;
  /// Whether the connection's send queue has room.
  bool writable() const override;
  /// Waits for room in the connection's send queue.
  void when_writable(std::function<void()> f) override;
  /// The subscriber fell behind the session's memory: the connection closes with 1008 (the
  /// client reconnects and subscribes with `after`).
  void lagged() override;

 private:
  mutable std::mutex mtx_;
  const std::shared_ptr<http::ws_channel> channel_;
  std::string session_id_;
  uint64_t last_seq_;
  bool closed_ = false;
};

/// The close code of a connection whose key was revoked.
inline constexpr uint16_t ws_close_key_revoked = 4001;

/// Subscriptions one connection may hold at once.
inline constexpr std::size_t ws_max_subscriptions = 64;

/// Frames of one connection that may wait for their rate-limit decision; beyond it a frame is
/// refused at once (RATE_LIMIT_EXCEEDED), so a flood never grows the connection's memory.
inline constexpr std::size_t ws_max_waiting_frames = 32;

/// The handler of one accepted connection.
class ws_connection final : public http::ws_handler,
                            public std::enable_shared_from_this<ws_connection> {
 public:
  /// A connection of `caller` answering through `channel`. Every frame takes a token of
  /// `limiter` (prompts of the key's query bucket, all others of its general bucket), in order:
  /// a frame is handled only after every earlier frame of the connection was decided.
  ws_connection(detail::session_api_ptr api, http::principal caller, std::string correlation_id,
                std::shared_ptr<http::ws_channel> channel, http::rate_limiter& limiter);

  void on_message(std::string payload, bool binary) override;
  void on_close() override;

 private:
  /// Asks the limiter about the oldest waiting frame; then handles or refuses it, and goes on.
  void decide_next();
  /// Handles a frame that got its token.
  void dispatch(caf::expected<ws_frame> decoded);
  void on_prompt(ws_frame f);
  void start_turn(const ws_frame& f);
  void on_accepted(session_actor actor, const turn_accepted& acc);
  void on_interrupt(const ws_frame& f);
  void on_subscribe(const ws_frame& f);
  void on_answer(const ws_frame& f);
  void on_control(const ws_frame& f);

  /// The frame's session, else the one this connection used last; sends an error when none.
  std::optional<std::string> target_of(const ws_frame& f);
  /// A fresh sink for session `id` after `after`, replacing an earlier one; null (and an error
  /// frame) when the connection holds too many subscriptions.
  std::shared_ptr<ws_event_sink> new_sink(const std::string& id, uint64_t after,
                                          ws_frame_type for_type);
  void remember(const std::string& id);
  void send_error(const caf::error& e, ws_frame_type for_type, std::string_view session_id);
  void send_ack(ws_frame_type for_type, std::string_view session_id);

  detail::session_api_ptr api_;
  http::principal caller_;
  std::string tenant_id_;
  std::string correlation_id_;
  decode_policy policy_;
  std::shared_ptr<http::ws_channel> channel_;
  http::rate_limiter& limiter_;
  std::mutex mtx_;
  std::map<std::string, std::shared_ptr<ws_event_sink>> subscriptions_;
  std::string last_session_;
  std::deque<caf::expected<ws_frame>> waiting_;  // frames before their decision
  bool deciding_ = false;                        // a decision is in flight (frames wait behind it)
  bool closed_ = false;
};

}  // namespace caa::api
