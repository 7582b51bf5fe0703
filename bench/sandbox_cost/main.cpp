// What the agent sandbox costs per CLI process: start-up time (spawn to the CLI's answer to
// `initialize`, the first line a session waits for) and memory (proportional set size of the
// whole process tree once it answered), for three ways of starting the pinned CLI:
//   bare     - exec of the CLI, no wrapper (the floor)
//   legacy   - the wrapper before the sandbox: bwrap --ro-bind / / --unshare-pid as root
//   sandbox  - the agent sandbox: uid drop, bwrap with every namespace, own file system,
//              cgroup, model proxy socket
// Medians over `--runs` starts of each, interleaved, and the ratios against `legacy`. Not a test.
//
// Usage (as root): sandbox_cost --cli PATH --workspace DIR [--runs N]

#include "config/settings.hpp"
#include "transport/claude/argv.hpp"
#include "transport/claude/control.hpp"
#include "transport/claude/spawn.hpp"
#include "transport/sandbox/sandbox.hpp"

#include <boost/asio/io_context.hpp>

#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct sample {
  double start_ms = -1;  ///< spawn to the `initialize` answer; -1: no answer
  double pss_kb = 0;     ///< Pss of every process of the tree
};

/// The pids whose parent chain reaches `root` (and `root` itself).
std::vector<pid_t> tree_of(pid_t root) {
  std::map<pid_t, pid_t> parent;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in{e.path() / "stat"};
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    pid_t ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2)
      parent[std::stoi(name)] = ppid;
  }
  std::vector<pid_t> out;
  for (auto [pid, pp] : parent) {
    for (pid_t p = pid; p > 1; p = parent.count(p) ? parent[p] : 0)
      if (p == root) {
        out.push_back(pid);
        break;
      }
  }
  return out;
}

double pss_kb(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/smaps_rollup"};
  std::string key;
  double kb = 0;
  while (in >> key) {
    if (key == "Pss:") {
      in >> kb;
      return kb;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

/// Starts `spec`, writes `initialize`, waits for the first line that answers it.
sample measure(caa::claude::spawn_spec spec) {
  sample s;
  auto t0 = clock_type::now();
  auto child = caa::claude::spawn_child(spec);
  if (!child) {
    std::fprintf(stderr, "spawn failed: %s\n", caf::to_string(child.error()).c_str());
    return s;
  }
  auto init = caa::claude::initialize("init-1", "", "");
  std::string line = *init + "\n";
  (void)::write(child->stdin_fd, line.data(), line.size());
  std::string out;
  char buf[65536];
  pollfd p{child->stdout_fd, POLLIN, 0};
  auto deadline = t0 + std::chrono::seconds{30};
  while (clock_type::now() < deadline && ::poll(&p, 1, 50) >= 0) {
    if (p.revents == 0) continue;
    auto n = ::read(child->stdout_fd, buf, sizeof buf);
    if (n <= 0 && errno != EAGAIN) break;
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    if (out.find("\"control_response\"") != std::string::npos) {
      s.start_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      break;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{300});  // settle
  for (pid_t pid : tree_of(child->pid)) s.pss_kb += pss_kb(pid);
  ::kill(-child->pid, SIGKILL);
  ::kill(child->pid, SIGKILL);
  ::waitpid(child->pid, nullptr, 0);
  for (int fd : {child->pidfd, child->stdin_fd, child->stdout_fd, child->stderr_fd}) ::close(fd);
  return s;
}

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string cli, workspace;
  int runs = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--cli") cli = argv[i + 1];
    if (a == "--workspace") workspace = argv[i + 1];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  if (cli.empty() || workspace.empty() || ::geteuid() != 0) {
    std::fprintf(stderr, "usage (as root): sandbox_cost --cli PATH --workspace DIR [--runs N]\n");
    return 2;
  }
  const std::string tenant = "0badc0de-0000-4000-8000-000000000001";
  auto root = fs::absolute(workspace) / tenant;
  for (auto d : {"work", "config", "home", "tmp"}) fs::create_directories(root / d);
  caa::settings cfg;
  cfg.agent.cli_path = cli;
  cfg.agent.workspace_root = fs::absolute(workspace).string();
  cfg.agent.anthropic_base_url = "http://127.0.0.1:9";
  cfg.agent.anthropic_api_key = caa::secret{"sk-bench"};
  boost::asio::io_context io;
  auto host = caa::sandbox::host::start(io, cfg, nullptr);
  if (!host) {
    std::fprintf(stderr, "sandbox: %s\n", caf::to_string(host.error()).c_str());
    return 1;
  }
  std::thread io_thread{[&] {
    auto guard = boost::asio::make_work_guard(io);
    io.run();
  }};
  uint32_t uid = cfg.sandbox.uid_base;
  for (auto d : {"work", "config"}) {
    fs::path dir = root / d;
    if (::chown(dir.c_str(), uid, uid) != 0) return 1;
  }
  ::chmod(root.c_str(), 0711);
  caa::claude::driver_config d;
  d.cli_path = cli;
  d.config_dir = (root / "config").string();
  d.home_dir = (root / "home").string();
  d.tmp_dir = (root / "tmp").string();
  d.tenant_id = tenant;
  d.anthropic_api_key = "sk-bench";
  d.anthropic_base_url = "http://127.0.0.1:9";
  caa::claude::query_options opts;
  opts.cwd = (root / "work").string();
  std::map<std::string, std::vector<sample>> results;
  for (int r = 0; r < runs; ++r) {
    for (std::string mode : {"bare", "legacy", "sandbox"}) {
      auto dd = d;
      dd.use_bwrap = mode != "bare";
      dd.writable_dir = root.string();
      dd.hidden_dir = fs::absolute(workspace).string();
      auto spec = caa::claude::make_spawn_spec(opts, dd);
      if (mode == "sandbox") {
        dd.agent_uid = uid;
        if (auto err = (*host)->prepare(spec, dd)) {
          std::fprintf(stderr, "prepare: %s\n", caf::to_string(err).c_str());
          return 1;
        }
      }
      results[mode].push_back(measure(std::move(spec)));
    }
  }
  std::printf("%-8s %8s %14s %12s %10s %10s\n", "mode", "answered", "start p50 ms", "Pss p50 MB",
              "start/leg", "Pss/leg");
  auto stat = [&](const std::string& m, auto field) {
    std::vector<double> xs;
    for (auto& s : results[m])
      if (s.start_ms >= 0) xs.push_back(field(s));
    return median(xs);
  };
  auto start = [](const sample& s) { return s.start_ms; };
  auto mem = [](const sample& s) { return s.pss_kb / 1024.0; };
  for (std::string m : {"bare", "legacy", "sandbox"}) {
    int ok = static_cast<int>(std::count_if(results[m].begin(), results[m].end(),
                                            [](const sample& s) { return s.start_ms >= 0; }));
    std::printf("%-8s %5d/%-3d %14.1f %12.1f %10.2f %10.2f\n", m.c_str(), ok, runs, stat(m, start),
                stat(m, mem), stat(m, start) / std::max(1e-9, stat("legacy", start)),
                stat(m, mem) / std::max(1e-9, stat("legacy", mem)));
  }
  io.stop();
  io_thread.join();
  return 0;
}
