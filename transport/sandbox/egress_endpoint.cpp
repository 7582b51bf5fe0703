// One endpoint of the egress proxy: a unix socket created for one sandboxed process (mode 0600,
// optionally chown'ed to the sandbox user), its accept loop, its tunnel cap and its teardown.

#include "transport/sandbox/egress_core.hpp"

#include "config/errc.hpp"
#include "config/logging.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

namespace caa::sandbox::detail {

namespace {

/// What a client over the tunnel cap gets before its connection is closed.
constexpr std::string_view busy_response =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    "Content-Length: 24\r\n\r\ntoo many open tunnels.\r\n";
static_assert(busy_response.size() - busy_response.find("\r\n\r\n") - 4 == 24);

error_code last_error() noexcept {
  return {errno, boost::system::system_category()};
}

}  // namespace

egress_endpoint::egress_endpoint(std::shared_ptr<const egress_core> core, std::string tenant_id,
                                 std::string path)
    : core_(std::move(core)),
      tenant_id_(std::make_shared<const std::string>(std::move(tenant_id))),
      path_(std::move(path)),
      acceptor_(net::make_strand(core_->io)),
      retry_(acceptor_.get_executor()),
      active_(std::make_shared<std::atomic<std::size_t>>(0)) {}

caf::error egress_endpoint::open(int uid, int gid) {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(errc::validation, "socket path is empty or too long");
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && ::unlink(path_.c_str()) != 0)
    return fail("unlink", last_error());
  error_code ec;
  acceptor_.open(local{}, ec);
  if (ec) return fail("open", ec);
  // Linux creates the file with the socket's own mode (less the umask): never wider than 0600.
  ::fchmod(acceptor_.native_handle(), 0600);
  acceptor_.bind(local::endpoint{path_}, ec);
  if (ec) return fail("bind", ec);
  if (::lstat(path_.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return fail("stat", last_error());
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (::chmod(path_.c_str(), 0600) != 0) return fail("chmod", last_error());
  if ((uid != -1 || gid != -1) &&
      ::lchown(path_.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
    return fail("chown", last_error());
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen", ec);
  return {};
}

caf::error egress_endpoint::fail(std::string_view what, const error_code& ec) {
  error_code ignored;
  acceptor_.close(ignored);
  struct stat st {};
  if (ino_ != 0 && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
  return make_error(errc::unavailable,
                    "egress proxy socket " + std::string{what} + ": " + ec.message());
}

void egress_endpoint::start() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void egress_endpoint::close() {
  std::vector<std::weak_ptr<egress_tunnel>> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
    closed_ = true;
    all.swap(tunnels_);
  }
  // Only the file this endpoint created: a later endpoint may have replaced it.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
  });
  for (auto& weak : all)
    if (auto t = weak.lock()) t->shutdown();
}

void egress_endpoint::do_accept() {
  acceptor_.async_accept(net::make_strand(core_->io),
                         [self = shared_from_this()](error_code ec, local::socket s) {
                           self->on_accept(ec, std::move(s));
                         });
}

void egress_endpoint::on_accept(error_code ec, local::socket socket) {
  if (ec == net::error::operation_aborted) return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
  }
  if (ec) {  // out of descriptors or similar: back off instead of spinning
    log::warn("egress proxy accept failed",
              {.component = "egress_proxy", .tenant_id = *tenant_id_, .detail = ec.message()});
    retry_.expires_after(std::chrono::milliseconds{50});
    retry_.async_wait([self = shared_from_this()](error_code e) {
      if (!e) self->do_accept();
    });
    return;
  }
  serve(std::move(socket));
  do_accept();
}

void egress_endpoint::serve(local::socket socket) {
  if (active_->load() >= core_->cfg.max_tunnels) {
    log::info("egress refused", {.component = "egress_proxy",
                                 .status = 503,
                                 .tenant_id = *tenant_id_,
                                 .detail = "too many open tunnels"});
    error_code ignored;  // best effort: never wait for a refused client
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(busy_response), ignored);
    socket.close(ignored);
    return;
  }
  auto t = std::make_shared<egress_tunnel>(std::move(socket), core_, tenant_id_, active_);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
    if (tunnels_.size() > 2 * active_->load() + 16)
      std::erase_if(tunnels_, [](const auto& w) { return w.expired(); });
    tunnels_.push_back(t);
  }
  t->run();
}

}  // namespace caa::sandbox::detail
