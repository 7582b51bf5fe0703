// A session actor with nothing left in memory ends itself after `retire_after` without a request
// and tells the registry (which revives it from the rows on the next request); a process, a turn
// or an open subscriber keeps it. Driven deterministically (session_machine_fixture.hpp).

#include "tests/unit/session_machine_fixture.hpp"

using namespace caa;
using namespace session_machine;
using namespace std::chrono_literals;

namespace {

/// Deps of a session that retires after 60 s and hibernates after 300 s.
session_deps retiring_deps(session_machine_test&, session_deps d) {
  d.idle_timeout = 300s;
  d.retire_after = 60s;
  return d;
}

}  // namespace

TEST_F(session_machine_test,
       a_hibernated_session_with_nothing_pending_retires_and_tells_the_registry) {
  auto s = make_session(identity(), retiring_deps(*this, deps()));
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  advance(300s);  // idle timeout: hibernated, the CLI asked to end
  ASSERT_EQ(pgl->statuses().back(), "hibernated");
  advance(120s);
  EXPECT_TRUE(rl->removed.empty()) << "its CLI has not exited yet";
  exited(s, 1, 0);
  advance(59s);
  EXPECT_TRUE(rl->removed.empty());
  EXPECT_TRUE(ok(busy(s)));
  advance(2s);
  ASSERT_EQ(rl->removed, (std::vector<std::string>{identity().id}));
  EXPECT_FALSE(ok(busy(s))) << "the actor is gone";
  EXPECT_EQ(stored_count("done"), 1u);  // its events are in storage, nothing was lost
}

TEST_F(session_machine_test, an_open_subscriber_keeps_a_session_and_its_departure_lets_it_retire) {
  auto s = make_session(identity(), retiring_deps(*this, deps()));
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);
  advance(300s);
  exited(s, 1, 0);
  auto sink = std::make_shared<recording_sink>();
  ASSERT_TRUE(ok(subscribe(s, sink, 4)));  // a request: the quiet minute starts again
  advance(600s);
  EXPECT_TRUE(rl->removed.empty()) << "an attached client keeps the session";
  sink->close();  // the client left while nothing happened: noticed at the next look
  advance(60s);
  EXPECT_EQ(rl->removed, (std::vector<std::string>{identity().id}));
}

TEST_F(session_machine_test, a_session_with_a_process_never_retires) {
  auto d = retiring_deps(*this, deps());
  d.idle_timeout = 3600s;
  auto s = make_session(identity(), d);
  ASSERT_ACCEPTED(run(s));
  complete_turn(s, 1);  // idle, its CLI kept for the next turn
  advance(1800s);
  EXPECT_TRUE(rl->removed.empty());
  EXPECT_TRUE(ok(busy(s)));
}

TEST_F(session_machine_test, a_revived_session_that_is_never_used_retires) {
  auto who = identity();
  who.last_seq = 7;
  auto s = make_session(who, retiring_deps(*this, deps()));
  advance(61s);
  EXPECT_EQ(rl->removed, (std::vector<std::string>{identity().id}));
}
