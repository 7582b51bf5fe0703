#include "actors/admission.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"
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
  bool asked = false;  // asked to hibernate already
  std::chrono::steady_clock::time_point last_used;
};

struct waiter {
  uint64_t ticket;
  session_actor who;
  caf::typed_response_promise<bool> promise;
};

struct admission_state {
  static inline const char* name = "admission";
  admission_config cfg;
  std::map<caf::actor_addr, holder> holders;
  std::deque<waiter> waiters;
  uint64_t next_ticket = 1;
  admission_stats stats;
};

using self_ptr = admission_actor::stateful_pointer<admission_state>;

void grant(self_ptr self, const session_actor& who) {
  auto& st = self->state;
  holder h;
  h.who = who;
  h.last_used = std::chrono::steady_clock::now();
  st.holders[who.address()] = h;
  self->monitor(who);
  ++st.stats.granted;
  st.stats.peak_live = std::max<uint32_t>(st.stats.peak_live, st.holders.size());
}

/// Asks the least recently used idle holder to hibernate, once per waiter beyond those already
/// asked.
void make_room(self_ptr self) {
  auto& st = self->state;
  size_t asked = 0;
  for (auto& [addr, h] : st.holders)
    asked += h.asked ? 1 : 0;
  if (asked >= st.waiters.size())
    return;
  holder* lru = nullptr;
  for (auto& [addr, h] : st.holders)
    if (h.idle && !h.asked && (lru == nullptr || h.last_used < lru->last_used))
      lru = &h;
  if (lru == nullptr)
    return;
  lru->asked = true;
  self->send(lru->who, atom::hibernate_v);
}

void on_slot_freed(self_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  if (st.holders.erase(addr) == 0)
    return;
  while (!st.waiters.empty() && st.holders.size() < st.cfg.budget) {
    auto w = std::move(st.waiters.front());
    st.waiters.pop_front();
    if (st.holders.count(w.who.address()) == 0)
      grant(self, w.who);
    w.promise.deliver(true);
  }
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
  self->set_down_handler([=](caf::down_msg& dm) { on_slot_freed(self, dm.source); });
  return {
    [=](atom::acquire, session_actor who) -> caf::result<bool> {
      auto& st = self->state;
      if (auto it = st.holders.find(who.address()); it != st.holders.end()) {
        it->second.idle = false;
        return true;
      }
      if (st.holders.size() < st.cfg.budget) {
        grant(self, who);
        return true;
      }
      auto ticket = st.next_ticket++;
      auto rp = self->make_response_promise<bool>();
      st.waiters.push_back({ticket, who, rp});
      self->delayed_send(self, st.cfg.wait, atom::timeout_v, ticket);
      make_room(self);
      return rp;
    },
    [=](atom::release, session_actor who) { on_slot_freed(self, who.address()); },
    [=](atom::idle, session_actor who) {
      auto& st = self->state;
      if (auto it = st.holders.find(who.address()); it != st.holders.end()) {
        it->second.idle = true;
        it->second.last_used = std::chrono::steady_clock::now();
      }
      if (!st.waiters.empty())
        make_room(self);
    },
    [=](atom::busy, session_actor who) {
      if (auto it = self->state.holders.find(who.address()); it != self->state.holders.end())
        it->second.idle = false;
    },
    [=](atom::stats) {
      auto& st = self->state;
      auto s = st.stats;
      s.live = static_cast<uint32_t>(st.holders.size());
      s.waiting = static_cast<uint32_t>(st.waiters.size());
      s.idle = 0;
      for (auto& [addr, h] : st.holders)
        s.idle += h.idle ? 1 : 0;
      return s;
    },
    [=](atom::timeout, uint64_t ticket) {
      auto& st = self->state;
      for (auto it = st.waiters.begin(); it != st.waiters.end(); ++it) {
        if (it->ticket != ticket)
          continue;
        ++st.stats.refused;
        it->promise.deliver(http::with_retry_after(
          make_error(errc::capacity_exhausted, "no agent process slot in time"),
          std::chrono::seconds{5}));
        st.waiters.erase(it);
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
