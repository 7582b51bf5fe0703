// The client side of a model proxy connection: read a request within the limits, refuse what is
// not a Messages API call with the endpoint's placeholder, hand the rest to an exchange.

#include "transport/sandbox/proxy_core.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace caa::sandbox::detail {

namespace {

constexpr std::size_t max_header_bytes = 64u << 10;

/// Whether `ec` says the client sent something that is not HTTP/1.1 (or a header too large), as
/// opposed to leaving, timing out or failing at the socket.
bool is_malformed(const beast::error_code& ec) noexcept {
  return ec && ec.category() == make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

proxy_connection::proxy_connection(local::socket socket, std::shared_ptr<proxy_core> core,
                                   std::shared_ptr<const endpoint_info> info,
                                   std::shared_ptr<std::atomic<std::size_t>> active)
    : core_(std::move(core)),
      info_(std::move(info)),
      active_(std::move(active)),
      client_(std::move(socket)),
      connect_deadline_(client_.get_executor()) {
  ++*active_;
}

proxy_connection::~proxy_connection() {
  --*active_;
}

void proxy_connection::run() {
  net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->do_read_request(); });
}

void proxy_connection::shutdown() {
  net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void proxy_connection::do_read_request() {
  if (closed_) return;
  head_request_ = false;
  request_.emplace();
  request_->header_limit(max_header_bytes);
  request_->body_limit(core_->cfg.max_request_bytes);
  client_.expires_after(core_->cfg.idle_timeout);
  bhttp::async_read(client_, client_buffer_, *request_,
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_read_request(ec);
                    });
}

void proxy_connection::on_read_request(beast::error_code ec) {
  if (closed_) return;
  if (ec == bhttp::error::body_limit)
    return refuse(bhttp::status::payload_too_large, "request_too_large", "Request too large.",
                  true);
  if (is_malformed(ec))
    return refuse(bhttp::status::bad_request, "invalid_request_error", "Malformed request.", true);
  if (ec) return close();  // end of stream, timeout, reset
  const auto& req = request_->get();
  keep_alive_ = req.keep_alive();
  head_request_ = req.method() == bhttp::verb::head;
  switch (check_route(req.method(), req.target())) {
    case route_verdict::not_found:
      return refuse(bhttp::status::not_found, "not_found_error",
                    "Not found: only the Messages API is served here.");
    case route_verdict::method_not_allowed:
      return refuse(bhttp::status::method_not_allowed, "invalid_request_error",
                    "Method not allowed.");
    case route_verdict::ok:
      break;
  }
  auto key = presented_key(req.base());
  if (key.empty() || !ct_equal(info_->placeholder, key))
    return refuse(bhttp::status::unauthorized, "authentication_error", "invalid x-api-key");
  start_exchange();
}

void proxy_connection::refuse(bhttp::status status, std::string_view type, std::string_view message,
                              bool close_after) {
  refusal_ = {status, 11};
  refusal_.set(bhttp::field::content_type, "application/json");
  if (status == bhttp::status::method_not_allowed) refusal_.set(bhttp::field::allow, "POST");
  refusal_.body() = error_body(type, message);
  refusal_.keep_alive(keep_alive_ && !close_after);
  refusal_.prepare_payload();
  if (head_request_) refusal_.body().clear();  // the length stays, the body must not follow
  client_.expires_after(core_->cfg.idle_timeout);
  bhttp::async_write(client_, refusal_,
                     [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                       self->on_refused(ec, close_after);
                     });
}

void proxy_connection::on_refused(beast::error_code ec, bool close_after) {
  if (closed_) return;
  if (ec || close_after || !keep_alive_) return close();
  do_read_request();
}

void proxy_connection::close() {
  if (closed_) return;
  closed_ = true;
  connect_deadline_.cancel();
  if (up_) up_->close();
  end_exchange();  // what an interrupted exchange consumed still counts
  beast::error_code ignored;
  client_.socket().shutdown(local::socket::shutdown_both, ignored);
  client_.close();
}

}  // namespace caa::sandbox::detail
