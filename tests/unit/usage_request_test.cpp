// The usage routes' decoding without I/O: time bounds (RFC 3339 and dates), the default window,
// and the limits body with every bad field listed.

#include "transport/api/usage_request.hpp"

#include "config/error_values.hpp"
#include "storage/postgres/usage_queries.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace caa;
using namespace caa::api;
using namespace std::chrono;

namespace {

api::utc_time at(int y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0, int ms = 0) {
  return api::utc_time{sys_days{year{y} / month{m} / day{d}}} + hours{h} + minutes{min} +
         seconds{s} + milliseconds{ms};
}

std::set<std::string> fields(const caf::error& e) {
  std::set<std::string> out;
  for (auto& f : fields_of(e)) out.insert(f.field);
  return out;
}

}  // namespace

TEST(usage_request, time_bounds_read_rfc3339_and_dates) {
  EXPECT_EQ(parse_time_bound("2026-05-01T12:30:05Z", bound_end::from), at(2026, 5, 1, 12, 30, 5));
  EXPECT_EQ(parse_time_bound("2026-05-01T12:30:05.25+02:00", bound_end::from),
            at(2026, 5, 1, 10, 30, 5, 250));
  EXPECT_EQ(parse_time_bound("2026-05-01t00:00:00-01:30", bound_end::to), at(2026, 5, 1, 1, 30));
  EXPECT_EQ(parse_time_bound("2026-05-01", bound_end::from), at(2026, 5, 1));
  EXPECT_EQ(parse_time_bound("2026-05-01", bound_end::to), at(2026, 5, 2)) << "to: the whole day";
  EXPECT_EQ(parse_time_bound("2024-02-29", bound_end::from), at(2024, 2, 29));
  for (auto bad :
       {"", "yesterday", "2026-13-01", "2026-02-30", "2025-02-29", "2026-5-1",
        "2026-05-01T24:00:00Z", "2026-05-01T12:00:00", "2026-05-01T12:00Z", "2026-05-01 12:00:00Z",
        "2026-05-01T12:00:00+2:00", "2026-05-01T12:00:00.Z", "+2026-05-01", "1969-12-31"})
    EXPECT_FALSE(parse_time_bound(bad, bound_end::from)) << bad;
}

TEST(usage_request, times_are_written_in_utc_with_millis) {
  EXPECT_EQ(format_utc(at(2026, 5, 1, 10, 30, 5, 250)), "2026-05-01T10:30:05.250Z");
  auto [from, to] = month_of(at(2026, 12, 31, 23, 59, 59, 999));
  EXPECT_EQ(format_utc(from), "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(format_utc(to), "2027-01-01T00:00:00.000Z");
}

TEST(usage_request, limits_are_decoded_with_nulls_as_no_cap) {
  auto l = decode_limits(R"({"monthly_usd":12.5,"daily_usd":null,"max_agent_processes":3})", "t");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->tenant_id, "t");
  EXPECT_EQ(l->monthly_usd, 12.5);
  EXPECT_FALSE(l->daily_usd);
  EXPECT_EQ(l->max_agent_processes, 3);
  EXPECT_FALSE(l->hard);
  auto empty = decode_limits("{}", "t");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->monthly_usd || empty->daily_usd || empty->max_agent_processes);
}

TEST(usage_request, every_bad_limit_field_is_listed) {
  auto l = decode_limits(
      R"({"monthly_usd":-1,"daily_usd":"x","max_agent_processes":1.5,"hard":"yes","x":1})", "t");
  ASSERT_FALSE(l);
  EXPECT_EQ(errc_of(l.error()), errc::validation);
  EXPECT_EQ(fields(l.error()), (std::set<std::string>{"monthly_usd", "daily_usd",
                                                      "max_agent_processes", "hard", "x"}));
  auto not_json = decode_limits("[1]", "t");
  ASSERT_FALSE(not_json);
  EXPECT_EQ(errc_of(not_json.error()), errc::bad_request);
}

TEST(usage_caps, the_nearest_cap_is_the_one_with_the_least_left) {
  caa::storage::budget_state s;
  EXPECT_FALSE(caa::storage::nearest_cap_of(s)) << "no cap";
  s.daily_usd = 10;
  s.monthly_usd = 100;
  s.spent_today = 2;
  s.spent_this_month = 95;
  s.day_resets_at = "2026-05-02T00:00:00.000Z";
  s.month_resets_at = "2026-06-01T00:00:00.000Z";
  auto near = caa::storage::nearest_cap_of(s);
  ASSERT_TRUE(near);
  EXPECT_EQ(near->cap, "monthly_usd");
  EXPECT_DOUBLE_EQ(near->remaining_usd(), 5);
  EXPECT_EQ(near->resets_at, s.month_resets_at);
  s.spent_this_month = 50;
  near = caa::storage::nearest_cap_of(s);
  ASSERT_TRUE(near);
  EXPECT_EQ(near->cap, "daily_usd");
  EXPECT_DOUBLE_EQ(near->limit_usd, 10);
  EXPECT_DOUBLE_EQ(near->spent_usd, 2);
  EXPECT_DOUBLE_EQ(near->remaining_usd(), 8);
  s.spent_today = 12;  // past it: nothing left, never negative
  near = caa::storage::nearest_cap_of(s);
  ASSERT_TRUE(near);
  EXPECT_DOUBLE_EQ(near->remaining_usd(), 0);
}
