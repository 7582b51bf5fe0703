// The process budget, driven deterministically by CAF's test coordinator (no wall clock).

#include "actors/admission.hpp"
#include "config/errc.hpp"
#include "tests/unit/actor_test_support.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

using namespace caa;
using namespace std::chrono_literals;

namespace {

struct fake_state {
  static inline const char* name = "fake_session";
};

/// A session that only counts how often it was asked to hibernate.
caf::behavior fake_session(caf::stateful_actor<fake_state>* self,
                           std::shared_ptr<int> hibernations) {
  return caa::test_support::fake_session_behavior(
      [](atom::run, turn_spec_ptr) -> caf::result<turn_accepted> {
        return make_error(errc::internal, "fake");
      },
      [](atom::run, portable_turn&) -> caf::result<turn_accepted> {
        return make_error(errc::internal, "fake");
      },
      [](atom::subscribe, event_sink_ptr, uint64_t) -> caf::result<uint64_t> {
        return uint64_t{0};
      },
      [](atom::subscribe, caf::actor&, uint64_t) -> caf::result<uint64_t> {
        return make_error(errc::unavailable, "fake");
      },
      [](atom::interrupt) -> caf::result<bool> { return true; },
      [](atom::remove) -> caf::result<bool> { return true; },
      [=](atom::hibernate) { ++*hibernations; }, [](atom::drain) {},
      [](atom::busy) { return false; });
}

using test_config = caa::test_support::coordinator_config;

class admission_test : public ::testing::Test {
 protected:
  admission_test()
      : sys(cfg),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys) {}

  ~admission_test() override {
    // The test coordinator runs nothing by itself: stop every actor and let the system end.
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  /// A fake session of `tenant` (each of its own tenant when empty).
  session_actor make_session(std::string tenant = {}) {
    counters.push_back(std::make_shared<int>(0));
    auto s = caf::actor_cast<session_actor>(sys.spawn(fake_session, counters.back()));
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    tenants[s.address()] = tenant.empty() ? "tenant-" + std::to_string(counters.size()) : tenant;
    return s;
  }

  std::string tenant_of(const session_actor& s) { return tenants[s.address()]; }

  admission_actor make_admission(uint32_t budget) {
    auto a = spawn_admission(sys, {budget, 10s});
    spawned.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  /// Asks for a slot and returns the answer, if one came: true, or the errc.
  std::optional<std::variant<bool, errc>> acquire(admission_actor adm, session_actor who,
                                                  bool advance = false) {
    auto h = self->request(adm, caf::infinite, atom::acquire_v, who, tenant_of(who));
    sched.run();
    if (advance) {
      sched.advance_time(11s);
      sched.run();
    }
    std::optional<std::variant<bool, errc>> out;
    h.receive([&](bool ok) { out = ok; }, [&](caf::error& e) { out = errc_of(e); });
    return out;
  }

  admission_stats stats(admission_actor adm) {
    admission_stats s;
    auto h = self->request(adm, caf::infinite, atom::stats_v);
    sched.run();
    h.receive([&](admission_stats x) { s = x; }, [](caf::error&) {});
    return s;
  }

  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::vector<std::shared_ptr<int>> counters;
  std::vector<caf::actor> spawned;
  std::map<caf::actor_addr, std::string> tenants;
};

}  // namespace

TEST_F(admission_test, grants_up_to_the_budget_then_refuses_after_the_wait) {
  auto adm = make_admission(2);
  auto a = make_session();
  auto b = make_session();
  auto c = make_session();
  EXPECT_EQ(std::get<bool>(*acquire(adm, a)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, b)), true);
  // Nobody is idle: the third waits, and after ADMISSION_WAIT it is refused (503).
  auto third = acquire(adm, c, true);
  ASSERT_TRUE(third);
  EXPECT_EQ(std::get<errc>(*third), errc::capacity_exhausted);
  auto s = stats(adm);
  EXPECT_EQ(s.live, 2u);
  EXPECT_EQ(s.refused, 1u);
  EXPECT_LE(s.peak_live, 2u);
}

TEST_F(admission_test, an_idle_holder_is_hibernated_to_make_room) {
  auto adm = make_admission(1);
  auto a = make_session();
  auto b = make_session();
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  self->send(adm, atom::idle_v, a);
  sched.run();
  // b waits; a (idle, least recently used) is asked to hibernate...
  auto h = self->request(adm, caf::infinite, atom::acquire_v, b, tenant_of(b));
  sched.run();
  EXPECT_EQ(*counters[0], 1);
  // ... and when a gives its slot back, b gets it.
  self->send(adm, atom::release_v, a);
  sched.run();
  bool granted = false;
  h.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
  auto s = stats(adm);
  EXPECT_EQ(s.live, 1u);
  EXPECT_EQ(s.peak_live, 1u);
}

