#pragma once

// The row writes of one session, sent one at a time and in order.

#include "storage/types.hpp"

#include <deque>
#include <optional>
#include <utility>
#include <variant>

namespace caa::detail {

/// One row write of a session: a query or a transaction.
using row_write = std::variant<storage::db_query, storage::db_batch>;

/// The row writes of a session, one in flight at a time, in order: two writes on two pool
/// connections could otherwise commit in either order (e.g. idle after hibernated).
class session_row_writer {
 public:
  /// Queues `w` behind the writes before it.
  void push(row_write w) { queue_.push_back(std::move(w)); }

  /// The next write, now in flight; none while one is in flight or when none waits.
  std::optional<row_write> next() {
    if (held_ || in_flight_ || queue_.empty()) return std::nullopt;
    in_flight_ = true;
    auto w = std::move(queue_.front());
    queue_.pop_front();
    return w;
  }

  /// The write in flight is done (stored or failed).
  void done() noexcept { in_flight_ = false; }

  /// Whether no write waits and none is in flight.
  bool quiet() const noexcept { return queue_.empty() && !in_flight_; }

  /// Whether a write is in flight.
  bool in_flight() const noexcept { return in_flight_; }

  /// Holds the queue (`next` answers none) until `resume`: e.g. while the session's row is
  /// deleted, a write such as a turn's end (turns, then sessions) must not run beside the
  /// delete (sessions, then its turns): the two would deadlock in PostgreSQL.
  void hold() noexcept { held_ = true; }
  /// Ends `hold`.
  void resume() noexcept { held_ = false; }
  /// Whether the queue is held.
  bool held() const noexcept { return held_; }

 private:
  std::deque<row_write> queue_;
  bool in_flight_ = false;
  bool held_ = false;
};

}  // namespace caa::detail
