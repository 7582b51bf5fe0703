// The batching event writer against a real PostgreSQL: concurrent sessions coalesce into few
// batches, every answer follows the commit, per-session order, failures stay with their request.

#include "storage/postgres/event_writer.hpp"
#include "tests/integration/session_repo_fixture.hpp"

#include <caf/event_based_actor.hpp>

#include <memory>

using namespace caa::storage;
using caa::errc;
using namespace std::chrono_literals;
using caa::errc_of;
using caa::atom::append_v;

namespace {

constexpr int sessions_count = 20;
constexpr int events_per_session = 200;
constexpr int events_per_request = 10;

/// What one producer saw.
struct producer_counts {
  int answered = 0;  ///< requests answered with success
  int verified = 0;  ///< answers whose highest event was readable right after the answer
  int failed = 0;    ///< errors, or an answer before its events were visible
};

/// Sends all requests of one session at once (pipelined), reads its highest event back from
/// PostgreSQL right after each answer, and reports (id, verified, failed) to `report` when done.
void producer(caf::event_based_actor* self, event_writer_actor writer, pg_actor pg,
              std::string tenant, std::string sid, caf::actor report) {
  auto counts = std::make_shared<producer_counts>();
  constexpr int requests = events_per_session / events_per_request;
  auto settle = [=] {
    if (counts->verified + counts->failed == requests)
      self->send(report, sid, counts->verified, counts->failed);
  };
  for (int r = 0; r < requests; ++r) {
    auto evs = caa::test::make_events(sid, static_cast<uint64_t>(r * events_per_request + 1),
                                      events_per_request);
    self->request(writer, std::chrono::seconds{60}, append_v, std::move(evs))
        .then(
            [=](uint64_t highest) {
              ++counts->answered;
              self->request(pg, std::chrono::seconds{60},
                            make_read_events_query(tenant, sid, highest - 1, 1))
                  .then(
                      [=](db_result& rows) {
                        auto page = parse_event_page(rows);
                        bool seen = page && page->events.size() == 1 &&
                                    page->events[0].seq == highest && page->last_seq >= highest;
                        ++(seen ? counts->verified : counts->failed);
                        settle();
                      },
                      [=](caf::error&) {
                        ++counts->failed;
                        settle();
                      });
            },
            [=](caf::error&) {
              ++counts->failed;
              settle();
            });
  }
}

class event_writer_test : public caa::test::session_repo_fixture {
 protected:
  void SetUp() override {
    session_repo_fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    event_writer_config cfg;
    cfg.timeout = pg_request_timeout(pg_cfg_);
    writer_ = spawn_event_writer(sys_, pg_, cfg);
  }

  void TearDown() override {
    if (writer_) caf::anon_send_exit(writer_, caf::exit_reason::user_shutdown);
    session_repo_fixture::TearDown();
  }

  event_writer_stats stats() {
    event_writer_stats out;
    caf::scoped_actor self{sys_};
    self->request(writer_, 10s, caf::get_atom_v)
        .receive([&](event_writer_stats& s) { out = s; },
                 [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
    return out;
  }

  event_writer_actor writer_;
};

}  // namespace

TEST_F(event_writer_test, an_idle_writer_writes_at_once) {
  auto tenant = make_tenant();
  auto rec = create(fresh(tenant));
  ASSERT_TRUE(rec);
  caf::scoped_actor self{sys_};
  uint64_t highest = 0;
  self->request(writer_, 30s, append_v, events(rec->id, 1, 3))
      .receive([&](uint64_t h) { highest = h; }, [&](caf::error& e) { FAIL() << sys_.render(e); });
  EXPECT_EQ(highest, 3u);
  EXPECT_EQ(get(tenant, rec->id)->last_seq, 3u);
  self->request(writer_, 30s, append_v, std::vector<session_event>{})  // a barrier
      .receive([&](uint64_t h) { EXPECT_EQ(h, 0u); },
               [&](caf::error& e) { FAIL() << sys_.render(e); });
  auto s = stats();
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.events, 3u);
}

TEST_F(event_writer_test, concurrent_sessions_coalesce_and_answer_after_commit) {
  auto tenant = make_tenant();
  std::vector<std::string> ids;
  for (int i = 0; i < sessions_count; ++i) {
    auto rec = create(fresh(tenant, session_status::running));
    ASSERT_TRUE(rec);
    ids.push_back(rec->id);
  }
  caf::scoped_actor self{sys_};
  auto report_to = caf::actor_cast<caf::actor>(self);
  for (const auto& id : ids) sys_.spawn(producer, writer_, pg_, tenant, id, report_to);
  int reports = 0;
  bool timed_out = false;
  while (reports < sessions_count && !timed_out)
    self->receive(
        [&](const std::string& sid, int verified, int failed) {
          EXPECT_EQ(verified, events_per_session / events_per_request) << sid;
          EXPECT_EQ(failed, 0) << sid;
          ++reports;
        },
        caf::after(std::chrono::seconds{120}) >> [&] { timed_out = true; });
  ASSERT_FALSE(timed_out) << "producers did not finish";
  ASSERT_EQ(reports, sessions_count);

  for (const auto& id : ids) {
    auto page = read_events(tenant, id, 0, 1000);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->events.size(), static_cast<std::size_t>(events_per_session));
    for (std::size_t i = 0; i < page->events.size(); ++i)
      ASSERT_EQ(page->events[i].seq, i + 1) << id;  // contiguous, in order
    EXPECT_EQ(page->last_seq, static_cast<uint64_t>(events_per_session));
  }
  auto s = stats();
  const uint64_t requests = sessions_count * (events_per_session / events_per_request);
  EXPECT_EQ(s.requests, requests);
  EXPECT_EQ(s.events, static_cast<uint64_t>(sessions_count * events_per_session));
  EXPECT_EQ(s.failures, 0u);
  EXPECT_LT(s.batches, requests);  // requests that met a write in flight shared a batch
  EXPECT_GT(s.batches, 0u);
  std::cout << "[ stats    ] " << s.requests << " requests in " << s.batches << " batches\n";
}

