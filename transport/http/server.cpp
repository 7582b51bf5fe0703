#include "transport/http/server.hpp"

#include "transport/http/listener.hpp"
#include "transport/http/log_shim.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <mutex>
#include <system_error>
#include <thread>

namespace caa::http {

struct server::impl {
  impl(const http_settings& s, router r, authenticator& a, rate_limiter& l, edge_options o)
      : ioc(static_cast<int>(std::max(1u, s.io_threads))),
        ctx(std::make_shared<edge_context>(
            edge_context{s, std::move(r), a, l, cors_policy{s.cors_origins},
                         trusted_proxies{s.trusted_proxies}, o,
                         o.auth_failures_per_minute > 0
                             ? std::make_shared<auth_throttle>(o.auth_failures_per_minute)
                             : nullptr})) {}

  /// Runs the io_context on this thread until it is stopped.
  void run_io() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (...) {
        log_error("an exception escaped an I/O handler", "-");
      }
    }
  }

  net::io_context ioc;
  std::shared_ptr<const edge_context> ctx;
  std::shared_ptr<listener> lst;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::mutex mtx;
  bool started = false;
  bool stopped = false;
};

server::server(const http_settings& settings, router routes, authenticator& auth,
               rate_limiter& limiter, edge_options options)
    : impl_(std::make_unique<impl>(settings, std::move(routes), auth, limiter, options)) {}

server::~server() {
  stop();
}

void server::start() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (impl_->started) return;
  const auto& s = impl_->ctx->settings;
  try {
    tcp::endpoint ep{net::ip::make_address(s.host), s.port};
    impl_->lst = std::make_shared<listener>(impl_->ioc, ep, impl_->ctx);
  } catch (const boost::system::system_error& e) {
    throw std::system_error(e.code().value(), std::system_category(),
                            "cannot listen on " + s.host + ":" + std::to_string(s.port));
  }
  impl_->started = true;
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->lst->run();
  for (unsigned i = 0; i < std::max(1u, s.io_threads); ++i)
    impl_->threads.emplace_back([this] { impl_->run_io(); });
}

uint16_t server::port() const noexcept {
  return impl_->lst ? impl_->lst->port() : 0;
}

void server::stop_accepting() {
  if (impl_->lst) impl_->lst->stop_accepting();
}

void server::stop() {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  impl_->lst->stop_accepting();
  impl_->lst->shutdown_sessions();
  if (!impl_->lst->wait_idle(impl_->ctx->options.stop_grace))
    log_error("stop: connections still busy after the grace period", "-");
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

std::size_t server::connections() const noexcept {
  return impl_->lst ? impl_->lst->connections() : 0;
}

}  // namespace caa::http
