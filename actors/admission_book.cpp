#include "actors/admission_book.hpp"

#include <algorithm>

namespace caa::admission_logic {

book::book(book_config cfg) : cfg_(cfg) {
  cfg_.budget = std::max<uint32_t>(cfg_.budget, 1);
  cfg_.tenant_share = std::max<uint32_t>(cfg_.tenant_share, 1);
}

std::size_t book::held_by(const std::string& tenant) const {
  std::size_t n = 0;
  for (auto& [id, s] : slots_) n += s.tenant == tenant ? 1 : 0;
  return n;
}

std::size_t book::idle_count() const {
  std::size_t n = 0;
  for (auto& [id, s] : slots_) n += s.idle ? 1 : 0;
  return n;
}

uint32_t book::starting() const {
  uint32_t n = 0;
  for (auto& [id, s] : slots_) n += s.starting ? 1 : 0;
  for (auto& w : warm_) n += w.starting ? 1 : 0;
  return n;
}

bool book::is_waiting(uint64_t ticket) const {
  return std::any_of(waiters_.begin(), waiters_.end(),
                     [&](const waiter& w) { return w.ticket == ticket; });
}

bool book::may_start() const {
  return cfg_.max_starting == 0 || starting() < cfg_.max_starting;
}

bool book::tenant_full(const std::string& tenant) const {
  return held_by(tenant) >= share_of(tenant);
}

std::size_t book::asks_on_their_way(time_point now) const {
  std::size_t n = 0;
  for (auto& [id, s] : slots_) n += s.asked && s.idle && now - *s.asked < cfg_.patience ? 1 : 0;
  for (auto t : warm_asks_) n += now - t < cfg_.patience ? 1 : 0;
  return std::min(n, slots_.size() + warm_.size());
}

std::size_t book::blocked_by_budget() const {
  if (!budget_full()) return 0;
  return static_cast<std::size_t>(std::count_if(
      waiters_.begin(), waiters_.end(), [&](const waiter& w) { return !tenant_full(w.tenant); }));
}

std::size_t book::yieldable() const {
  std::size_t n = warm_.size();
  for (auto& [id, s] : slots_) n += s.idle && s.hibernatable ? 1 : 0;
  return n;
}

void book::grant(claimant_id who, const std::string& tenant, bool hibernatable, time_point now) {
  slot s;
  s.tenant = tenant;
  s.hibernatable = hibernatable;
  s.last_used = now;
  slots_[who] = std::move(s);
}

bool book::acquire(claimant_id who, const std::string& tenant, bool hibernatable, time_point now,
                   uint64_t& ticket, effects& fx) {
  if (auto it = slots_.find(who); it != slots_.end()) {
    it->second.idle = false;
    it->second.asked.reset();  // it runs a turn: if it was asked to go, someone else must be
    it->second.last_used = now;
    make_room(now, fx);
    return true;
  }
  if (waiters_.empty() && !budget_full() && may_start() && !tenant_full(tenant)) {
    grant(who, tenant, hibernatable, now);
    return true;
  }
  ticket = next_ticket_++;
  waiters_.push_back({ticket, who, tenant, hibernatable});
  serve(now, fx);  // another tenant's waiter may not block this one
  return false;
}

void book::ready(claimant_id who, time_point now, effects& fx) {
  if (auto it = slots_.find(who); it != slots_.end()) it->second.starting = false;
  serve(now, fx);
}

void book::release(claimant_id who, time_point now, effects& fx) {
  slots_.erase(who);
  // A waiter that leaves (its session ended) no longer needs a slot.
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                [&](const waiter& w) { return w.who == who; }),
                 waiters_.end());
  serve(now, fx);
}

void book::hand_over(claimant_id from, claimant_id to, time_point now, effects& fx) {
  auto node = slots_.extract(from);
  if (node.empty()) return;
  auto& s = node.mapped();
  s.idle = false;
  s.hibernatable = false;
  s.asked.reset();
  s.starting = false;
  node.key() = to;
  slots_.insert(std::move(node));
  serve(now, fx);  // a start it counted is over
}

void book::idle(claimant_id who, time_point now, effects& fx) {
  if (auto it = slots_.find(who); it != slots_.end()) {
    it->second.idle = true;
    it->second.last_used = now;
  }
  make_room(now, fx);
}

void book::busy(claimant_id who, time_point now, effects& fx) {
  if (auto it = slots_.find(who); it != slots_.end()) {
    it->second.idle = false;
    it->second.asked.reset();  // a session running a turn does not hibernate
  }
  make_room(now, fx);
}

bool book::acquire_warm() {
  if (!waiters_.empty() || budget_full() || !may_start()) return false;
  warm_.push_back({});
  return true;
}

void book::warm_ready(time_point now, effects& fx) {
  for (auto& w : warm_)
    if (w.starting) {
      w.starting = false;
      break;
    }
  serve(now, fx);
}

void book::drop_warm_slot() {
  if (warm_.empty()) return;
  auto it =
      std::find_if(warm_.begin(), warm_.end(), [](const warm_slot& w) { return !w.starting; });
  warm_.erase(it != warm_.end() ? it : warm_.begin());
}

void book::release_warm(time_point now, effects& fx) {
  drop_warm_slot();
  if (!warm_asks_.empty()) warm_asks_.erase(warm_asks_.begin());  // the oldest ask is answered
  serve(now, fx);
}

