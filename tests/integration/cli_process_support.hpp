// Helpers of cli_process_test: a callback recorder, /proc scans and an io_context fixture.
#pragma once

#include "transport/claude/process.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

namespace caa::claude::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// Collects the callbacks of one process; shared with the callbacks so it outlives them.
struct recorder {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> lines;
  std::optional<exit_info> exit;
  size_t oversized = 0;
  size_t batches = 0;  ///< calls of `on_lines` (with `batched_callbacks`)

  static process_callbacks callbacks(const std::shared_ptr<recorder>& self) {
    return {
        [self](std::string line) { self->update([&] { self->lines.push_back(std::move(line)); }); },
        [self](exit_info info) { self->update([&] { self->exit = std::move(info); }); },
        [self](size_t) { self->update([&] { ++self->oversized; }); },
        {}};
  }

  /// The same, receiving the lines of each read at once (`on_lines`); `on_line` must not fire.
  static process_callbacks batched_callbacks(const std::shared_ptr<recorder>& self) {
    auto cb = callbacks(self);
    cb.on_line = [](const std::string&) { ADD_FAILURE() << "on_line called beside on_lines"; };
    cb.on_lines = [self](std::vector<std::string> batch) {
      self->update([&] {
        ++self->batches;
        for (auto& l : batch) self->lines.push_back(std::move(l));
      });
    };
    return cb;
  }

  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> guard{mtx};
    f();
    cv.notify_all();
  }

  /// The first line satisfying `pred`, waiting up to `timeout`.
  template <class Pred>
  std::optional<std::string> wait_line(Pred pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    std::optional<std::string> found;
    cv.wait_for(lock, timeout, [&] {
      for (const auto& l : lines)
        if (pred(l)) {
          found = l;
          return true;
        }
      return false;
    });
    return found;
  }

  std::optional<exit_info> wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, timeout, [&] { return exit.has_value(); });
    return exit;
  }

  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return lines;
  }
};

inline bool bwrap_available() {
  return ::access("/usr/bin/bwrap", X_OK) == 0;
}

/// The text of the /proc file `path`; "" when its process went away meanwhile (reading the file
/// of a vanished process fails with ESRCH, which the stream buffer throws as an exception).
inline std::string read_proc_file(const fs::path& path) {
  try {
    std::ifstream in{path, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, {}};
  } catch (const std::exception&) {
    return {};
  }
}

/// Pids of live processes with `arg` as one of their argv elements.
inline std::vector<pid_t> pids_with_arg(const std::string& arg) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator{"/proc"}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_proc_file(entry.path() / "cmdline");
    size_t start = 0;
    while (start < cmdline.size()) {
      auto end = cmdline.find('\0', start);
      if (cmdline.substr(start, end - start) == arg) out.push_back(std::stoi(name));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return out;
}

/// Polls `pred` every 20 ms for up to `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// Children of this process that are zombies.
inline size_t zombie_children() {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator{"/proc"}) {
    if (entry.path().filename().string().find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto stat = read_proc_file(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 > stat.size()) continue;
    char state = stat[close + 2];
    pid_t ppid = std::atoi(stat.c_str() + close + 4);
    if (state == 'Z' && ppid == ::getpid()) {
      ++n;
      std::fprintf(stderr, "zombie child: %s\n", stat.c_str());
    }
  }
  return n;
}

/// A unique `sleep` argument, so leftover processes can be found by argv.
inline std::string marker(int n) {
  return std::to_string(300 + n) + "." + std::to_string(::getpid());
}

inline spawn_spec shell(const std::string& script, bool use_bwrap) {
  spawn_spec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  spec.cwd = "/tmp";
  spec.use_bwrap = use_bwrap;
  return spec;
}

/// Runs the shared "agent I/O" io_context on two threads, as the service does.
class cli_process : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  /// Spawns `spec`, failing the test on error.
  std::optional<agent_process> start(const spawn_spec& spec, const std::shared_ptr<recorder>& rec,
                                     bool batched = false) {
    auto proc = agent_process::spawn(
        io_, spec, batched ? recorder::batched_callbacks(rec) : recorder::callbacks(rec));
    EXPECT_TRUE(proc) << caf::to_string(proc.error());
    if (!proc) return std::nullopt;
    return std::move(*proc);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
};

/// A private directory tree for one real-CLI run, removed afterwards.
struct temp_tree {
  fs::path root;
  temp_tree() {
    std::string tmpl = (fs::temp_directory_path() / "caa-cli-XXXXXX").string();
    root = ::mkdtemp(tmpl.data());
    for (auto sub : {"config", "home", "tmp", "work"}) fs::create_directories(root / sub);
  }
  ~temp_tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

}  // namespace caa::claude::test
