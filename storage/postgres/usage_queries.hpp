#pragma once

// Usage per tenant and the tenants' limits as pure request builders and result parsers over the
// pg_actor protocol (like session_queries.hpp): the usage report of `GET /api/v1/usage`, the
// model proxy's batched counts, the spend check of a turn start, and the `tenant_limits` rows.
// Every statement names its tenant: a report never reads another tenant's rows.

#include "storage/types.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace caa::storage {

/// The sums of one group of a usage report (or its total).
struct usage_sums {
  int64_t turns = 0;                        ///< finished turns
  int64_t input_tokens = 0;                 ///< as the CLI reported them per turn
  int64_t output_tokens = 0;                ///< as the CLI reported them per turn
  int64_t cache_creation_input_tokens = 0;  ///< as the CLI reported them per turn
  int64_t cache_read_input_tokens = 0;      ///< as the CLI reported them per turn
  double cost_usd = 0;                      ///< the turns' costs as the CLI reported them
  int64_t model_requests = 0;               ///< requests the sandbox's model proxy forwarded
};

/// One group of a usage report.
struct usage_group {
  std::string key;  ///< the UTC day (YYYY-MM-DD), the session id or the model
  usage_sums sums;  ///< its sums
};

/// A usage report: the total over the window and its groups, ordered by key.
struct usage_report {
  usage_sums total;                 ///< computed by PostgreSQL beside the groups
  std::vector<usage_group> groups;  ///< one per key with any usage
};

/// What a usage report groups by.
enum class usage_grouping : uint8_t { day, session, model };

/// The stable name of a grouping, e.g. "session".
std::string_view to_string(usage_grouping x) noexcept;

/// The grouping called `name`, if any.
std::optional<usage_grouping> usage_grouping_from(std::string_view name) noexcept;

/// The usage of `tenant_id` in [`from`, `to`) (RFC 3339 times) grouped by `by`.
/// Reply: `parse_usage_report`.
db_query make_usage_report_query(std::string_view tenant_id, std::string_view from,
                                 std::string_view to, usage_grouping by);

/// The report of a `make_usage_report_query` reply.
caf::expected<usage_report> parse_usage_report(const db_result& r);

/// The model proxy's counts of one (tenant, UTC day, session).
struct model_usage_key {
  std::string tenant_id;   ///< uuid
  std::string day;         ///< YYYY-MM-DD (UTC)
  std::string session_id;  ///< uuid

  friend bool operator<(const model_usage_key& a, const model_usage_key& b) {
    return std::tie(a.tenant_id, a.day, a.session_id) < std::tie(b.tenant_id, b.day, b.session_id);
  }
};

/// The counts the proxy saw for one key.
struct model_usage_counts {
  uint64_t requests = 0;                     ///< forwarded requests
  uint64_t input_tokens = 0;                 ///< upstream `usage.input_tokens`
  uint64_t output_tokens = 0;                ///< upstream `usage.output_tokens`
  uint64_t cache_creation_input_tokens = 0;  ///< upstream `usage.cache_creation_input_tokens`
  uint64_t cache_read_input_tokens = 0;      ///< upstream `usage.cache_read_input_tokens`
};

/// Adds `counts` to the stored counts of their keys, one statement (keys that are not uuids are
/// left out). Nothing to send when `counts` is empty.
std::optional<db_query> make_model_usage_add_query(
    const std::map<model_usage_key, model_usage_counts>& counts);

/// A tenant's limits (a row of `tenant_limits`).
struct tenant_limits {
  std::string tenant_id;                       ///< uuid
  std::optional<double> monthly_usd;           ///< cap per UTC calendar month
  std::optional<double> daily_usd;             ///< cap per UTC calendar day
  std::optional<int64_t> max_agent_processes;  ///< its share of agent processes
  bool hard = false;                           ///< a running turn stops at the cap
  std::string updated_at;                      ///< RFC 3339 UTC (empty: never set)
};

/// Reads the limits of `tenant_id`. Reply: `parse_limits` (none: no row).
db_query make_limits_get_query(std::string_view tenant_id);

/// Stores `l` (replacing the tenant's limits). Reply: `parse_limits` (none: no such tenant).
db_query make_limits_put_query(const tenant_limits& l);

/// The limits of a get or put reply, if there is a row.
caf::expected<std::optional<tenant_limits>> parse_limits(const db_result& r);

/// Every tenant's own share of agent processes. Reply: `parse_limit_shares`.
db_query make_limit_shares_query();

/// tenant id -> max_agent_processes of a `make_limit_shares_query` reply.
caf::expected<std::map<std::string, uint32_t>> parse_limit_shares(const db_result& r);

/// A tenant's spend against its caps at a turn start.
struct budget_state {
  std::optional<double> daily_usd;    ///< the daily cap
  std::optional<double> monthly_usd;  ///< the monthly cap
  bool hard = false;                  ///< the caps bound a running turn too
  double spent_today = 0;             ///< finished turns since the start of the UTC day
  double spent_this_month = 0;        ///< finished turns since the start of the UTC month
  std::string day_resets_at;          ///< RFC 3339: the next UTC midnight
  std::string month_resets_at;        ///< RFC 3339: the first of the next UTC month
};

/// Which cap a tenant reached, and when its window resets.
struct budget_breach {
  std::string cap;        ///< "daily_usd" or "monthly_usd"
  std::string resets_at;  ///< RFC 3339
};

/// The spend check of a turn of `tenant_id`. Reply: `parse_budget` (none: no caps).
db_query make_budget_check_query(std::string_view tenant_id);

/// The state of a `make_budget_check_query` reply (none: the tenant has no spend cap).
caf::expected<std::optional<budget_state>> parse_budget(const db_result& r);

/// The cap `s` is at or over (the one whose window resets last when both are), if any.
std::optional<budget_breach> breach_of(const budget_state& s);

/// What the tenant may still spend before its nearest cap (>= 0; infinite without a cap).
double remaining_of(const budget_state& s);

/// The cap a tenant is nearest to: the one with the least left to spend.
struct nearest_cap {
  std::string cap;        ///< "daily_usd" or "monthly_usd"
  double limit_usd = 0;   ///< the cap
  double spent_usd = 0;   ///< spent in its window so far
  std::string resets_at;  ///< RFC 3339: when its window resets
  double remaining_usd() const noexcept {
    return limit_usd > spent_usd ? limit_usd - spent_usd : 0;
  }
};

/// The cap of `s` with the least left to spend (the daily one on a tie), if `s` has any.
std::optional<nearest_cap> nearest_cap_of(const budget_state& s);

}  // namespace caa::storage
