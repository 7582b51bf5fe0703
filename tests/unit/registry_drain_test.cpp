// The registry's drain on the actor clock, driven by CAF's test coordinator
// (registry_clock_fixture.hpp): polls, the grace period, silent sessions, refusals while draining;
// and a session read, which the registry hands to the live session's actor or to PostgreSQL.

#include "tests/unit/registry_clock_fixture.hpp"

using namespace registry_clock;

// -- the registry's drain -----------------------------------------------------------------------

TEST_F(registry_drain_test, without_sessions_finishes_at_once) {
  auto reg = make_registry();
  auto done = drain(reg);
  EXPECT_TRUE(drained(done)) << "no session: the drain answers without any time passing";
}

TEST_F(registry_drain_test, polls_a_busy_session_and_rests_it_once_idle) {
  auto reg = make_registry(30s);
  auto s = add_session(reg, sid_a);
  ASSERT_TRUE(s);
  s->busy = true;
  auto done = drain(reg);
  EXPECT_EQ(s->drains, 1) << "the session refuses new turns at once";
  ASSERT_EQ(s->polls.size(), 1u);
  // Four poll periods: one poll each, 250 ms apart; the drain waits.
  for (int i = 0; i < 4; ++i) advance(poll_period);
  ASSERT_EQ(s->polls.size(), 5u);
  for (std::size_t i = 1; i < s->polls.size(); ++i)
    EXPECT_EQ(ms(s->polls[i] - s->polls[i - 1]), ms(poll_period));
  EXPECT_FALSE(*done) << "a turn runs and the grace period is not over";
  EXPECT_EQ(s->hibernations, 0);
  // Just short of the next poll nothing happens.
  advance(poll_period - 1ms);
  EXPECT_EQ(s->polls.size(), 5u);
  // The turn ends: the next poll finds the session idle, it is hibernated at once; the drain
  // answers after the rest period, long before the 30 s grace period, and interrupts nothing.
  s->busy = false;
  advance(1ms);
  ASSERT_EQ(s->polls.size(), 6u);
  EXPECT_EQ(s->hibernations, 1);
  EXPECT_FALSE(*done) << "the sessions get time to end their processes";
  advance(3s);
  EXPECT_TRUE(drained(done));
  EXPECT_EQ(s->polls.size(), 6u) << "no poll after the session was idle";
  EXPECT_EQ(s->interrupts, 0);
}

TEST_F(registry_drain_test, interrupts_a_turn_that_outlasts_the_grace_period) {
  auto reg = make_registry(2s);
  auto s = add_session(reg, sid_a);
  ASSERT_TRUE(s);
  s->busy = true;
  auto done = drain(reg);
  // Polled through the grace period; nothing is interrupted before its end.
  for (int i = 0; i < 7; ++i) advance(poll_period);  // 1.75 s
  EXPECT_EQ(s->polls.size(), 8u);
  EXPECT_EQ(s->interrupts, 0);
  EXPECT_EQ(s->hibernations, 0);
  // At the deadline the running turn is told to stop.
  advance(poll_period);  // 2 s
  EXPECT_EQ(s->interrupts, 1);
  EXPECT_EQ(s->polls.size(), 8u) << "no poll once the grace period is over";
  EXPECT_FALSE(*done);
  // The interrupted turn gets 2 s to end, then the session is hibernated, then 3 s to rest.
  advance(2s);
  EXPECT_EQ(s->hibernations, 1);
  EXPECT_FALSE(*done);
  advance(3s);
  EXPECT_TRUE(drained(done));
  EXPECT_EQ(s->interrupts, 1);
}

TEST_F(registry_drain_test, a_session_that_does_not_answer_does_not_block_the_drain) {
  auto reg = make_registry(30s);
  auto s = add_session(reg, sid_a);
  ASSERT_TRUE(s);
  s->silent = true;
  auto done = drain(reg);
  ASSERT_EQ(s->polls.size(), 1u);
  advance(2s - 1ms);
  EXPECT_EQ(s->hibernations, 0) << "the registry waits 2 s for the answer";
  EXPECT_FALSE(*done);
  // The question times out: it counts as idle, the session is hibernated, the drain answers
  // after the rest period, long before the grace period.
  advance(1ms);
  EXPECT_EQ(s->hibernations, 1);
  EXPECT_EQ(s->polls.size(), 1u);
  advance(3s);
  EXPECT_TRUE(drained(done));
  EXPECT_EQ(s->interrupts, 0);
}

