// The process budget, driven deterministically by CAF's test coordinator (no wall clock).

#include "actors/admission.hpp"
#include "actors/system_config.hpp"
#include "config/errc.hpp"

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
session_actor::behavior_type fake_session(session_actor::stateful_pointer<fake_state> self,
                                          std::shared_ptr<int> hibernations) {
  return {
    [](atom::run, turn_spec_ptr) -> caf::result<turn_accepted> {
      return make_error(errc::internal, "fake");
    },
    [](atom::subscribe, event_sink_ptr, uint64_t) -> caf::result<uint64_t> { return uint64_t{0}; },
    [](atom::interrupt) -> caf::result<bool> { return true; },
    [](atom::remove) -> caf::result<bool> { return true; },
    [=](atom::hibernate) { ++*hibernations; },
    [](atom::drain) {},
    [](atom::busy) { return false; },
    [](atom::line, uint64_t, std::string&) {},
    [](atom::exited, uint64_t, int32_t, std::string&) {},
    [](atom::timeout, int32_t, uint64_t) {},
    [](atom::answer, pending_answer&) -> caf::result<bool> { return true; },
    [](atom::control, live_control&) -> caf::result<std::string> { return std::string{"stored"}; },
    [](atom::rewind, std::string&, bool, turn_spec_ptr&) -> caf::result<std::string> {
      return make_error(errc::checkpoint_not_found, "fake");
    },
    [](atom::hooked, uint64_t, std::string&, std::string&) {},
  };
}

class test_config : public system_config {
public:
  test_config() : system_config(settings{}) {
    set("scheduler.policy", caf::atom("testing"));
    set("middleman.network-backend", caf::atom("testing"));
  }
};

class admission_test : public ::testing::Test {
protected:
  admission_test()
    : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys) {}

  ~admission_test() override {
    // The test coordinator runs nothing by itself: stop every actor and let the system end.
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  session_actor make_session() {
    counters.push_back(std::make_shared<int>(0));
    auto s = sys.spawn(fake_session, counters.back());
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    return s;
  }

  admission_actor make_admission(uint32_t budget) {
    auto a = spawn_admission(sys, {budget, 10s});
    spawned.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  /// Asks for a slot and returns the answer, if one came: true, or the errc.
  std::optional<std::variant<bool, errc>> acquire(admission_actor adm, session_actor who,
                                                  bool advance = false) {
    auto h = self->request(adm, caf::infinite, atom::acquire_v, who);
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
  auto h = self->request(adm, caf::infinite, atom::acquire_v, b);
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
  auto h = self->request(adm, caf::infinite, atom::acquire_v, b);
  sched.run();
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  bool granted = false;
  h.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
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
  auto hb = self->request(adm, caf::infinite, atom::acquire_v, b);
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  EXPECT_EQ(*counters[0], 0);
  // A warm process may not start either.
  auto hw = self->request(adm, caf::infinite, atom::acquire_v, atom::warm_v);
  sched.run();
  bool warm_refused = false;
  hw.receive([](bool) {}, [&](caf::error& e) { warm_refused = errc_of(e) == errc::capacity_exhausted; });
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
  auto ha = self->request(adm, caf::infinite, atom::acquire_v, a);
  sched.run();
  EXPECT_EQ(stats(adm).waiting, 1u);
  caf::anon_send(adm, atom::ready_v, atom::warm_v);
  sched.run();
  bool granted = false;
  ha.receive([&](bool ok) { granted = ok; }, [](caf::error&) {});
  EXPECT_TRUE(granted);
  EXPECT_EQ(stats(adm).live, 2u);  // the warm slot is still held
}
