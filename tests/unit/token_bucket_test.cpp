// The token bucket maths, this node's buckets of the cluster-wide limits and their
// reconciliation arithmetic (nodes simulated with a shared fake of the Redis bucket), with an
// injected clock.

#include "storage/redis/token_bucket.hpp"
#include "storage/redis/rate_limit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

using caa::storage::bucket_report;
using caa::storage::node_buckets;
using caa::storage::shared_bucket;
using caa::storage::token_bucket;

TEST(token_bucket, full_bucket_allows_capacity_then_refuses) {
  auto b = token_bucket::full(10, 1000.0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.take(10, 1000.0).allowed) << i;
  auto d = b.take(10, 1000.0);
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after_s, 6.0, 1e-9);  // one token per 6 s at 10/min
}

TEST(token_bucket, refills_per_second) {
  auto b = token_bucket::full(60, 0.0);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(b.take(60, 0.0).allowed);
  EXPECT_FALSE(b.take(60, 0.5).allowed);
  EXPECT_TRUE(b.take(60, 1.0).allowed);  // 1 token per second
  EXPECT_FALSE(b.take(60, 1.0).allowed);
}

TEST(token_bucket, retry_after_accounts_for_partial_tokens) {
  auto b = token_bucket::full(10, 0.0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.take(10, 0.0).allowed);
  auto d = b.take(10, 3.0);  // half a token accrued
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after_s, 3.0, 1e-9);
}

TEST(token_bucket, never_exceeds_capacity) {
  auto b = token_bucket::full(5, 0.0);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.take(5, 3600.0).allowed ? 1 : 0;
  EXPECT_EQ(allowed, 5);
}

TEST(token_bucket, clock_going_backwards_refills_nothing) {
  auto b = token_bucket::full(1, 100.0);
  ASSERT_TRUE(b.take(1, 100.0).allowed);
  EXPECT_FALSE(b.take(1, 50.0).allowed);
  EXPECT_FALSE(b.take(1, 100.0).allowed);
  EXPECT_TRUE(b.take(1, 160.0).allowed);
}

TEST(token_bucket, zero_limit_refuses) {
  auto b = token_bucket::full(0, 0.0);
  auto d = b.take(0, 0.0);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after_s, 0.0);
}

// -- node_buckets: the per-node decision -------------------------------------------------------

TEST(node_buckets, decide_like_a_token_bucket_per_key) {
  node_buckets buckets;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(buckets.take("a", 10, 0.0).allowed) << i;
  auto refused = buckets.take("a", 10, 0.0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_DOUBLE_EQ(refused.retry_after_s, 6.0);  // one token of 10 per minute
  EXPECT_TRUE(buckets.take("b", 10, 0.0).allowed);
  EXPECT_TRUE(buckets.take("a", 10, 6.0).allowed);  // refilled one
  EXPECT_FALSE(buckets.take("a", 10, 6.0).allowed);
  EXPECT_EQ(buckets.size(), 2u);
}

TEST(node_buckets, zero_limit_is_no_limit) {
  node_buckets buckets;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(buckets.take("a", 0, 0.0).allowed);
  EXPECT_EQ(buckets.size(), 0u);
  EXPECT_TRUE(buckets.collect(0.0).empty());
}

TEST(node_buckets, collect_reports_used_buckets_once_with_what_was_taken) {
  node_buckets buckets;
  for (int i = 0; i < 3; ++i) buckets.take("a", 2, 0.0);  // 2 allowed, 1 refused
  buckets.take("b", 5, 0.0);
  auto reports = buckets.collect(0.1);
  std::sort(reports.begin(), reports.end(),
            [](const bucket_report& x, const bucket_report& y) { return x.key < y.key; });
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].key, "a");
  EXPECT_EQ(reports[0].per_minute, 2u);
  EXPECT_EQ(reports[0].taken, 2u);
  EXPECT_EQ(reports[1].key, "b");
  EXPECT_EQ(reports[1].taken, 1u);
  EXPECT_TRUE(buckets.collect(0.2).empty());  // nothing used since
  buckets.take("a", 2, 0.3);                  // refused: still reported (to learn the cluster)
  reports = buckets.collect(0.4);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].taken, 0u);
}

