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

/// The `q` quantile of `xs` (sorted in place) in `unit_ns` units; 0 when empty.
double quantile(std::vector<int64_t>& xs, double q, double unit_ns) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1) + 0.5);
  return static_cast<double>(xs[std::min(i, xs.size() - 1)]) / unit_ns;
}

std::string errors_json(const std::map<std::string, int64_t>& errors) {
  std::string out = "{";
  for (const auto& [kind, n] : errors) {
    if (out.size() > 1) out += ",";
    out += "\"" + kind + "\":" + std::to_string(n);
  }
  return out + "}";
}

/// Events/s of one path: its events over the span from its first warm request to its last end.
double path_rate(const path_stats& s) {
  double span_s = static_cast<double>(s.last_end_ns - s.first_sent_ns) / 1e9;
  return span_s > 0 && s.first_sent_ns > 0 ? static_cast<double>(s.events) / span_s : 0;
}

std::string path_json(const path_stats& s, int64_t turns_expected) {
  std::ostringstream js;
  js.precision(3);
  js << std::fixed;
  js << "{\"turns_ok\":" << s.turns_ok << ",\"turns_expected\":" << turns_expected
     << ",\"events\":" << s.events << ",\"events_per_s\":" << path_rate(s)
     << ",\"added_latency_us\":" << summary(s.latency_ns, 1e3)
     << ",\"ttfe_ms\":" << summary(s.ttfe_ns, 1e6) << ",\"errors\":" << errors_json(s.errors)
     << "}";
  return js.str();
}

/// The cluster section: warm turns read from the owner against those read from another node.
std::string cluster_json(const options& o, const recorder& rec) {
  int nodes = static_cast<int>(o.ports.size());
  int64_t local_streams = 0;
  for (int i = 0; i < o.streams; ++i) local_streams += plan_of(i, nodes).warm == path::local;
  int64_t warm_turns = o.turns - 1;
  auto local = rec.local.latency_ns;
  auto forwarded = rec.forwarded.latency_ns;
  bool both = !local.empty() && !forwarded.empty();
  double local_rate = path_rate(rec.local);
  std::ostringstream js;
  js.precision(3);
  js << std::fixed;
  js << "{\"nodes\":" << nodes << ",\"forward\":\"" << o.forward << "\",\"ports\":[";
  for (size_t i = 0; i < o.ports.size(); ++i) js << (i ? "," : "") << o.ports[i];
  js << "],\"local\":" << path_json(rec.local, local_streams * warm_turns)
     << ",\"forwarded\":" << path_json(rec.forwarded, (o.streams - local_streams) * warm_turns);
  if (both) {
    js << ",\"forwarded_minus_local_p50_us\":"
       << quantile(forwarded, 0.5, 1e3) - quantile(local, 0.5, 1e3)
       << ",\"forwarded_minus_local_p99_us\":"
       << quantile(forwarded, 0.99, 1e3) - quantile(local, 0.99, 1e3)
       << ",\"events_per_s_forwarded_over_local\":"
       << (local_rate > 0 ? path_rate(rec.forwarded) / local_rate : 0);
  }
  js << "}";
  return js.str();
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
     << ",\"stamps\":" << (o.stamps ? "true" : "false") << ",\"durability\":\"" << o.durability
     << "\",\"partial\":" << (o.partial ? "true" : "false");
  if (!o.ports.empty()) js << ",\"cluster\":" << cluster_json(o, rec);
  js << ",\"proc\":{\"pid\":" << (o.pids.empty() ? 0 : o.pids.front()) << ",\"pids\":[";
  for (size_t i = 0; i < o.pids.size(); ++i) js << (i ? "," : "") << o.pids[i];
  js << "]"
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