TEST_F(admission_test, busy_holders_are_never_hibernated) {
  auto adm = make_admission(1);
  auto a = make_session();
  auto b = make_session();
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  self->send(adm, atom::idle_v, a);
  self->send(adm, atom::busy_v, a);
  sched.run();
  auto out = acquire(adm, b, true);
  EXPECT_EQ(*counters[0], 0);
  EXPECT_EQ(std::get<errc>(*out), errc::capacity_exhausted);
}

TEST_F(admission_test, a_dead_holder_frees_its_slot) {
  auto adm = make_admission(1);
  auto a = make_session();
  auto b = make_session();
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  auto h = self->request(adm, caf::infinite, atom::acquire_v, b, tenant_of(b));
  sched.run();
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  bool granted = false;
  h.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
}

TEST_F(admission_test, an_orphaned_slot_outlives_its_dead_holder_until_its_processes_are_reaped) {
  auto adm = make_admission(1);
  auto a = make_session();
  auto b = make_session();
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  // a ends and killed its process: the slot is the process's until it is reaped.
  self->send(adm, atom::orphan_v, a, uint64_t{7});
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  auto h = self->request(adm, caf::infinite, atom::acquire_v, b, tenant_of(b));
  sched.run();
  EXPECT_TRUE(self->mailbox().empty()) << "granted while the orphan's process still ran";
  EXPECT_EQ(*counters[0], 0) << "an orphan is never asked to hibernate";
  EXPECT_EQ(stats(adm).live, 1u);
  self->send(adm, atom::release_v, atom::orphan_v, uint64_t{8});  // not this orphan
  sched.run();
  EXPECT_TRUE(self->mailbox().empty()) << "another orphan's release freed this slot";
  self->send(adm, atom::release_v, atom::orphan_v, uint64_t{7});
  sched.run();
  bool granted = false;
  h.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
  EXPECT_EQ(stats(adm).peak_live, 1u);
}

TEST_F(admission_test, acquiring_twice_keeps_one_slot) {
  auto adm = make_admission(2);
  auto a = make_session();
  EXPECT_EQ(std::get<bool>(*acquire(adm, a)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, a)), true);
  EXPECT_EQ(stats(adm).live, 1u);
}

// -- the start cap (MAX_CONCURRENT_SPAWNS) -------------------------------------------------------

