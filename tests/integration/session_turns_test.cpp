// Turns and start-up recovery against a real PostgreSQL: turn numbers, atomic totals under
// concurrent finishes, idempotent finishes, the recovery scan's events and statuses.

#include "tests/integration/session_repo_fixture.hpp"

#include <algorithm>
#include <thread>

using namespace caa::storage;
using namespace std::chrono_literals;
using caa::test::await_callbacks;
using session_turns_test = caa::test::session_repo_fixture;

TEST_F(session_turns_test, turns_add_up_atomically) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  auto start = [&] {
    auto r = ask<std::vector<db_result>>(make_turn_started_batch(tenant, rec->id, new_uuid()));
    return r ? parse_turn_started(*r) : caf::expected<int>{r.error()};
  };
  auto t1 = start();
  auto t2 = start();
  ASSERT_TRUE(t1 && t2);
  EXPECT_EQ(*t1, 1);
  EXPECT_EQ(*t2, 2);
  EXPECT_EQ(get(tenant, rec->id)->status, session_status::running);

  // Both turns finish at the same time on two connections: both are counted.
  auto finish = [&](int turn, double cost, const char* usage) {
    auto r = ask<std::vector<db_result>>(make_turn_finished_batch(
        tenant, rec->id, turn, turn_status::completed, cost, usage, "sonnet"));
    return r ? parse_turn_finished(*r) : caf::expected<session_record>{r.error()};
  };
  caf::expected<session_record> a{caf::error{}}, b{caf::error{}};
  std::thread ta{[&] { a = finish(*t1, 0.25, R"({"input_tokens": 10, "x": {"n": 1}})"); }};
  std::thread tb{[&] { b = finish(*t2, 0.5, R"({"input_tokens": 5, "output_tokens": 7})"); }};
  ta.join();
  tb.join();
  ASSERT_TRUE(a && b);
  auto after = get(tenant, rec->id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->total_turns, 2);
  EXPECT_DOUBLE_EQ(after->total_cost_usd, 0.75);
  EXPECT_EQ(after->usage_json, R"({"x": {"n": 1}, "input_tokens": 15, "output_tokens": 7})");
  EXPECT_EQ(after->status, session_status::idle);
  EXPECT_EQ(after->model, "sonnet");

  // A repeated finish (lost reply, retry) changes nothing.
  auto repeat = finish(*t1, 0.25, R"({"input_tokens": 10})");
  ASSERT_TRUE(repeat);
  EXPECT_EQ(repeat->total_turns, 2);
  EXPECT_DOUBLE_EQ(repeat->total_cost_usd, 0.75);
  // A statement appended to the batch runs in the same transaction (here: hibernate at once).
  auto t3 = start();
  ASSERT_TRUE(t3);
  EXPECT_EQ(*t3, 3);
  auto batch = make_turn_finished_batch(tenant, rec->id, *t3, turn_status::interrupted, 0, "{}");
  batch.queries.push_back(make_update_status_query(tenant, rec->id, session_status::hibernated));
  auto both = ask<std::vector<db_result>>(std::move(batch));
  ASSERT_TRUE(both);
  auto last = parse_turn_finished(*both);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->total_turns, 3);
  EXPECT_EQ(parse_status_update((*both)[1]), session_status::idle);
  EXPECT_EQ(get(tenant, rec->id)->status, session_status::hibernated);

  auto turns =
      caa::test::raw_query(db_->url(),
                           "SELECT turn, status, cost_usd, ended_at IS NOT NULL FROM turns WHERE "
                           "session_id = '" +
                               rec->id + "' ORDER BY turn");
  ASSERT_EQ(turns.size(), 3u);
  EXPECT_EQ(*turns[0][1], "completed");
  EXPECT_EQ(*turns[2][1], "interrupted");
  EXPECT_EQ(*turns[1][2], "0.5");
  EXPECT_EQ(*turns[1][3], "t");
}

TEST_F(session_turns_test, recovery_interrupts_sessions_in_flight) {
  auto tenant = make_tenant();
  const std::string node = "recover-" + new_uuid();
  std::vector<std::string> in_flight;
  for (auto st : {session_status::running, session_status::starting}) {
    auto s = fresh(tenant, st);
    s.owner_node = node;
    auto rec = create(s);
    ASSERT_TRUE(rec);
    in_flight.push_back(rec->id);
  }
  auto idle = fresh(tenant, session_status::idle);
  idle.owner_node = node;
  auto idle_rec = create(idle);
  auto elsewhere = fresh(tenant, session_status::running);
  elsewhere.owner_node = "another-node";
  auto other_rec = create(elsewhere);
  ASSERT_TRUE(idle_rec && other_rec);
  const auto running_id = in_flight[0];
  const auto starting_id = in_flight[1];
  ASSERT_TRUE(append(events(running_id, 1, 3)));
  ASSERT_TRUE(ask<std::vector<db_result>>(make_turn_started_batch(tenant, running_id, new_uuid())));
  std::sort(in_flight.begin(), in_flight.end());

  auto ids = await_callbacks<std::vector<std::string>>(
      [&](auto ok, auto fail) { repo_->recover_running(node, ok, fail); });
  ASSERT_TRUE(ids) << sys_.render(ids.error());
  EXPECT_EQ(*ids, in_flight);

  auto page = read_events(tenant, running_id);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(page->events[i].seq, i + 1);
  EXPECT_EQ(page->events[3].type, "error");
  EXPECT_EQ(page->events[3].payload_json,
            R"({"code": "AGENT_ERROR", "message": "the service stopped during this turn"})");
  EXPECT_EQ(page->events[4].type, "done");
  EXPECT_EQ(page->events[4].payload_json, R"({"reason": "interrupted"})");
  EXPECT_EQ(page->last_seq, 5u);
  auto starting = read_events(tenant, starting_id);
  ASSERT_TRUE(starting);
  ASSERT_EQ(starting->events.size(), 2u);
  EXPECT_EQ(starting->events[0].seq, 1u);
  for (const auto& id : in_flight) EXPECT_EQ(get(tenant, id)->status, session_status::interrupted);
  EXPECT_EQ(get(tenant, running_id)->total_turns, 1);  // the interrupted turn counts
  EXPECT_EQ(get(tenant, starting_id)->total_turns, 0);
  EXPECT_EQ(get(tenant, idle_rec->id)->status, session_status::idle);
  EXPECT_EQ(get(tenant, other_rec->id)->status, session_status::running);
  auto turn = caa::test::raw_query(
      db_->url(), "SELECT status FROM turns WHERE session_id = '" + running_id + "'");
  ASSERT_EQ(turn.size(), 1u);
  EXPECT_EQ(*turn[0][0], "interrupted");

  auto again = recover_running_blocking(sys_, pg_, 30s, node);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}
