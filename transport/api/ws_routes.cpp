#include "transport/api/ws_routes.hpp"

#include "transport/api/ws_connection.hpp"
#include "transport/api/ws_tickets.hpp"
#include "transport/http/ws_upgrade.hpp"

#include <cmath>

namespace caa::api::detail {

namespace {

/// The endpoint of both WebSocket paths: tickets in, one `ws_connection` per connection out.
class ws_api_endpoint final : public http::ws_endpoint {
 public:
  ws_api_endpoint(session_api_ptr api, std::shared_ptr<ws_ticket_store> tickets)
      : api_(std::move(api)), tickets_(std::move(tickets)) {}

  void redeem_ticket(
      std::string ticket,
      std::function<void(std::optional<http::principal>, caf::error)> done) override {
    if (auto p = tickets_->redeem(ticket))
      done(std::move(p), caf::error{});
    else
      done(std::nullopt, make_error(errc::unauthenticated, "unknown, used or expired ticket"));
  }

  std::shared_ptr<http::ws_handler> open(std::shared_ptr<http::request> req,
                                         std::shared_ptr<http::ws_channel> channel,
                                         http::rate_limiter& limiter) override {
    if (!req->caller) return nullptr;
    std::weak_ptr<http::ws_channel> weak = channel;
    auto conn = std::make_shared<ws_connection>(api_, *req->caller, req->correlation_id,
                                                std::move(channel), limiter);
    if (api_->ctx.watch_connection)
      api_->ctx.watch_connection(req->caller->key_id(), conn, [weak] {
        if (auto c = weak.lock()) c->close(ws_close_key_revoked, "the key was revoked");
      });
    return conn;
  }

 private:
  session_api_ptr api_;
  std::shared_ptr<ws_ticket_store> tickets_;
};

http::handler ticket_handler(const std::shared_ptr<ws_ticket_store>& tickets) {
  return [tickets](const std::shared_ptr<http::request>& req,
                   const std::shared_ptr<http::responder>& res) {
    auto ticket = tickets->issue(*req->caller);
    if (!ticket) {
      res->fail(caa::with_retry_after(make_error(errc::unavailable, "ticket store full"),
                                      std::chrono::seconds{1}));
      return;
    }
    auto ttl = std::chrono::duration<double>(tickets->ttl()).count();
    http::response out;
    out.status = 201;
    out.body = R"({"ticket":")" + *ticket + R"(","expires_in":)" +
               std::to_string(static_cast<long long>(std::ceil(ttl))) + "}";
    out.headers.emplace_back("Cache-Control", "no-store");
    res->send(std::move(out));
  };
}

}  // namespace

void add_ws_routes(http::router& r, const session_api_ptr& api) {
  using http::route_class;
  using http::route_policy;
  auto ttl =
      std::chrono::duration_cast<std::chrono::milliseconds>(api->ctx.cfg->http.ws_ticket_ttl);
  auto tickets = std::make_shared<ws_ticket_store>(ttl);
  auto endpoint = std::make_shared<ws_api_endpoint>(api, tickets);
  r.add("GET", "/api/v1/ws", route_policy::requires_agent, route_class::general,
        http::ws_route{endpoint});
  r.add("GET", "/api/v1/query/ws", route_policy::requires_agent, route_class::general,
        http::ws_route{endpoint});
  r.add("POST", "/api/v1/ws/ticket", route_policy::requires_agent, route_class::general,
        ticket_handler(tickets));
}

}  // namespace caa::api::detail