TEST_F(event_writer_test, failures_stay_with_their_request) {
  auto tenant = make_tenant();
  auto a = create(fresh(tenant));
  auto b = create(fresh(tenant));
  auto c = create(fresh(tenant));
  auto d = create(fresh(tenant));
  ASSERT_TRUE(a && b && c && d);
  caf::scoped_actor self{sys_};
  // Sent back to back: the first of each lane is written at once, the rest meet it in flight
  // and share the next batch of their lane, which one invalid payload would poison. (Requests
  // of ONE session in one batch share its hole check: a session sends one at a time.)
  auto first = self->request(writer_, 30s, append_v, events(a->id, 1, 2));
  auto missing = self->request(writer_, 30s, append_v, events(new_uuid(), 1, 1));
  auto hole = self->request(writer_, 30s, append_v, events(d->id, 5, 1));
  auto poison = self->request(writer_, 30s, append_v,
                              std::vector<session_event>{{c->id, 1, "message", "not json"}});
  auto fine = self->request(writer_, 30s, append_v, events(b->id, 1, 2));
  auto later = self->request(writer_, 30s, append_v, events(a->id, 3, 1));
  auto expect_ok = [&](auto& h, uint64_t want) {
    h.receive([&](uint64_t got) { EXPECT_EQ(got, want); },
              [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
  };
  auto expect_error = [&](auto& h, errc want) {
    h.receive([&](uint64_t) { ADD_FAILURE() << "expected " << caa::to_string(want); },
              [&](caf::error& e) { EXPECT_EQ(errc_of(e), want) << sys_.render(e); });
  };
  expect_ok(first, 2);
  expect_error(missing, errc::session_not_found);
  expect_error(hole, errc::conflict);
  expect_error(poison, errc::internal);
  expect_ok(fine, 2);
  expect_ok(later, 3);
  EXPECT_EQ(get(tenant, a->id)->last_seq, 3u);
  EXPECT_EQ(get(tenant, b->id)->last_seq, 2u);
  EXPECT_EQ(get(tenant, c->id)->last_seq, 0u);
  EXPECT_EQ(get(tenant, d->id)->last_seq, 0u);

  // The session decides: a retry of the failed request with a valid payload succeeds.
  auto retry = self->request(writer_, 30s, append_v, events(c->id, 1, 1));
  expect_ok(retry, 1);
  EXPECT_GE(stats().failures, 3u);

  auto mixed = events(a->id, 4, 1);
  mixed.push_back({b->id, 3, "message", "{}"});
  auto invalid = self->request(writer_, 30s, append_v, mixed);
  expect_error(invalid, errc::validation);
  auto unordered =
      self->request(writer_, 30s, append_v,
                    std::vector<session_event>{{a->id, 5, "m", "{}"}, {a->id, 4, "m", "{}"}});
  expect_error(unordered, errc::validation);
}

TEST_F(event_writer_test, an_unreachable_database_fails_every_request) {
  pg_pool_config cfg;
  cfg.database_url =
      "postgresql://caa@127.0.0.1:" + std::to_string(caa::test::closed_port()) + "/x";
  cfg.size = 1;
  cfg.db_timeout = 2s;
  auto down = spawn_pg_pool(sys_, cfg);
  event_writer_config wcfg;
  wcfg.timeout = pg_request_timeout(cfg);
  auto writer = spawn_event_writer(sys_, down, wcfg);
  caf::scoped_actor self{sys_};
  auto id = new_uuid();
  auto a = self->request(writer, 30s, append_v, events(id, 1, 1));
  auto b = self->request(writer, 30s, append_v, events(id, 2, 1));
  auto c = self->request(writer, 30s, append_v, events(new_uuid(), 1, 1));
  for (auto* h : {&a, &b, &c})
    h->receive([&](uint64_t) { ADD_FAILURE() << "answered without PostgreSQL"; },
               [&](caf::error& e) { EXPECT_EQ(errc_of(e), errc::unavailable) << sys_.render(e); });
  caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(down, caf::exit_reason::user_shutdown);
}
