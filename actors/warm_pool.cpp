#include "actors/warm_pool.hpp"

#include "actors/cli_start.hpp"
#include "config/errc.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "config/uuid.hpp"
#include "transport/claude/control.hpp"

#include <caf/all.hpp>

#include <deque>
#include <map>
#include <set>
#include <utility>

namespace caa {

namespace {

using namespace std::chrono_literals;

/// The warm processes of one tenant-and-options key.
struct key_state {
  turn_spec_ptr spec;                                       ///< what its processes are started with
  std::deque<std::pair<uint64_t, warm_process_ptr>> ready;  ///< oldest first
  uint32_t starting = 0;              ///< slots asked for, and starts until the process arrives
  caf::actor_clock::time_point used;  ///< last take (the actor clock)
};

/// A warm process being started on a launch thread.
struct warm_launch {
  std::string key;          ///< the key it is for
  warm_process_ptr w;       ///< it, without its process yet
  cli_start_ticket ticket;  ///< the start itself
};

struct pool_state {
  static inline const char* name = "warm_pool";
  warm_pool_config cfg;
  std::map<std::string, key_state> keys;
  std::map<uint64_t, warm_launch> launching;   // started, not arrived yet
  std::map<uint64_t, std::string> key_of;      // ready processes by id
  std::map<uint64_t, warm_process_ptr> dying;  // ended, slot back at their exit
  std::set<uint64_t> silent;  // started, no line written yet: admission counts their start
  uint64_t next_id = 1;
  uint32_t owed = 0;  // slots admission asked back that no ready process could give yet
  bool retry_armed = false;
  claude::request_id_generator ids;
};

using self_ptr = warm_pool_actor::stateful_pointer<pool_state>;

/// Publishes how many warm processes are ready.
void publish(const pool_state& st) {
  metrics::service().agent_processes_warm.set(static_cast<int64_t>(st.key_of.size()));
}

/// Ends ready process `id` of `k`; its slot goes back when it has exited.
void retire(self_ptr self, key_state& k, std::size_t index) {
  auto& st = self->state;
  auto [id, w] = k.ready[index];
  k.ready.erase(k.ready.begin() + static_cast<std::ptrdiff_t>(index));
  st.key_of.erase(id);
  w->proc->kill();
  st.dying.emplace(id, std::move(w));
  publish(st);
}

void refill(self_ptr self, const std::string& key);

/// Tells admission that the start of process `id` is over (it spoke, was taken or ended).
void start_over(self_ptr self, uint64_t id) {
  if (self->state.silent.erase(id) > 0)
    self->send(self->state.cfg.admission, atom::ready_v, atom::warm_v);
}

/// Tries again later when a refill found no free slot.
void arm_retry(self_ptr self) {
  if (self->state.retry_armed) return;
  self->state.retry_armed = true;
  self->delayed_send(self, 2s, atom::timeout_v, uint64_t{0});
}

/// One start of `k` is over. A key dropped and kept again meanwhile counts from zero: never
/// below it.
void one_less_starting(key_state& k) {
  if (k.starting > 0) --k.starting;
}

/// Gives a slot granted to the pool back (its process did not start, or is not wanted).
void give_slot_back(self_ptr self) {
  self->send(self->state.cfg.admission, atom::ready_v, atom::warm_v);  // no start after all
  self->send(self->state.cfg.admission, atom::release_v, atom::warm_v);
}

/// Whether a process started for `key` is still wanted: its key is kept and admission is owed
/// no slot (an owed slot is paid with it: true then).
bool owes_slot_instead(pool_state& st, const std::string& key) {
  if (st.keys.count(key) > 0 && st.owed == 0) return false;
  if (st.owed > 0) --st.owed;
  return true;
}

/// A slot was granted for `key`: start one process on a launch thread (or give the slot back
/// when owed); `on_launched` takes it.
void start_one(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto it = st.keys.find(key);
  if (owes_slot_instead(st, key)) {
    if (it != st.keys.end()) one_less_starting(it->second);
    give_slot_back(self);
    return;
  }
  auto& k = it->second;  // still counts this start as starting, until `on_launched`
  auto id = st.next_id++;
  auto w = std::make_shared<warm_process>();
  w->session_id = new_uuid();
  w->spec = k.spec;
  w->route = std::make_shared<cli_route>();
  w->route->set(self->address(), id);
  auto ticket =
      start_cli_for(*st.cfg.launcher, fresh_session_options(*k.spec, w->session_id), *k.spec,
                    w->route, hooks_init_json(*k.spec), st.ids.next(), self->address(), id);
  st.launching.emplace(id, warm_launch{key, std::move(w), std::move(ticket)});
}

/// Warm process `id` arrived from its launch thread (or could not start).
void on_launched(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto node = st.launching.extract(id);
  if (node.empty()) return;
  auto& l = node.mapped();
  if (auto it = st.keys.find(l.key); it != st.keys.end()) one_less_starting(it->second);
  if (owes_slot_instead(st, l.key)) {  // the key went, or the slot is owed: the process dies
    // Its slot goes back once it is reaped, never while it still runs.
    self->send(st.cfg.admission, atom::ready_v, atom::warm_v);  // no start after all
    l.ticket.discard([admission = st.cfg.admission] {
      caf::anon_send(admission, atom::release_v, atom::warm_v);
    });
    return;
  }
  l.w->proc = l.ticket.serve();
  if (!l.w->proc) {
    give_slot_back(self);
    return;
  }
  st.silent.insert(id);
  log::info("warm agent CLI started",
            {.component = "warm_pool", .pid = uint64_t(l.w->proc->pid())});
  st.key_of.emplace(id, l.key);
  st.keys[l.key].ready.emplace_back(id, std::move(l.w));
  publish(st);
}

void refill(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto it = st.keys.find(key);
  if (it == st.keys.end()) return;
  auto& k = it->second;
  while (k.ready.size() + k.starting < st.cfg.per_key) {
    ++k.starting;
    self->request(st.cfg.admission, 5s, atom::acquire_v, atom::warm_v)
        .then([=](bool) { start_one(self, key); },
              [=](caf::error&) {
                if (auto i = self->state.keys.find(key); i != self->state.keys.end())
                  one_less_starting(i->second);
                arm_retry(self);
              });
  }
}

/// Keeps at most `max_keys` keys: the least recently used one goes, with its processes.
void trim_keys(self_ptr self) {
  auto& st = self->state;
  while (st.keys.size() > st.cfg.max_keys) {
    auto lru = st.keys.begin();
    for (auto i = st.keys.begin(); i != st.keys.end(); ++i)
      if (i->second.used < lru->second.used) lru = i;
    while (!lru->second.ready.empty()) retire(self, lru->second, 0);
    st.keys.erase(lru);  // starts under way give their slot back (start_one, on_launched)
  }
}

}  // namespace

warm_pool_actor spawn_warm_pool(caf::actor_system& sys, warm_pool_config cfg) {
  // The configuration goes in as a spawn argument: CAF 0.17.6 dereferences a null argument tuple
  // when a function actor is spawned without arguments (UBSan reports it).
  auto pool = sys.spawn(
      [](self_ptr self, warm_pool_config cfg) -> warm_pool_actor::behavior_type {
        self->state.cfg = std::move(cfg);
        return {
            [=](atom::take, std::string& key) -> caf::result<warm_process_ptr> {
              auto& st = self->state;
              auto it = st.keys.find(key);
              if (it == st.keys.end() || it->second.ready.empty())
                return make_error(errc::not_found, "no warm process");
              auto [id, w] = std::move(it->second.ready.front());
              it->second.ready.pop_front();
              st.key_of.erase(id);
              start_over(self, id);
              publish(st);
              refill(self, key);
              return w;
            },
            [=](atom::warm, std::string& key, turn_spec_ptr& spec) {
              auto& st = self->state;
              if (st.cfg.per_key == 0 || !spec) return;
              auto& k = st.keys[key];
              k.spec = std::move(spec);
              k.used = self->clock().now();
              trim_keys(self);
              refill(self, key);
            },
            [=](atom::hibernate) {
              auto& st = self->state;
              key_state* lru = nullptr;
              for (auto& [key, k] : st.keys)
                if (!k.ready.empty() && (lru == nullptr || k.used < lru->used)) lru = &k;
              if (lru == nullptr) {
                ++st.owed;  // the next slot granted to the pool goes straight back
                return;
              }
              retire(self, *lru, 0);
            },
            [=](atom::line, uint64_t id, std::string&) {
              // Output of a process nobody has taken yet (its initialize reply): its start is over.
              start_over(self, id);
            },
            [=](atom::line, uint64_t id, std::vector<std::string>&) { start_over(self, id); },
            [=](atom::exited, uint64_t id, int32_t, std::string&) {
              auto& st = self->state;
              start_over(self, id);
              if (st.dying.erase(id) > 0) {
                self->send(st.cfg.admission, atom::release_v, atom::warm_v);
                return;
              }
              auto it = st.key_of.find(id);
              if (it == st.key_of.end())
                return;  // taken by a session meanwhile: its route points there now
              auto key = it->second;
              st.key_of.erase(it);
              auto& k = st.keys[key];
              for (auto i = k.ready.begin(); i != k.ready.end(); ++i)
                if (i->first == id) {
                  k.ready.erase(i);
                  break;
                }
              publish(st);
              log::warn("a warm agent CLI ended before use", {.component = "warm_pool"});
              self->send(st.cfg.admission, atom::release_v, atom::warm_v);
              arm_retry(self);
            },
            [=](atom::launched, uint64_t id) { on_launched(self, id); },
            [=](atom::timeout, uint64_t) {
              self->state.retry_armed = false;
              std::vector<std::string> keys;
              for (auto& [key, k] : self->state.keys) keys.push_back(key);
              for (auto& key : keys) refill(self, key);
            },
        };
      },
      cfg);
  caf::anon_send(cfg.admission, atom::warm_v, pool);
  return pool;
}

}  // namespace caa