TEST(node_buckets, apply_lowers_to_the_cluster_minus_what_was_taken_since) {
  node_buckets buckets;
  buckets.take("k", 10, 0.0);
  auto reports = buckets.collect(0.0);
  ASSERT_EQ(reports.size(), 1u);
  buckets.take("k", 10, 0.0);  // taken while the report travels
  // The other nodes took 6: the cluster has 10 - 1 - 6 = 3 left after our report.
  buckets.apply("k", 3.0, 0.0);
  EXPECT_TRUE(buckets.take("k", 10, 0.0).allowed);  // 3 - 1 (in flight) = 2
  EXPECT_TRUE(buckets.take("k", 10, 0.0).allowed);
  auto refused = buckets.take("k", 10, 0.0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_DOUBLE_EQ(refused.retry_after_s, 6.0);
  // A cluster with more tokens than this node believes never raises it.
  buckets.collect(0.0);
  buckets.apply("k", 10.0, 0.0);
  EXPECT_FALSE(buckets.take("k", 10, 0.0).allowed);
  // A debt: retry-after counts the tokens to pay back first.
  buckets.collect(0.0);
  buckets.apply("k", -4.0, 0.0);
  EXPECT_DOUBLE_EQ(buckets.take("k", 10, 0.0).retry_after_s, 30.0);  // (1 - -4) tokens * 6 s
  buckets.apply("gone", 0.0, 0.0);                                   // unknown: ignored
  EXPECT_EQ(buckets.size(), 1u);
}

TEST(node_buckets, never_hold_more_buckets_than_the_cap) {
  node_buckets buckets{64};
  for (int i = 0; i < 5000; ++i) buckets.take("key" + std::to_string(i), 10, 0.0);
  EXPECT_LE(buckets.size(), 64u);
  EXPECT_GT(buckets.size(), 0u);
}

TEST(node_buckets, keys_come_and_go_without_collect_and_without_growing) {
  node_buckets buckets{32};
  for (int i = 0; i < 20000; ++i) buckets.take("key" + std::to_string(i), 10, 0.0);
  EXPECT_LE(buckets.size(), 32u);
  auto reports = buckets.collect(0.0);
  EXPECT_EQ(reports.size(), buckets.size());  // only the buckets still held
}

TEST(node_buckets, idle_buckets_are_dropped_once_full) {
  node_buckets buckets{1000, 120.0};
  buckets.take("light", 60, 0.0);
  for (int i = 0; i < 60; ++i) buckets.take("debt", 60, 0.0);
  buckets.collect(0.0);
  buckets.apply("debt", -120.0, 0.0);  // 120 tokens to pay back: full again after 180 s
  buckets.take("busy", 60, 100.0);
  buckets.collect(100.0);
  EXPECT_EQ(buckets.size(), 3u);  // nobody idle for 120 s yet
  buckets.take("busy", 60, 130.0);
  buckets.collect(130.0);
  EXPECT_EQ(buckets.size(), 2u);  // "light" was idle and full; "debt" is still paying back
  buckets.collect(200.0);
  EXPECT_EQ(buckets.size(), 1u);  // "debt" is full again; "busy" was used 70 s ago
  EXPECT_TRUE(buckets.take("busy", 60, 200.0).allowed);
}

TEST(node_buckets, threads_share_one_bucket_exactly) {
  node_buckets buckets;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (buckets.take("shared", 500, 0.0).allowed) ++allowed;
        buckets.take("own" + std::to_string(i % 7), 500, 0.0);
        if (i % 100 == 0) buckets.collect(0.0);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 500);
}

// -- shared_bucket: the Redis side of the reconciliation ---------------------------------------

TEST(shared_bucket, starts_full_refills_and_keeps_a_debt) {
  shared_bucket s;
  EXPECT_DOUBLE_EQ(s.report(60, 10, 0.0), 50.0);
  EXPECT_DOUBLE_EQ(s.report(60, 0, 5.0), 55.0);       // 1 token per second
  EXPECT_DOUBLE_EQ(s.report(60, 0, 100.0), 60.0);     // never above the limit
  EXPECT_DOUBLE_EQ(s.report(60, 100, 100.0), -40.0);  // over-admitted: a debt
  EXPECT_DOUBLE_EQ(s.report(60, 0, 90.0), -40.0);     // a clock going back refills nothing
  EXPECT_DOUBLE_EQ(s.report(60, 0, 140.0), 0.0);      // paid back by the refill
}

