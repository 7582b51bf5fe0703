#include "transport/claude/spawn.hpp"

#include "config/errc.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include <string>
#include <utility>
#include <vector>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace caa::claude {

namespace {

/// Which child step failed, written with its errno to the error pipe.
enum class child_step : int { pdeathsig = 1, dup2, close_fds, chdir, exec, cgroup, drop };

const char* step_name(int step) {
  switch (static_cast<child_step>(step)) {
    case child_step::pdeathsig:
      return "prctl";
    case child_step::dup2:
      return "dup2";
    case child_step::close_fds:
      return "close_range";
    case child_step::chdir:
      return "chdir";
    case child_step::exec:
      return "execve";
    case child_step::cgroup:
      return "cgroup join";
    case child_step::drop:
      return "privilege drop";
  }
  return "child";
}

/// Owns an fd until released.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

caf::error sys_error(const char* what, int err) {
  return make_error(errc::agent_error, std::string{what} + ": " + std::strerror(err));
}

/// A close-on-exec pipe whose ends are both >= 3 (so dup2 onto 0..2 never aliases them).
caf::error make_pipe(fd_guard& read_end, fd_guard& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_error("pipe2", errno);
  read_end.fd = fds[0];
  write_end.fd = fds[1];
  for (auto* g : {&read_end, &write_end}) {
    if (g->fd >= 3) continue;
    int moved = ::fcntl(g->fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return sys_error("fcntl", errno);
    ::close(g->fd);
    g->fd = moved;
  }
  return {};
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
      ::signal(SIGPIPE, SIG_IGN);  // a write to a dead CLI must be EPIPE, not death
  });
}

/// Reports a failed child step to the parent and exits. Async-signal-safe.
[[noreturn]] void child_fail(int err_fd, child_step step) {
  int msg[2] = {static_cast<int>(step), errno};
  [[maybe_unused]] auto n = ::write(err_fd, msg, sizeof(msg));
  ::_exit(127);
}

/// What the child needs, on the parent's side of the shared memory.
struct child_args {
  pid_t parent;
  int in_fd, out_fd, err_out_fd, err_fd;
  const char* cwd;
  char* const* argv;
  char* const* envp;
  const sandbox_plan* sandbox;  ///< null: run as the service's own user
};

/// Joins the per-session cgroups, then becomes the tenant's unprivileged uid for good: no
/// supplementary groups, gid and uid in all three slots (the kernel clears every capability),
/// no_new_privs, the file size cap. Raw syscalls only: glibc's set*id wrappers would broadcast
/// the change to the threads of the parent, whose memory this child shares.
void confine(const sandbox_plan& sb, int err_fd) {
  for (int fd : sb.cgroup_fds)
    if (::write(fd, "0", 1) != 1) child_fail(err_fd, child_step::cgroup);
  // A service that is not root already runs unprivileged: nothing to drop but privileges.
  bool drop = ::syscall(SYS_geteuid) != static_cast<long>(sb.uid);
  if (drop && (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
               ::syscall(SYS_setresgid, sb.gid, sb.gid, sb.gid) != 0 ||
               ::syscall(SYS_setresuid, sb.uid, sb.uid, sb.uid) != 0))
    child_fail(err_fd, child_step::drop);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(err_fd, child_step::drop);
  if (sb.file_size_limit > 0) {
    struct rlimit lim {
      sb.file_size_limit, sb.file_size_limit
    };
    if (::syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &lim, nullptr) != 0)
      child_fail(err_fd, child_step::drop);
  }
}

/// Everything in the child before exec: async-signal-safe calls only, and no writes to memory
/// but its own stack (it shares the parent's memory until exec, see `start_child`).
[[noreturn]] void run_child(const child_args& a) {
  ::setsid();
  // Before PR_SET_PDEATHSIG: a change of credentials clears it.
  if (a.sandbox != nullptr) confine(*a.sandbox, a.err_fd);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(a.err_fd, child_step::pdeathsig);
  if (::getppid() != a.parent) ::_exit(127);  // the parent died before prctl took effect
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for reserved signals
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(a.in_fd, 0) < 0 || ::dup2(a.out_fd, 1) < 0 || ::dup2(a.err_out_fd, 2) < 0)
    child_fail(a.err_fd, child_step::dup2);
  // Every other fd closes at exec; the error pipe stays open until exec succeeds.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    child_fail(a.err_fd, child_step::close_fds);
  if (::chdir(a.cwd) != 0) child_fail(a.err_fd, child_step::chdir);
  ::execve(a.argv[0], a.argv, a.envp);
  child_fail(a.err_fd, child_step::exec);
}

