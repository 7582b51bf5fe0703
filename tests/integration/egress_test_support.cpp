// Helpers of the egress tests (see egress_test_support.hpp).

#include "egress_test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace caa::sandbox::testing {

namespace {

void set_timeouts(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  return sa;
}

template <class Address>
fd_guard connect_to(int family, const Address& sa, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    fd_guard fd{::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    set_timeouts(fd.get());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return fd;
    if (std::chrono::steady_clock::now() >= deadline) return fd_guard{};
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

temp_dir::temp_dir() {
  auto base = std::filesystem::temp_directory_path() / "caa-egress-XXXXXX";
  std::string buf = base.string();
  if (::mkdtemp(buf.data()) == nullptr) std::abort();
  dir_ = buf;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

fd_guard::~fd_guard() {
  if (fd_ >= 0) ::close(fd_);
}

fd_guard& fd_guard::operator=(fd_guard&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

fd_guard connect_tcp(uint16_t port, std::chrono::milliseconds wait) {
  return connect_to(AF_INET, loopback(port), wait);
}

fd_guard connect_unix(const std::string& path, std::chrono::milliseconds wait) {
  return connect_to(AF_UNIX, unix_address(path), wait);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string read_until(int fd, std::string_view needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string read_n(int fd, std::size_t n) {
  std::string out;
  out.resize(n);
  std::size_t got = 0;
  while (got < n) {
    auto r = ::recv(fd, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

std::optional<std::string> read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return out;
    if (n < 0) return std::nullopt;  // timeout
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::pair<fd_guard, uint16_t> hold_port() {
  fd_guard fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  auto sa = loopback(0);
  socklen_t len = sizeof sa;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 16) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return {fd_guard{}, 0};
  return {std::move(fd), ntohs(sa.sin_port)};
}

uint16_t free_port() {
  return hold_port().second;
}

echo_server::echo_server() {
  auto [fd, port] = hold_port();
  listener_ = std::move(fd);
  port_ = port;
  start();
}

echo_server::echo_server(const std::string& path) {
  listener_ = fd_guard{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  auto sa = unix_address(path);
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listener_.get(), 16) != 0)
    listener_ = fd_guard{};
  start();
}

echo_server::~echo_server() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void echo_server::start() {
  thread_ = std::thread{[this] {
    std::vector<std::thread> connections;
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      connections.emplace_back([this, c] { serve(c); });
    }
    for (auto& t : connections) t.join();
  }};
}

void echo_server::serve(int raw) {
  fd_guard fd{raw};
  char buf[8192];
  while (!stop_) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    auto n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) return;  // the client ended: close
    if (!send_all(fd.get(), {buf, static_cast<std::size_t>(n)})) return;
  }
}

relay_process::relay_process(uint16_t port, const std::string& socket,
                             std::vector<std::string> program) {
  std::vector<std::string> args{
      "caa-sandbox-relay", "--listen", "127.0.0.1:" + std::to_string(port),
      "--socket",          socket,     "--"};
  args.insert(args.end(), program.begin(), program.end());
  auto exe = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "caa-sandbox-relay";
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  stdout_ = fd_guard{out[0]};
  pid_ = ::fork();
  if (pid_ == 0) {  // only async-signal-safe calls: the test process has threads
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(exe.c_str(), argv.data());
    ::_exit(99);
  }
  ::close(out[1]);
}

relay_process::~relay_process() {
  if (pid_ > 0 && !wait(0ms)) {
    ::kill(pid_, SIGKILL);
    wait(5000ms);
  }
}

std::optional<int> relay_process::wait(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pid_ <= 0) return status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::string relay_process::output() {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(stdout_.get(), buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

}  // namespace caa::sandbox::testing
