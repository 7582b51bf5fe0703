#include "transport/http/listener.hpp"

#include "transport/http/correlation.hpp"
#include "transport/http/log_shim.hpp"
#include "transport/http/wire.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>

namespace caa::http {

namespace {

/// Releases one connection of the gauge when its session dies.
class gauge_slot final : public connection_slot {
 public:
  /// Counts one connection, and one of `address` unless it is empty (a trusted proxy).
  gauge_slot(std::shared_ptr<connection_gauge> g, std::string address)
      : gauge_(std::move(g)), address_(std::move(address)) {
    ++gauge_->active;
  }
  ~gauge_slot() override {
    std::lock_guard<std::mutex> guard{gauge_->mtx};
    --gauge_->active;
    if (!address_.empty())
      if (auto it = gauge_->per_address.find(address_);
          it != gauge_->per_address.end() && --it->second == 0)
        gauge_->per_address.erase(it);
    gauge_->cv.notify_all();
  }

 private:
  std::shared_ptr<connection_gauge> gauge_;
  std::string address_;
};

}  // namespace

listener::listener(net::io_context& ioc, const tcp::endpoint& endpoint,
                   std::shared_ptr<const edge_context> ctx)
    : ioc_(ioc),
      acceptor_(net::make_strand(ioc)),
      retry_timer_(acceptor_.get_executor()),
      ctx_(std::move(ctx)),
      gauge_(std::make_shared<connection_gauge>()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void listener::run() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop_accepting() {
  stopped_ = true;
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->retry_timer_.cancel();
  });
}

void listener::shutdown_sessions() {
  std::vector<std::weak_ptr<http_session>> all;
  {
    std::lock_guard<std::mutex> guard{sessions_mtx_};
    all.swap(sessions_);
  }
  for (auto& w : all)
    if (auto s = w.lock()) s->shutdown();
}

bool listener::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{gauge_->mtx};
  return gauge_->cv.wait_for(lock, timeout, [this] { return gauge_->active.load() == 0; });
}

void listener::do_accept() {
  if (stopped_) return;
  acceptor_.async_accept(net::make_strand(ioc_),
                         [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
                           self->on_accept(ec, std::move(s));
                         });
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or similar: back off briefly instead of spinning.
    log_error("accept failed", "-");
    retry_timer_.expires_after(std::chrono::milliseconds{50});
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->do_accept();
    });
    return;
  }
  if (gauge_->active.load() >= ctx_->settings.max_connections) {
    refuse(socket, with_retry_after(make_error(errc::unavailable, "max connections"),
                                    std::chrono::seconds{1}));
    return do_accept();
  }
  // One address may hold at most API_MAX_CONNECTIONS_PER_IP of them (a trusted proxy speaks
  // for many clients: it is not counted).
  boost::system::error_code peer_ec;
  auto peer = socket.remote_endpoint(peer_ec);
  std::string address = peer_ec ? std::string{} : peer.address().to_string();
  if (!address.empty() && ctx_->proxies.contains(address)) address.clear();
  bool over = false;
  if (!address.empty()) {
    std::lock_guard<std::mutex> guard{gauge_->mtx};
    auto& n = gauge_->per_address[address];
    over = n >= ctx_->settings.max_connections_per_ip;
    if (!over) ++n;
  }
  if (over) {
    refuse(socket, with_retry_after(make_error(errc::too_many_connections, "per address"),
                                    std::chrono::seconds{1}));
    return do_accept();
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto s = std::make_shared<http_session>(std::move(socket), ctx_,
                                          std::make_unique<gauge_slot>(gauge_, address));
  track(s);
  s->run();
  do_accept();
}

void listener::refuse(tcp::socket& socket, const caf::error& why) {
  auto cid = new_correlation_id();
  auto r = error_response(why, cid);
  header_list h{
      {"X-Correlation-ID", cid}, {"Connection", "close"}, {"Content-Type", r.content_type}};
  h.insert(h.end(), r.headers.begin(), r.headers.end());
  auto bytes = serialize_response(r.status, h, r.body);
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  auto peer = ec ? std::string{"-"} : endpoint.address().to_string();
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(bytes), ec);  // best effort: never wait for a refused client
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  log_request(request_summary{"-", "-", r.status, 0, cid, "", peer});
}

void listener::track(const std::shared_ptr<http_session>& s) {
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  if (sessions_.size() > 2 * gauge_->active.load() + 16)
    std::erase_if(sessions_, [](const std::weak_ptr<http_session>& w) { return w.expired(); });
  sessions_.push_back(s);
}

}  // namespace caa::http
