#pragma once

// The fixture of the registry's clock tests (registry_drain_test.cpp, warm_pool_clock_test.cpp):
// CAF's test coordinator (virtual time, no wall clock), fake sessions that answer `busy` as the
// test decides and record what the registry tells them, a fake PostgreSQL and a fake admission.

#include "actors/registry.hpp"
#include "actors/warm_pool.hpp"
#include "config/errc.hpp"
#include "storage/postgres/statements.hpp"
#include "tests/unit/actor_test_support.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <map>
#include <memory>
#include <optional>
#include <variant>

namespace registry_clock {

using namespace caa;
using namespace std::chrono_literals;

inline const std::string tenant = "11111111-2222-3333-4444-555555555555";
inline const std::string sid_a = "aaaaaaaa-0000-0000-0000-000000000001";
inline const std::string sid_b = "aaaaaaaa-0000-0000-0000-000000000002";

/// The registry polls running turns this often during a drain.
constexpr auto poll_period = 250ms;

// -- fakes --------------------------------------------------------------------------------------

/// What a fake session was told, and how it answers `busy`.
struct session_log {
  bool busy = false;    ///< the answer to `busy`
  bool silent = false;  ///< never answer `busy` (the promise stays pending)
  std::vector<caf::actor_clock::time_point> polls;  ///< when `busy` was asked
  int drains = 0;
  int interrupts = 0;
  int hibernations = 0;
  int row_reads = 0;  ///< `find` (its row) asked
  std::vector<caf::typed_response_promise<bool>> unanswered;
};

using session_logs = std::map<std::string, std::shared_ptr<session_log>>;

struct fake_session_state {
  static inline const char* name = "fake_session";
};

inline caf::behavior fake_session(caf::stateful_actor<fake_session_state>* self,
                                  std::shared_ptr<session_log> log) {
  return caa::test_support::fake_session_behavior(
      [](atom::run, turn_spec_ptr&) -> caf::result<turn_accepted> {
        return make_error(errc::internal, "fake");
      },
      [](atom::run, portable_turn&) -> caf::result<turn_accepted> {
        return make_error(errc::internal, "fake");
      },
      [](atom::subscribe, event_sink_ptr&, uint64_t) -> caf::result<uint64_t> {
        return uint64_t{0};
      },
      [](atom::subscribe, caf::actor&, uint64_t) -> caf::result<uint64_t> {
        return make_error(errc::unavailable, "fake");
      },
      [=](atom::interrupt) -> caf::result<bool> {
        ++log->interrupts;
        return true;
      },
      [](atom::remove) -> caf::result<bool> { return true; },
      [=](atom::hibernate) { ++log->hibernations; }, [=](atom::drain) { ++log->drains; },
      [=](atom::find) -> caf::result<storage::db_result> {
        ++log->row_reads;
        return storage::db_result{{{std::string{"row of the fake"}}}, 1};
      },
      [=](atom::busy) -> caf::result<bool> {
        log->polls.push_back(self->clock().now());
        if (!log->silent) return log->busy;
        auto rp = self->make_response_promise<bool>();
        log->unanswered.push_back(rp);
        return rp;
      });
}

/// A session row of tenant `tenant_id` and id `id`, as the catalogue's columns deliver it.
inline storage::db_row session_row(const std::string& tenant_id, const std::string& id) {
  std::vector<storage::db_value> row{id,
                                     tenant_id,
                                     id,
                                     caf::none,
                                     std::string{"0"},
                                     std::string{"idle"},
                                     caf::none,
                                     std::string{"default"},
                                     std::string{},
                                     std::string{"{}"},
                                     caf::none,
                                     std::string{"[]"},
                                     std::string{"0"},
                                     std::string{"0"},
                                     std::string{"{}"},
                                     std::string{"0"},
                                     caf::none,
                                     std::string{"2024-05-01T12:00:00.000Z"},
                                     std::string{"2024-05-01T12:00:00.000Z"},
                                     std::string{"0"},
                                     std::string{"0"}};
  return row;
}

/// A PostgreSQL that has every session asked for (`session_get`) or created (`session_create`),
/// and counts the creations.
inline storage::pg_actor::behavior_type fake_pg(storage::pg_actor::pointer,
                                                std::shared_ptr<int> creations) {
  return {
      [=](storage::db_query& q) -> caf::result<storage::db_result> {
        if (q.statement_name == storage::stmt::session_create) ++*creations;
        if ((q.statement_name == storage::stmt::session_get ||
             q.statement_name == storage::stmt::session_create) &&
            q.params.size() > 1 && q.params[0] && q.params[1])
          return storage::db_result{{session_row(*q.params[0], *q.params[1])}, 1};
        return storage::db_result{};
      },
      [](storage::db_batch& b) -> caf::result<std::vector<storage::db_result>> {
        return std::vector<storage::db_result>(b.queries.size());
      },
      [](caa::atom::ping) { return true; },
  };
}

/// What the warm pool asked of a fake admission.
struct admission_log {
  bool refuse = true;  ///< refuse warm slots at once (else they wait in `pending`)
  std::vector<caf::actor_clock::time_point> warm_asks;  ///< when a warm slot was asked
  std::vector<caf::typed_response_promise<bool>> pending;
  int warm_releases = 0;
};

struct fake_admission_state {
  static inline const char* name = "fake_admission";
};

inline admission_actor::behavior_type fake_admission(
    admission_actor::stateful_pointer<fake_admission_state> self,
    std::shared_ptr<admission_log> log) {
  return {
      [](atom::acquire, session_actor&, std::string&) -> caf::result<bool> { return true; },
      [](atom::acquire, atom::probe, uint64_t, std::string&) -> caf::result<bool> { return true; },
      [](atom::release, atom::probe, uint64_t) {},
      [](atom::ready, session_actor&) {},
      [](atom::ready, atom::warm) {},
      [](atom::release, session_actor&) {},
      [](atom::orphan, session_actor&, uint64_t) {},
      [](atom::release, atom::orphan, uint64_t) {},
      [](atom::idle, session_actor&) {},
      [](atom::busy, session_actor&) {},
      [=](atom::acquire, atom::warm) -> caf::result<bool> {
        log->warm_asks.push_back(self->clock().now());
        if (log->refuse) return make_error(errc::capacity_exhausted, "fake");
        auto rp = self->make_response_promise<bool>();
        log->pending.push_back(rp);
        return rp;
      },
      [=](atom::release, atom::warm) { ++log->warm_releases; },
      [](atom::acquire, atom::warm, session_actor&, std::string&) {},
      [](atom::find, std::string&) -> caf::result<bool> { return true; },
      [](atom::warm, warm_pool_actor&) {},
      [](atom::stats) -> caf::result<admission_stats> { return admission_stats{}; },
      [](atom::timeout, uint64_t) {},
      // Not admission's meaning: the test grants the oldest waiting warm slot (a promise is
      // delivered from inside its actor).
      [=](atom::recheck) {
        if (log->pending.empty()) return;
        log->pending.front().deliver(true);
        log->pending.erase(log->pending.begin());
      },
      [](atom::share, std::string&, int32_t) {},
      [](atom::share) {},
  };
}

// -- fixture ------------------------------------------------------------------------------------

using test_config = caa::test_support::coordinator_config;

/// An answer recorded by a one-shot client actor: nothing yet, a value, or the errc.
template <class T>
using answer = std::shared_ptr<std::optional<std::variant<T, errc>>>;

template <class T>
answer<T> make_answer() {
  return std::make_shared<std::optional<std::variant<T, errc>>>();
}

class registry_drain_test : public ::testing::Test {
 protected:
  registry_drain_test()
      : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

