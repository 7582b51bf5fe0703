// One tunnel of the egress proxy, up to the splice: the request head, the allow-list, the
// resolution and its address check, the connection to the target, local answers, deadlines.

#include "transport/sandbox/egress_core.hpp"

#include "config/logging.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace caa::sandbox::detail {

namespace {

/// The most bytes of a request head (request line and fields).
constexpr std::size_t max_head_bytes = 8192;

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

/// What the client reads in the body of a refusal (for the agent and its user).
std::string_view explanation(unsigned status) noexcept {
  switch (status) {
    case 403:
      return "egress to this destination is not allowed in this sandbox\n";
    case 405:
      return "this proxy only tunnels: use it as an HTTPS proxy (CONNECT host:port)\n";
    case 502:
      return "the destination could not be resolved or reached\n";
    case 504:
      return "connecting to the destination timed out\n";
    default:
      return "malformed or oversized proxy request\n";
  }
}

std::string refusal(unsigned status) {
  auto body = explanation(status);
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string{reason_phrase(status)};
  out += "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ";
  out += std::to_string(body.size());
  if (status == 405) out += "\r\nAllow: CONNECT";
  out += "\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

egress_tunnel::egress_tunnel(local::socket client, std::shared_ptr<const egress_core> core,
                             std::shared_ptr<const std::string> tenant_id,
                             std::shared_ptr<std::atomic<std::size_t>> active)
    : core_(std::move(core)),
      tenant_id_(std::move(tenant_id)),
      active_(std::move(active)),
      client_(std::move(client)),
      upstream_(client_.get_executor()),
      resolver_(client_.get_executor()),
      timer_(client_.get_executor()) {
  ++*active_;
}

egress_tunnel::~egress_tunnel() {
  --*active_;
}

void egress_tunnel::run() {
  net::post(client_.get_executor(), [self = shared_from_this()] { self->do_read_head(); });
}

void egress_tunnel::shutdown() {
  net::post(client_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void egress_tunnel::do_read_head() {
  if (phase_ != phase::head) return;
  arm(core_->cfg.head_timeout);
  net::async_read_until(
      client_, net::dynamic_buffer(head_, max_head_bytes), "\r\n\r\n",
      [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read_head(ec, n); });
}

void egress_tunnel::on_read_head(error_code ec, std::size_t n) {
  if (phase_ != phase::head) return;
  if (ec == net::error::not_found) return refuse(431, "request head too large");
  if (ec) return close();  // the client went away
  head_size_ = n;
  auto parsed = parse_connect(std::string_view{head_}.substr(0, n));
  if (auto* status = std::get_if<unsigned>(&parsed))
    return refuse(*status, *status == 405 ? "not a CONNECT request" : "malformed request");
  target_ = std::move(std::get<connect_target>(parsed));
  if (!egress_allowed(core_->cfg.allow, target_.host, target_.port))
    return refuse(403, "not on the allow-list");
  do_resolve();
}

void egress_tunnel::do_resolve() {
  phase_ = phase::connecting;
  arm(core_->cfg.connect_timeout);
  resolver_.async_resolve(
      target_.host, std::to_string(target_.port), tcp::resolver::numeric_service,
      [self = shared_from_this()](error_code ec, const tcp::resolver::results_type& results) {
        self->on_resolve(ec, results);
      });
}

void egress_tunnel::on_resolve(error_code ec, const tcp::resolver::results_type& results) {
  if (phase_ != phase::connecting) return;
  if (ec || results.empty()) return refuse(502, "cannot resolve");
  // Every address must pass: a name with one public and one internal address is refused.
  for (const auto& entry : results)
    if (!core_->cfg.address_check(entry.endpoint().address().to_string()))
      return refuse(403, "resolves to a forbidden address");
  // Connects to the checked addresses only (in order), never resolving again.
  net::async_connect(
      upstream_, results,
      [self = shared_from_this()](error_code e, const tcp::endpoint&) { self->on_connect(e); });
}

void egress_tunnel::on_connect(error_code ec) {
  if (phase_ != phase::connecting) return;
  if (ec) return refuse(502, "cannot connect");
  log::debug("egress tunnel open", {.component = "egress_proxy",
                                    .tenant_id = *tenant_id_,
                                    .detail = target_.host,
                                    .port = target_.port});
  do_answer();
}

void egress_tunnel::refuse(unsigned status, std::string_view log_msg) {
  std::string what{log_msg};
  if (!target_.host.empty()) {  // host:port only, never more of the request
    bool v6 = target_.host.find(':') != std::string::npos;
    what += v6 ? ": [" + target_.host + "]:" : ": " + target_.host + ":";
    what += std::to_string(target_.port);
  }
  log::info(
      "egress refused",
      {.component = "egress_proxy", .status = status, .tenant_id = *tenant_id_, .detail = what});
  error_code ignored;
  resolver_.cancel();
  upstream_.close(ignored);
  phase_ = phase::refusing;
  arm(core_->cfg.head_timeout);
  response_ = refusal(status);
  net::async_write(
      client_, net::buffer(response_),
      [self = shared_from_this()](error_code ec, std::size_t) { self->on_refused(ec); });
}

void egress_tunnel::on_refused(error_code ec) {
  if (phase_ != phase::refusing) return;
  error_code ignored;
  client_.shutdown(net::socket_base::shutdown_send, ignored);
  close();
}

void egress_tunnel::arm(std::chrono::steady_clock::duration d) {
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
}

void egress_tunnel::on_deadline(error_code ec) {
  if (ec == net::error::operation_aborted || phase_ == phase::closed) return;
  if (phase_ == phase::connecting) return refuse(504, "connect timed out");
  if (phase_ == phase::splicing) {
    auto idle_until = last_active_ + core_->cfg.idle_timeout;
    if (std::chrono::steady_clock::now() < idle_until) {
      timer_.expires_at(idle_until);
      timer_.async_wait([self = shared_from_this()](error_code e) { self->on_deadline(e); });
      return;
    }
    log::debug("egress tunnel idle", {.component = "egress_proxy",
                                      .tenant_id = *tenant_id_,
                                      .detail = target_.host,
                                      .port = target_.port});
  }
  close();
}

void egress_tunnel::close() {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  client_.close(ignored);
  upstream_.close(ignored);
}

}  // namespace caa::sandbox::detail
