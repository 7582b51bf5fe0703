#include "bench/load_client/load.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace bench::load {

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {

proc_sample sample_one(int pid) {
  proc_sample s;
  if (pid <= 0) return s;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(stat, text)) return s;
  // Fields after the command (which may hold blanks): state is field 3, utime 14, stime 15.
  auto close = text.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  double utime = 0;
  double stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  s.cpu_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  while (std::getline(status, text)) {
    if (text.rfind("VmRSS:", 0) == 0) s.rss_mb = std::stod(text.substr(6)) / 1024.0;
  }
  s.ok = true;
  return s;
}

}  // namespace

proc_sample sample_proc(const std::vector<int>& pids) {
  proc_sample sum;
  sum.ok = !pids.empty();
  for (int pid : pids) {
    auto one = sample_one(pid);
    sum.cpu_s += one.cpu_s;
    sum.rss_mb += one.rss_mb;
    sum.ok = sum.ok && one.ok;
  }
  return sum;
}

std::string prompt_text(const options& o) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "bench events=%lld bytes=%lld rate=%g",
                static_cast<long long>(o.events), static_cast<long long>(o.bytes), o.rate);
  return buf;
}

turn_reader::turn_reader(recorder& rec, int64_t sent_ns, bool warm, path p, bool record)
    : rec_(rec), sent_ns_(sent_ns), warm_(warm), path_(p), record_(record) {
  if (auto* ps = rec_.stats_of(path_);
      ps != nullptr && record_ && (ps->first_sent_ns == 0 || sent_ns < ps->first_sent_ns))
    ps->first_sent_ns = sent_ns;
}

void turn_reader::feed_sse(std::string_view bytes, int64_t arrival_ns) {
  for (;;) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      line_.append(bytes);
      return;
    }
    std::string_view line;
    if (line_.empty()) {
      line = bytes.substr(0, nl);
    } else {
      line_.append(bytes.substr(0, nl));
      line = line_;
    }
    if (line.starts_with("event:")) {
      event_name_ = line.substr(line.find_first_not_of(' ', 6));
      saw_done = saw_done || event_name_ == "done";
      saw_error = saw_error || event_name_ == "error";
    } else if (line.starts_with("data:")) {
      on_payload(line.substr(5), arrival_ns);
    } else if (line.starts_with("id:")) {
      auto id = line.substr(3);
      if (auto start = id.find_first_not_of(' '); start != std::string_view::npos)
        last_id = id.substr(start);
    } else if (line.empty() || line == "\r") {
      complete_ = complete_ || event_name_ == "done";
      event_name_.clear();
    }
    line_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

std::string code_of(std::string_view json) {
  constexpr std::string_view key = R"("code":")";
  auto pos = json.find(key);
  if (pos == std::string_view::npos) return {};
  auto start = pos + key.size();
  auto end = json.find('"', start);
  return end == std::string_view::npos ? std::string{}
                                       : std::string{json.substr(start, end - start)};
}

void turn_reader::on_payload(std::string_view data, int64_t arrival_ns) {
  bool error_event = event_name_ == "error";
  if (error_event && error_code.empty()) error_code = code_of(data);
  if (!record_) return;  // followed only: counted by the stream that records the turn
  ++rec_.frames;
  auto* ps = rec_.stats_of(path_);
  if (first_) {
    first_ = false;
    // A turn refused inside its stream (its first event is `error`) was not admitted.
    if (!error_event) {
      (warm_ ? rec_.ttfe_warm_ns : rec_.ttfe_cold_ns).push_back(arrival_ns - sent_ns_);
      if (ps != nullptr) ps->ttfe_ns.push_back(arrival_ns - sent_ns_);
    }
  }
  if (session_id.empty()) {
    constexpr std::string_view key = R"("session_id":")";
    if (auto pos = data.find(key); pos != std::string_view::npos) {
      auto start = pos + key.size();
      auto end = data.find('"', start);
      if (end != std::string_view::npos && end > start)
        session_id = data.substr(start, end - start);
    }
  }
  if (!rec_.stamps) {  // --no-stamps: every payload counts as an event, no added latency
    ++rec_.events;
    return;
  }
  // The stamp: `t=` and 19 digits of CLOCK_MONOTONIC ns, then `;` (fake_cli).
  for (auto pos = data.find("t=0"); pos != std::string_view::npos;
       pos = data.find("t=0", pos + 1)) {
    if (pos + 2 + 19 >= data.size() || data[pos + 2 + 19] != ';') continue;
    int64_t sent = 0;
    auto [end, ec] = std::from_chars(data.data() + pos + 2, data.data() + pos + 2 + 19, sent);
    if (ec != std::errc{} || end != data.data() + pos + 2 + 19) continue;
    rec_.latency_ns.push_back(arrival_ns - sent);
    if (warm_) rec_.latency_warm_ns.push_back(arrival_ns - sent);
    ++rec_.events;
    if (ps != nullptr) {
      ps->latency_ns.push_back(arrival_ns - sent);
      ++ps->events;
    }
    break;
  }
}

void turn_reader::finish(int64_t end_ns) {
  if (!record_) return;
  rec_.turn_ns.push_back(end_ns - sent_ns_);
  ++rec_.turns_ok;
  if (auto* ps = rec_.stats_of(path_)) {
    ++ps->turns_ok;
    ps->last_end_ns = std::max(ps->last_end_ns, end_ns);
  }
}

void turn_reader::fail(const std::string& kind) {
  rec_.error(kind);
  if (auto* ps = rec_.stats_of(path_)) ++ps->errors[kind];
}

}  // namespace bench::load
