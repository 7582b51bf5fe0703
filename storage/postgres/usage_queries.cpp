#include "storage/postgres/usage_queries.hpp"

#include "config/errc.hpp"
#include "config/uuid.hpp"
#include "storage/postgres/pg_text.hpp"
#include "storage/postgres/statements.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace caa::storage {

namespace {

db_value opt_double(const std::optional<double>& v) {
  return v ? db_value{pg_double(*v)} : db_value{caf::none};
}

caf::expected<std::optional<double>> opt_to_double(const db_value& v) {
  if (!v) return std::optional<double>{};
  auto x = to_double(v);
  if (!x) return x.error();
  return std::optional<double>{*x};
}

/// The sums in columns [2, 9) of a usage report row.
caf::expected<usage_sums> to_sums(const db_row& row) {
  std::array<int64_t, 6> ints{};
  constexpr std::array<std::size_t, 6> cols{2, 3, 4, 5, 6, 8};
  for (std::size_t i = 0; i < cols.size(); ++i) {
    auto x = to_int64(row[cols[i]]);
    if (!x) return x.error();
    ints[i] = *x;
  }
  auto cost = to_double(row[7]);
  if (!cost) return cost.error();
  return usage_sums{.turns = ints[0],
                    .input_tokens = ints[1],
                    .output_tokens = ints[2],
                    .cache_creation_input_tokens = ints[3],
                    .cache_read_input_tokens = ints[4],
                    .cost_usd = *cost,
                    .model_requests = ints[5]};
}

/// A bigint array parameter of `counts` read through `field`.
template <class F>
std::string bigints(const std::map<model_usage_key, model_usage_counts>& counts, F field) {
  pg_array_builder b;
  for (const auto& [key, c] : counts)
    if (caa::is_uuid(key.tenant_id) && caa::is_uuid(key.session_id))
      b.add(std::to_string(std::min<uint64_t>(field(c), std::numeric_limits<int64_t>::max())));
  return std::move(b).finish();
}

}  // namespace

std::string_view to_string(usage_grouping x) noexcept {
  switch (x) {
    case usage_grouping::day:
      return "day";
    case usage_grouping::session:
      return "session";
    case usage_grouping::model:
      return "model";
  }
  return "day";
}

std::optional<usage_grouping> usage_grouping_from(std::string_view name) noexcept {
  for (auto x : {usage_grouping::day, usage_grouping::session, usage_grouping::model})
    if (to_string(x) == name) return x;
  return std::nullopt;
}

db_query make_usage_report_query(std::string_view tenant_id, std::string_view from,
                                 std::string_view to, usage_grouping by) {
  return db_query{
      std::string{stmt::usage_report},
      {uuid_param(tenant_id), std::string{from}, std::string{to}, std::string{to_string(by)}}};
}

caf::expected<usage_report> parse_usage_report(const db_result& r) {
  usage_report out;
  bool total_seen = false;
  for (const auto& row : r.rows) {
    if (row.size() != 9) return make_error(errc::internal, "usage: unexpected row shape");
    auto grouping = to_int64(row[0]);
    auto sums = to_sums(row);
    if (!grouping || !sums) return make_error(errc::internal, "usage: unexpected column value");
    if (*grouping != 0) {
      out.total = *sums;
      total_seen = true;
    } else {
      out.groups.push_back({row[1] ? *row[1] : std::string{"unknown"}, *sums});
    }
  }
  if (!total_seen) return make_error(errc::internal, "usage: no total row");
  return out;
}

std::optional<db_query> make_model_usage_add_query(
    const std::map<model_usage_key, model_usage_counts>& counts) {
  pg_array_builder tenants;
  pg_array_builder days;
  pg_array_builder sessions;
  std::size_t n = 0;
  for (const auto& [key, c] : counts) {
    if (!caa::is_uuid(key.tenant_id) || !caa::is_uuid(key.session_id)) continue;
    tenants.add(key.tenant_id);
    days.add(key.day);
    sessions.add(key.session_id);
    ++n;
  }
  if (n == 0) return std::nullopt;
  using c = model_usage_counts;
  return db_query{
      std::string{stmt::usage_model_add},
      {std::move(tenants).finish(), std::move(days).finish(), std::move(sessions).finish(),
       bigints(counts, [](const c& x) { return x.requests; }),
       bigints(counts, [](const c& x) { return x.input_tokens; }),
       bigints(counts, [](const c& x) { return x.output_tokens; }),
       bigints(counts, [](const c& x) { return x.cache_creation_input_tokens; }),
       bigints(counts, [](const c& x) { return x.cache_read_input_tokens; })}};
}

