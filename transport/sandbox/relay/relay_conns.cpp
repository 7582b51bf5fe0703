// The connections of caa-sandbox-relay: accept, connect to the unix socket, then move bytes both
// ways through one bounded buffer per direction (a read only into an empty buffer, writes until
// it is empty). An end of stream is passed on as a half-close; a side that hung up or failed
// takes the direction towards it down with it, and the other direction still drains.

#include "transport/sandbox/relay/relay.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace caa::relay {

/// One relayed connection: side 0 is the TCP client, side 1 the unix socket.
struct relay_table::conn {
  /// One direction: bytes read from side `from`, not yet written to the other side.
  struct flow {
    std::array<char, buffer_bytes> buf{};
    std::size_t begin = 0;
    std::size_t end = 0;
    bool eof = false;        ///< the source ended (or failed)
    bool shut = false;       ///< the end was passed on to the sink
    bool abandoned = false;  ///< the sink is gone: nothing more moves this way
    bool empty() const noexcept { return begin == end; }
    bool finished() const noexcept { return shut || abandoned; }
  };

  ~conn() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }

  /// What to wait for on `side`.
  short events(std::size_t side) const noexcept {
    if (side == 1 && connecting) return POLLOUT;
    short ev = 0;
    const auto& out = flows[side];
    const auto& in = flows[1 - side];
    if (!out.eof && !out.abandoned && out.empty()) ev |= POLLIN;
    if (!in.empty() && !in.abandoned) ev |= POLLOUT;
    return ev;
  }
  /// Whether the connection can be closed.
  bool done() const noexcept { return failed || (flows[0].finished() && flows[1].finished()); }
  /// `side` hung up or failed: nothing more can be written to it.
  void lose(std::size_t side) noexcept {
    gone[side] = true;
    auto& in = flows[1 - side];
    in.abandoned = true;
    in.begin = in.end = 0;
  }
  void read_from(std::size_t side) noexcept;
  void write_to(std::size_t side) noexcept;
  void pass_end(std::size_t side) noexcept;

  std::array<int, 2> fd{-1, -1};
  std::array<bool, 2> gone{false, false};  ///< the side hung up or failed
  std::array<flow, 2> flows;               ///< [0] TCP -> unix, [1] unix -> TCP
  bool connecting = false;                 ///< the unix connect is in progress
  bool failed = false;                     ///< the unix connect failed
};

namespace {

bool transient(int err) noexcept {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

}  // namespace

void relay_table::conn::read_from(std::size_t side) noexcept {
  auto& f = flows[side];
  if (f.eof || f.abandoned || !f.empty()) return;
  auto n = ::recv(fd[side], f.buf.data(), f.buf.size(), 0);
  if (n > 0) {
    f.begin = 0;
    f.end = static_cast<std::size_t>(n);
  } else if (n == 0) {
    f.eof = true;
  } else if (!transient(errno)) {
    f.eof = true;
    lose(side);
  }
}

void relay_table::conn::write_to(std::size_t side) noexcept {
  auto& f = flows[1 - side];
  if (f.empty() || f.abandoned || (side == 1 && connecting)) return;
  auto n = ::send(fd[side], f.buf.data() + f.begin, f.end - f.begin, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) {
    f.begin += static_cast<std::size_t>(n);
    if (f.empty()) f.begin = f.end = 0;
  } else if (n < 0 && !transient(errno)) {
    lose(side);
  }
}

void relay_table::conn::pass_end(std::size_t side) noexcept {
  auto& f = flows[side];
  if (!f.eof || !f.empty() || f.finished() || (side == 0 && connecting)) return;
  ::shutdown(fd[1 - side], SHUT_WR);
  f.shut = true;
}

relay_table::relay_table(int listener, std::string socket_path)
    : listener_(listener), path_(std::move(socket_path)) {}

relay_table::~relay_table() {
  conns_.clear();
  if (listener_ >= 0) ::close(listener_);
}

void relay_table::add_pollfds(std::vector<pollfd>& fds) const {
  fds.push_back(pollfd{listener_, POLLIN, 0});  // a negative descriptor is ignored by poll
  for (const auto& c : conns_)
    for (std::size_t side = 0; side < 2; ++side) {
      auto ev = c->events(side);
      // Hang-up is reported whatever is asked: a side that already hung up and has nothing
      // to do now is left out, or poll would return at once forever.
      fds.push_back(pollfd{ev == 0 && c->gone[side] ? -1 : c->fd[side], ev, 0});
    }
}

void relay_table::on_events(const std::vector<pollfd>& fds, std::size_t first) {
  auto at = first + 1;
  for (auto& c : conns_) {
    step(*c, fds[at].revents, fds[at + 1].revents);
    at += 2;
  }
  std::erase_if(conns_, [](const auto& c) { return c->done(); });
  if (fds[first].revents & POLLIN) accept_all();
}

void relay_table::step(conn& c, short tcp_events, short unix_events) {
  std::array<short, 2> rev{tcp_events, unix_events};
  if (c.connecting && (rev[1] & (POLLOUT | POLLERR | POLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      c.failed = true;
      return;
    }
    c.connecting = false;
    rev[1] = 0;
  }
  for (std::size_t side = 0; side < 2; ++side)
    if (rev[side] & (POLLHUP | POLLERR)) c.lose(side);
  for (std::size_t side = 0; side < 2; ++side)
    if (rev[side] & (POLLIN | POLLHUP | POLLERR)) c.read_from(side);
  for (std::size_t side = 0; side < 2; ++side) c.write_to(side);
  for (std::size_t side = 0; side < 2; ++side) c.pass_end(side);
}

void relay_table::accept_all() {
  for (int i = 0; i < 16; ++i) {
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;  // none left (or an error: tried again on the next readiness)
    if (conns_.size() >= max_connections) {
      ::close(client);
      continue;
    }
    open(client);
  }
}

void relay_table::open(int client) {
  auto c = std::make_unique<conn>();
  c->fd[0] = client;
  int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) return;  // the client sees its connection closed
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  c->fd[1] = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd[1] < 0) return;
  if (::connect(c->fd[1], reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return;  // no proxy listening (or its backlog is full)
    c->connecting = true;
  }
  conns_.push_back(std::move(c));
}

}  // namespace caa::relay
