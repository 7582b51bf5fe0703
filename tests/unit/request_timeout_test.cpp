// Requests answered in time leave no timeout behind in CAF's clock (storage/bridge.hpp,
// cancel_answered_timeout). CAF 0.17 keeps a request's timeout after the answer: it fires later,
// wakes the requester for a message it drops and keeps it alive meanwhile. Long-lived actors
// that make a request per event (the session, the event writer, the pool) cancel it themselves.

#include "tests/unit/session_machine_fixture.hpp"

#include "storage/bridge.hpp"
#include "storage/postgres/event_writer.hpp"

namespace session_machine {

using caa::test_support::request_timeouts_of;

namespace {

/// Answers `n` with `n`, or with an error for a negative `n`.
/// Answers `n`, or an error for a negative one. (`unused`: CAF 0.17.6 dereferences a null
/// argument tuple when a function actor is spawned without arguments; UBSan reports it.)
caf::behavior replier(int unused) {
  (void)unused;
  return {[](int n) -> caf::result<int> {
    if (n < 0) return caa::make_error(errc::unavailable, "negative");
    return n;
  }};
}

/// Asks `to` for `n` with a 10 s deadline, cancelling the timeout on the answer when `cancel`.
caf::behavior requester(caf::event_based_actor* self, caf::actor to, int n, bool cancel,
                        std::shared_ptr<int> answers) {
  self->request(to, std::chrono::seconds{10}, n)
      .then(
          [self, cancel, answers](int) {
            if (cancel) caa::cancel_answered_timeout(self);
            ++*answers;
          },
          [self, cancel, answers](caf::error&) {
            if (cancel) caa::cancel_answered_timeout(self);
            ++*answers;
          });
  return {[](int) {}};  // lives on, like the service's actors
}

/// A PostgreSQL that stores every append of session `id`: one status row per statement.
storage::pg_actor::behavior_type appending_pg(storage::pg_actor::pointer, std::string id,
                                              std::shared_ptr<int> statements) {
  return {
      [=](storage::db_query&) -> caf::result<storage::db_result> {
        ++*statements;
        storage::db_result r;
        r.rows.push_back({id, std::string{"1"}, std::string{"t"}, std::string{"t"}});
        return r;
      },
      [](storage::db_batch&) -> caf::result<std::vector<storage::db_result>> {
        return caa::make_error(errc::internal, "no batches here");
      },
      [](caa::atom::ping) -> caf::result<bool> { return true; },
  };
}

}  // namespace

TEST_F(session_machine_test, an_answered_request_leaves_a_timeout_only_when_nobody_cancels_it) {
  auto to = sys.spawn(replier, 0);
  auto answers = std::make_shared<int>(0);
  auto kept = sys.spawn(requester, to, 1, false, answers);
  auto cancelled = sys.spawn(requester, to, 1, true, answers);
  auto refused = sys.spawn(requester, to, -1, true, answers);
  spawned.insert(spawned.end(), {to, kept, cancelled, refused});
  sched.run();
  ASSERT_EQ(*answers, 3);
  // What CAF 0.17 does by itself: the answered request's timeout stays for its 10 s.
  EXPECT_EQ(request_timeouts_of(sched.clock(), kept.id()), 1u);
  EXPECT_EQ(request_timeouts_of(sched.clock(), cancelled.id()), 0u);
  EXPECT_EQ(request_timeouts_of(sched.clock(), refused.id()), 0u) << "an error answer, too";
}

TEST_F(session_machine_test, a_turn_leaves_no_request_timeout_of_the_session_in_the_clock) {
  for (bool async : {false, true}) {
    SCOPED_TRACE(async ? "async" : "sync");
    auto s = make_session(identity(async ? "00000000-0000-4000-8000-000000000002"
                                         : "00000000-0000-4000-8000-000000000001"),
                          deps());
    auto t = std::make_shared<turn_spec>(*spec());
    t->async_events = async;
    auto appends = wl->appends;
    auto queries = pgl->queries.size();
    ASSERT_ACCEPTED(run(s, t));
    complete_turn(s, 1);
    advance(1s);  // async: the flush interval; both: the row writes that follow the turn
    EXPECT_GT(wl->appends, appends) << "the session wrote its events through the writer";
    EXPECT_GT(pgl->queries.size(), queries) << "and its row to PostgreSQL";
    EXPECT_EQ(request_timeouts_of(sched.clock(), s.id()), 0u);
  }
}

TEST_F(session_machine_test, the_event_writers_statements_leave_no_request_timeout_in_the_clock) {
  const std::string id = "00000000-0000-4000-8000-000000000003";
  auto statements = std::make_shared<int>(0);
  auto db = sys.spawn(appending_pg, id, statements);
  storage::event_writer_config cfg;
  cfg.timeout = std::chrono::seconds{10};
  auto writer = storage::spawn_event_writer(sys, db, cfg);
  spawned.insert(spawned.end(),
                 {caf::actor_cast<caf::actor>(db), caf::actor_cast<caf::actor>(writer)});
  int stored = 0;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto h = self->request(writer, caf::infinite, caa::atom::append_v,
                           std::vector<storage::session_event>{{id, seq, "message", "{}", 0}});
    sched.run();
    h.receive([&](uint64_t) { ++stored; }, [](caf::error&) {});
  }
  EXPECT_EQ(stored, 3);
  EXPECT_EQ(*statements, 3) << "one statement per append, each answered";
  EXPECT_EQ(request_timeouts_of(sched.clock(), writer.id()), 0u);
}

}  // namespace session_machine