int child_entry(void* p) {
  run_child(*static_cast<const child_args*>(p));
}

/// Starts the child. Normally as vfork does (`clone` with CLONE_VM | CLONE_VFORK, on a stack of
/// its own, all signals blocked around it, like glibc's posix_spawn): the parent's page tables
/// are not copied and its pages are not made copy-on-write. A fork() of a service with a few
/// hundred MB and many threads cost about a fifth of its CPU at 1,000 streams (page-table
/// copies, COW faults and TLB shootdowns in every thread). Under AddressSanitizer a plain fork:
/// the child's instrumented frames would poison shadow memory the parent shares.
pid_t start_child(child_args& args) {
#if defined(__SANITIZE_ADDRESS__)
  pid_t pid = ::fork();
  if (pid == 0) child_entry(&args);
  return pid;
#else
  constexpr std::size_t stack_size = 256 * 1024;
  void* stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(child_entry, static_cast<char*>(stack) + stack_size,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(stack, stack_size);  // the child has exec'd or exited: CLONE_VFORK waited for it
  errno = saved;
  return pid;
#endif
}

/// NULL-terminated pointer array over `xs` (which must outlive it).
std::vector<char*> c_strings(std::vector<std::string>& xs) {
  std::vector<char*> out;
  out.reserve(xs.size() + 1);
  for (auto& x : xs) out.push_back(x.data());
  out.push_back(nullptr);
  return out;
}

/// Blocks until exec succeeded (EOF) or the child reported a failed step.
caf::error await_exec(int err_fd, pid_t pid) {
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(err_fd, msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return {};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // retry
  }
  if (n != static_cast<ssize_t>(sizeof(msg)))
    return make_error(errc::agent_error, "child failed before exec");
  return sys_error(step_name(msg[0]), msg[1]);
}

}  // namespace

bool pidfd_signal(int pidfd, int sig) noexcept {
  return pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U) == 0;
}

caf::expected<spawned_child> spawn_child(const spawn_spec& spec) {
  auto argv_strings = exec_argv(spec);
  auto env_strings = spec.env;
  if (argv_strings.empty() || argv_strings.front().empty())
    return make_error(errc::agent_error, "empty argv");
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);
  // Sandboxed, bwrap's --chdir sets the working directory inside; the host path may not even
  // be reachable by the tenant's uid.
  std::string cwd = spec.cwd.empty() || spec.sandbox.enabled ? std::string{"/"} : spec.cwd;
  fd_guard in_r, in_w, out_r, out_w, errout_r, errout_w, exec_r, exec_w;
  for (auto [r, w] :
       {std::pair{&in_r, &in_w}, {&out_r, &out_w}, {&errout_r, &errout_w}, {&exec_r, &exec_w}})
    if (auto err = make_pipe(*r, *w)) return err;
  ignore_sigpipe_once();
  child_args args{::getpid(),  in_r.fd,     out_w.fd,
                  errout_w.fd, exec_w.fd,   cwd.c_str(),
                  argv.data(), envp.data(), spec.sandbox.enabled ? &spec.sandbox : nullptr};
  pid_t pid = start_child(args);
  if (pid < 0) return sys_error("clone", errno);
  for (auto* g : {&in_r, &out_w, &errout_w, &exec_w}) ::close(g->release());
  if (auto err = await_exec(exec_r.fd, pid)) return err;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
  if (pidfd < 0) {
    auto err = sys_error("pidfd_open", errno);
    ::kill(pid, SIGKILL);  // not reaped yet: the pid is still ours
    ::waitpid(pid, nullptr, 0);
    return err;
  }
  for (int fd : {in_w.fd, out_r.fd, errout_r.fd})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return spawned_child{pid, pidfd, in_w.release(), out_r.release(), errout_r.release()};
}

}  // namespace caa::claude