void book::adopt_warm(claimant_id who, const std::string& tenant, time_point now, effects& fx) {
  drop_warm_slot();
  if (slots_.count(who) == 0) {
    grant(who, tenant, true, now);
    slots_[who].starting = false;  // the pool reported its start
  }
  // An ask to the pool that this process would have answered is moot now: `make_room` (via
  // `serve`) asks someone else if a waiter still needs a slot.
  forget_stale_asks(now);
  serve(now, fx);
}

refusal book::expire(uint64_t ticket, time_point now, effects& fx) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const waiter& w) { return w.ticket == ticket; });
  if (it == waiters_.end()) return refusal::none;
  // The share is what refuses it only when the share is smaller than the budget: a tenant that
  // may hold the whole budget waits for capacity like anyone.
  auto why = tenant_full(it->tenant) && share_of(it->tenant) < cfg_.budget ? refusal::tenant
                                                                           : refusal::capacity;
  waiters_.erase(it);
  make_room(now, fx);
  return why;
}

void book::recheck(time_point now, effects& fx) {
  serve(now, fx);
}

void book::set_share(const std::string& tenant, std::optional<uint32_t> share, time_point now,
                     effects& fx) {
  if (share)
    shares_[tenant] = *share;
  else
    shares_.erase(tenant);
  serve(now, fx);
}

void book::set_shares(std::map<std::string, uint32_t> shares, time_point now, effects& fx) {
  shares_ = std::move(shares);
  serve(now, fx);
}

uint32_t book::share_of(const std::string& tenant) const {
  auto it = shares_.find(tenant);
  return it == shares_.end() ? cfg_.tenant_share : it->second;
}

void book::forget_stale_asks(time_point now) {
  for (auto& [id, s] : slots_)
    if (s.asked && (!s.idle || now - *s.asked >= cfg_.patience)) s.asked.reset();
  warm_asks_.erase(std::remove_if(warm_asks_.begin(), warm_asks_.end(),
                                  [&](time_point t) { return now - t >= cfg_.patience; }),
                   warm_asks_.end());
  // The pool cannot give up more processes than it has (starting ones included: it ends those
  // too).
  if (warm_asks_.size() > warm_.size())
    warm_asks_.erase(
        warm_asks_.begin(),
        warm_asks_.begin() + static_cast<std::ptrdiff_t>(warm_asks_.size() - warm_.size()));
}

void book::serve(time_point now, effects& fx) {
  while (!waiters_.empty() && !budget_full() && may_start()) {
    // Fair across tenants: the waiter whose tenant holds the fewest slots goes first (ties: the
    // one that waited longest); a tenant at its share waits while others are served.
    auto best = waiters_.end();
    std::size_t best_held = 0;
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      auto h = held_by(it->tenant);
      if (h >= share_of(it->tenant)) continue;
      if (best == waiters_.end() || h < best_held) {
        best = it;
        best_held = h;
      }
    }
    if (best == waiters_.end()) break;
    auto w = std::move(*best);
    waiters_.erase(best);
    if (slots_.count(w.who) == 0) grant(w.who, w.tenant, w.hibernatable, now);
    fx.granted.push_back(w.ticket);
  }
  make_room(now, fx);
}

book::slot* book::lru_candidate(const std::string* tenant, claimant_id* id) {
  slot* lru = nullptr;
  for (auto& [key, s] : slots_) {
    if (!s.idle || !s.hibernatable || s.asked || (tenant != nullptr && s.tenant != *tenant))
      continue;
    if (lru == nullptr || s.last_used < lru->last_used) {
      lru = &s;
      *id = key;
    }
  }
  return lru;
}

void book::make_room(time_point now, effects& fx) {
  forget_stale_asks(now);
  if (waiters_.empty()) return;
  // Asks on their way, per tenant and in all; each waiter that needs room takes one or makes one.
  std::map<std::string, std::size_t> spare_of;
  std::size_t spare = warm_asks_.size();
  for (auto& [id, s] : slots_)
    if (s.asked) {
      ++spare_of[s.tenant];
      ++spare;
    }
  auto ask = [&](slot& s, claimant_id id) {
    s.asked = now;
    fx.hibernate.push_back(id);
    fx.recheck = true;
  };
  for (auto& w : waiters_) {
    claimant_id id = 0;
    if (tenant_full(w.tenant)) {
      // Only the tenant's own slots help it.
      if (auto& n = spare_of[w.tenant]; n > 0) {
        --n;
        spare -= spare > 0 ? 1 : 0;
      } else if (auto* s = lru_candidate(&w.tenant, &id)) {
        ask(*s, id);
      }
      continue;
    }
    if (!budget_full()) continue;  // only the start cap keeps it: nothing to ask
    if (spare > 0) {
      --spare;
      continue;
    }
    if (warm_.size() > warm_asks_.size()) {
      // A warm process costs a client nothing to give up: it goes before any session.
      warm_asks_.push_back(now);
      ++fx.ask_pool;
      fx.recheck = true;
    } else if (auto* s = lru_candidate(nullptr, &id)) {
      ask(*s, id);
    }
  }
  fx.recheck = true;  // while anyone waits, asks that went nowhere are renewed after patience
}

}  // namespace caa::admission_logic
