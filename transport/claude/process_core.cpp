#include "transport/claude/process_core.hpp"

#include "config/errc.hpp"
#include "config/metrics_catalog.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <cerrno>
#include <csignal>
#include <utility>

namespace caa::claude {

namespace asio = boost::asio;

namespace detail {

namespace {

constexpr std::size_t read_chunk_bytes = 128u << 10;

/// Whether `line` is something the CLI can parse as one stdin line.
caf::error check_line(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return make_error(errc::internal, "refusing a blank stdin line");
  if (line.find_first_of("\r\n") != std::string_view::npos)
    return make_error(errc::internal, "refusing a stdin line with a line break");
  if (line[first] != '{')
    return make_error(errc::internal, "refusing a stdin line that is not a JSON object");
  return {};
}

}  // namespace

process_core::process_core(asio::io_context& io, const spawned_child& child, const spawn_spec& spec,
                           process_callbacks callbacks)
    : strand_(asio::make_strand(io)),
      pid_(child.pid),
      pidfd_(child.pidfd),
      cb_(std::move(callbacks)),
      stdin_(strand_, child.stdin_fd),
      stdout_(strand_, child.stdout_fd),
      stderr_(strand_, child.stderr_fd),
      pidfd_desc_(strand_, child.pidfd),
      term_timer_(strand_),
      kill_timer_(strand_),
      drain_timer_(strand_),
      framer_(spec.max_line_bytes),
      out_buf_(new char[read_chunk_bytes]),
      err_buf_(new char[read_chunk_bytes]),
      stderr_tail_bytes_(spec.stderr_tail_bytes),
      resources_(spec.sandbox.resources) {
  metrics::agent_process_started();
}

process_core::~process_core() {
  if (reaped_.load()) return;
  // The io_context went away first: never leave a zombie behind.
  pidfd_signal(pidfd_, SIGKILL);
  ::kill(-pid_, SIGKILL);
  // Asio made the pidfd non-blocking (waitid would fail with EAGAIN): poll it first.
  pollfd exited{pidfd_, POLLIN, 0};
  while (::poll(&exited, 1, -1) < 0 && errno == EINTR) {
    // retry
  }
  siginfo_t info{};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG);
  metrics::agent_process_ended(spoke_);
  run_reaped_hooks();
}

void process_core::start() {
  asio::post(strand_, [self = shared_from_this()] {
    self->do_read_stdout();
    self->do_read_stderr();
    self->do_wait_exit();
  });
}

template <class F>
void process_core::with_callbacks(F&& f) {
  std::lock_guard<std::mutex> guard{cb_mutex_};
  if (!detached_) f(cb_);
}

// -- reading ------------------------------------------------------------------------------------

void process_core::do_read_stdout() {
  if (paused_ || stdout_done_ || reading_stdout_) return;
  reading_stdout_ = true;
  stdout_.async_read_some(
      asio::buffer(out_buf_.get(), read_chunk_bytes),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read_stdout(ec, n); });
}

void process_core::on_read_stdout(error_code ec, std::size_t n) {
  reading_stdout_ = false;
  if (n > 0 && !std::exchange(spoke_, true)) metrics::agent_process_spoke();
  if (n > 0) {
    with_callbacks([&](process_callbacks& cb) {
      if (!cb.on_lines) {
        framer_.feed({out_buf_.get(), n}, cb.on_line, cb.on_oversized);
        return;
      }
      std::vector<std::string> lines;
      framer_.feed(
          {out_buf_.get(), n}, [&lines](std::string line) { lines.push_back(std::move(line)); },
          cb.on_oversized);
      if (!lines.empty()) cb.on_lines(std::move(lines));
    });
  }
  if (ec == asio::error::operation_aborted && paused_ && stdout_.is_open())
    return;  // cancelled by pause_reading; resume_reading re-arms
  if (ec) {
    stdout_done_ = true;
    maybe_finish();
    return;
  }
  do_read_stdout();
}

