#include "actors/admission.hpp"

#include "actors/admission_book.hpp"
#include "config/errc.hpp"
#include "config/error_values.hpp"
#include "config/logging.hpp"
#include "config/metrics_catalog.hpp"
#include "storage/postgres/usage_queries.hpp"

#include <caf/all.hpp>

#include <fstream>
#include <map>
#include <string>

namespace caa {

namespace {

using admission_logic::claimant_id;

struct pending {
  claimant_id who;
  caf::typed_response_promise<bool> promise;
  caf::actor_clock::time_point since;
};

/// The actor around the book: it maps sessions and probes to claimants, keeps the promises of
/// waiters and carries out the book's effects. The numbers are all the book's.
struct admission_state {
  static inline const char* name = "admission";
  admission_config cfg;
  std::optional<admission_logic::book> book;
  std::map<caf::actor_addr, claimant_id> session_ids;
  std::map<claimant_id, session_actor> sessions;
  std::map<uint64_t, claimant_id> probe_ids;   // by probe id
  std::map<uint64_t, claimant_id> orphan_ids;  // by orphan key
  std::map<uint64_t, pending> waiting;         // by ticket
  claimant_id next_id = 1;
  admission_stats stats;
  bool recheck_armed = false;
  warm_pool_actor pool;  // asked for a slot before any session hibernates
};

using self_ptr = admission_actor::stateful_pointer<admission_state>;

/// Publishes the budget numbers as gauges (set from the book, so they never drift).
void publish(const admission_state& st) {
  auto& m = metrics::service();
  auto& b = *st.book;
  auto held = static_cast<int64_t>(b.held());
  auto idle = static_cast<int64_t>(b.idle_count());
  m.agent_process_budget.set(st.cfg.budget);
  m.agent_process_slots_held.set(held);
  m.sessions_idle.set(idle);
  m.sessions_running.set(held - idle);
  m.admission_queue_depth.set(static_cast<int64_t>(b.waiting()));
  m.admission_starting.set(b.starting());
}

void note_peaks(admission_state& st) {
  st.stats.peak_live = std::max<uint32_t>(st.stats.peak_live, st.book->in_use());
  st.stats.peak_starting = std::max(st.stats.peak_starting, st.book->starting());
}

void count_grant(admission_state& st, std::chrono::duration<double> waited) {
  ++st.stats.granted;
  metrics::service().admission_granted.inc();
  metrics::service().admission_wait_seconds.observe(waited.count());
  note_peaks(st);
}

/// Carries out what the book asked for.
void apply(self_ptr self, admission_logic::effects& fx) {
  auto& st = self->state;
  auto now = self->clock().now();
  for (auto ticket : fx.granted) {
    auto it = st.waiting.find(ticket);
    if (it == st.waiting.end()) continue;
    count_grant(st, now - it->second.since);
    it->second.promise.deliver(true);
    st.waiting.erase(it);
  }
  for (auto id : fx.hibernate)
    if (auto it = st.sessions.find(id); it != st.sessions.end())
      self->send(it->second, atom::hibernate_v);
  for (uint32_t i = 0; i < fx.ask_pool && st.pool; ++i) self->send(st.pool, atom::hibernate_v);
  if (fx.recheck && !st.recheck_armed) {
    st.recheck_armed = true;
    self->delayed_send(self, st.cfg.patience, atom::recheck_v);
  }
  publish(st);
}

/// The claimant of session `who`, made (and monitored) on first sight.
claimant_id claimant_of(self_ptr self, const session_actor& who) {
  auto& st = self->state;
  auto [it, fresh] = st.session_ids.emplace(who.address(), 0);
  if (fresh) {
    it->second = st.next_id++;
    st.sessions.emplace(it->second, who);
    self->monitor(who);
  }
  return it->second;
}

/// An acquire of `who` (of `tenant`) as the book decides it: true now, or a promise.
caf::result<bool> acquire(self_ptr self, claimant_id who, const std::string& tenant,
                          bool hibernatable) {
  auto& st = self->state;
  admission_logic::effects fx;
  uint64_t ticket = 0;
  bool had = st.book->holds(who);
  if (st.book->acquire(who, tenant, hibernatable, self->clock().now(), ticket, fx)) {
    if (!had) count_grant(st, std::chrono::duration<double>{0});
    apply(self, fx);
    return true;
  }
  auto rp = self->make_response_promise<bool>();
  st.waiting.emplace(ticket, pending{who, rp, self->clock().now()});
  self->delayed_send(self, st.cfg.wait, atom::timeout_v, ticket);
  apply(self, fx);
  return rp;
}

/// Forgets the waiters of claimant `who` (it is gone: nobody reads their answer).
void drop_waiting(admission_state& st, claimant_id who) {
  for (auto it = st.waiting.begin(); it != st.waiting.end();)
    it = it->second.who == who ? st.waiting.erase(it) : std::next(it);
}

/// Releases the claimant `ids` names by `key` (a probe, an orphan), if it still holds or waits.
void release_keyed(self_ptr self, std::map<uint64_t, claimant_id>& ids, uint64_t key) {
  auto& st = self->state;
  auto it = ids.find(key);
  if (it == ids.end()) return;
  auto id = it->second;
  ids.erase(it);
  drop_waiting(st, id);
  admission_logic::effects fx;
  st.book->release(id, self->clock().now(), fx);
  apply(self, fx);
}

}  // namespace

uint32_t default_process_budget() {
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  uint64_t available_kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") available_kb = kb;
  auto budget = available_kb * 8 / 10 / (300 * 1024);
  return static_cast<uint32_t>(std::clamp<uint64_t>(budget, 1, 512));
}

uint32_t resolve_tenant_share(uint32_t budget, uint32_t configured) {
  if (configured > 0) return configured;
  return std::max<uint32_t>(1, budget / 2);
}

/// Reads every tenant's own share from PostgreSQL and applies it; again after the refresh.
void refresh_shares(self_ptr self) {
  auto& st = self->state;
  self->request(st.cfg.pg, std::chrono::seconds{10}, storage::make_limit_shares_query())
      .then(
          [=](storage::db_result& r) {
            auto shares = storage::parse_limit_shares(r);
            if (!shares) return;
            admission_logic::effects fx;
            self->state.book->set_shares(std::move(*shares), self->clock().now(), fx);
            apply(self, fx);
          },
          [](caf::error&) {
            log::warn("cannot read the tenants' shares of agent processes",
                      {.component = "admission"});
          });
  self->delayed_send(self, st.cfg.share_refresh, atom::share_v);
}

admission_actor::behavior_type admission(self_ptr self, admission_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  const auto& c = st.cfg;
  st.stats.budget = c.budget;
  admission_logic::book_config bc;
  bc.budget = c.budget;
  bc.max_starting = c.max_starting;
  bc.tenant_share = resolve_tenant_share(c.budget, c.tenant_share);
  bc.patience = std::chrono::duration_cast<admission_logic::duration>(c.patience);
  st.book.emplace(bc);
  publish(st);
  if (c.pg) self->send(self, atom::share_v);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    auto it = s.session_ids.find(dm.source);
    if (it == s.session_ids.end()) return;
    auto id = it->second;
    s.session_ids.erase(it);
    s.sessions.erase(id);
    drop_waiting(s, id);
    admission_logic::effects fx;
    s.book->release(id, self->clock().now(), fx);
    apply(self, fx);
  });
  // Runs `f(book, now, effects)` and carries out the effects.
  auto with_book = [self](auto f) {
    admission_logic::effects fx;
    f(*self->state.book, self->clock().now(), fx);
    apply(self, fx);
  };
  return {
      [=](atom::acquire, const session_actor& who, std::string& tenant) -> caf::result<bool> {
        return acquire(self, claimant_of(self, who), tenant, true);
      },
      [=](atom::acquire, atom::probe, uint64_t probe, std::string& tenant) -> caf::result<bool> {
        auto& s = self->state;
        auto [it, fresh] = s.probe_ids.emplace(probe, 0);
        if (fresh) it->second = s.next_id++;
        return acquire(self, it->second, tenant, false);
      },
      [=](atom::release, atom::probe, uint64_t probe) {
        release_keyed(self, self->state.probe_ids, probe);
      },
      [=](atom::release, const session_actor& who) {
        auto id = claimant_of(self, who);
        with_book([id](auto& b, auto now, auto& fx) { b.release(id, now, fx); });
      },
      [=](atom::orphan, const session_actor& who, uint64_t key) {
        auto from = claimant_of(self, who);
        auto to = self->state.next_id++;
        self->state.orphan_ids[key] = to;
        with_book([=](auto& b, auto now, auto& fx) { b.hand_over(from, to, now, fx); });
      },
      [=](atom::release, atom::orphan, uint64_t key) {
        release_keyed(self, self->state.orphan_ids, key);
      },
      [=](atom::ready, const session_actor& who) {
        auto id = claimant_of(self, who);
        with_book([id](auto& b, auto now, auto& fx) { b.ready(id, now, fx); });
      },
      [=](atom::ready, atom::warm) {
        with_book([](auto& b, auto now, auto& fx) { b.warm_ready(now, fx); });
      },
      [=](atom::idle, const session_actor& who) {
        auto id = claimant_of(self, who);
        with_book([id](auto& b, auto now, auto& fx) { b.idle(id, now, fx); });
      },
      [=](atom::busy, const session_actor& who) {
        auto id = claimant_of(self, who);
        with_book([id](auto& b, auto now, auto& fx) { b.busy(id, now, fx); });
      },
      [=](atom::acquire, atom::warm) -> caf::result<bool> {
        auto& s = self->state;
        if (!s.book->acquire_warm())
          return make_error(errc::capacity_exhausted, "no free slot for a warm process");
        note_peaks(s);
        publish(s);
        return true;
      },
      [=](atom::release, atom::warm) {
        with_book([](auto& b, auto now, auto& fx) { b.release_warm(now, fx); });
      },
      [=](atom::acquire, atom::warm, const session_actor& who, std::string& tenant) {
        auto id = claimant_of(self, who);
        with_book([&](auto& b, auto now, auto& fx) { b.adopt_warm(id, tenant, now, fx); });
      },
      [=](atom::find, const std::string& tenant) -> bool {
        const auto& b = *self->state.book;
        return b.held_by(tenant) < b.share_of(tenant);
      },
      [=](atom::warm, warm_pool_actor pool) { self->state.pool = std::move(pool); },
      [=](atom::stats) {
        auto& s = self->state;
        auto out = s.stats;
        out.live = static_cast<uint32_t>(s.book->in_use());
        out.waiting = static_cast<uint32_t>(s.book->waiting());
        out.idle = static_cast<uint32_t>(s.book->idle_count());
        out.starting = s.book->starting();
        return out;
      },
      [=](atom::share, const std::string& tenant, int32_t share) {
        std::optional<uint32_t> own;
        if (share >= 0) own = static_cast<uint32_t>(share);
        with_book([&](auto& b, auto now, auto& fx) { b.set_share(tenant, own, now, fx); });
      },
      [=](atom::share) { refresh_shares(self); },
      [=](atom::recheck) {
        self->state.recheck_armed = false;
        with_book([](auto& b, auto now, auto& fx) { b.recheck(now, fx); });
      },
      [=](atom::timeout, uint64_t ticket) {
        auto& s = self->state;
        admission_logic::effects fx;
        auto why = s.book->expire(ticket, self->clock().now(), fx);
        auto it = s.waiting.find(ticket);
        if (why != admission_logic::refusal::none && it != s.waiting.end()) {
          ++s.stats.refused;
          metrics::service().admission_refused.inc();
          auto tenant = why == admission_logic::refusal::tenant;
          it->second.promise.deliver(caa::with_retry_after(
              tenant ? make_error(errc::tenant_capacity, "the tenant holds its share of processes")
                     : make_error(errc::capacity_exhausted, "no agent process slot in time"),
              std::chrono::seconds{5}));
          s.waiting.erase(it);
          log::warn(tenant ? "admission refused a turn: the tenant holds its share"
                           : "admission refused a turn",
                    {.component = "admission"});
        }
        apply(self, fx);
      },
  };
}

admission_actor spawn_admission(caf::actor_system& sys, admission_config cfg) {
  return sys.spawn(admission, cfg);
}

}  // namespace caa
