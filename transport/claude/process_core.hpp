#pragma once

#include "transport/claude/line_framer.hpp"
#include "transport/claude/process.hpp"
#include "transport/claude/spawn.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace caa::claude::detail {

/// The state of one child behind an `agent_process` handle. Every member below the mutex is
/// touched only on `strand_`; it outlives the handle until its last handler has run.
class process_core : public std::enable_shared_from_this<process_core> {
 public:
  /// How long stdout may stay open after the process exited (a leaked grandchild holding it).
  static constexpr std::chrono::seconds exit_drain_timeout{2};

  /// Most bytes queued on stdin at once.
  static constexpr std::size_t max_queued_bytes = 64u << 20;

  process_core(boost::asio::io_context& io, const spawned_child& child, const spawn_spec& spec,
               process_callbacks callbacks);
  ~process_core();

  void start();
  caf::error write_line(std::string json);
  void close_stdin();
  void stop(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after);
  void kill();
  void detach();
  void set_paused(bool paused);
  void when_reaped(std::function<void()> f);

  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return !reaped_.load(); }

 private:
  using error_code = boost::system::error_code;

  void do_read_stdout();
  void on_read_stdout(error_code ec, std::size_t n);
  void do_read_stderr();
  void on_read_stderr(error_code ec, std::size_t n);
  void do_wait_exit();
  void on_exit_ready(error_code ec);
  void do_write();
  void on_write(error_code ec, std::size_t n);
  void do_close_stdin();
  void drop_queue();
  void do_kill();
  void signal_group(int sig);
  void arm_drain_timer();
  void maybe_finish();
  void run_reaped_hooks();
  template <class F>
  void with_callbacks(F&& f);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  pid_t pid_;
  int pidfd_;  // owned by pidfd_desc_, open until destruction: pidfd_signal is always safe
  std::atomic<bool> reaped_{false};
  std::atomic<bool> stdin_open_{true};
  std::atomic<std::size_t> queued_bytes_{0};

  std::mutex cb_mutex_;
  bool detached_ = false;  // guarded by cb_mutex_
  process_callbacks cb_;   // guarded by cb_mutex_
  // Run once the process is reaped, handle or not; guarded by cb_mutex_.
  std::vector<std::function<void()>> reaped_hooks_;
  bool hooks_ran_ = false;  // guarded by cb_mutex_

  boost::asio::posix::stream_descriptor stdin_;
  boost::asio::posix::stream_descriptor stdout_;
  boost::asio::posix::stream_descriptor stderr_;
  boost::asio::posix::stream_descriptor pidfd_desc_;
  boost::asio::steady_timer term_timer_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer drain_timer_;
  line_framer framer_;
  std::unique_ptr<char[]> out_buf_;
  std::unique_ptr<char[]> err_buf_;
  std::string stderr_tail_;
  std::size_t stderr_tail_bytes_;
  std::size_t stderr_total_ = 0;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool paused_ = false;
  bool reading_stdout_ = false;
  bool stdout_done_ = false;
  bool stderr_done_ = false;
  bool finished_ = false;
  bool spoke_ = false;  // wrote to stdout at least once (no longer "starting" in the metrics)
  exit_info exit_;
  std::shared_ptr<process_resources> resources_;  // the sandbox's, released once finished
};

}  // namespace caa::claude::detail