void process_core::do_read_stderr() {
  stderr_.async_read_some(
      asio::buffer(err_buf_.get(), read_chunk_bytes),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read_stderr(ec, n); });
}

void process_core::on_read_stderr(error_code ec, std::size_t n) {
  stderr_total_ += n;
  stderr_tail_.append(err_buf_.get(), n);
  if (stderr_tail_.size() > 2 * stderr_tail_bytes_ + read_chunk_bytes)
    stderr_tail_.erase(0, stderr_tail_.size() - stderr_tail_bytes_);
  if (ec) {
    stderr_done_ = true;
    maybe_finish();
    return;
  }
  do_read_stderr();
}

void process_core::set_paused(bool paused) {
  asio::post(strand_, [self = shared_from_this(), paused] {
    self->paused_ = paused;
    if (paused && self->reading_stdout_) {
      error_code ignored;
      self->stdout_.cancel(ignored);  // hold back even the read in flight
    }
    self->do_read_stdout();
  });
}

// -- exit ---------------------------------------------------------------------------------------

void process_core::do_wait_exit() {
  pidfd_desc_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self = shared_from_this()](error_code ec) { self->on_exit_ready(ec); });
}

void process_core::on_exit_ready(error_code ec) {
  siginfo_t info{};
  auto pidfd = static_cast<id_t>(pidfd_);
  if (::waitid(P_PIDFD, pidfd, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    // ECHILD: someone else reaped it (a waitpid(-1) elsewhere); its status is lost.
    info = siginfo_t{};
  } else if (info.si_pid == 0) {
    if (ec != asio::error::operation_aborted) do_wait_exit();  // spurious wake-up
    return;
  } else {
    // Still a zombie, so its process group id cannot have been reused: clear the group, reap.
    ::kill(-pid_, SIGKILL);
    ::waitid(P_PIDFD, pidfd, &info, WEXITED | WNOHANG);
  }
  reaped_ = true;
  run_reaped_hooks();
  if (info.si_code == CLD_EXITED)
    exit_.exit_code = info.si_status;
  else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)
    exit_.signal = info.si_status;
  metrics::cli_exited(exit_.exit_code >= 0 ? exit_.exit_code
                      : exit_.signal > 0   ? 128 + exit_.signal
                                           : -1);
  metrics::agent_process_ended(std::exchange(spoke_, true));
  term_timer_.cancel();
  kill_timer_.cancel();
  stdin_open_ = false;
  do_close_stdin();  // after this the reactor no longer touches the buffer in flight
  drop_queue();
  arm_drain_timer();
  maybe_finish();
}

void process_core::arm_drain_timer() {
  drain_timer_.expires_after(exit_drain_timeout);
  drain_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->finished_) return;
    if (self->paused_) {
      self->arm_drain_timer();  // the reader decides when stdout is consumed
      return;
    }
    error_code ignored;
    self->stdout_.close(ignored);  // a leaked grandchild holds the pipe open
    self->stderr_.close(ignored);
  });
}

void process_core::maybe_finish() {
  if (finished_ || !reaped_ || !stdout_done_ || !stderr_done_) return;
  finished_ = true;
  drain_timer_.cancel();
  if (stderr_tail_.size() > stderr_tail_bytes_)
    stderr_tail_.erase(0, stderr_tail_.size() - stderr_tail_bytes_);
  exit_.stderr_tail = std::move(stderr_tail_);
  exit_.stderr_bytes = stderr_total_;
  if (resources_) {
    exit_.cap_hit = resources_->cap_hit();
    resources_.reset();  // the tree is gone: its cgroup, proxy endpoint and files go with it
  }
  with_callbacks([&](process_callbacks& cb) {
    if (cb.on_lines)
      framer_.finish([&cb](std::string line) { cb.on_lines({std::move(line)}); });
    else
      framer_.finish(cb.on_line);
    if (cb.on_exit) cb.on_exit(std::move(exit_));
  });
}

