#include "tests/support/proc_scan.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace caa::test {

/// Process `pid`, or nullopt when it is gone.
std::optional<proc_info> read_proc(int pid) {
  auto dir = "/proc/" + std::to_string(pid);
  std::ifstream stat{dir + "/stat"};
  std::string text;
  if (!std::getline(stat, text)) return std::nullopt;
  auto close = text.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos || close + 2 > text.size()) return std::nullopt;
  std::istringstream rest{text.substr(close + 2)};
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 20) return std::nullopt;
  proc_info p;
  p.pid = pid;
  p.state = fields[0].empty() ? '?' : fields[0][0];
  p.ppid = std::stoi(fields[1]);
  p.start = std::stoull(fields[19]);  // field 22 of stat(5)
  std::ifstream cmd{dir + "/cmdline", std::ios::binary};
  std::stringstream ss;
  ss << cmd.rdbuf();
  p.cmdline = ss.str();
  while (!p.cmdline.empty() && p.cmdline.back() == '\0') p.cmdline.pop_back();
  std::replace(p.cmdline.begin(), p.cmdline.end(), '\0', ' ');
  return p;
}

/// Whether `p` is a zombie (dead, not yet reaped) or dying.
bool dead(const proc_info& p) {
  return p.state == 'Z' || p.state == 'X' || p.state == 'x';
}

/// Every process of the machine that still runs (zombies left out).
std::vector<proc_info> all_processes() {
  std::vector<proc_info> out;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (auto p = read_proc(std::stoi(name)); p && !dead(*p)) out.push_back(std::move(*p));
  }
  return out;
}

namespace {

/// The processes matching `pred` and all their descendants.
template <class Pred>
std::vector<proc_info> trees_of(Pred pred) {
  auto procs = all_processes();
  std::set<int> in;
  for (auto& p : procs)
    if (pred(p)) in.insert(p.pid);
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& p : procs)
      if (in.count(p.pid) == 0 && in.count(p.ppid) != 0) {
        in.insert(p.pid);
        grew = true;
      }
  }
  std::vector<proc_info> out;
  for (auto& p : procs)
    if (in.count(p.pid) != 0) out.push_back(p);
  return out;
}

}  // namespace

/// The processes of session `id` (bubblewrap and the CLI name it in their argv) and everything
/// under them (the tools' processes).
std::vector<proc_info> session_processes(const std::string& id) {
  return trees_of([&](const proc_info& p) { return p.cmdline.find(id) != std::string::npos; });
}

/// The processes whose argv contains `text`.
std::vector<proc_info> processes_with(const std::string& text) {
  std::vector<proc_info> out;
  for (auto& p : all_processes())
    if (p.cmdline.find(text) != std::string::npos) out.push_back(p);
  return out;
}

/// The agent processes of the service `service_pid`: its children running the CLI in
/// streaming mode (bubblewrap around it, or the CLI itself; never the `claude -v` probe).
std::vector<proc_info> agent_processes(int service_pid) {
  std::vector<proc_info> out;
  for (auto& p : all_processes())
    if (p.ppid == service_pid && p.cmdline.find("stream-json") != std::string::npos)
      out.push_back(p);
  return out;
}

/// Those of `snapshot` that still run (same pid and start time, not a zombie).
std::vector<proc_info> survivors(const std::vector<proc_info>& snapshot) {
  std::vector<proc_info> out;
  for (auto& p : snapshot)
    if (auto now = read_proc(p.pid); now && now->start == p.start && !dead(*now))
      out.push_back(*now);
  return out;
}

/// One line per process, for failure messages.
std::string describe(const std::vector<proc_info>& procs) {
  std::string out;
  for (auto& p : procs)
    out += "  pid " + std::to_string(p.pid) + " ppid " + std::to_string(p.ppid) + " " + p.state +
           " " +
           (p.cmdline.size() <= 400
                ? p.cmdline
                : p.cmdline.substr(0, 200) + " ... " + p.cmdline.substr(p.cmdline.size() - 200)) +
           "\n";
  return out.empty() ? "  (none)\n" : out;
}

}  // namespace caa::test
