// The ownership lease of a session against a real PostgreSQL: claims, renewal, release, the
// takeover of a turn a gone owner left running (exactly once), and the fence that makes every
// write under an older epoch fail in SQL.

#include "storage/postgres/lease_queries.hpp"
#include "tests/integration/session_repo_fixture.hpp"

#include <thread>

using namespace caa::storage;
using caa::errc;
using caa::errc_of;
using namespace std::chrono_literals;

class session_lease_test : public caa::test::session_repo_fixture {
 protected:
  /// A session of `tenant` created leased to `node` for `ttl`.
  static new_session leased(const std::string& tenant, const std::string& node,
                            std::chrono::milliseconds ttl) {
    auto s = fresh(tenant);
    s.owner_node = node;
    s.lease = ttl;
    return s;
  }
};

TEST_F(session_lease_test, a_running_lease_is_refused_to_others_and_an_ended_one_is_granted) {
  auto tenant = make_tenant();
  auto rec = create(leased(tenant, "node-a", 60s));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->epoch, 1u) << "a new session starts leased at epoch 1";
  auto claim = [&](const std::string& node) {
    auto r = ask<std::vector<db_result>>(make_claim_lease_batch(tenant, rec->id, node, 60s));
    EXPECT_TRUE(r);
    return r ? parse_lease_claim(*r) : caf::expected<lease_claim>{r.error()};
  };
  auto refused = claim("node-b");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->claimed);
  EXPECT_EQ(refused->holder, "node-a");
  EXPECT_GT(refused->remaining, 50s);
  EXPECT_LE(refused->remaining, 60s);
  // Renewal by the holder at its epoch works; at another epoch or by another node it does not.
  EXPECT_EQ(ask<db_result>(make_renew_lease_query(rec->id, "node-a", 1, 60s))->affected, 1u);
  EXPECT_EQ(ask<db_result>(make_renew_lease_query(rec->id, "node-a", 2, 60s))->affected, 0u);
  EXPECT_EQ(ask<db_result>(make_renew_lease_query(rec->id, "node-b", 1, 60s))->affected, 0u);
  // Released: the next claim wins and raises the epoch; the old holder cannot renew.
  EXPECT_EQ(ask<db_result>(make_release_lease_query(rec->id, "node-a", 1))->affected, 1u);
  auto won = claim("node-b");
  ASSERT_TRUE(won);
  EXPECT_TRUE(won->claimed);
  EXPECT_EQ(won->epoch, 2u);
  EXPECT_FALSE(won->interrupted_turn);
  EXPECT_EQ(ask<db_result>(make_renew_lease_query(rec->id, "node-a", 1, 60s))->affected, 0u);
  EXPECT_EQ(get(tenant, rec->id)->owner_node, "node-b");
  // The holder's own claim (a new actor of the same node) is granted at once, epoch + 1.
  auto again = claim("node-b");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->claimed);
  EXPECT_EQ(again->epoch, 3u);
  // Another tenant's session is not found.
  auto other =
      ask<std::vector<db_result>>(make_claim_lease_batch(make_tenant(), rec->id, "node-c", 60s));
  ASSERT_TRUE(other);
  EXPECT_EQ(errc_of(parse_lease_claim(*other).error()), errc::session_not_found);
}

TEST_F(session_lease_test, an_expired_lease_is_taken_over) {
  auto tenant = make_tenant();
  auto rec = create(leased(tenant, "node-a", 200ms));
  ASSERT_TRUE(rec);
  std::this_thread::sleep_for(300ms);
  auto r = ask<std::vector<db_result>>(make_claim_lease_batch(tenant, rec->id, "node-b", 60s));
  ASSERT_TRUE(r);
  auto claim = parse_lease_claim(*r);
  ASSERT_TRUE(claim);
  EXPECT_TRUE(claim->claimed);
  EXPECT_EQ(claim->epoch, 2u);
}