TEST(rate_limit, reconcile_command_and_reply) {
  std::vector<bucket_report> reports{{"a:query", 10, 3}, {"b:general", 100, 0}, {"c", 5, 1}};
  auto cmd = caa::storage::reconcile_command(reports, 1, 2, true);
  ASSERT_EQ(cmd.args.size(), 9u);
  EXPECT_EQ(cmd.args[0], "EVALSHA");
  EXPECT_EQ(cmd.args[2], "2");
  EXPECT_EQ(cmd.args[3], caa::storage::rate_limit_key("b:general"));
  EXPECT_EQ(cmd.args[4], caa::storage::rate_limit_key("c"));
  EXPECT_EQ(cmd.args[5], "100");
  EXPECT_EQ(cmd.args[6], "0");
  EXPECT_EQ(cmd.args[7], "5");
  EXPECT_EQ(cmd.args[8], "1");
  auto eval = caa::storage::reconcile_command(reports, 0, 10, false);
  EXPECT_EQ(eval.args[0], "EVAL");
  EXPECT_EQ(eval.args[1], caa::storage::reconcile_script);
  EXPECT_EQ(eval.args[2], "3");  // clamped to the reports there are
  caa::storage::redis_reply r;
  r.kind = caa::storage::redis_reply_kind::array;
  r.elements = {"4.5", "-2"};
  auto left = caa::storage::parse_reconcile_reply(r, 2);
  ASSERT_TRUE(left);
  EXPECT_DOUBLE_EQ((*left)[0], 4.5);
  EXPECT_DOUBLE_EQ((*left)[1], -2.0);
  EXPECT_FALSE(caa::storage::parse_reconcile_reply(r, 3));
  r.elements = {"4.5", "x"};
  EXPECT_FALSE(caa::storage::parse_reconcile_reply(r, 2));
  r.kind = caa::storage::redis_reply_kind::error;
  EXPECT_FALSE(caa::storage::parse_reconcile_reply(r, 2));
}

// -- simulated clusters: N nodes, one fake Redis bucket ----------------------------------------

namespace {

/// How the simulated clients of one node ask.
enum class pattern { greedy, bursts, sparse };

struct cluster_run {
  std::vector<double> admitted;  ///< when each request was admitted, in order
};

/// N nodes with their own `node_buckets` share `shared` (the fake Redis bucket). Each node
/// reconciles every `interval_s` (at its own phase); its report reaches Redis at once and the
/// answer comes back `rtt_s` later. Time advances in steps of `step_s` for `duration_s`.
cluster_run simulate(std::size_t nodes, unsigned per_minute, double interval_s, double rtt_s,
                     pattern how, unsigned seed, double duration_s) {
  constexpr double step_s = 0.001;
  std::mt19937 rng{seed};
  std::uniform_real_distribution<double> unit{0.0, 1.0};
  struct sim_node {
    node_buckets buckets;
    double next_sync = 0.0;
    double reply_at = -1.0;
    double reply_tokens = 0.0;
    bool active = true;
    double ask_p = 1.0;
  };
  std::vector<sim_node> ns(nodes);
  for (auto& n : ns) {
    n.next_sync = unit(rng) * interval_s;
    n.ask_p = how == pattern::greedy ? 1.0 : how == pattern::bursts ? 0.02 : 0.002;
  }
  shared_bucket shared;
  cluster_run out;
  const std::string key = "k:general";
  auto steps = static_cast<long>(duration_s / step_s);
  for (long k = 0; k < steps; ++k) {
    double now = static_cast<double>(k) * step_s;
    for (auto& n : ns) {
      if (how != pattern::greedy && unit(rng) < 0.001) n.active = !n.active;  // on/off phases
      if (n.active && unit(rng) < n.ask_p) {
        int want = how == pattern::sparse ? 1 : 1 + static_cast<int>(unit(rng) * 2 * per_minute);
        for (int i = 0; i < want; ++i) {
          if (!n.buckets.take(key, per_minute, now).allowed) break;
          out.admitted.push_back(now);
        }
      }
      if (n.reply_at >= 0 && now >= n.reply_at) {
        n.buckets.apply(key, n.reply_tokens, now);
        n.reply_at = -1.0;
      }
      if (now >= n.next_sync && n.reply_at < 0) {
        for (const auto& r : n.buckets.collect(now)) {
          n.reply_tokens = shared.report(r.per_minute, r.taken, now);
          n.reply_at = now + rtt_s;
        }
        n.next_sync = now + rtt_s + interval_s;
      }
    }
  }
  return out;
}

/// The largest excess over a single bucket, max over windows [t_s, t_e] of
/// admitted(t_s..t_e) - (B + r * (t_e - t_s)).
double worst_excess(const std::vector<double>& admitted, unsigned per_minute) {
  double b = per_minute;
  double r = b / 60.0;
  double worst = 0.0;
  double best_start = -1e300;  // max over s <= e of (r * t_s - s)
  for (std::size_t e = 0; e < admitted.size(); ++e) {
    best_start = std::max(best_start, r * admitted[e] - static_cast<double>(e));
    worst = std::max(worst, static_cast<double>(e + 1) + best_start - r * admitted[e] - b);
  }
  return worst;
}

/// The documented bound: (N - 1) * (B + r * T), T = sync interval + round trip.
double documented_bound(std::size_t nodes, unsigned per_minute, double interval_s, double rtt_s) {
  double b = per_minute;
  return static_cast<double>(nodes - 1) * (b + b / 60.0 * (interval_s + rtt_s));
}

}  // namespace