  ~registry_drain_test() override {
    // The test coordinator runs nothing by itself: stop every actor (the registry takes its
    // linked sessions along) and let the system end.
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  /// A registry whose sessions are fakes (their logs in `sessions`, by id).
  registry_actor make_registry(caf::timespan grace = 30s) {
    registry_deps deps;
    auto pg = sys.spawn(fake_pg, creations);
    spawned.push_back(caf::actor_cast<caf::actor>(pg));
    deps.sessions.pg = pg;
    deps.drain_grace = grace;
    deps.spawn = [logs = sessions](caf::actor_system& s, session_identity who, session_deps,
                                   session_owner_actor) {
      auto& log = (*logs)[who.id];
      if (!log) log = std::make_shared<session_log>();
      return caf::actor_cast<session_actor>(s.spawn(fake_session, log));
    };
    auto reg = spawn_registry(sys, std::move(deps));
    spawned.push_back(caf::actor_cast<caf::actor>(reg));
    return reg;
  }

  /// Runs `f` in a one-shot client actor on the test scheduler (it never blocks the test).
  template <class F>
  void client(F f) {
    auto c = sys.spawn([](caf::event_based_actor* self, F g) { g(self); }, std::move(f));
    spawned.push_back(c);  // one still waiting (a drain that never ends) ends with the test
  }

  /// Revives session `id` (the fake PostgreSQL has it) and returns its log.
  std::shared_ptr<session_log> add_session(registry_actor reg, const std::string& id) {
    auto out = make_answer<session_actor>();
    client([=](caf::event_based_actor* c) {
      c->request(reg, caf::infinite, atom::find_v, tenant, id)
          .then([=](session_actor& s) { *out = s; }, [=](caf::error& e) { *out = errc_of(e); });
    });
    sched.run();
    EXPECT_TRUE(*out && std::holds_alternative<session_actor>(**out)) << "no session " << id;
    return (*sessions)[id];
  }

  /// Asks `reg` for the row of session `id` of `tenant_id` as a read does (`false`: never
  /// revived; its actor answers when it is live, else PostgreSQL).
  answer<storage::db_result> read_row(registry_actor reg, const std::string& tenant_id,
                                      const std::string& id) {
    auto out = make_answer<storage::db_result>();
    client([=](caf::event_based_actor* c) {
      c->request(reg, caf::infinite, atom::find_v, tenant_id, id, false)
          .then([=](storage::db_result& r) { *out = r; },
                [=](caf::error& e) { *out = errc_of(e); });
    });
    sched.run();
    return out;
  }

  /// Asks `reg` to drain; the answer lands in the result once the drain is over.
  answer<bool> drain(registry_actor reg) {
    auto out = make_answer<bool>();
    client([=](caf::event_based_actor* c) {
      c->request(reg, caf::infinite, atom::drain_v)
          .then([=](bool ok) { *out = ok; }, [=](caf::error& e) { *out = errc_of(e); });
    });
    sched.run();
    return out;
  }

  /// Asks `reg` for a new session (with a first-turn spec when `spec`).
  answer<std::string> create(registry_actor reg, turn_spec_ptr spec = nullptr) {
    auto out = make_answer<std::string>();
    new_session ns;
    ns.tenant_id = tenant;
    client([=](caf::event_based_actor* c) {
      auto ok = [=](std::string& id, session_actor&) { *out = id; };
      auto fail = [=](caf::error& e) { *out = errc_of(e); };
      if (spec)
        c->request(reg, caf::infinite, atom::create_v, ns, spec).then(ok, fail);
      else
        c->request(reg, caf::infinite, atom::create_v, ns).then(ok, fail);
    });
    sched.run();
    return out;
  }

  /// Moves virtual time on by `d` and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<session_logs> sessions = std::make_shared<session_logs>();
  std::shared_ptr<int> creations = std::make_shared<int>(0);
  std::vector<caf::actor> spawned;
};

/// A duration in whole milliseconds (printable in a failed expectation).
template <class D>
int64_t ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// Whether the drain answered (with true).
inline bool drained(const answer<bool>& a) {
  return *a && std::holds_alternative<bool>(**a) && std::get<bool>(**a);
}

}  // namespace registry_clock
