#pragma once

// The events of one session: numbered, persisted in batches (one in flight), kept in a bounded
// window for replay, and fed to subscribers. A plain class: the actor glue (writer requests,
// timers, sink callbacks) is in session_events.cpp.
//
// Durability: an event goes to subscribers once it is stored (`sync`), or, when appended as
// `early` (`async`), as soon as its id is below the reserved high-water mark, a mark stored
// ahead of the sends: a later actor of the session continues above it, so no id a client may
// have seen is ever reused (docs/DECISIONS.md, "Event durability").

#include "actors/session_types.hpp"

#include <caf/actor_clock.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace caa::detail {

/// Events kept in memory for replay and for subscribers that wait for room: at most this many,
/// and at most `replay_window_bytes` of payload (committed events only are dropped; the newest
/// event always stays). A subscriber whose next event left the window is `lagged`.
inline constexpr std::size_t replay_window = 4096;
/// See `replay_window`.
inline constexpr std::size_t replay_window_bytes = std::size_t{8} << 20;
/// Ids reserved by one high-water mark write; the next is written when early events come
/// within half of this of the mark.
inline constexpr uint64_t reserve_chunk = 1024;
/// At most this many early events are sent ahead of the stored ones (a database that stores
/// nothing stops the sends; it bounds the loss of a crash).
inline constexpr uint64_t max_unstored_sends = 4096;

/// One event kept in memory for persistence and replay.
struct kept_event {
  uint64_t seq;      ///< its number in the session (1, 2, ...)
  std::string name;  ///< the API event name
  std::string data;  ///< one-line JSON
  bool early;        ///< may be sent before it is stored (async durability)
};

/// The events of a batch to store: consecutive events of the window (valid until the next
/// append).
class event_batch {
 public:
  using iterator = std::deque<kept_event>::const_iterator;
  event_batch() = default;
  event_batch(const iterator& first, const iterator& last) : first_(first), last_(last) {}
  iterator begin() const { return first_; }
  iterator end() const { return last_; }
  std::size_t size() const { return static_cast<std::size_t>(last_ - first_); }
  bool empty() const { return first_ == last_; }
  const kept_event& operator[](std::size_t i) const {
    return first_[static_cast<std::ptrdiff_t>(i)];
  }

 private:
  iterator first_{};
  iterator last_{};
};

/// One subscriber and the last event it got.
struct subscriber {
  event_sink_ptr sink;   ///< where its events go
  uint64_t after = 0;    ///< the last seq it got
  uint64_t id = 0;       ///< names it in the `sink_ready` and `sink_stall` messages
  bool waiting = false;  ///< its queue is full: a `when_writable` callback is registered
  caf::actor_clock::time_point waiting_since;  ///< when the current wait began
};

/// The events of one session: seq numbering, the batches to persist, the replay window and
/// the subscribers.
class session_event_log {
 public:
  /// A log whose window keeps at most `max_events` events and `max_bytes` of payload.
  explicit session_event_log(std::size_t max_events = replay_window,
                             std::size_t max_bytes = replay_window_bytes);

  // -- numbering and persistence ---------------------------------------------------------------

  /// Continues after `stored`, the last stored seq, and above `reserved`, the stored
  /// high-water mark (a revived session). When the mark is above the stored ids, the ids in
  /// (stored, reserved + 1] are a hole of the history: up to the mark a former actor may have
  /// sent them; mark + 1 no event ever had (the `gap` event naming the hole has it).
  void start_after(uint64_t stored, uint64_t reserved = 0);
  /// Assigns the next seq to an event and keeps it for writing and replay; returns the seq.
  /// An `early` event may be sent before it is stored, once its id is reserved.
  uint64_t append(std::string name, std::string data, bool early = false);
  /// The unwritten events as the batch in flight; empty when a batch is in flight already or
  /// nothing waits. They are the window's own (no copy: an unstored event never leaves it).
  event_batch next_batch();
  /// The batch in flight is stored: its events may be delivered (and leave the window).
  void commit();
  /// The batch in flight failed: its events go back in front of the newer unwritten ones.
  void put_back();
  /// Whether a batch is in flight.
  bool write_in_flight() const noexcept { return in_flight_; }
  /// The last seq assigned.
  uint64_t last_seq() const noexcept { return last_seq_; }
  /// The last seq stored.
  uint64_t committed_seq() const noexcept { return committed_seq_; }
  /// The last seq subscribers may get: every event up to it is stored, or early and reserved.
  uint64_t visible_seq() const noexcept { return visible_seq_; }
  /// The first and last id of the hole this actor started above (first > last: none); the
  /// last id was never an event's.
  std::pair<uint64_t, uint64_t> hole() const noexcept { return {hole_from_, hole_to_}; }