// -- writing ------------------------------------------------------------------------------------

caf::error process_core::write_line(std::string json) {
  if (auto err = check_line(json)) return err;
  if (!stdin_open_.load())
    return make_error(errc::agent_error, "stdin of the agent process is closed");
  auto size = json.size() + 1;
  if (queued_bytes_.fetch_add(size) + size > max_queued_bytes) {
    queued_bytes_ -= size;
    return make_error(errc::agent_error, "too much data queued for the agent process");
  }
  json.push_back('\n');
  asio::post(strand_, [self = shared_from_this(), line = std::move(json)]() mutable {
    if (self->close_requested_ || self->reaped_ || !self->stdin_.is_open()) {
      self->queued_bytes_ -= line.size();
      return;
    }
    self->queue_.push_back(std::move(line));
    if (!self->writing_) self->do_write();
  });
  return {};
}

void process_core::do_write() {
  writing_ = true;
  asio::async_write(
      stdin_, asio::buffer(queue_.front()),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_write(ec, n); });
}

void process_core::on_write(error_code ec, std::size_t) {
  writing_ = false;
  if (!queue_.empty()) {
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
  }
  if (ec) {  // EPIPE: the CLI is gone; its exit is reported through the pidfd
    stdin_open_ = false;
    do_close_stdin();
    drop_queue();
    return;
  }
  if (!queue_.empty())
    do_write();
  else if (close_requested_)
    do_close_stdin();
}

void process_core::drop_queue() {
  // The line of a write in flight stays until its handler runs: its buffer is still in use.
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().size();
    queue_.pop_back();
  }
}

void process_core::close_stdin() {
  stdin_open_ = false;
  asio::post(strand_, [self = shared_from_this()] {
    self->close_requested_ = true;
    if (!self->writing_) self->do_close_stdin();
  });
}

void process_core::do_close_stdin() {
  error_code ignored;
  stdin_.close(ignored);
}

// -- signals ------------------------------------------------------------------------------------

void process_core::signal_group(int sig) {
  if (!reaped_) ::kill(-pid_, sig);
}

void process_core::do_kill() {
  if (reaped_) return;
  pidfd_signal(pidfd_, SIGKILL);  // bubblewrap: takes the whole PID namespace
  signal_group(SIGKILL);
}

void process_core::stop(std::chrono::milliseconds grace, std::chrono::milliseconds kill_after) {
  close_stdin();
  asio::post(strand_, [self = shared_from_this(), grace, kill_after] {
    if (self->reaped_) return;
    self->term_timer_.expires_after(grace);
    self->term_timer_.async_wait([self, kill_after](error_code ec) {
      if (ec || self->reaped_) return;
      self->signal_group(SIGTERM);
      self->kill_timer_.expires_after(kill_after);
      self->kill_timer_.async_wait([self](error_code ec) {
        if (!ec) self->do_kill();
      });
    });
  });
}

void process_core::kill() {
  if (!reaped_) pidfd_signal(pidfd_, SIGKILL);
  asio::post(strand_, [self = shared_from_this()] { self->do_kill(); });
}

void process_core::when_reaped(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> guard{cb_mutex_};
    if (!hooks_ran_) {
      reaped_hooks_.push_back(std::move(f));
      return;
    }
  }
  f();  // reaped already
}

void process_core::run_reaped_hooks() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> guard{cb_mutex_};
    hooks_ran_ = true;
    hooks.swap(reaped_hooks_);
  }
  for (auto& f : hooks) f();
}

void process_core::detach() {
  {
    std::lock_guard<std::mutex> guard{cb_mutex_};
    detached_ = true;
    cb_ = process_callbacks{};
  }
  stdin_open_ = false;
  kill();
}

}  // namespace detail

}  // namespace caa::claude
