#include "actors/admission.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "transport/http/error_catalog.hpp"

#include <caf/all.hpp>

#include <deque>
#include <fstream>
#include <map>
#include <string>

namespace caa {

namespace {

struct holder {
  session_actor who;
  bool idle = false;
  bool asked = false;     // asked to hibernate already
  bool starting = false;  // its process has not written a line yet
  std::chrono::steady_clock::time_point last_used;
};

struct waiter {
  uint64_t ticket;
  session_actor who;
  caf::typed_response_promise<bool> promise;
  std::chrono::steady_clock::time_point since;  // when it started waiting
};

struct admission_state {
  static inline const char* name = "admission";
  admission_config cfg;
  std::map<caf::actor_addr, holder> holders;
  std::deque<waiter> waiters;
  uint64_t next_ticket = 1;
  admission_stats stats;
  uint32_t warm = 0;          // slots held by the warm pool's processes
  uint32_t warm_asked = 0;    // warm processes asked to end for a waiter
  uint32_t warm_starting = 0; // warm slots whose process has not reported `ready`
  warm_pool_actor pool;       // asked for a slot before any session hibernates
};

/// Slots in use: sessions' and the warm pool's.
std::size_t in_use(const admission_state& st) {
  return st.holders.size() + st.warm;
}

/// Processes starting now: granted, no line written yet.
uint32_t starting(const admission_state& st) {
  uint32_t n = st.warm_starting;
  for (auto& [addr, h] : st.holders)
    n += h.starting ? 1 : 0;
  return n;
}

/// Whether one more process may start now.
bool may_start(const admission_state& st) {
  return st.cfg.max_starting == 0 || starting(st) < st.cfg.max_starting;
}

/// Whether a new slot can be granted now.
bool can_grant(const admission_state& st) {
  return in_use(st) < st.cfg.budget && may_start(st);
}

using self_ptr = admission_actor::stateful_pointer<admission_state>;

/// Publishes the budget numbers as gauges (set from the state, so they never drift).
void publish(const admission_state& st) {
  auto& m = metrics::service();
  int64_t idle = 0;
  for (auto& [addr, h] : st.holders)
    idle += h.idle ? 1 : 0;
  auto held = static_cast<int64_t>(st.holders.size());
  m.agent_process_budget.set(st.cfg.budget);
  m.agent_process_slots_held.set(held);
  m.sessions_idle.set(idle);
  m.sessions_running.set(held - idle);
  m.admission_queue_depth.set(static_cast<int64_t>(st.waiters.size()));
  m.admission_starting.set(starting(st));
}

/// Grants a slot to `who`, which waited `waited` for it.
void grant(self_ptr self, const session_actor& who, std::chrono::duration<double> waited) {
  auto& st = self->state;
  holder h;
  h.who = who;
  h.starting = true;
  h.last_used = std::chrono::steady_clock::now();
  st.holders[who.address()] = h;
  self->monitor(who);
  ++st.stats.granted;
  metrics::service().admission_granted.inc();
  metrics::service().admission_wait_seconds.observe(waited.count());
  st.stats.peak_live = std::max<uint32_t>(st.stats.peak_live, in_use(st));
  st.stats.peak_starting = std::max(st.stats.peak_starting, starting(st));
}

/// Asks the least recently used idle holder to hibernate, once per waiter beyond those already
/// asked (only when the budget is what keeps the waiters waiting, not the start cap).
void make_room(self_ptr self) {
  auto& st = self->state;
  if (in_use(st) < st.cfg.budget)
    return;
  size_t asked = 0;
  for (auto& [addr, h] : st.holders)
    asked += h.asked ? 1 : 0;
  asked += st.warm_asked;
  if (asked >= st.waiters.size())
    return;
  if (st.pool && st.warm > st.warm_asked) {
    // A warm process costs a client nothing to give up: it goes before any session.
    ++st.warm_asked;
    self->send(st.pool, atom::hibernate_v);
    return;
  }
  holder* lru = nullptr;
  for (auto& [addr, h] : st.holders)
    if (h.idle && !h.asked && (lru == nullptr || h.last_used < lru->last_used))
      lru = &h;
  if (lru == nullptr)
    return;
  lru->asked = true;
  self->send(lru->who, atom::hibernate_v);
}

/// Serves waiters while slots are free.
void serve_waiters(self_ptr self) {
  auto& st = self->state;
  while (!st.waiters.empty() && can_grant(st)) {
    auto w = std::move(st.waiters.front());
    st.waiters.pop_front();
    if (st.holders.count(w.who.address()) == 0)
      grant(self, w.who, std::chrono::steady_clock::now() - w.since);
    w.promise.deliver(true);
  }
  if (!st.waiters.empty())
    make_room(self);
}

void on_slot_freed(self_ptr self, const caf::actor_addr& addr) {
  if (self->state.holders.erase(addr) == 0)
    return;
  serve_waiters(self);
}

}  // namespace

uint32_t default_process_budget() {
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  uint64_t available_kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:")
      available_kb = kb;
  auto budget = available_kb * 8 / 10 / (300 * 1024);
  return static_cast<uint32_t>(std::clamp<uint64_t>(budget, 1, 512));
}

admission_actor::behavior_type admission(self_ptr self, admission_config cfg) {
  self->state.cfg = cfg;
  self->state.stats.budget = cfg.budget;
  publish(self->state);
  self->set_down_handler([=](caf::down_msg& dm) {
    on_slot_freed(self, dm.source);
    publish(self->state);
  });
  return {
    [=](atom::acquire, session_actor who) -> caf::result<bool> {
      auto& st = self->state;
      if (auto it = st.holders.find(who.address()); it != st.holders.end()) {
        it->second.idle = false;
        publish(st);
        return true;
      }
      if (st.waiters.empty() && can_grant(st)) {
        grant(self, who, std::chrono::duration<double>{0});
        publish(st);
        return true;
      }
      auto ticket = st.next_ticket++;
      auto rp = self->make_response_promise<bool>();
      st.waiters.push_back({ticket, who, rp, std::chrono::steady_clock::now()});
      self->delayed_send(self, st.cfg.wait, atom::timeout_v, ticket);
      make_room(self);
      publish(st);
      return rp;
    },
    [=](atom::release, session_actor who) {
      on_slot_freed(self, who.address());
      publish(self->state);
    },
    [=](atom::ready, session_actor who) {
      auto& st = self->state;
      auto it = st.holders.find(who.address());
      if (it == st.holders.end() || !it->second.starting)
        return;
      it->second.starting = false;
      serve_waiters(self);
      publish(st);
    },
    [=](atom::ready, atom::warm) {
      auto& st = self->state;
      if (st.warm_starting > 0)
        --st.warm_starting;
      serve_waiters(self);
      publish(st);
    },
    [=](atom::idle, session_actor who) {
      auto& st = self->state;
      if (auto it = st.holders.find(who.address()); it != st.holders.end()) {
        it->second.idle = true;
        it->second.last_used = std::chrono::steady_clock::now();
      }
      if (!st.waiters.empty())
        make_room(self);
      publish(st);
    },
    [=](atom::busy, session_actor who) {
      if (auto it = self->state.holders.find(who.address()); it != self->state.holders.end())
        it->second.idle = false;
      publish(self->state);
    },
    [=](atom::acquire, atom::warm) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.waiters.empty() || !can_grant(st))
        return make_error(errc::capacity_exhausted, "no free slot for a warm process");
      ++st.warm;
      ++st.warm_starting;
      st.stats.peak_live = std::max<uint32_t>(st.stats.peak_live, in_use(st));
      st.stats.peak_starting = std::max(st.stats.peak_starting, starting(st));
      publish(st);
      return true;
    },
    [=](atom::release, atom::warm) {
      auto& st = self->state;
      if (st.warm > 0)
        --st.warm;
      if (st.warm_asked > 0)
        --st.warm_asked;
      serve_waiters(self);
      publish(st);
    },
    [=](atom::acquire, atom::warm, session_actor who) {
      auto& st = self->state;
      if (st.warm > 0)
        --st.warm;
      if (st.holders.count(who.address()) == 0) {
        grant(self, who, std::chrono::duration<double>{0});
        st.holders[who.address()].starting = false;  // the pool reports its start (ready, warm)
      }
      publish(st);
    },
    [=](atom::warm, warm_pool_actor pool) { self->state.pool = std::move(pool); },
    [=](atom::stats) {
      auto& st = self->state;
      auto s = st.stats;
      s.live = static_cast<uint32_t>(in_use(st));
      s.waiting = static_cast<uint32_t>(st.waiters.size());
      s.idle = 0;
      for (auto& [addr, h] : st.holders)
        s.idle += h.idle ? 1 : 0;
      s.starting = starting(st);
      return s;
    },
    [=](atom::timeout, uint64_t ticket) {
      auto& st = self->state;
      for (auto it = st.waiters.begin(); it != st.waiters.end(); ++it) {
        if (it->ticket != ticket)
          continue;
        ++st.stats.refused;
        metrics::service().admission_refused.inc();
        it->promise.deliver(http::with_retry_after(
          make_error(errc::capacity_exhausted, "no agent process slot in time"),
          std::chrono::seconds{5}));
        st.waiters.erase(it);
        publish(st);
        log::warn("admission refused a turn", {.component = "admission"});
        return;
      }
    },
  };
}

admission_actor spawn_admission(caf::actor_system& sys, admission_config cfg) {
  return sys.spawn(admission, cfg);
}

}  // namespace caa
