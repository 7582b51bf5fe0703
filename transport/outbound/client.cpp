#include "transport/outbound/client.hpp"

#include "config/settings.hpp"
#include "transport/outbound/exchange.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

namespace caa::outbound {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// The system resolver (getaddrinfo on Asio's resolver thread), answering textual addresses.
resolver_fn system_resolver(net::io_context& io) {
  return [&io](const std::string& host, const std::string& port,
               std::function<void(bool, std::vector<std::string>)> answer) {
    auto resolver = std::make_shared<tcp::resolver>(io);
    resolver->async_resolve(
        host, port, tcp::resolver::numeric_service,
        [resolver, answer = std::move(answer)](boost::system::error_code ec,
                                               const tcp::resolver::results_type& results) {
          std::vector<std::string> addresses;
          if (!ec)
            for (const auto& entry : results) {
              auto addr = entry.endpoint().address();
              // A scoped IPv6 address keeps its "%zone": `address_allowed` refuses it.
              addresses.push_back(addr.to_string());
            }
          answer(!ec, std::move(addresses));
        });
  };
}

/// The TLS client context: TLS 1.2 or later, peer verified against the system CA store.
net::ssl::context make_tls_context() {
  net::ssl::context ctx{net::ssl::context::tls_client};
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1);
  boost::system::error_code ignored;  // no store: every handshake fails verification (tls)
  ctx.set_default_verify_paths(ignored);
  ctx.set_verify_mode(net::ssl::verify_peer);
  return ctx;
}

}  // namespace

egress_policy make_egress_policy(const caa::settings& cfg) {
  egress_policy p;
  p.allow_cidrs = cfg.egress.allow_cidrs;
  p.allow_http = cfg.egress.webhook_allow_http;
  return p;
}

std::string_view to_string(failure f) noexcept {
  switch (f) {
    case failure::none:
      return "none";
    case failure::refused:
      return "refused";
    case failure::resolve:
      return "resolve";
    case failure::connect:
      return "connect";
    case failure::tls:
      return "tls";
    case failure::timeout:
      return "timeout";
    case failure::too_large:
      return "too_large";
    case failure::protocol:
      return "protocol";
  }
  return "protocol";
}

std::shared_ptr<client> client::make(net::io_context& io, egress_policy policy,
                                     resolver_fn resolver) {
  if (!resolver) resolver = system_resolver(io);
  // `core` is an aggregate: make_shared cannot brace-initialise it.
  // NOLINTNEXTLINE(modernize-make-shared)
  auto c = std::shared_ptr<core>(
      new core{io, std::move(policy), std::move(resolver), make_tls_context(), {}});
  return std::shared_ptr<client>(new client(std::move(c)));
}

client::client(std::shared_ptr<core> c) : core_(std::move(c)) {}

client::~client() = default;

void client::post(post_request req, std::function<void(post_result)> done) {
  auto parts = detail::split_url(req.url, core_->policy);
  if (std::holds_alternative<std::string>(parts)) {
    net::post(core_->io, [done = std::move(done)] {
      done(post_result{failure::refused, 0, {}, {}});
    });
    return;
  }
  auto x = std::make_shared<detail::exchange>(core_, std::get<detail::url_parts>(std::move(parts)),
                                              std::move(req), std::move(done));
  x->start();
}

uint64_t client::connections_opened() const noexcept {
  return core_->connections.load();
}

}  // namespace caa::outbound
