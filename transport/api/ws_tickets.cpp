#include "transport/api/ws_tickets.hpp"

#include "storage/crypto.hpp"

namespace caa::api {

namespace {

/// Random bytes of a ticket.
constexpr std::size_t ticket_bytes = 32;

/// The map key of `ticket`.
std::string key_of(std::string_view ticket) {
  auto d = storage::sha256(ticket);
  return storage::to_hex(d);
}

}  // namespace

ws_ticket_store::ws_ticket_store(std::chrono::milliseconds ttl, std::size_t max_tickets)
    : ttl_(ttl), max_tickets_(max_tickets) {}

std::optional<std::string> ws_ticket_store::issue(const http::principal& p) {
  return issue_at(p, clock::now());
}

std::optional<http::principal> ws_ticket_store::redeem(std::string_view ticket) {
  return redeem_at(ticket, clock::now());
}

std::optional<std::string> ws_ticket_store::issue_at(const http::principal& p,
                                                     clock::time_point now) {
  auto bytes = storage::random_bytes(ticket_bytes);
  auto ticket = storage::base64url(bytes);
  std::lock_guard<std::mutex> guard{mtx_};
  if (tickets_.size() >= max_tickets_ || now >= next_prune_) prune_locked(now);
  if (tickets_.size() >= max_tickets_) return std::nullopt;
  tickets_.insert_or_assign(key_of(ticket), entry{p, now + ttl_});
  return ticket;
}

std::optional<http::principal> ws_ticket_store::redeem_at(std::string_view ticket,
                                                          clock::time_point now) {
  if (ticket.empty() || ticket.size() > 128) return std::nullopt;
  auto key = key_of(ticket);
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = tickets_.find(key);
  if (it == tickets_.end()) return std::nullopt;
  auto e = std::move(it->second);
  tickets_.erase(it);  // single use, whether or not it is still valid
  if (now >= e.expires) return std::nullopt;
  return std::move(e.owner);
}

std::size_t ws_ticket_store::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return tickets_.size();
}

void ws_ticket_store::prune_locked(clock::time_point now) {
  for (auto it = tickets_.begin(); it != tickets_.end();)
    it = now >= it->second.expires ? tickets_.erase(it) : std::next(it);
  next_prune_ = now + ttl_;
}

}  // namespace caa::api
