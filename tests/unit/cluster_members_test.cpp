// The cluster's node directory (records, commands, replies) and the membership table.

#include "actors/cluster_members.hpp"
#include "storage/redis/node_directory.hpp"

#include <gtest/gtest.h>

namespace caa {
namespace {

using storage::node_record;
using storage::redis_reply;
using storage::redis_reply_kind;

node_record rec(std::string id, int64_t heartbeat_ms = 1000) {
  node_record x;
  x.node_id = std::move(id);
  x.host = "127.0.0.1";
  x.port = 7001;
  x.sessions = 3;
  x.processes = 2;
  x.heartbeat_ms = heartbeat_ms;
  x.budget = 8;
  return x;
}

redis_reply array(std::vector<std::string> xs) {
  redis_reply r;
  r.kind = redis_reply_kind::array;
  r.elements = std::move(xs);
  return r;
}

TEST(node_directory, record_round_trip) {
  auto x = rec("node-a", 1'700'000'000'123);
  auto text = storage::encode_node_record(x);
  EXPECT_EQ(text, "v2 node-a 127.0.0.1 7001 3 2 1700000000123 8");
  auto y = storage::parse_node_record(text);
  ASSERT_TRUE(y);
  EXPECT_EQ(y->node_id, "node-a");
  EXPECT_EQ(y->host, "127.0.0.1");
  EXPECT_EQ(y->port, 7001);
  EXPECT_EQ(y->sessions, 3u);
  EXPECT_EQ(y->processes, 2u);
  EXPECT_EQ(y->heartbeat_ms, 1'700'000'000'123);
  EXPECT_EQ(y->budget, 8u);
  auto old = storage::parse_node_record("v1 node-a 127.0.0.1 7001 3 2 1700000000123");
  ASSERT_TRUE(old) << "a record of a node without a budget is still read";
  EXPECT_EQ(old->processes, 2u);
  EXPECT_EQ(old->budget, 0u);
}

TEST(node_directory, refuses_what_is_not_a_record) {
  for (const char* text :
       {"", "v1", "v2 a h 1 2 3 4", "v2 a h 1 2 3 4 x", "v3 a h 1 2 3 4 5", "v1 a h 1 2 3",
        "v1 a h 1 2 3 4 5", "v1 a h 70000 2 3 4", "v1 a h x 2 3 4", "v1 a h 1 -2 3 4",
        "v1  h 1 2 3 4", "v1 a h 1 2 3 4 ", "v1 a h 1 2 3 4x"})
    EXPECT_FALSE(storage::parse_node_record(text)) << text;
}

TEST(node_directory, commands) {
  auto x = rec("n1");
  EXPECT_EQ(storage::announce_command(x, std::chrono::milliseconds{10'000}).args,
            (std::vector<std::string>{"SET", "caa:cluster:node:n1", storage::encode_node_record(x),
                                      "PX", "10000"}));
  EXPECT_EQ(storage::index_command(x).args,
            (std::vector<std::string>{"HSET", "caa:cluster:nodes", "n1",
                                      storage::encode_node_record(x)}));
  EXPECT_EQ(storage::alive_command({"a", "b"}).args,
            (std::vector<std::string>{"MGET", "caa:cluster:node:a", "caa:cluster:node:b"}));
  EXPECT_EQ(storage::forget_command({"a"}).args,
            (std::vector<std::string>{"HDEL", "caa:cluster:nodes", "a"}));
}

TEST(node_directory, index_reply_skips_bad_and_mismatched_entries) {
  auto r = array({"a", storage::encode_node_record(rec("a")), "b", "garbage", "c",
                  storage::encode_node_record(rec("not-c")), "d",
                  storage::encode_node_record(rec("d"))});
  auto xs = storage::parse_node_index(r);
  ASSERT_TRUE(xs);
  ASSERT_EQ(xs->size(), 2u);
  EXPECT_EQ((*xs)[0].node_id, "a");
  EXPECT_EQ((*xs)[1].node_id, "d");
  redis_reply err;
  err.kind = redis_reply_kind::error;
  EXPECT_FALSE(storage::parse_node_index(err));
}

TEST(node_directory, alive_reply_nil_means_gone) {
  auto alive = storage::parse_alive(array({"v1 a", ""}), 2);
  ASSERT_TRUE(alive);
  EXPECT_EQ(*alive, (std::vector<bool>{true, false}));
  EXPECT_FALSE(storage::parse_alive(array({"x"}), 2));
}

TEST(cluster_members, expired_key_means_gone_and_self_is_ignored) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({rec("me"), rec("a"), rec("b")}, {true, true, false});
  ASSERT_EQ(t.entries().size(), 2u);
  EXPECT_TRUE(t.entries().at("a").alive);
  EXPECT_FALSE(t.entries().at("b").alive);
  EXPECT_TRUE(t.from_redis());
  // a's key expired at the next read.
  t.observe({rec("a"), rec("b")}, {false, false});
  EXPECT_FALSE(t.entries().at("a").alive);
}

TEST(cluster_members, a_node_missing_from_the_index_is_gone) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({rec("a")}, {true});
  t.observe({}, {});
  ASSERT_EQ(t.entries().size(), 1u);
  EXPECT_FALSE(t.entries().at("a").alive);
}

TEST(cluster_members, a_redis_restarted_empty_keeps_recent_nodes_alive_until_their_ttl) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({rec("a", 1000), rec("b", 1000)}, {true, false}, 1000, std::chrono::seconds{10});
  // The index is empty (Redis came back without data): a announced 4 s ago, within its TTL.
  t.observe({}, {}, 5000, std::chrono::seconds{10});
  EXPECT_TRUE(t.entries().at("a").alive) << "a peer is not gone before its TTL";
  EXPECT_FALSE(t.entries().at("b").alive) << "a gone peer does not come back";
  t.observe({}, {}, 11'001, std::chrono::seconds{10});
  EXPECT_FALSE(t.entries().at("a").alive) << "no announcement within its TTL: gone";
  // An index that lists a with an expired key is believed at once.
  t.observe({rec("a", 11'000)}, {true}, 11'001, std::chrono::seconds{10});
  t.observe({rec("a", 11'000)}, {false}, 11'002, std::chrono::seconds{10});
  EXPECT_FALSE(t.entries().at("a").alive);
}

TEST(cluster_members, redis_down_keeps_the_last_known_list) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({rec("a"), rec("b")}, {true, false});
  t.unreadable();
  EXPECT_FALSE(t.from_redis());
  EXPECT_TRUE(t.entries().at("a").alive);
  EXPECT_FALSE(t.entries().at("b").alive);
  EXPECT_TRUE(t.forget_stale(1'000'000'000).size() == 1);  // b only: a is alive
  EXPECT_TRUE(t.entries().contains("a"));
}

TEST(cluster_members, forgets_gone_nodes_only_after_the_delay) {
  cluster_members t{"me", std::chrono::milliseconds{60'000}};
  t.observe({rec("a", 1000), rec("b", 1000)}, {false, true});
  EXPECT_TRUE(t.forget_stale(61'000).empty());
  EXPECT_EQ(t.forget_stale(61'001), (std::vector<std::string>{"a"}));
  EXPECT_FALSE(t.entries().contains("a"));
  EXPECT_TRUE(t.entries().contains("b"));
}

TEST(cluster_members, show) {
  cluster_members::entry e{rec("a", 1000), true};
  auto m = cluster_members::show(e, 3500);
  EXPECT_EQ(m.node_id, "a");
  EXPECT_EQ(m.address, "127.0.0.1:7001");
  EXPECT_EQ(m.state, "alive");
  EXPECT_EQ(m.sessions, 3u);
  EXPECT_EQ(m.processes, 2u);
  EXPECT_EQ(m.heartbeat_age_ms, 2500);
  e.alive = false;
  e.record.host = "::1";
  m = cluster_members::show(e, 500);  // a clock behind: never a negative age
  EXPECT_EQ(m.state, "gone");
  EXPECT_EQ(m.address, "[::1]:7001");
  EXPECT_EQ(m.heartbeat_age_ms, 0);
}

TEST(cluster_members, connect_backoff_doubles_up_to_a_bound) {
  EXPECT_EQ(connect_backoff(1), std::chrono::milliseconds{250});
  EXPECT_EQ(connect_backoff(2), std::chrono::milliseconds{500});
  EXPECT_EQ(connect_backoff(4), std::chrono::milliseconds{2000});
  EXPECT_EQ(connect_backoff(100), std::chrono::milliseconds{30'000});
}

/// A record of `id` holding `processes` of `budget`.
node_record loaded(std::string id, uint64_t processes, uint64_t budget) {
  auto x = rec(std::move(id));
  x.processes = processes;
  x.budget = budget;
  return x;
}

TEST(cluster_members, a_new_session_stays_here_while_this_node_has_room) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({loaded("a", 0, 8)}, {true});
  EXPECT_EQ(t.place(7, 8), std::nullopt);
  EXPECT_EQ(t.place(8, 8), std::optional<std::string>{"a"});
  EXPECT_EQ(t.place(9, 8), std::optional<std::string>{"a"}) << "over the budget (warm processes)";
}

TEST(cluster_members, a_full_node_places_on_the_alive_node_with_the_most_room) {
  cluster_members t{"me", std::chrono::minutes{10}};
  // b uses 1/2 of its budget, c 3/8, d 0/8 but is gone, e is full, f announced no budget.
  t.observe({loaded("b", 4, 8), loaded("c", 6, 16), loaded("d", 0, 8), loaded("e", 8, 8),
             loaded("f", 0, 0)},
            {true, true, false, true, true});
  EXPECT_EQ(t.place(4, 4), std::optional<std::string>{"c"});
  // Equal shares: the one with fewer processes.
  t.observe({loaded("b", 2, 8), loaded("c", 4, 16)}, {true, true});
  EXPECT_EQ(t.place(4, 4), std::optional<std::string>{"b"});
}

TEST(cluster_members, a_full_cluster_keeps_the_session_here) {
  cluster_members t{"me", std::chrono::minutes{10}};
  t.observe({loaded("a", 8, 8), loaded("b", 0, 8)}, {true, false});
  EXPECT_EQ(t.place(8, 8), std::nullopt) << "admission here waits or refuses, as alone";
}

}  // namespace
}  // namespace caa
