// Usage and spend caps against a real PostgreSQL: the usage ledger written by a turn's end, the
// report's total against its groups, tenant isolation, the model proxy's batched counts, the
// spend check and the tenant_limits rows.

#include "storage/postgres/usage_queries.hpp"
#include "tests/integration/session_repo_fixture.hpp"

#include <cmath>
#include <map>

using namespace caa::storage;
using usage_queries_test = caa::test::session_repo_fixture;

namespace {

/// A window that holds everything written now.
constexpr const char* long_ago = "2000-01-01T00:00:00Z";
constexpr const char* far_ahead = "2100-01-01T00:00:00Z";

/// Adds `b` to `a` field by field.
void add(usage_sums& a, const usage_sums& b) {
  a.turns += b.turns;
  a.input_tokens += b.input_tokens;
  a.output_tokens += b.output_tokens;
  a.cache_creation_input_tokens += b.cache_creation_input_tokens;
  a.cache_read_input_tokens += b.cache_read_input_tokens;
  a.cost_usd += b.cost_usd;
  a.model_requests += b.model_requests;
}

void expect_same(const usage_sums& a, const usage_sums& b) {
  EXPECT_EQ(a.turns, b.turns);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.cache_creation_input_tokens, b.cache_creation_input_tokens);
  EXPECT_EQ(a.cache_read_input_tokens, b.cache_read_input_tokens);
  EXPECT_NEAR(a.cost_usd, b.cost_usd, 1e-12);
  EXPECT_EQ(a.model_requests, b.model_requests);
}

}  // namespace

class usage_queries_fixture : public usage_queries_test {
 protected:
  /// Runs one finished turn of a new or given session of `tenant`; returns the session id.
  std::string finished_turn(const std::string& tenant, double cost, const char* usage,
                            const char* model, std::string session = {}) {
    if (session.empty()) {
      auto rec = create(fresh(tenant));
      EXPECT_TRUE(rec);
      session = rec ? rec->id : std::string{};
    }
    auto started =
        ask<std::vector<db_result>>(make_turn_started_batch(tenant, session, new_uuid()));
    EXPECT_TRUE(started);
    auto turn = started ? parse_turn_started(*started) : caf::expected<int>{started.error()};
    EXPECT_TRUE(turn);
    auto done = ask<std::vector<db_result>>(make_turn_finished_batch(
        tenant, session, turn ? *turn : 1, turn_status::completed, cost, usage, model));
    EXPECT_TRUE(done);
    return session;
  }

  caf::expected<usage_report> report(const std::string& tenant, usage_grouping by,
                                     const char* from = long_ago, const char* to = far_ahead) {
    auto r = ask<db_result>(make_usage_report_query(tenant, from, to, by));
    if (!r) return r.error();
    return parse_usage_report(*r);
  }

  caf::expected<std::optional<budget_state>> budget(const std::string& tenant) {
    auto r = ask<db_result>(make_budget_check_query(tenant));
    if (!r) return r.error();
    return parse_budget(*r);
  }

  /// The limits of `tenant` with these caps and share.
  static tenant_limits limits(const std::string& tenant, std::optional<double> monthly,
                              std::optional<double> daily, std::optional<int64_t> procs,
                              bool hard) {
    tenant_limits l;
    l.tenant_id = tenant;
    l.monthly_usd = monthly;
    l.daily_usd = daily;
    l.max_agent_processes = procs;
    l.hard = hard;
    return l;
  }

  caf::expected<std::optional<tenant_limits>> put(const tenant_limits& l) {
    auto r = ask<db_result>(make_limits_put_query(l));
    if (!r) return r.error();
    return parse_limits(*r);
  }
};

TEST_F(usage_queries_fixture, turns_land_in_the_ledger_and_groups_add_up_to_the_total) {
  auto tenant = make_tenant();
  auto a = finished_turn(
      tenant, 0.25, R"({"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 4})",
      "claude-sonnet");
  finished_turn(tenant, 0.5, R"({"input_tokens": 5, "cache_creation_input_tokens": 2})",
                "claude-opus", a);
  auto b = finished_turn(tenant, 0.125, R"({"output_tokens": 1})", "claude-sonnet");
  for (auto by : {usage_grouping::day, usage_grouping::session, usage_grouping::model}) {
    SCOPED_TRACE(std::string{to_string(by)});
    auto rep = report(tenant, by);
    ASSERT_TRUE(rep) << sys_.render(rep.error());
    EXPECT_EQ(rep->total.turns, 3);
    EXPECT_EQ(rep->total.input_tokens, 15);
    EXPECT_EQ(rep->total.output_tokens, 4);
    EXPECT_EQ(rep->total.cache_creation_input_tokens, 2);
    EXPECT_EQ(rep->total.cache_read_input_tokens, 4);
    EXPECT_DOUBLE_EQ(rep->total.cost_usd, 0.875);
    usage_sums sum;
    for (auto& g : rep->groups) add(sum, g.sums);
    expect_same(sum, rep->total);
  }
  auto by_session = report(tenant, usage_grouping::session);
  ASSERT_TRUE(by_session);
  std::map<std::string, double> costs;
  for (auto& g : by_session->groups) costs[g.key] = g.sums.cost_usd;
  EXPECT_EQ(costs, (std::map<std::string, double>{{a, 0.75}, {b, 0.125}}));
  auto by_model = report(tenant, usage_grouping::model);
  ASSERT_TRUE(by_model);
  std::map<std::string, int64_t> turns;
  for (auto& g : by_model->groups) turns[g.key] = g.sums.turns;
  EXPECT_EQ(turns, (std::map<std::string, int64_t>{{"claude-opus", 1}, {"claude-sonnet", 2}}));
}

