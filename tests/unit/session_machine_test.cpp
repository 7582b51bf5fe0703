// The session actor's state machine (issue 3; RELIABILITY.md T16), turns: runs, events and
// interrupts, driven deterministically (session_machine_fixture.hpp). The CLI process is in
// session_process_test.cpp, timers and removal in session_lifecycle_test.cpp.

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

// -- runs ---------------------------------------------------------------------------------------

TEST_F(session_machine_test, a_run_is_accepted_as_turn_one_after_seq_zero) {
  auto s = make_session();
  auto a = run(s);
  ASSERT_ACCEPTED(a);
  EXPECT_EQ((*a)->turn, 1u);
  EXPECT_EQ((*a)->after_seq, 0u);
  EXPECT_EQ((*a)->session_id, identity().id);
  EXPECT_EQ(*busy(s), true);
  EXPECT_EQ(live_clis(), 1u);   // the CLI was spawned
  EXPECT_EQ(stats().live, 1u);  // and holds a slot
  auto st = pgl->statuses();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back(), "running");
  EXPECT_EQ(pgl->count(storage::stmt::turn_start), 1u);
}

TEST_F(session_machine_test, a_second_run_while_one_runs_is_session_locked_with_a_retry_hint) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  auto second = run(s);
  EXPECT_REFUSED(second, errc::session_locked);
  auto hint = caa::retry_after_of(second->error());
  ASSERT_TRUE(hint.has_value());
  EXPECT_GE(*hint, 1u);
  EXPECT_EQ(live_clis(), 1u);  // no second CLI
}

TEST_F(session_machine_test, a_drained_session_refuses_new_turns) {
  auto s = make_session();
  caf::anon_send(s, caa::atom::drain_v);
  sched.run();
  EXPECT_REFUSED(run(s), errc::unavailable);
  EXPECT_EQ(live_clis(), 0u);
}

// -- events -------------------------------------------------------------------------------------

TEST_F(session_machine_test, cli_lines_become_events_in_seq_order_stored_then_delivered) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  auto head = subscribe(s, sink, 0);
  ASSERT_TRUE(head && *head);
  EXPECT_EQ(**head, 0u);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  std::vector<std::string> want{"init", "message", "result", "done"};
  EXPECT_EQ(stored_names(), want);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->names(), want);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
  for (auto& e : wl->events) EXPECT_EQ(e.session_id, identity().id);
  EXPECT_EQ(*busy(s), false);
  auto st = pgl->statuses();
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back(), "running");  // idle is part of the turn_finish batch, not a status write
  EXPECT_EQ(pgl->count(storage::stmt::turn_finish), 1u);
  // The process stays for the next turn: accepted at once, after seq 4, on the same CLI.
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  EXPECT_EQ((*next)->after_seq, 4u);
  EXPECT_EQ(live_clis(), 1u);
  line(s, 1, result_line);
  EXPECT_EQ(stored_count("done"), 2u);
  EXPECT_EQ(stored_seqs().back(), 6u);
}

TEST_F(session_machine_test, events_reach_subscribers_only_after_the_writer_committed_them) {
  auto s = make_session();
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 0)));
  ASSERT_ACCEPTED(run(s));
  wl->fail_next = 1;  // the first append fails: the session retries after 500 ms
  line(s, 1, init_line);
  EXPECT_TRUE(sink->got.empty());
  EXPECT_TRUE(wl->events.empty());
  advance(500ms);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1}));
  wl->fail_next = 1;  // fails again; the next event resends the failed one with it, in order
  line(s, 1, assistant_line);
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1}));
  line(s, 1, result_line);
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  advance(500ms);  // the pending retry finds nothing to write
  EXPECT_EQ(stored_seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(sink->seqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(session_machine_test, lines_between_turns_produce_no_events) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  ASSERT_EQ(wl->events.size(), 4u);
  line(s, 1, assistant_line);
  line(s, 1, result_line);
  line(s, 1, init_line);
  EXPECT_EQ(wl->events.size(), 4u);
  EXPECT_EQ(*busy(s), false);
}

TEST_F(session_machine_test, lines_of_another_generation_are_ignored) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 0, init_line);
  line(s, 2, result_line);
  EXPECT_TRUE(wl->events.empty());
  EXPECT_EQ(*busy(s), true);
}

// -- interrupts ---------------------------------------------------------------------------------

TEST_F(session_machine_test, interrupt_while_idle_is_session_idle) {
  auto s = make_session();
  EXPECT_REFUSED(interrupt(s), errc::session_idle);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  EXPECT_REFUSED(interrupt(s), errc::session_idle);  // after completion too
}

TEST_F(session_machine_test, interrupt_then_result_ends_the_turn_interrupted) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  line(s, 1, init_line);
  auto i = interrupt(s);
  ASSERT_TRUE(i && *i);
  EXPECT_TRUE(**i);
  auto again = interrupt(s);  // idempotent while the CLI winds down
  ASSERT_TRUE(again && *again);
  line(s, 1, interrupted_result_line);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"init", "result", "done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
  // The stop deadline of the interrupted turn passes harmlessly: the CLI stays.
  advance(5s);
  EXPECT_EQ(live_clis(), 1u);
  EXPECT_REFUSED(interrupt(s), errc::session_idle);
  auto next = run(s);
  ASSERT_ACCEPTED(next);
  EXPECT_EQ((*next)->turn, 2u);
  line(s, 1, result_line);
  EXPECT_EQ(field(last_payload("done"), "reason"), "completed");
}

TEST_F(session_machine_test, an_interrupt_the_cli_ignores_kills_it_after_five_seconds) {
  auto s = make_session();
  ASSERT_ACCEPTED(run(s));
  ASSERT_TRUE(ok(interrupt(s)));
  advance(4s);
  EXPECT_EQ(live_clis(), 1u);
  advance(1s);
  EXPECT_EQ(live_clis(), 0u);  // SIGKILL
  EXPECT_EQ(*busy(s), true);   // until the exit is seen
  exited(s, 1, 137);
  EXPECT_EQ(stored_names(), (std::vector<std::string>{"done"}));
  EXPECT_EQ(field(last_payload("done"), "reason"), "interrupted");
  EXPECT_EQ(*busy(s), false);
  EXPECT_EQ(stats().live, 0u);  // the slot went back
}
