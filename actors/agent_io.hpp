#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace caa::sandbox {
class host;
}  // namespace caa::sandbox

namespace caa {

/// The I/O threads of the agent processes: one io_context that drives every CLI's pipes and
/// pidfd. Its threads live as long as the service. Beside them, the launch threads, where a
/// session's process is started (see `launch`).
class agent_io {
 public:
  /// Starts `threads` I/O threads and `launch_threads` launch threads.
  explicit agent_io(unsigned threads = 1, unsigned launch_threads = 1);
  /// Stops and joins the threads.
  ~agent_io();
  agent_io(const agent_io&) = delete;
  agent_io& operator=(const agent_io&) = delete;

  /// The io_context the processes run on.
  boost::asio::io_context& context() noexcept { return io_; }

  /// Runs `job` on a launch thread. Starting a sandboxed process blocks for a millisecond or
  /// more (the sandbox's files and cgroups, then the child's cgroup moves and exec, which the
  /// parent waits for); on a launch thread that wait holds no actor's thread. The launch
  /// threads live as long as the service, which PR_SET_PDEATHSIG and bwrap's
  /// --die-with-parent need of the thread that forks.
  void launch(std::function<void()> job);

  /// The agent sandbox every spawn goes through (null: AGENT_SANDBOX=off). Set once at
  /// start-up, before the first spawn.
  void set_sandbox(std::shared_ptr<sandbox::host> h) noexcept { sandbox_ = std::move(h); }

  /// From now on a session woken by its agent's output runs on the scheduler, not on the I/O
  /// thread (inline_unit); returns once none runs on an I/O thread. The service calls it
  /// before its actor system ends: the system waits for its actors on its own threads only.
  void stop_inline();

  /// See `set_sandbox`.
  sandbox::host* sandbox() const noexcept { return sandbox_.get(); }

 private:
  /// An I/O thread: runs the io_context's handlers, and after each the sessions they woke.
  void serve();

  std::shared_ptr<sandbox::host> sandbox_;
  boost::asio::io_context io_;
  boost::asio::io_context launch_io_;
  std::unique_ptr<void, void (*)(void*)> guard_;
  std::unique_ptr<void, void (*)(void*)> launch_guard_;
  std::vector<std::thread> threads_;
  std::shared_mutex inline_gate_;
  bool inline_open_ = true;  ///< guarded by inline_gate_
};

}  // namespace caa
