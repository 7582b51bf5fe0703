// The session actor's life (issue 3; RELIABILITY.md T16): the turn and idle timers, hibernation
// and removal, driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

// -- timers -------------------------------------------------------------------------------------

TEST_F(session_machine_test, turn_timeout_interrupts_then_kills) {
  auto d = deps();
  d.turn_timeout = 60s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  advance(59s);
  EXPECT_EQ(live_clis(), 1u);
  advance(1s);  // TURN_TIMEOUT: an interrupt is written
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_EQ(*busy(s), true);
  advance(5s);  // ... and 5 s later the CLI is killed
  EXPECT_EQ(live_clis(), 0u);
  exited(s, 1, 137);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
}

TEST_F(session_machine_test, turn_timeout_of_a_finished_turn_does_nothing) {
  auto d = deps();
  d.turn_timeout = 60s;
  d.idle_timeout = 3600s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  advance(30s);
  ASSERT_ACCEPTED(run(s));  // turn 2 starts at 30 s, before turn 1's deadline (60 s)
  advance(30s);             // turn 1's deadline: turn 2 is not interrupted
  advance(5s);
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_EQ(*busy(s), true);
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

TEST_F(session_machine_test, idle_timeout_hibernates_and_a_run_respawns) {
  auto d = deps();
  d.idle_timeout = 300s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  EXPECT_EQ(stats().idle, 1u);
  advance(299s);
  EXPECT_NE(pgl->statuses().back(), "hibernated");
  advance(1s);
  EXPECT_EQ(pgl->statuses().back(), "hibernated");
  EXPECT_EQ(stats().live, 1u);  // the retiring CLI still holds its slot ...
  exited(s, 1, 0);
  EXPECT_EQ(stats().live, 0u);  // ... until it is gone
  EXPECT_EQ(stored_count("done"), 1u);
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  EXPECT_EQ(stats().live, 1u);
  line(s, 2, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
}

TEST_F(session_machine_test, a_run_during_hibernation_waits_for_the_old_process) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  caf::anon_send(s, caa::atom::hibernate_v);
  sched.run();
  auto h = self->request(s, caf::infinite, caa::atom::run_v, spec());
  sched.run();
  EXPECT_TRUE(self->mailbox().empty());  // waits for generation 1 to end
  EXPECT_EQ(*busy(s), true);
  EXPECT_REFUSED(run(s), errc::session_locked);
  exited(s, 1, 0);
  auto a = collect<turn_accepted>(h);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 2u);
  EXPECT_EQ(stats().live, 1u);
  line(s, 2, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
}

TEST_F(session_machine_test, hibernate_during_a_turn_is_ignored) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  caf::anon_send(s, caa::atom::hibernate_v);
  sched.run();
  EXPECT_EQ(live_clis(), 1u);
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

// -- remove -------------------------------------------------------------------------------------

TEST_F(session_machine_test, remove_closes_subscribers_kills_the_cli_and_quits) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  auto r = remove(s);
  ASSERT_TRUE(r && *r);
  EXPECT_TRUE(**r);
  EXPECT_EQ(sink->closes, 1);
  EXPECT_FALSE(sink->open());
  EXPECT_EQ(rl->removed, (std::vector<std::string>{identity().id}));
  EXPECT_EQ(pgl->count(storage::stmt::session_delete), 1u);
  EXPECT_EQ(live_clis(), 0u);
  EXPECT_EQ(stats().live, 1u) << "the slot went back while the killed CLI still ran";
  clis->reap(0);  // the actor is gone by now: the process itself gives the slot back
  sched.run();
  EXPECT_EQ(stats().live, 0u);
  // The actor is gone.
  auto b = busy(s);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(*b);
}

// BUG (actors/session.cpp, the attach_functor of `session`): CAF 0.17's
// A session actor killed mid-turn (e.g. by its registry at shutdown) must take its CLI along.
// (Regression: an exit functor once read the state after CAF 0.17 had destroyed it.)
TEST_F(session_machine_test, killing_a_session_actor_kills_its_cli) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  caf::anon_send(s, caa::atom::hibernate_v);  // ignored mid-turn
  caf::anon_send_exit(s, caf::exit_reason::kill);
  sched.run();
  EXPECT_EQ(live_clis(), 0u);
}

// When the DELETE fails the session has already killed its CLI: the turn must still end and the
// session stay usable.
TEST_F(session_machine_test, a_failed_remove_mid_turn_leaves_a_usable_session) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  pgl->fail.insert(std::string{storage::stmt::session_delete});
  auto r = remove(s);
  EXPECT_REFUSED(r, errc::unavailable);
  pgl->fail.clear();
  // Expected: the turn ended (one done) or can still be interrupted, and a later run works.
  advance(600s + 5s);
  (void)interrupt(s);
  auto next = run(s);
  EXPECT_EQ(stored_count("done"), 1u);
  ASSERT_ACCEPTED(next);
}