TEST(cluster_simulation, two_nodes_stay_within_the_documented_bound) {
  for (auto how : {pattern::greedy, pattern::bursts, pattern::sparse})
    for (unsigned per_minute : {3u, 10u, 100u})
      for (unsigned seed = 1; seed <= 4; ++seed) {
        auto run = simulate(2, per_minute, 0.2, 0.002, how, seed, 120.0);
        auto excess = worst_excess(run.admitted, per_minute);
        EXPECT_LE(excess, documented_bound(2, per_minute, 0.2, 0.002))
            << "pattern " << static_cast<int>(how) << " limit " << per_minute << " seed " << seed;
      }
}

TEST(cluster_simulation, many_nodes_with_a_slow_sync_stay_within_the_documented_bound) {
  for (std::size_t nodes : {3u, 5u})
    for (auto how : {pattern::greedy, pattern::bursts})
      for (unsigned seed = 1; seed <= 3; ++seed) {
        auto run = simulate(nodes, 10, 2.0, 0.05, how, seed, 240.0);
        EXPECT_LE(worst_excess(run.admitted, 10), documented_bound(nodes, 10, 2.0, 0.05))
            << nodes << " nodes, pattern " << static_cast<int>(how) << " seed " << seed;
      }
}

TEST(cluster_simulation, greedy_nodes_share_the_rate_in_the_long_run) {
  // Two nodes asking all the time: after the first bursts (B each) the cluster admits the
  // refill of ONE bucket, not of two: B + r * W plus at most the bound.
  auto run = simulate(2, 60, 0.2, 0.002, pattern::greedy, 7, 300.0);
  double single = 60.0 + 1.0 * 300.0;
  EXPECT_LE(static_cast<double>(run.admitted.size()), single + documented_bound(2, 60, 0.2, 0.002));
  EXPECT_GE(static_cast<double>(run.admitted.size()), single - 2.0);  // and not much less
}

TEST(cluster_simulation, a_lone_node_admits_what_a_plain_bucket_admits) {
  for (auto how : {pattern::greedy, pattern::bursts, pattern::sparse}) {
    auto run = simulate(1, 10, 0.2, 0.002, how, 3, 300.0);
    EXPECT_LE(worst_excess(run.admitted, 10), 0.0) << static_cast<int>(how);
  }
  auto greedy = simulate(1, 10, 0.2, 0.002, pattern::greedy, 3, 300.0);
  EXPECT_GE(greedy.admitted.size(), 10u + 50u - 1u);  // B + r * W, less at most one token
}