TEST_F(admission_test, no_more_processes_start_at_once_than_the_cap) {
  auto adm = spawn_admission(sys, {4, 10s, 1});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto a = make_session();
  auto b = make_session();
  auto c = make_session();
  EXPECT_EQ(acquire(adm, a), (std::variant<bool, errc>{true}));
  EXPECT_EQ(stats(adm).starting, 1u);
  // A slot is free, but one process is starting: b waits, and no idle session is hibernated
  // for it (the budget is not what it waits for).
  auto hb = self->request(adm, caf::infinite, atom::acquire_v, b, tenant_of(b));
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  EXPECT_EQ(*counters[0], 0);
  // A warm process may not start either.
  auto hw = self->request(adm, caf::infinite, atom::acquire_v, atom::warm_v);
  sched.run();
  bool warm_refused = false;
  hw.receive([](bool) {},
             [&](caf::error& e) { warm_refused = errc_of(e) == errc::capacity_exhausted; });
  EXPECT_TRUE(warm_refused);
  // a's process spoke: b starts.
  caf::anon_send(adm, atom::ready_v, a);
  sched.run();
  bool b_granted = false;
  hb.receive([&](bool ok) { b_granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(b_granted);
  EXPECT_EQ(stats(adm).starting, 1u);
  // b's process died before it spoke: its slot and its start go back; c starts at once.
  caf::anon_send(adm, atom::release_v, b);
  sched.run();
  EXPECT_EQ(acquire(adm, c), (std::variant<bool, errc>{true}));
  auto s = stats(adm);
  EXPECT_EQ(s.starting, 1u);
  EXPECT_EQ(s.peak_starting, 1u);
  EXPECT_EQ(s.live, 2u);  // a and c
}

TEST_F(admission_test, a_waiting_start_is_refused_after_the_wait_like_any_other) {
  auto adm = spawn_admission(sys, {4, 10s, 1});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto a = make_session();
  auto b = make_session();
  EXPECT_EQ(acquire(adm, a), (std::variant<bool, errc>{true}));
  EXPECT_EQ(acquire(adm, b, true), (std::variant<bool, errc>{errc::capacity_exhausted}));
  EXPECT_EQ(stats(adm).refused, 1u);
}

TEST_F(admission_test, warm_starts_count_until_the_pool_reports_them) {
  auto adm = spawn_admission(sys, {4, 10s, 1});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto hw = self->request(adm, caf::infinite, atom::acquire_v, atom::warm_v);
  sched.run();
  bool warm = false;
  hw.receive([&](bool ok) { warm = ok; }, [](caf::error&) {});
  ASSERT_TRUE(warm);
  EXPECT_EQ(stats(adm).starting, 1u);
  auto a = make_session();
  auto ha = self->request(adm, caf::infinite, atom::acquire_v, a, tenant_of(a));
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  caf::anon_send(adm, atom::ready_v, atom::warm_v);
  sched.run();
  bool granted = false;
  ha.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
  EXPECT_EQ(stats(adm).live, 2u);  // the warm slot is still held
}

// -- the warm pool's slot, tenant shares, probes (issue: hardening) ----------------------------

namespace {

struct fake_pool_state {
  static inline const char* name = "fake_pool";
};

/// A warm pool that counts how often admission asked it to give a process up.
warm_pool_actor::behavior_type fake_pool(warm_pool_actor::stateful_pointer<fake_pool_state>,
                                         std::shared_ptr<int> asked) {
  return {
      [](atom::take, std::string&) -> caf::result<warm_process_ptr> {
        return make_error(errc::not_found, "fake");
      },
      [](atom::warm, std::string&, turn_spec_ptr&) {},
      [=](atom::hibernate) { ++*asked; },
      [](atom::line, uint64_t, std::string&) {},
      [](atom::line, uint64_t, std::vector<std::string>&) {},
      [](atom::exited, uint64_t, int32_t, std::string&) {},
      [](atom::launched, uint64_t) {},
      [](atom::timeout, uint64_t) {},
  };
}

}  // namespace

TEST_F(admission_test, a_warm_process_adopted_instead_of_given_up_does_not_wedge_admission) {
  // Budget 2 and one tenant per session: the warm pool holds one slot, a holds the other.
  auto adm = spawn_admission(sys, {2, 10s, 0, 2});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto pool_asked = std::make_shared<int>(0);
  auto pool = sys.spawn(fake_pool, pool_asked);
  spawned.push_back(caf::actor_cast<caf::actor>(pool));
  self->send(adm, atom::warm_v, pool);
  auto hw = self->request(adm, caf::infinite, atom::acquire_v, atom::warm_v);
  sched.run();
  hw.receive([](bool) {}, [](caf::error&) { FAIL() << "no warm slot"; });
  caf::anon_send(adm, atom::ready_v, atom::warm_v);
  auto a = make_session();
  auto b = make_session();
  auto c = make_session();
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  // b waits: the pool is asked first (a warm process costs nobody anything).
  auto hb = self->request(adm, caf::infinite, atom::acquire_v, b, tenant_of(b));
  sched.run();
  EXPECT_EQ(*pool_asked, 1);
  // The warm process is adopted by c instead of being ended: the pool's slot is c's now.
  caf::anon_send(adm, atom::acquire_v, atom::warm_v, c, tenant_of(c));
  sched.run();
  EXPECT_EQ(stats(adm).live, 2u);
  // a goes idle: it must be asked to hibernate for b (the ask to the pool went nowhere).
  self->send(adm, atom::idle_v, a);
  sched.run();
  EXPECT_EQ(*counters[0], 1) << "the idle session was not asked: admission is wedged";
  caf::anon_send(adm, atom::release_v, a);
  sched.run();
  bool granted = false;
  hb.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
  // And the next waiter (a again) is served the same way once c is idle.
  caf::anon_send(adm, atom::idle_v, c);
  auto ha = self->request(adm, caf::infinite, atom::acquire_v, a, tenant_of(a));
  sched.run();
  EXPECT_EQ(*counters[2], 1);
  caf::anon_send(adm, atom::release_v, c);
  sched.run();
  granted = false;
  ha.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
}

TEST_F(admission_test, a_tenant_at_its_share_waits_while_another_tenant_is_admitted) {
  auto adm = spawn_admission(sys, {4, 10s, 0, 2});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto a1 = make_session("alpha");
  auto a2 = make_session("alpha");
  auto a3 = make_session("alpha");
  auto b1 = make_session("beta");
  EXPECT_EQ(std::get<bool>(*acquire(adm, a1)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, a2)), true);
  // alpha holds its share (2 of 4): its third turn waits, beta's is admitted at once.
  auto h3 = self->request(adm, caf::infinite, atom::acquire_v, a3, tenant_of(a3));
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  EXPECT_EQ(std::get<bool>(*acquire(adm, b1)), true);
  // Nobody of alpha is idle: after ADMISSION_WAIT its turn is refused with TENANT_CAPACITY.
  sched.advance_time(11s);
  sched.run();
  std::optional<errc> refused;
  h3.receive([](bool) {}, [&](caf::error& e) { refused = errc_of(e); });
  EXPECT_EQ(refused, errc::tenant_capacity);
  EXPECT_EQ(*counters[3], 0) << "beta's session is never hibernated for alpha";
}

TEST_F(admission_test, a_tenant_at_its_share_makes_room_among_its_own_idle_sessions) {
  auto adm = spawn_admission(sys, {4, 10s, 0, 2});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto b1 = make_session("beta");
  auto a1 = make_session("alpha");
  auto a2 = make_session("alpha");
  auto a3 = make_session("alpha");
  EXPECT_EQ(std::get<bool>(*acquire(adm, b1)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, a1)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, a2)), true);
  self->send(adm, atom::idle_v, b1);  // beta's idle session is older...
  self->send(adm, atom::idle_v, a1);  // ... but only alpha's own may go for alpha
  auto h3 = self->request(adm, caf::infinite, atom::acquire_v, a3, tenant_of(a3));
  sched.run();
  EXPECT_EQ(*counters[0], 0);
  EXPECT_EQ(*counters[1], 1);
  caf::anon_send(adm, atom::release_v, a1);
  sched.run();
  bool granted = false;
  h3.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
}

