#include "transport/sandbox/model_proxy.hpp"

#include "transport/sandbox/proxy_core.hpp"

#include "config/errc.hpp"

#include <openssl/rand.h>

#include <array>
#include <random>

namespace caa::sandbox {

namespace detail {

namespace {

/// The TLS client context: TLS 1.2 or later, peer verified against the system CA store.
net::ssl::context make_tls_context() {
  net::ssl::context ctx{net::ssl::context::tls_client};
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1);
  beast::error_code ignored;  // no store: every handshake fails verification (502)
  ctx.set_default_verify_paths(ignored);
  ctx.set_verify_mode(net::ssl::verify_peer);
  return ctx;
}

void add(usage_record& total, const usage_record& r) noexcept {
  total.requests += r.requests;
  total.input_tokens += r.input_tokens;
  total.output_tokens += r.output_tokens;
  total.cache_creation_input_tokens += r.cache_creation_input_tokens;
  total.cache_read_input_tokens += r.cache_read_input_tokens;
}

}  // namespace

proxy_core::proxy_core(net::io_context& ctx, upstream_config c,
                       std::function<void(const usage_record&)> report)
    : io(ctx),
      cfg(std::move(c)),
      target(split_upstream(cfg.base_url)),
      key(std::move(cfg.api_key)),
      tls(make_tls_context()),
      on_usage(std::move(report)) {
  cfg.api_key = std::string{};
}

void proxy_core::record(const usage_record& r) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& total = totals_[r.tenant_id];
    total.tenant_id = r.tenant_id;
    add(total, r);
  }
  if (on_usage) on_usage(r);
}

std::map<std::string, usage_record> proxy_core::totals() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return totals_;
}

upstream_io::upstream_io(const net::any_io_executor& ex, const upstream_target& to,
                         net::ssl::context& ctx)
    : resolver(ex) {
  if (to.tls)
    tls.emplace(ex, ctx);
  else
    plain.emplace(ex);
}

void upstream_io::close() noexcept {
  resolver.cancel();
  lowest().close();
}

}  // namespace detail

caf::error validate(const upstream_config& cfg) {
  auto target = detail::split_upstream(cfg.base_url);
  if (auto* why = std::get_if<std::string>(&target)) return make_error(errc::validation, *why);
  if (cfg.api_key.empty()) return make_error(errc::validation, "api_key is empty");
  if (cfg.connect_timeout.count() <= 0 || cfg.idle_timeout.count() <= 0)
    return make_error(errc::validation, "timeouts must be positive");
  if (cfg.max_connections == 0) return make_error(errc::validation, "max_connections is 0");
  return {};
}

std::shared_ptr<model_proxy> model_proxy::make(boost::asio::io_context& io, upstream_config cfg,
                                               std::function<void(const usage_record&)> on_usage) {
  auto core = std::make_shared<detail::proxy_core>(io, std::move(cfg), std::move(on_usage));
  return std::shared_ptr<model_proxy>(new model_proxy(std::move(core)));
}

model_proxy::model_proxy(std::shared_ptr<detail::proxy_core> core) : core_(std::move(core)) {}

model_proxy::~model_proxy() = default;

caf::expected<std::shared_ptr<void>> model_proxy::open_endpoint(std::string socket_path,
                                                                std::string placeholder,
                                                                std::string tenant_id,
                                                                std::string session_id,
                                                                int owner_uid, int owner_gid) {
  if (auto* why = std::get_if<std::string>(&core_->target))
    return make_error(errc::validation, *why);
  if (placeholder.empty()) return make_error(errc::validation, "placeholder is empty");
  auto info = std::make_shared<const detail::endpoint_info>(detail::endpoint_info{
      caa::secret{std::move(placeholder)}, std::move(tenant_id), std::move(session_id)});
  auto ep =
      std::make_shared<detail::proxy_endpoint>(core_, std::move(info), std::move(socket_path));
  if (auto err = ep->open(owner_uid, owner_gid)) return err;
  ep->start();
  // Closes its endpoint when the owner lets go.
  struct handle {
    std::shared_ptr<detail::proxy_endpoint> ep;
    ~handle() {
      if (ep) ep->close();
    }
  };
  auto h = std::make_shared<handle>();
  h->ep = std::move(ep);
  return std::shared_ptr<void>{std::move(h)};
}

std::map<std::string, usage_record> model_proxy::totals() const {
  return core_->totals();
}

std::string make_placeholder_key() {
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    std::random_device rd;  // the OS source; OpenSSL's DRBG failed
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  std::string key = "sk-ant-sandbox-";
  for (auto b : bytes) key.push_back(alphabet[b & 63u]);  // 256 = 4 * 64: unbiased
  return key;
}

}  // namespace caa::sandbox
