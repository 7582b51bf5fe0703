#include "actors/cluster_members.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace caa {

std::chrono::milliseconds connect_backoff(uint32_t failures) {
  constexpr std::chrono::milliseconds first{250};
  constexpr std::chrono::milliseconds most{30'000};
  auto delay = first;
  for (uint32_t i = 1; i < failures && delay < most; ++i) delay *= 2;
  return std::min(delay, most);
}

cluster_members::cluster_members(std::string self_id, std::chrono::milliseconds forget_after)
    : self_id_(std::move(self_id)), forget_after_(forget_after) {
  // nop
}

void cluster_members::observe(const std::vector<storage::node_record>& index,
                              const std::vector<bool>& alive) {
  observe(index, alive, std::numeric_limits<int64_t>::max(), std::chrono::milliseconds{0});
}

void cluster_members::observe(const std::vector<storage::node_record>& index,
                              const std::vector<bool>& alive, int64_t now_ms,
                              std::chrono::milliseconds node_ttl) {
  from_redis_ = true;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < index.size(); ++i) {
    const auto& rec = index[i];
    if (rec.node_id == self_id_) continue;
    auto& e = entries_[rec.node_id];
    e.record = rec;
    e.alive = i < alive.size() && alive[i];
    seen.insert(rec.node_id);
  }
  for (auto& [id, e] : entries_)
    if (!seen.contains(id)) e.alive = e.alive && now_ms - e.record.heartbeat_ms <= node_ttl.count();
}

std::vector<std::string> cluster_members::forget_stale(int64_t now_ms) {
  std::vector<std::string> out;
  for (auto i = entries_.begin(); i != entries_.end();) {
    if (!i->second.alive && now_ms - i->second.record.heartbeat_ms > forget_after_.count()) {
      out.push_back(i->first);
      i = entries_.erase(i);
    } else {
      ++i;
    }
  }
  return out;
}

std::optional<std::string> cluster_members::place(uint64_t processes, uint64_t budget) const {
  if (processes < budget) return std::nullopt;
  const entry* best = nullptr;
  // a uses less of its budget than b: a.processes / a.budget < b.processes / b.budget.
  auto less_loaded = [](const storage::node_record& a, const storage::node_record& b) {
    auto x = static_cast<unsigned __int128>(a.processes) * b.budget;
    auto y = static_cast<unsigned __int128>(b.processes) * a.budget;
    if (x != y) return x < y;
    return a.processes < b.processes;
  };
  for (const auto& [id, e] : entries_) {
    const auto& r = e.record;
    if (!e.alive || r.budget == 0 || r.processes >= r.budget) continue;
    if (best == nullptr || less_loaded(r, best->record)) best = &e;
  }
  if (best == nullptr) return std::nullopt;
  return best->record.node_id;
}

cluster_member cluster_members::show(const entry& e, int64_t now_ms) {
  cluster_member m;
  m.node_id = e.record.node_id;
  const auto& h = e.record.host;
  m.address =
      (h.find(':') == std::string::npos ? h : "[" + h + "]") + ":" + std::to_string(e.record.port);
  m.state = e.alive ? "alive" : "gone";
  m.sessions = e.record.sessions;
  m.processes = e.record.processes;
  m.heartbeat_age_ms = std::max<int64_t>(0, now_ms - e.record.heartbeat_ms);
  m.link = "none";
  return m;
}

}  // namespace caa