db_query make_limits_get_query(std::string_view tenant_id) {
  return db_query{std::string{stmt::limits_get}, {uuid_param(tenant_id)}};
}

db_query make_limits_put_query(const tenant_limits& l) {
  db_value procs = l.max_agent_processes ? db_value{std::to_string(*l.max_agent_processes)}
                                         : db_value{caf::none};
  return db_query{std::string{stmt::limits_put},
                  {uuid_param(l.tenant_id), opt_double(l.monthly_usd), opt_double(l.daily_usd),
                   std::move(procs), std::string{l.hard ? "true" : "false"}}};
}

caf::expected<std::optional<tenant_limits>> parse_limits(const db_result& r) {
  if (r.rows.empty()) return std::optional<tenant_limits>{};
  const auto& row = r.rows[0];
  if (row.size() != 6 || !row[0] || !row[5])
    return make_error(errc::internal, "tenant_limits: unexpected row");
  auto monthly = opt_to_double(row[1]);
  auto daily = opt_to_double(row[2]);
  auto hard = to_bool(row[4]);
  if (!monthly || !daily || !hard)
    return make_error(errc::internal, "tenant_limits: unexpected value");
  tenant_limits out{.tenant_id = *row[0],
                    .monthly_usd = *monthly,
                    .daily_usd = *daily,
                    .max_agent_processes = std::nullopt,
                    .hard = *hard,
                    .updated_at = *row[5]};
  if (row[3]) {
    auto procs = to_int64(row[3]);
    if (!procs) return procs.error();
    out.max_agent_processes = *procs;
  }
  return std::optional<tenant_limits>{std::move(out)};
}

db_query make_limit_shares_query() {
  return db_query{std::string{stmt::limits_shares}, {}};
}

caf::expected<std::map<std::string, uint32_t>> parse_limit_shares(const db_result& r) {
  std::map<std::string, uint32_t> out;
  for (const auto& row : r.rows) {
    if (row.size() != 2 || !row[0]) return make_error(errc::internal, "limits: unexpected row");
    auto n = to_int64(row[1]);
    if (!n || *n < 0) return make_error(errc::internal, "limits: unexpected share");
    out[*row[0]] = static_cast<uint32_t>(std::min<int64_t>(*n, 1'000'000));
  }
  return out;
}

db_query make_budget_check_query(std::string_view tenant_id) {
  return db_query{std::string{stmt::budget_check}, {uuid_param(tenant_id)}};
}

caf::expected<std::optional<budget_state>> parse_budget(const db_result& r) {
  if (r.rows.empty()) return std::optional<budget_state>{};
  const auto& row = r.rows[0];
  if (row.size() != 7 || !row[5] || !row[6])
    return make_error(errc::internal, "budget: unexpected row");
  auto daily = opt_to_double(row[0]);
  auto monthly = opt_to_double(row[1]);
  auto hard = to_bool(row[2]);
  auto today = to_double(row[3]);
  auto month = to_double(row[4]);
  if (!daily || !monthly || !hard || !today || !month)
    return make_error(errc::internal, "budget: unexpected value");
  return std::optional<budget_state>{budget_state{.daily_usd = *daily,
                                                  .monthly_usd = *monthly,
                                                  .hard = *hard,
                                                  .spent_today = *today,
                                                  .spent_this_month = *month,
                                                  .day_resets_at = *row[5],
                                                  .month_resets_at = *row[6]}};
}

std::optional<budget_breach> breach_of(const budget_state& s) {
  if (s.monthly_usd && s.spent_this_month >= *s.monthly_usd)
    return budget_breach{"monthly_usd", s.month_resets_at};
  if (s.daily_usd && s.spent_today >= *s.daily_usd)
    return budget_breach{"daily_usd", s.day_resets_at};
  return std::nullopt;
}

double remaining_of(const budget_state& s) {
  auto near = nearest_cap_of(s);
  return near ? near->remaining_usd() : std::numeric_limits<double>::infinity();
}

std::optional<nearest_cap> nearest_cap_of(const budget_state& s) {
  std::optional<nearest_cap> out;
  if (s.daily_usd) out = nearest_cap{"daily_usd", *s.daily_usd, s.spent_today, s.day_resets_at};
  if (s.monthly_usd) {
    nearest_cap month{"monthly_usd", *s.monthly_usd, s.spent_this_month, s.month_resets_at};
    if (!out || month.remaining_usd() < out->remaining_usd()) out = std::move(month);
  }
  return out;
}

}  // namespace caa::storage
