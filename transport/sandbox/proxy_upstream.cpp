// The upstream side of a model proxy exchange: a new connection per request (resolve, connect,
// TLS with SNI and host name verification), the rewritten request, the response header. Any
// failure before the response header is answered with a generic 502.

#include "transport/sandbox/proxy_core.hpp"

#include "config/logging.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <limits>

namespace caa::sandbox::detail {

namespace {

constexpr std::size_t max_response_header_bytes = 64u << 10;

}  // namespace

void proxy_connection::start_exchange() {
  const auto& to = std::get<upstream_target>(core_->target);  // endpoints open only then
  usage_ = usage_record{info_->tenant_id, info_->session_id, 1};
  usage_pending_ = true;
  responded_ = false;
  scanner_.reset();
  up_ = std::make_shared<upstream_io>(client_.get_executor(), to, core_->tls);
  up_->request = make_upstream_request(request_->release(), to, core_->key.reveal());
  request_.reset();
  connect_deadline_.expires_after(core_->cfg.connect_timeout);
  connect_deadline_.async_wait([self = shared_from_this(), up = up_](beast::error_code ec) {
    self->on_connect_deadline(up, ec);
  });
  up_->resolver.async_resolve(to.host, to.port, tcp::resolver::numeric_service,
                              upstream_handler(&proxy_connection::on_resolve));
}

void proxy_connection::on_connect_deadline(const std::shared_ptr<upstream_io>& up,
                                           beast::error_code ec) {
  if (ec || closed_ || up != up_ || up->connected) return;
  upstream_failed("connect timeout", beast::error::timeout);
}

void proxy_connection::on_resolve(beast::error_code ec,
                                  const tcp::resolver::results_type& results) {
  if (ec) return upstream_failed("resolve", ec);
  up_->lowest().async_connect(results, upstream_handler(&proxy_connection::on_connect));
}

void proxy_connection::on_connect(beast::error_code ec, const tcp::endpoint&) {
  if (ec) return upstream_failed("connect", ec);
  beast::error_code ignored;
  up_->lowest().socket().set_option(tcp::no_delay(true), ignored);
  if (up_->tls) return do_handshake();
  do_forward();
}

void proxy_connection::do_handshake() {
  const auto& host = std::get<upstream_target>(core_->target).host;
  beast::error_code not_literal;
  net::ip::make_address(host, not_literal);
  if (not_literal && SSL_set_tlsext_host_name(up_->tls->native_handle(), host.c_str()) != 1)
    return upstream_failed("sni", {});
  up_->tls->set_verify_mode(net::ssl::verify_peer);
  up_->tls->set_verify_callback(net::ssl::host_name_verification(host));
  up_->tls->async_handshake(net::ssl::stream_base::client,
                            upstream_handler(&proxy_connection::on_handshake));
}

void proxy_connection::on_handshake(beast::error_code ec) {
  if (ec) return upstream_failed("tls", ec);
  do_forward();
}

void proxy_connection::do_forward() {
  up_->connected = true;
  connect_deadline_.cancel();
  up_->lowest().expires_after(core_->cfg.idle_timeout);
  up_->with_stream([this](auto& stream) {
    bhttp::async_write(stream, up_->request, upstream_handler(&proxy_connection::on_forward));
  });
}

void proxy_connection::on_forward(beast::error_code ec, std::size_t) {
  if (ec) return upstream_failed("write", ec);
  do_read_head();
}

void proxy_connection::do_read_head() {
  auto& parser = up_->parser.emplace();
  parser.header_limit(max_response_header_bytes);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // relayed, never held
  up_->lowest().expires_after(core_->cfg.idle_timeout);
  up_->with_stream([this, &parser](auto& stream) {
    bhttp::async_read_header(stream, up_->buffer, parser,
                             upstream_handler(&proxy_connection::on_read_head));
  });
}

void proxy_connection::on_read_head(beast::error_code ec, std::size_t) {
  if (ec) return upstream_failed("response header", ec);
  if (up_->parser->get().result_int() < 200) return upstream_failed("interim response", {});
  do_write_head();
}

void proxy_connection::upstream_failed(std::string_view what, const beast::error_code& ec) {
  auto detail = std::string{what} + (ec ? ": " + ec.message() : std::string{});
  log::warn("model proxy upstream failed", {.component = "model_proxy",
                                            .tenant_id = info_->tenant_id,
                                            .session_id = info_->session_id,
                                            .detail = detail});
  connect_deadline_.cancel();
  if (up_) up_->close();
  up_.reset();  // its pending completions are dropped
  end_exchange();
  if (responded_) return close();
  refuse(bhttp::status::bad_gateway, "api_error", "Upstream unavailable.");
}

}  // namespace caa::sandbox::detail
