// The warm pool's use of the actor clock (refill retry, least recently used keys), driven by CAF's
// test coordinator (registry_clock_fixture.hpp).

#include "tests/unit/registry_clock_fixture.hpp"

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