  // -- the high-water mark of early sends ------------------------------------------------------

  /// The next event will be early: its id needs a mark.
  void expect_early() noexcept { last_early_seq_ = std::max(last_early_seq_, last_seq_ + 1); }
  /// The mark to store next, when early events come near the stored one and no write is in
  /// flight (then that write is in flight).
  std::optional<uint64_t> reservation_due();
  /// The mark `seq` is stored: early events up to it may be sent.
  void reserved(uint64_t seq);
  /// The mark write failed: the next `reservation_due` asks again.
  void reservation_failed() noexcept { reserving_ = false; }
  /// The mark to store back down, when every event is stored and the mark is above them (then
  /// that write is in flight): a later actor then continues right after the stored events,
  /// without a hole. Nothing was sent above them, so no id a client saw is given again.
  std::optional<uint64_t> release_due();
  /// The write of `release_due` ended (a failed one leaves the stored mark high: a later actor
  /// then skips ids, harmlessly).
  void released() noexcept;
  /// The stored mark.
  uint64_t reserved_seq() const noexcept { return reserved_; }

  // -- the replay window -----------------------------------------------------------------------

  /// The oldest seq a subscriber can still be served from memory.
  uint64_t window_start() const noexcept;
  /// Whether the event after `after` left the window (that subscriber must replay from storage).
  bool behind_window(uint64_t after) const noexcept { return after + 1 < window_start(); }
  /// The events in memory, oldest first.
  const std::deque<kept_event>& window() const noexcept { return window_; }
  /// The payload bytes of `window()`.
  std::size_t window_bytes() const noexcept { return window_bytes_; }
  /// The visible event right after `after`, if it is in the window; null otherwise.
  const kept_event* visible_after(uint64_t after) const noexcept;

  // -- subscribers -----------------------------------------------------------------------------

  /// Adds a subscriber that has every event up to `after`; returns it (valid until the
  /// subscribers change).
  subscriber& subscribe(event_sink_ptr sink, uint64_t after);
  /// Subscriber `id`, or null.
  subscriber* find_subscriber(uint64_t id);
  /// Removes subscriber `id` (its sink stays as it is).
  void remove_subscriber(uint64_t id);
  /// Removes, in order, every subscriber for which `drop` answers true (`drop` sees each once).
  void remove_subscribers_if(const std::function<bool(subscriber&)>& drop);
  /// Removes the subscribers whose client is gone.
  void prune_subscribers();
  /// Closes every sink and removes every subscriber.
  void close_subscribers();
  /// Whether any subscriber is attached.
  bool has_subscribers() const noexcept { return !subscribers_.empty(); }
  /// The subscribers, in the order they came.
  const std::vector<subscriber>& subscribers() const noexcept { return subscribers_; }

  /// Whether nothing waits to be stored (no unwritten event, no batch in flight).
  bool quiet() const noexcept { return written_seq_ == last_seq_ && !in_flight_ && !reserving_; }

 private:
  /// Drops the oldest committed events while the window is over its bounds (the newest stays).
  void trim();
  /// Moves `visible_seq_` over the events now stored, or early and reserved.
  void advance_visible();

  std::size_t max_events_;
  std::size_t max_bytes_;
  uint64_t last_seq_ = 0;
  uint64_t committed_seq_ = 0;
  uint64_t visible_seq_ = 0;
  uint64_t reserved_ = 0;        // the stored high-water mark
  uint64_t last_early_seq_ = 0;  // the newest early event
  bool reserving_ = false;       // a mark write is in flight
  uint64_t hole_from_ = 1;       // the hole below this actor's first id (from > to: none)
  uint64_t hole_to_ = 0;
  bool in_flight_ = false;
  uint64_t written_seq_ = 0;       // the last seq handed to a batch (in flight or stored)
  std::deque<kept_event> window_;  // the most recent events, for replay
  std::size_t window_bytes_ = 0;   // payload bytes in `window_`
  std::vector<subscriber> subscribers_;
  uint64_t next_subscriber_id_ = 0;
};

}  // namespace caa::detail
