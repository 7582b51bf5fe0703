// The warm pool's use of the actor clock (refill retry, least recently used keys), driven by CAF's
// test coordinator (registry_clock_fixture.hpp).

#include "tests/unit/registry_clock_fixture.hpp"
#include "tests/unit/session_machine_fakes.hpp"

using namespace registry_clock;

// -- the warm pool's clock ----------------------------------------------------------------------

class warm_pool_clock_test : public registry_drain_test {
 protected:
  /// A pool of one process per key (at most `max_keys` keys) whose admission is a fake.
  warm_pool_actor make_pool(uint32_t max_keys) {
    adm = sys.spawn(fake_admission, admission);
    spawned.push_back(caf::actor_cast<caf::actor>(adm));
    auto pool = spawn_warm_pool(sys, {1, max_keys, nullptr, adm});
    spawned.push_back(caf::actor_cast<caf::actor>(pool));
    sched.run();
    return pool;
  }

  std::shared_ptr<admission_log> admission = std::make_shared<admission_log>();
  admission_actor adm;
};

TEST_F(warm_pool_clock_test, a_refused_refill_is_retried_after_two_seconds) {
  auto pool = make_pool(4);
  caf::anon_send(pool, atom::warm_v, std::string{"key"}, std::make_shared<const turn_spec>());
  sched.run();
  ASSERT_EQ(admission->warm_asks.size(), 1u);
  advance(2s - 1ms);
  EXPECT_EQ(admission->warm_asks.size(), 1u) << "no retry before 2 s";
  advance(1ms);
  ASSERT_EQ(admission->warm_asks.size(), 2u);
  EXPECT_EQ(ms(admission->warm_asks[1] - admission->warm_asks[0]), 2000);
}

TEST_F(warm_pool_clock_test, the_least_recently_used_key_goes_first) {
  admission->refuse = false;  // slots wait; none is granted for a key still kept
  auto pool = make_pool(1);
  auto spec = std::make_shared<const turn_spec>();
  // "b" is used first, "a" a second later: with one key kept, "b" goes although it sorts last.
  caf::anon_send(pool, atom::warm_v, std::string{"b"}, spec);
  sched.run();
  advance(1s);
  caf::anon_send(pool, atom::warm_v, std::string{"a"}, spec);
  sched.run();
  ASSERT_EQ(admission->pending.size(), 2u) << "one slot asked per key";
  // The slot asked for "b" arrives: "b" is gone, so no process starts and the slot goes back.
  caf::anon_send(adm, atom::recheck_v);
  sched.run();
  EXPECT_EQ(admission->pending.size(), 1u);
  EXPECT_EQ(admission->warm_releases, 1);
}

// -- warm processes start on a launch thread ----------------------------------------------------

class warm_pool_launch_test : public warm_pool_clock_test {
 protected:
  /// A pool of one process per key (at most one key) whose starts wait until the test ends them.
  warm_pool_actor make_launching_pool() {
    admission->refuse = false;  // slots wait until `grant`
    clis->hold_starts = true;
    adm = sys.spawn(fake_admission, admission);
    spawned.push_back(caf::actor_cast<caf::actor>(adm));
    auto pool = spawn_warm_pool(sys, {1, 1, launcher, adm});
    spawned.push_back(caf::actor_cast<caf::actor>(pool));
    sched.run();
    return pool;
  }

  /// Grants the oldest warm slot asked for.
  void grant() {
    caf::anon_send(adm, atom::recheck_v);
    sched.run();
  }

  /// Takes the warm process of `key` (null when none is ready).
  warm_process_ptr take(const warm_pool_actor& pool, const std::string& key) {
    auto out = std::make_shared<warm_process_ptr>();
    client([=](caf::event_based_actor* c) {
      c->request(pool, caf::infinite, atom::take_v, key)
          .then([=](warm_process_ptr& w) { *out = w; }, [](caf::error&) {});
    });
    sched.run();
    return *out;
  }

  std::shared_ptr<session_machine::cli_log> clis = std::make_shared<session_machine::cli_log>();
  std::shared_ptr<cli_launcher> launcher = std::make_shared<session_machine::fake_launcher>(clis);
};

TEST_F(warm_pool_launch_test, a_warm_process_is_ready_only_once_it_arrived_from_its_launch) {
  auto pool = make_launching_pool();
  caf::anon_send(pool, atom::warm_v, std::string{"a"}, std::make_shared<const turn_spec>());
  sched.run();
  grant();
  ASSERT_EQ(clis->held.size(), 1u) << "the start went to a launch thread";
  EXPECT_EQ(take(pool, "a"), nullptr) << "ready before it arrived";
  EXPECT_EQ(admission->pending.size(), 0u) << "a second slot asked while one starts";
  clis->held[0]();
  sched.run();
  ASSERT_EQ(clis->clis.size(), 1u);
  auto w = take(pool, "a");
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(clis->clis[0]->killed);
}

TEST_F(warm_pool_launch_test, a_start_whose_key_went_meanwhile_is_dropped_and_its_slot_returned) {
  auto pool = make_launching_pool();
  auto spec = std::make_shared<const turn_spec>();
  caf::anon_send(pool, atom::warm_v, std::string{"a"}, spec);
  sched.run();
  grant();
  ASSERT_EQ(clis->held.size(), 1u);
  advance(1s);
  caf::anon_send(pool, atom::warm_v, std::string{"b"}, spec);  // one key kept: "a" goes
  sched.run();
  EXPECT_EQ(admission->warm_releases, 0);
  clis->held[0]();  // the start for "a" arrives after its key went
  sched.run();
  EXPECT_EQ(clis->clis.size(), 0u) << "a start for a dropped key was served";
  EXPECT_EQ(admission->warm_releases, 1);
}

TEST_F(warm_pool_launch_test, a_start_nobody_wants_gives_its_slot_back_only_once_reaped) {
  clis->start_processes = true;  // the process runs before it is served, as a real one does
  auto pool = make_launching_pool();
  caf::anon_send(pool, atom::warm_v, std::string{"a"}, std::make_shared<const turn_spec>());
  sched.run();
  grant();
  ASSERT_EQ(clis->held.size(), 1u);
  // Admission wants a slot back while the start is under way: none is ready, so it is owed.
  caf::anon_send(pool, atom::hibernate_v);
  sched.run();
  clis->held[0]();  // the start arrives, and pays what is owed
  sched.run();
  ASSERT_EQ(clis->clis.size(), 1u);
  EXPECT_TRUE(clis->clis[0]->killed) << "an owed start kept its process";
  EXPECT_EQ(admission->warm_releases, 0) << "the slot went back while its process still ran";
  clis->reap(0);
  sched.run();
  EXPECT_EQ(admission->warm_releases, 1) << "the reaped process never gave its slot back";
  EXPECT_EQ(take(pool, "a"), nullptr);
}
