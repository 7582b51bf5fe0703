#include "bench/load_client/load.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace bench::load {

namespace {

/// `{"n":..,"p50":..,"p90":..,"p95":..,"p99":..,"max":..}` of `xs` (ns) in `unit_ns` units.
std::string summary(std::vector<int64_t> xs, double unit_ns) {
  if (xs.empty()) return R"({"n":0})";
  std::sort(xs.begin(), xs.end());
  auto at = [&](double q) {
    auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
    return static_cast<double>(xs[std::min(i, xs.size() - 1)]) / unit_ns;
  };
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                R"({"n":%zu,"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f})", xs.size(),
                at(0.5), at(0.9), at(0.95), at(0.99), static_cast<double>(xs.back()) / unit_ns);
  return buf;
}

std::string errors_json(const std::map<std::string, int64_t>& errors) {
  std::string out = "{";
  for (const auto& [kind, n] : errors) {
    if (out.size() > 1) out += ",";
    out += "\"" + kind + "\":" + std::to_string(n);
  }
  return out + "}";
}

}  // namespace

void write_report(const options& o, const recorder& rec, const proc_sample& before,
                  const proc_sample& after) {
  double wall_s = static_cast<double>(rec.finished_ns - rec.started_ns) / 1e9;
  double cpu_s = after.ok && before.ok ? after.cpu_s - before.cpu_s : 0;
  std::ostringstream js;
  js.precision(6);
  js << std::fixed;
  js << "{\"label\":\"" << o.label << "\",\"mode\":\"" << o.mode << "\",\"target\":\"" << o.target
     << "\",\"streams\":" << o.streams << ",\"turns\":" << o.turns
     << ",\"events_per_turn\":" << o.events << ",\"event_bytes\":" << o.bytes
     << ",\"rate\":" << o.rate << ",\"wall_s\":" << wall_s << ",\"events\":" << rec.events
     << ",\"frames\":" << rec.frames
     << ",\"events_per_s\":" << (wall_s > 0 ? static_cast<double>(rec.events) / wall_s : 0)
     << ",\"turns_ok\":" << rec.turns_ok
     << ",\"turns_expected\":" << (o.mode == "read" ? 0 : int64_t{o.streams} * o.turns)
     << ",\"added_latency_us\":" << summary(rec.latency_ns, 1e3)
     << ",\"added_latency_warm_us\":" << summary(rec.latency_warm_ns, 1e3)
     << ",\"ttfe_new_ms\":" << summary(rec.ttfe_cold_ns, 1e6)
     << ",\"ttfe_warm_ms\":" << summary(rec.ttfe_warm_ns, 1e6)
     << ",\"turn_ms\":" << summary(rec.turn_ns, 1e6)
     << ",\"request_latency_ms\":" << summary(rec.request_ns, 1e6)
     << ",\"requests_ok\":" << rec.requests_ok
     << ",\"requests_per_s\":" << (wall_s > 0 ? static_cast<double>(rec.requests_ok) / wall_s : 0)
     << ",\"errors\":" << errors_json(rec.errors)
     << ",\"error_codes\":" << errors_json(rec.error_codes)
     << ",\"refused_with_retry_after\":" << rec.retry_after
     << ",\"stamps\":" << (o.stamps ? "true" : "false") << ",\"proc\":{\"pid\":" << o.pid
     << ",\"cpu_s\":" << cpu_s << ",\"cpu_pct\":" << (wall_s > 0 ? 100 * cpu_s / wall_s : 0)
     << ",\"rss_start_mb\":" << before.rss_mb << ",\"rss_peak_mb\":" << rec.rss_peak_mb
     << ",\"rss_end_mb\":" << after.rss_mb << "}}\n";
  if (o.out.empty()) {
    std::cout << js.str();
  } else {
    std::ofstream{o.out} << js.str();
  }
}

}  // namespace bench::load
