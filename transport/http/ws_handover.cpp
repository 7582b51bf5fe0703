// The edge's side of WebSocket routes: a `?ticket=` in place of a key, and the hand-over of an
// authenticated, rate-limited upgrade request from the HTTP session to a `ws_session`.

#include "transport/http/http_session.hpp"
#include "transport/http/log_shim.hpp"
#include "transport/http/ws_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace caa::http {

void ws_route::operator()(const std::shared_ptr<request>&,
                          const std::shared_ptr<responder>& res) const {
  res->fail(make_error(errc::bad_request, "not a websocket upgrade"));
}

const ws_route* http_session::upgrade_route() const {
  return ex_.target != nullptr ? ex_.target->target<ws_route>() : nullptr;
}

void http_session::do_authenticate_ticket() {
  auto target = std::string_view{header_parser_->get().target()};
  request probe;
  if (auto q = target.find('?'); q != std::string_view::npos)
    probe.query = std::string{target.substr(q + 1)};
  auto ticket = probe.query_param("ticket");
  if (!ticket || ticket->empty())
    return fail_authentication(make_error(errc::unauthenticated, "no key presented"));
  phase_ = phase::stages;
  arm_deadline(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      ctx_->settings.request_timeout));
  auto cb = [weak = weak_from_this(), seq = ex_.seq, exec = stream_.get_executor()](
                std::optional<principal> p, caf::error err) mutable {
    net::post(exec, [weak, seq, p = std::move(p), err = std::move(err)]() mutable {
      if (auto self = weak.lock()) self->on_authenticated(seq, std::move(p), err);
    });
  };
  try {
    upgrade_route()->endpoint->redeem_ticket(std::move(*ticket), std::move(cb));
  } catch (...) {
    send_error(make_error(errc::internal, "ticket redemption threw"));
  }
}

bool http_session::hand_over(const ws_route& route, const std::shared_ptr<request>& req) {
  if (body_parser_ || !header_parser_ || !route.endpoint ||
      !boost::beast::websocket::is_upgrade(header_parser_->get()))
    return false;  // a plain request: the route's handler answers 400
  // A WebSocket needs the TCP socket itself; a connection over another stream (the in-memory
  // stream of edge tests) cannot upgrade, and the route's handler answers it as a plain request.
  auto* socket = stream_.socket();
  if (socket == nullptr) return false;
  ++deadline_gen_;
  deadline_.cancel();
  write_timer_.cancel();
  ping_timer_.cancel();
  shut_outbox();
  awaiting_ = 0;
  ex_.status = 101;
  log_exchange();
  phase_ = phase::closed;  // the socket now belongs to the WebSocket session
  auto ws = std::make_shared<ws_session>(std::move(*socket), header_parser_->release(), req,
                                         route.endpoint, ctx_, shared_from_this());
  on_shutdown_ = [weak = std::weak_ptr<ws_session>{ws}] {
    if (auto s = weak.lock()) s->post_close(ws_close::going_away, "server shutting down");
  };
  ws->run();
  return true;
}

}  // namespace caa::http