TEST_F(usage_queries_fixture, a_report_never_shows_another_tenants_usage) {
  auto mine = make_tenant();
  auto theirs = make_tenant();
  finished_turn(theirs, 2.0, R"({"input_tokens": 100})", "claude-opus");
  auto rep = report(mine, usage_grouping::session);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->total.turns, 0);
  EXPECT_DOUBLE_EQ(rep->total.cost_usd, 0);
  EXPECT_TRUE(rep->groups.empty());
}

TEST_F(usage_queries_fixture, the_window_bounds_the_report_and_deleting_a_session_keeps_its_usage) {
  auto tenant = make_tenant();
  auto s = finished_turn(tenant, 0.25, "{}", "claude-sonnet");
  auto past = report(tenant, usage_grouping::day, long_ago, "2001-01-01T00:00:00Z");
  ASSERT_TRUE(past);
  EXPECT_EQ(past->total.turns, 0);
  auto del = ask<db_result>(make_delete_session_query(tenant, s));
  ASSERT_TRUE(del);
  auto rep = report(tenant, usage_grouping::day);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->total.turns, 1) << "a deleted session's spend still counts";
  EXPECT_DOUBLE_EQ(rep->total.cost_usd, 0.25);
}

TEST_F(usage_queries_fixture, model_proxy_counts_are_added_per_tenant_session_and_day) {
  auto tenant = make_tenant();
  auto other = make_tenant();
  auto s = finished_turn(tenant, 0.1, "{}", "claude-sonnet");
  std::map<model_usage_key, model_usage_counts> batch;
  batch[{tenant, "2030-01-02", s}] = {3, 30, 3, 1, 2};
  batch[{other, "2030-01-02", s}] = {7, 70, 7, 0, 0};
  batch[{"not-a-uuid", "2030-01-02", s}] = {1, 1, 1, 1, 1};
  auto q = make_model_usage_add_query(batch);
  ASSERT_TRUE(q);
  ASSERT_TRUE(ask<db_result>(*q));
  ASSERT_TRUE(ask<db_result>(*q));  // a second flush adds again
  auto rep = report(tenant, usage_grouping::day);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->total.model_requests, 6);
  EXPECT_EQ(rep->total.turns, 1);
  usage_sums sum;
  for (auto& g : rep->groups) add(sum, g.sums);
  expect_same(sum, rep->total);
  EXPECT_FALSE(make_model_usage_add_query({}));
}

TEST_F(usage_queries_fixture, the_spend_check_sums_the_tenants_turns_against_its_caps) {
  auto tenant = make_tenant();
  auto none = budget(tenant);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "no limits: no caps";
  auto stored = put(limits(tenant, std::nullopt, 1.0, std::nullopt, true));
  ASSERT_TRUE(stored);
  ASSERT_TRUE(*stored);
  EXPECT_DOUBLE_EQ(*(*stored)->daily_usd, 1.0);
  EXPECT_FALSE((*stored)->monthly_usd);
  finished_turn(tenant, 0.75, "{}", "claude-sonnet");
  finished_turn(make_tenant(), 5.0, "{}", "claude-sonnet");  // another tenant's spend
  auto b = budget(tenant);
  ASSERT_TRUE(b && *b);
  EXPECT_DOUBLE_EQ((*b)->spent_today, 0.75);
  EXPECT_DOUBLE_EQ((*b)->spent_this_month, 0.75);
  EXPECT_TRUE((*b)->hard);
  EXPECT_FALSE(breach_of(**b));
  EXPECT_DOUBLE_EQ(remaining_of(**b), 0.25);
  EXPECT_EQ((*b)->day_resets_at.substr(10), "T00:00:00.000Z");
  EXPECT_EQ((*b)->month_resets_at.substr(7), "-01T00:00:00.000Z");
  finished_turn(tenant, 0.25, "{}", "claude-sonnet");
  b = budget(tenant);
  ASSERT_TRUE(b && *b);
  auto breach = breach_of(**b);
  ASSERT_TRUE(breach) << "at the cap is over it";
  EXPECT_EQ(breach->cap, "daily_usd");
  EXPECT_EQ(breach->resets_at, (*b)->day_resets_at);
  EXPECT_DOUBLE_EQ(remaining_of(**b), 0);
}

TEST_F(usage_queries_fixture, limits_round_trip_and_an_unknown_tenant_has_none) {
  auto tenant = make_tenant();
  auto stored = put(limits(tenant, 10.0, std::nullopt, 3, false));
  ASSERT_TRUE(stored && *stored);
  auto r = ask<db_result>(make_limits_get_query(tenant));
  ASSERT_TRUE(r);
  auto got = parse_limits(*r);
  ASSERT_TRUE(got && *got);
  EXPECT_DOUBLE_EQ(*(*got)->monthly_usd, 10);
  EXPECT_FALSE((*got)->daily_usd);
  EXPECT_EQ((*got)->max_agent_processes, 3);
  auto shares = ask<db_result>(make_limit_shares_query());
  ASSERT_TRUE(shares);
  auto map = parse_limit_shares(*shares);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->at(tenant), 3u);
  auto unknown = put(limits(new_uuid(), std::nullopt, 1.0, std::nullopt, false));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(*unknown) << "no row for a tenant that does not exist";
}
