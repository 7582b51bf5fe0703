#pragma once

// Single-use tickets for WebSocket clients that cannot set headers (browsers): an agent key
// asks `POST /api/v1/ws/ticket`, the page connects with `?ticket=`. A ticket is 32 random bytes
// (base64url), kept only as its SHA-256, bound to the principal of the key that asked, valid
// for WS_TICKET_TTL (30 s) and consumed by its first use. Tickets live in this node's memory
// (docs/DECISIONS.md says why that is enough).

#include "transport/http/types.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace caa::api {

/// The tickets of one node. Thread-safe.
class ws_ticket_store {
 public:
  /// The clock (tests pass their own time through `issue_at`/`redeem_at`).
  using clock = std::chrono::steady_clock;

  /// A store whose tickets live `ttl`, holding at most `max_tickets` unexpired ones.
  explicit ws_ticket_store(std::chrono::milliseconds ttl, std::size_t max_tickets = 100'000);

  /// Issues a ticket for `p`; nullopt when the store is full of unexpired tickets.
  std::optional<std::string> issue(const http::principal& p);
  /// Consumes `ticket`: the principal it was issued to, or nullopt when it is unknown, expired
  /// or already used.
  std::optional<http::principal> redeem(std::string_view ticket);

  /// `issue` at time `now`.
  std::optional<std::string> issue_at(const http::principal& p, clock::time_point now);
  /// `redeem` at time `now`.
  std::optional<http::principal> redeem_at(std::string_view ticket, clock::time_point now);

  /// The lifetime of a ticket.
  std::chrono::milliseconds ttl() const noexcept { return ttl_; }
  /// Unexpired tickets held (for tests).
  std::size_t size() const;

 private:
  struct entry {
    http::principal owner;
    clock::time_point expires;
  };

  void prune_locked(clock::time_point now);

  std::chrono::milliseconds ttl_;
  std::size_t max_tickets_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, entry> tickets_;  ///< by hex SHA-256 of the ticket
  clock::time_point next_prune_{};
};

}  // namespace caa::api
