// The token bucket maths and the in-process fallback buckets, with an injected clock.

#include "storage/redis/token_bucket.hpp"

#include <gtest/gtest.h>

#include <string>

using caa::storage::local_buckets;
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

TEST(local_buckets, keys_are_independent) {
  local_buckets buckets;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(buckets.take("a", 10, 0.0).allowed);
  EXPECT_FALSE(buckets.take("a", 10, 0.0).allowed);
  EXPECT_TRUE(buckets.take("b", 10, 0.0).allowed);
  EXPECT_EQ(buckets.size(), 2u);
}

TEST(local_buckets, evicts_least_recently_used_when_full) {
  local_buckets buckets{2};
  ASSERT_TRUE(buckets.take("a", 1, 0.0).allowed);
  ASSERT_TRUE(buckets.take("b", 1, 0.0).allowed);
  EXPECT_FALSE(buckets.take("a", 1, 0.0).allowed);  // touches "a": "b" is now the oldest
  ASSERT_TRUE(buckets.take("c", 1, 0.0).allowed);   // evicts "b"
  EXPECT_EQ(buckets.size(), 2u);
  EXPECT_FALSE(buckets.take("a", 1, 0.0).allowed);  // "a" kept its state
  EXPECT_TRUE(buckets.take("b", 1, 0.0).allowed);   // "b" starts again full
}

TEST(local_buckets, idle_keys_start_full) {
  local_buckets buckets{100, 120.0};
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(buckets.take("big", 100, 0.0).allowed);
  EXPECT_FALSE(buckets.take("big", 100, 0.0).allowed);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(buckets.take("big", 100, 500.0).allowed) << i;
  EXPECT_FALSE(buckets.take("big", 100, 500.0).allowed);
}
