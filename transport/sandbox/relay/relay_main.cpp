// caa-sandbox-relay --listen HOST:PORT --socket PATH -- PROGRAM [ARGS...]
//
// Binds a TCP listener on HOST:PORT (the sandbox's own loopback), then runs PROGRAM as its child
// with the same standard streams and environment, relays every TCP connection to a new
// connection to the unix socket PATH, forwards SIGTERM, SIGINT and SIGHUP to the child and exits
// with the child's status (128 + signal when it was killed). Without a listener (the address
// cannot be bound) it still runs PROGRAM: egress then simply fails. Exit status 2: bad usage.

#include "transport/sandbox/relay/relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

namespace caa::relay {
namespace {

/// The write end of the self-pipe the signal handler reports to.
int signal_pipe = -1;

constexpr int relayed_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};

extern "C" void on_signal(int signo) {
  int saved = errno;
  auto byte = static_cast<unsigned char>(signo);
  if (::write(signal_pipe, &byte, 1) < 0) {
  }  // a full pipe already holds a wake-up
  errno = saved;
}

struct options {
  std::string_view listen;
  std::string socket_path;
  char** program = nullptr;  ///< argv of the child, null-terminated
};

std::optional<options> parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 >= argc) return std::nullopt;
      o.program = argv + i + 1;
      break;
    }
    if (i + 1 >= argc) return std::nullopt;
    if (arg == "--listen")
      o.listen = argv[++i];
    else if (arg == "--socket")
      o.socket_path = argv[++i];
    else
      return std::nullopt;
  }
  if (o.program == nullptr || o.listen.empty() || o.socket_path.empty()) return std::nullopt;
  return o;
}

void warn(const char* what, const char* why) {
  std::fprintf(stderr, "caa-sandbox-relay: %s: %s (egress unavailable)\n", what, why);
}

/// A listening, non-blocking, close-on-exec TCP socket on `addr` ("a.b.c.d:port" or
/// "[v6]:port"), or -1 (reported on stderr).
int open_listener(std::string_view addr) {
  auto colon = addr.rfind(':');
  bool v6 = addr.starts_with('[');
  std::string host{addr.substr(v6 ? 1 : 0, colon == addr.npos ? 0 : colon - (v6 ? 2 : 0))};
  unsigned port = 0;
  auto digits = colon == addr.npos ? std::string_view{} : addr.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  sockaddr_storage ss{};
  socklen_t len = 0;
  bool ok = !digits.empty() && ec == std::errc{} && end == digits.data() + digits.size() &&
            port > 0 && port < 65536 && (!v6 || addr[colon - 1] == ']');
  if (ok && v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(port));
    ok = ::inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) == 1;
    len = sizeof *sa;
  } else if (ok) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(port));
    ok = ::inet_pton(AF_INET, host.c_str(), &sa->sin_addr) == 1;
    len = sizeof *sa;
  }
  if (!ok) {
    warn("--listen", "not an address:port");
    return -1;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
    warn("cannot listen", std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

/// Runs the child (never returns in it); its pid, or -1.
pid_t spawn(char** program, const sigset_t& original_mask) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  for (int sig : relayed_signals) ::signal(sig, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the relay
  if (::getppid() != parent) ::_exit(128 + SIGKILL);
  ::execvp(program[0], program);
  int err = errno;
  std::fprintf(stderr, "caa-sandbox-relay: cannot run %s: %s\n", program[0], std::strerror(err));
  ::_exit(err == ENOENT ? 127 : 126);
}

/// Drops the relay's own copies of stdin and stdout: only the child holds them.
void release_stdio() {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, STDIN_FILENO);
  ::dup2(null, STDOUT_FILENO);
  if (null > STDERR_FILENO) ::close(null);
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

/// Handles the signals reported since the last call; the exit status once the child ended.
/// Reaps every ended child: orphans adopted by the relay (as a namespace's init) as well.
std::optional<int> on_signals(int pipe_read, pid_t child) {
  unsigned char buf[64];
  ssize_t n;
  std::optional<int> result;
  while ((n = ::read(pipe_read, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != SIGCHLD) {
        if (!result) ::kill(child, buf[i]);  // once reaped, the pid may be another's
        continue;
      }
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0)
        if (pid == child) result = exit_status(status);
    }
  return result;
}

int run(const options& o) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::perror("caa-sandbox-relay: pipe");
    return 1;
  }
  signal_pipe = pipe_fds[1];
  relay_table table{open_listener(o.listen), o.socket_path};
  sigset_t relayed, original;
  ::sigemptyset(&relayed);
  for (int sig : relayed_signals) ::sigaddset(&relayed, sig);
  ::sigprocmask(SIG_BLOCK, &relayed, &original);  // until the child's pid is known
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_NOCLDSTOP;
  ::sigemptyset(&sa.sa_mask);
  for (int sig : relayed_signals) ::sigaction(sig, &sa, nullptr);
  pid_t child = spawn(o.program, original);
  if (child < 0) {
    std::perror("caa-sandbox-relay: fork");
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);                     // after the fork: the child keeps the default
  ::sigprocmask(SIG_UNBLOCK, &relayed, nullptr);  // even if they came blocked
  release_stdio();
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back(pollfd{pipe_fds[0], POLLIN, 0});
    table.add_pollfds(fds);
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("caa-sandbox-relay: poll");
      ::kill(child, SIGKILL);
    }
    if (auto status = on_signals(pipe_fds[0], child)) return *status;
    table.on_events(fds, 1);
  }
}

}  // namespace
}  // namespace caa::relay

int main(int argc, char** argv) {
  auto o = caa::relay::parse(argc, argv);
  if (!o) {
    std::fprintf(
        stderr, "usage: caa-sandbox-relay --listen HOST:PORT --socket PATH -- PROGRAM [ARGS...]\n");
    return 2;
  }
  return caa::relay::run(*o);
}
