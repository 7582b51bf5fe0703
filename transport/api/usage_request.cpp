#include "transport/api/usage_request.hpp"

#include "config/error_values.hpp"
#include "config/uuid.hpp"
#include "transport/json/fields.hpp"
#include "transport/json/json.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <cstdio>
#include <vector>

namespace caa::api {

namespace {

using namespace std::chrono;

/// The unsigned number of `s[pos, pos + n)`, or -1 when those are not all digits.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int out = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, out);
  if (ec != std::errc{} || end != s.data() + pos + n) return -1;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return -1;
  return out;
}

/// The date of `s[0, 10)` (YYYY-MM-DD), if valid.
std::optional<year_month_day> date_of(std::string_view s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto y = digits(s, 0, 4);
  auto m = digits(s, 5, 2);
  auto d = digits(s, 8, 2);
  if (y < 1970 || m < 1 || d < 1) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

/// The offset of an RFC 3339 zone (`Z`, `+hh:mm`, `-hh:mm`), if valid.
std::optional<minutes> zone_of(std::string_view z) {
  if (z == "Z" || z == "z") return minutes{0};
  if (z.size() != 6 || (z[0] != '+' && z[0] != '-') || z[3] != ':') return std::nullopt;
  auto h = digits(z, 1, 2);
  auto m = digits(z, 4, 2);
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  minutes off{h * 60 + m};
  return z[0] == '-' ? -off : off;
}

/// The milliseconds of a fraction `.d...` at the start of `s` and its length (0 when none).
std::optional<std::pair<milliseconds, std::size_t>> fraction_of(std::string_view s) {
  if (s.empty() || s[0] != '.') return std::pair{milliseconds{0}, std::size_t{0}};
  std::size_t n = 1;
  int ms = 0;
  for (; n < s.size() && s[n] >= '0' && s[n] <= '9'; ++n)
    if (n <= 3) ms = ms * 10 + (s[n] - '0');
  if (n == 1 || n > 10) return std::nullopt;
  for (auto k = n; k <= 3; ++k) ms *= 10;
  return std::pair{milliseconds{ms}, n};
}

/// An RFC 3339 date-time, if valid.
std::optional<utc_time> date_time_of(std::string_view s) {
  auto date = date_of(s);
  if (!date || s.size() < 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  auto h = digits(s, 11, 2);
  auto m = digits(s, 14, 2);
  auto sec = digits(s, 17, 2);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return std::nullopt;
  auto frac = fraction_of(s.substr(19));
  if (!frac) return std::nullopt;
  auto zone = zone_of(s.substr(19 + frac->second));
  if (!zone) return std::nullopt;
  return utc_time{sys_days{*date}} + hours{h} + minutes{m} + seconds{sec} + frac->first - *zone;
}

void check_window(const std::optional<std::string>& text, bound_end end, const char* field,
                  utc_time& out, std::vector<field_error>& errors) {
  if (!text) return;
  auto t = parse_time_bound(*text, end);
  if (!t)
    errors.push_back({field, "must be an RFC 3339 time or a date (YYYY-MM-DD)"});
  else
    out = *t;
}

}  // namespace

std::optional<utc_time> parse_time_bound(std::string_view text, bound_end end) {
  if (text.size() == 10) {
    auto date = date_of(text);
    if (!date) return std::nullopt;
    auto start = utc_time{sys_days{*date}};
    return end == bound_end::to ? start + days{1} : start;
  }
  if (text.size() > 40) return std::nullopt;
  return date_time_of(text);
}

std::string format_utc(utc_time t) {
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> tod{t - day};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

std::pair<utc_time, utc_time> month_of(utc_time now) {
  year_month_day ymd{floor<days>(now)};
  auto first = ymd.year() / ymd.month() / day{1};
  auto next = first + months{1};
  return {utc_time{sys_days{first}}, utc_time{sys_days{next}}};
}

caf::expected<usage_query> decode_usage_query(const http::request& req, utc_time now) {
  std::vector<field_error> errors;
  auto [from, to] = month_of(now);
  check_window(req.query_param("from"), bound_end::from, "from", from, errors);
  check_window(req.query_param("to"), bound_end::to, "to", to, errors);
  if (errors.empty() && from >= to) errors.push_back({"to", "must be after from"});
  auto group = req.query_param("group_by");
  auto by = storage::usage_grouping_from(group.value_or("day"));
  if (!by) errors.push_back({"group_by", "must be \"day\", \"session\" or \"model\""});
  const auto& caller = *req.caller;
  auto tenant = req.query_param("tenant");
  if (tenant && !caa::is_uuid(*tenant)) errors.push_back({"tenant", "must be a UUID"});
  if (!errors.empty()) return caa::validation_error(std::move(errors));
  if (tenant && *tenant != caller.tenant_id() && !caller.has(http::scope::admin))
    return make_error(errc::forbidden, "usage of another tenant");
  return usage_query{tenant.value_or(caller.tenant_id()), from, to, *by};
}

caf::expected<storage::tenant_limits> decode_limits(std::string_view body,
                                                    const std::string& tenant_id) {
  rapidjson::Document doc;
  std::string why;
  if (!json::parse_object(body, doc, why)) return make_error(errc::bad_request, why);
  json::field_errors errors;
  json::field_reader r{doc, errors};
  constexpr double max_usd = 1e9;
  storage::tenant_limits out;
  out.tenant_id = tenant_id;
  out.monthly_usd = r.number("monthly_usd", false, 0, max_usd);
  out.daily_usd = r.number("daily_usd", false, 0, max_usd);
  if (auto procs = r.integer("max_agent_processes", false, 0, 100'000))
    out.max_agent_processes = *procs;
  out.hard = r.boolean("hard", false).value_or(false);
  r.reject_unknown({"monthly_usd", "daily_usd", "max_agent_processes", "hard"});
  if (!errors.ok()) return caa::validation_error(errors.take());
  return out;
}

}  // namespace caa::api
