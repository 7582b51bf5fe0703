// One endpoint of the model proxy: a unix socket created for one sandboxed process (mode 0600,
// optionally chown'ed to the sandbox user), its accept loop, its connection cap and its teardown.

#include "transport/sandbox/proxy_core.hpp"

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

/// What a client over the connection cap gets before its connection is closed.
constexpr std::string_view busy_response =
    "HTTP/1.1 529 Overloaded\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: 91\r\n\r\n"
    R"({"type":"error","error":{"type":"overloaded_error",)"
    R"("message":"Too many open connections."}})";
static_assert(busy_response.size() - busy_response.find("\r\n\r\n") - 4 == 91);

beast::error_code last_error() noexcept {
  return {errno, boost::system::system_category()};
}

}  // namespace

proxy_endpoint::proxy_endpoint(std::shared_ptr<proxy_core> core,
                               std::shared_ptr<const endpoint_info> info, std::string path)
    : core_(std::move(core)),
      info_(std::move(info)),
      path_(std::move(path)),
      acceptor_(net::make_strand(core_->io)),
      retry_(acceptor_.get_executor()),
      active_(std::make_shared<std::atomic<std::size_t>>(0)) {}

caf::error proxy_endpoint::open(int uid, int gid) {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(errc::validation, "socket path is empty or too long");
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && ::unlink(path_.c_str()) != 0)
    return fail("unlink", last_error());
  beast::error_code ec;
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

caf::error proxy_endpoint::fail(std::string_view what, const beast::error_code& ec) {
  beast::error_code ignored;
  acceptor_.close(ignored);
  struct stat st {};
  if (ino_ != 0 && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
  return make_error(errc::unavailable,
                    "model proxy socket " + std::string{what} + ": " + ec.message());
}

void proxy_endpoint::start() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void proxy_endpoint::close() {
  std::vector<std::weak_ptr<proxy_connection>> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
    closed_ = true;
    all.swap(connections_);
  }
  // Only the file this endpoint created: a later endpoint may have replaced it.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
  });
  for (auto& weak : all)
    if (auto c = weak.lock()) c->shutdown();
}

void proxy_endpoint::do_accept() {
  acceptor_.async_accept(net::make_strand(core_->io),
                         [self = shared_from_this()](beast::error_code ec, local::socket s) {
                           self->on_accept(ec, std::move(s));
                         });
}

void proxy_endpoint::on_accept(beast::error_code ec, local::socket socket) {
  if (ec == net::error::operation_aborted) return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
  }
  if (ec) {  // out of descriptors or similar: back off instead of spinning
    log::warn(
        "model proxy accept failed",
        {.component = "model_proxy", .session_id = info_->session_id, .detail = ec.message()});
    retry_.expires_after(std::chrono::milliseconds{50});
    retry_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e) self->do_accept();
    });
    return;
  }
  serve(std::move(socket));
  do_accept();
}

void proxy_endpoint::serve(local::socket socket) {
  if (active_->load() >= core_->cfg.max_connections) {
    beast::error_code ignored;  // best effort: never wait for a refused client
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(busy_response), ignored);
    socket.close(ignored);
    return;
  }
  auto c = std::make_shared<proxy_connection>(std::move(socket), core_, info_, active_);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_) return;
    if (connections_.size() > 2 * active_->load() + 16)
      std::erase_if(connections_, [](const auto& w) { return w.expired(); });
    connections_.push_back(c);
  }
  c->run();
}

}  // namespace caa::sandbox::detail