TEST_F(session_lease_test, writes_under_an_older_epoch_fail_in_sql) {
  auto tenant = make_tenant();
  auto rec = create(leased(tenant, "node-a", 60s));
  ASSERT_TRUE(rec);
  auto with_epoch = [&](uint64_t first, std::size_t n, uint64_t epoch) {
    auto evs = events(rec->id, first, n);
    for (auto& e : evs) e.epoch = epoch;
    return append(evs);
  };
  auto ok = with_epoch(1, 2, 1);
  ASSERT_TRUE(ok);
  EXPECT_TRUE((*ok)[0].written);
  // node-b takes over (the lease was released): epoch 2.
  ask<db_result>(make_release_lease_query(rec->id, "node-a", 1));
  auto r = ask<std::vector<db_result>>(make_claim_lease_batch(tenant, rec->id, "node-b", 60s));
  ASSERT_TRUE(r && parse_lease_claim(*r)->claimed);
  // The former owner's next events are refused in SQL, and nothing of them is stored.
  auto stale = with_epoch(3, 2, 1);
  ASSERT_TRUE(stale);
  EXPECT_FALSE((*stale)[0].written);
  EXPECT_TRUE((*stale)[0].fenced);
  EXPECT_EQ(read_events(tenant, rec->id)->events.size(), 2u);
  // The new owner's are stored.
  auto fresh_ok = with_epoch(3, 1, 2);
  ASSERT_TRUE(fresh_ok);
  EXPECT_TRUE((*fresh_ok)[0].written);
  // A row write under the old epoch fails as a whole (the status does not change).
  auto batch = make_turn_started_batch(tenant, rec->id, new_uuid());
  batch.queries.push_back(make_fence_query(rec->id, 1));
  auto fenced = ask<std::vector<db_result>>(batch);
  ASSERT_FALSE(fenced);
  EXPECT_EQ(errc_of(fenced.error()), errc::fenced);
  EXPECT_EQ(get(tenant, rec->id)->status, session_status::idle);
  // The same write under the current epoch commits.
  batch.queries.back() = make_fence_query(rec->id, 2);
  EXPECT_TRUE(ask<std::vector<db_result>>(batch));
  EXPECT_EQ(get(tenant, rec->id)->status, session_status::running);
}

TEST_F(session_lease_test, a_turn_left_running_ends_interrupted_exactly_once) {
  auto tenant = make_tenant();
  auto rec = create(leased(tenant, "node-a", 60s));
  ASSERT_TRUE(rec);
  ASSERT_TRUE(ask<std::vector<db_result>>(make_turn_started_batch(tenant, rec->id, new_uuid())));
  ASSERT_TRUE(append(events(rec->id, 1, 3)));
  // node-a stops without a word; its lease runs out (released here to avoid waiting).
  ask<db_result>(make_release_lease_query(rec->id, "node-a", 1));
  auto claim_by = [&](const std::string& node) {
    auto r = ask<std::vector<db_result>>(make_claim_lease_batch(tenant, rec->id, node, 60s));
    EXPECT_TRUE(r);
    return *parse_lease_claim(*r);
  };
  auto first = claim_by("node-b");
  EXPECT_TRUE(first.claimed);
  EXPECT_TRUE(first.interrupted_turn);
  EXPECT_EQ(first.last_seq, 5u);
  auto page = read_events(tenant, rec->id);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 5u);
  EXPECT_EQ(page->events[3].type, "error");
  EXPECT_EQ(page->events[4].type, "done");
  EXPECT_EQ(page->events[4].payload_json, R"({"reason": "interrupted"})");
  auto after = get(tenant, rec->id);
  EXPECT_EQ(after->status, session_status::interrupted);
  EXPECT_EQ(after->total_turns, 1);
  // Another takeover finds nothing running: no second terminal event.
  ask<db_result>(make_release_lease_query(rec->id, "node-b", first.epoch));
  auto second = claim_by("node-c");
  EXPECT_TRUE(second.claimed);
  EXPECT_FALSE(second.interrupted_turn);
  EXPECT_EQ(read_events(tenant, rec->id)->events.size(), 5u);
}