TEST_F(registry_drain_test, one_silent_session_does_not_hide_a_busy_one) {
  auto reg = make_registry(30s);
  auto quiet = add_session(reg, sid_a);
  auto busy = add_session(reg, sid_b);
  ASSERT_TRUE(quiet && busy);
  quiet->silent = true;
  busy->busy = true;
  auto done = drain(reg);
  // Each round waits for the silent one (2 s): its timeout counts as idle, but the busy answer
  // of the same round keeps the drain polling.
  advance(2s);
  advance(poll_period);
  EXPECT_EQ(busy->polls.size(), 2u);
  EXPECT_EQ(busy->hibernations, 0);
  busy->busy = false;  // the turn ends after the second round asked
  advance(2s);
  advance(poll_period);
  EXPECT_EQ(busy->polls.size(), 3u);
  EXPECT_EQ(busy->hibernations, 0);
  advance(2s);  // the third round found the busy one idle: both rest
  EXPECT_EQ(busy->hibernations, 1);
  EXPECT_EQ(quiet->hibernations, 1);
  EXPECT_FALSE(*done);
  advance(3s);
  EXPECT_TRUE(drained(done));
  EXPECT_EQ(busy->interrupts, 0);
}

TEST_F(registry_drain_test, refuses_new_sessions_while_draining) {
  auto reg = make_registry(30s);
  auto before = create(reg);
  ASSERT_TRUE(*before && std::holds_alternative<std::string>(**before)) << "created normally";
  EXPECT_EQ(*creations, 1);
  auto s = add_session(reg, sid_a);
  ASSERT_TRUE(s);
  s->busy = true;  // keeps the drain going
  auto done = drain(reg);
  ASSERT_FALSE(*done);
  auto plain = create(reg);
  ASSERT_TRUE(*plain && std::holds_alternative<errc>(**plain)) << "created while draining";
  EXPECT_EQ(std::get<errc>(**plain), errc::unavailable);
  auto with_spec = create(reg, std::make_shared<const turn_spec>());
  ASSERT_TRUE(*with_spec && std::holds_alternative<errc>(**with_spec)) << "created while draining";
  EXPECT_EQ(std::get<errc>(**with_spec), errc::unavailable);
  EXPECT_EQ(*creations, 1) << "no row written for a refused session";
  // A session revived during the drain refuses new turns from the start.
  auto late = add_session(reg, sid_b);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->drains, 1);
}

// -- a session read -----------------------------------------------------------------------------

TEST_F(registry_drain_test, a_read_is_answered_by_the_live_session_else_postgres) {
  auto reg = make_registry();
  auto s = add_session(reg, sid_a);
  ASSERT_TRUE(s);
  auto first_cell = [](const answer<storage::db_result>& a) -> std::string {
    if (!*a || !std::holds_alternative<storage::db_result>(**a)) return "(no row)";
    const auto& r = std::get<storage::db_result>(**a);
    return r.rows.size() == 1 && !r.rows[0].empty() && r.rows[0][0] ? *r.rows[0][0] : "(no row)";
  };
  EXPECT_EQ(first_cell(read_row(reg, tenant, sid_a)), "row of the fake") << "the actor answers";
  EXPECT_EQ(s->row_reads, 1);
  // Another tenant's read of it goes to PostgreSQL (tenant-scoped there): the session is not
  // asked. The fake PostgreSQL has a row for every (tenant, id); its first column is the id.
  EXPECT_EQ(first_cell(read_row(reg, "99999999-2222-3333-4444-555555555555", sid_a)), sid_a);
  EXPECT_EQ(s->row_reads, 1);
  // A session not live here: PostgreSQL's row, and nothing revived.
  EXPECT_EQ(first_cell(read_row(reg, tenant, sid_b)), sid_b);
  EXPECT_EQ(sessions->count(sid_b), 0u) << "a read revived a session";
}

TEST_F(registry_drain_test, creating_and_reviving_sessions_leaves_no_request_timeout_in_the_clock) {
  auto reg = make_registry();
  auto made = create(reg);
  ASSERT_TRUE(*made && std::holds_alternative<std::string>(**made));
  ASSERT_TRUE(add_session(reg, sid_a));
  EXPECT_EQ(*creations, 1);
  EXPECT_EQ(caa::test_support::request_timeouts_of(sched.clock(), reg.id()), 0u)
      << "the registry's statements were answered; their timeouts must not wait in the clock";
}
