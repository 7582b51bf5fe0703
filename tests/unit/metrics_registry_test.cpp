// The metric primitives: counters and gauges, histogram buckets, labelled families with their
// bounded number of label sets (and the overflow series), recording from many threads.

#include "config/metrics.hpp"
#include "config/metrics_catalog.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace caa::metrics;

namespace {

/// Every series of a counter family, as "v1|v2" -> value.
template <std::size_t N>
std::map<std::string, uint64_t> series_of(const family<counter, N>& f) {
  std::map<std::string, uint64_t> out;
  f.for_each([&](const auto& values, const counter& c) {
    std::string key;
    for (auto v : values) key += (key.empty() ? "" : "|") + std::string{v};
    out[key] = c.value();
  });
  return out;
}

}  // namespace

TEST(metrics_registry, counter_and_gauge) {
  counter c;
  EXPECT_EQ(c.value(), 0u);
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.value(), 42u);
  gauge g;
  g.set(5);
  g.add();
  g.sub(10);
  EXPECT_EQ(g.value(), -4);
}

TEST(metrics_registry, histogram_buckets_are_upper_bounds_inclusive) {
  std::array<double, 3> bounds{0.1, 1, 10};
  histogram h{bounds};
  for (double x : {0.05, 0.1, 0.5, 1.0, 10.0, 11.0, 1e9}) h.observe(x);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  auto s = h.read();
  ASSERT_EQ(s.bounds.size(), 3u);
  EXPECT_EQ(s.cumulative[0], 2u);  // 0.05, 0.1
  EXPECT_EQ(s.cumulative[1], 4u);  // + 0.5, 1
  EXPECT_EQ(s.cumulative[2], 5u);  // + 10
  EXPECT_EQ(s.cumulative[3], 7u);  // + 11, 1e9 (+Inf)
  EXPECT_EQ(s.count(), 7u);
  EXPECT_DOUBLE_EQ(s.sum, 0.05 + 0.1 + 0.5 + 1.0 + 10.0 + 11.0 + 1e9);
}

TEST(metrics_registry, histogram_refuses_bad_bounds) {
  histogram h;
  std::array<double, 2> descending{1, 0.5};
  std::array<double, 2> equal{1, 1};
  std::array<double, 1> infinite{std::numeric_limits<double>::infinity()};
  std::array<double, histogram::max_bounds + 1> too_many{};
  for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] = static_cast<double>(i);
  EXPECT_THROW(h.configure(descending), std::invalid_argument);
  EXPECT_THROW(h.configure(equal), std::invalid_argument);
  EXPECT_THROW(h.configure(infinite), std::invalid_argument);
  EXPECT_THROW(h.configure(too_many), std::invalid_argument);
  h.observe(3);  // +Inf only
  EXPECT_EQ(h.read().count(), 1u);
  EXPECT_EQ(h.read().bounds.size(), 0u);
}

TEST(metrics_registry, family_keeps_label_sets_apart) {
  family<counter, 2> f{{"route", "status"}, 8};
  f.at({"/a", "200"}).inc();
  f.at({"/a", "200"}).inc();
  f.at({"/a", "404"}).inc();
  f.at({"/b", "200"}).inc(5);
  // Values are compared whole: "/a"+"b" is not "/ab"+"" (the boundary is part of the key).
  f.at({"/ab", ""}).inc(7);
  f.at({"/a", "b"}).inc(3);
  auto s = series_of(f);
  EXPECT_EQ(s, (std::map<std::string, uint64_t>{
                   {"/a|200", 2}, {"/a|404", 1}, {"/b|200", 5}, {"/ab|", 7}, {"/a|b", 3}}));
}

TEST(metrics_registry, family_beyond_capacity_counts_in_the_overflow_series) {
  family<counter, 1> f{{"code"}, 4};
  for (int i = 0; i < 10; ++i) f.at({std::to_string(i)}).inc();
  f.at({"0"}).inc();  // an existing set still has its own series
  auto s = series_of(f);
  ASSERT_EQ(s.size(), 5u);  // four sets and "other"
  EXPECT_EQ(s.at("other"), 6u);
  EXPECT_EQ(s.at("0"), 2u);
  uint64_t total = 0;
  for (auto& [k, v] : s) total += v;
  EXPECT_EQ(total, 11u);
}

TEST(metrics_registry, family_sends_overlong_values_to_the_overflow_series) {
  family<counter, 1> f{{"route"}, 8};
  f.at({std::string(max_label_bytes + 1, 'x')}).inc();
  f.at({std::string(300, 'y')}).inc();
  f.at({std::string(max_label_bytes, 'z')}).inc();  // exactly the limit fits
  auto s = series_of(f);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at("other"), 2u);
  EXPECT_EQ(s.at(std::string(max_label_bytes, 'z')), 1u);
}

TEST(metrics_registry, histogram_family_configures_every_series) {
  std::array<double, 2> bounds{1, 2};
  family<histogram, 1> f{{"route"}, 2, std::span<const double>{bounds}};
  f.at({"/a"}).observe(1.5);
  f.at({"/b"}).observe(0.5);
  f.at({"/c"}).observe(5);  // overflow series: configured too
  int seen = 0;
  f.for_each([&](const auto& values, const histogram& h) {
    ++seen;
    EXPECT_EQ(h.read().bounds.size(), 2u) << values[0];
    EXPECT_EQ(h.read().count(), 1u) << values[0];
  });
  EXPECT_EQ(seen, 3);
}

TEST(metrics_registry, concurrent_recording_loses_nothing) {
  family<counter, 1> f{{"k"}, 64};
  histogram h{std::array<double, 1>{0.5}};
  constexpr int threads = 4;
  constexpr int rounds = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      static constexpr std::array<std::string_view, 5> keys{"a", "b", "c", "d", "e"};
      for (int i = 0; i < rounds; ++i) {
        f.at({keys[static_cast<std::size_t>(i) % keys.size()]}).inc();
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  for (auto& th : pool) th.join();
  auto s = series_of(f);
  ASSERT_EQ(s.size(), 5u);
  for (auto& [k, v] : s) EXPECT_EQ(v, threads * rounds / 5) << k;
  auto snap = h.read();
  EXPECT_EQ(snap.count(), uint64_t{threads} * rounds);
  EXPECT_EQ(snap.cumulative[0], uint64_t{threads} * rounds / 2);
  EXPECT_DOUBLE_EQ(snap.sum, threads * (rounds / 2) * (0.25 + 1.0));
}

TEST(metrics_registry, exit_codes_fall_into_a_bounded_set) {
  EXPECT_EQ(exit_code_label(0), "0");
  EXPECT_EQ(exit_code_label(1), "1");
  EXPECT_EQ(exit_code_label(137), "137");
  EXPECT_EQ(exit_code_label(143), "143");
  EXPECT_EQ(exit_code_label(-1), "unknown");
  EXPECT_EQ(exit_code_label(42), "other");
  EXPECT_EQ(exit_code_label(255), "other");
  std::map<std::string_view, int> labels;
  for (int code = -5; code < 1000; ++code) ++labels[exit_code_label(code)];
  EXPECT_LE(labels.size(), 14u);
}