TEST_F(admission_test, a_short_budget_serves_the_tenant_holding_fewest_first) {
  auto adm = spawn_admission(sys, {2, 10s, 0, 2});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto a1 = make_session("alpha");
  auto a2 = make_session("alpha");
  auto a3 = make_session("alpha");
  auto a4 = make_session("alpha");
  auto b1 = make_session("beta");
  EXPECT_EQ(std::get<bool>(*acquire(adm, a1)), true);
  EXPECT_EQ(std::get<bool>(*acquire(adm, a2)), true);
  auto h3 = self->request(adm, caf::infinite, atom::acquire_v, a3, tenant_of(a3));
  auto h4 = self->request(adm, caf::infinite, atom::acquire_v, a4, tenant_of(a4));
  sched.run();
  auto hb = self->request(adm, caf::infinite, atom::acquire_v, b1, tenant_of(b1));
  sched.run();
  // A slot frees: beta (holding none) goes before alpha's older waiters.
  caf::anon_send(adm, atom::release_v, a1);
  sched.run();
  bool b_granted = false;
  hb.receive([&](bool ok) { b_granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(b_granted);
  EXPECT_EQ(stats(adm).waiting, 2u);
  // The next slot goes to alpha's oldest waiter.
  caf::anon_send(adm, atom::release_v, a2);
  sched.run();
  bool a3_granted = false;
  h3.receive([&](bool ok) { a3_granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(a3_granted);
  EXPECT_EQ(stats(adm).waiting, 1u);
  (void)h4;
}

TEST_F(admission_test, a_capabilities_probe_takes_a_slot_like_any_process) {
  auto adm = make_admission(1);
  auto a = make_session();
  auto hp = self->request(adm, caf::infinite, atom::acquire_v, atom::probe_v, uint64_t{7},
                          std::string{"probe-tenant"});
  sched.run();
  bool probe = false;
  hp.receive([&](bool ok) { probe = ok; }, [](caf::error&) {});
  ASSERT_TRUE(probe);
  EXPECT_EQ(stats(adm).live, 1u);
  auto ha = self->request(adm, caf::infinite, atom::acquire_v, a, tenant_of(a));
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  caf::anon_send(adm, atom::release_v, atom::probe_v, uint64_t{7});
  sched.run();
  bool granted = false;
  ha.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
}

TEST_F(admission_test, a_tenant_at_its_share_may_not_take_a_warm_process) {
  // Budget 4, share 1: a warm process would give tenant "t" a second process past its share.
  auto adm = spawn_admission(sys, {4, 10s, 0, 1});
  spawned.push_back(caf::actor_cast<caf::actor>(adm));
  auto below = [&](const std::string& tenant) {
    std::optional<bool> out;
    auto h = self->request(adm, caf::infinite, atom::find_v, tenant);
    sched.run();
    h.receive([&](bool x) { out = x; }, [](caf::error&) {});
    return out;
  };
  EXPECT_EQ(below("t"), std::optional<bool>{true});
  auto a = make_session("t");
  ASSERT_EQ(std::get<bool>(*acquire(adm, a)), true);
  EXPECT_EQ(below("t"), std::optional<bool>{false}) << "at its share";
  EXPECT_EQ(below("u"), std::optional<bool>{true}) << "another tenant is not";
  // Its own larger share lets it take one again.
  caf::anon_send(adm, atom::share_v, std::string{"t"}, int32_t{2});
  sched.run();
  EXPECT_EQ(below("t"), std::optional<bool>{true});
}
