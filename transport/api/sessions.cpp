#include "transport/api/sessions.hpp"

#include "transport/api/session_flow.hpp"
#include "transport/api/session_ops.hpp"
#include "transport/api/ws_routes.hpp"

#include <algorithm>
#include <stdexcept>

namespace caa::api {

namespace {

caf::timespan to_timespan(seconds_d s) {
  return std::chrono::duration_cast<caf::timespan>(s);
}

}  // namespace

void set_session_timeouts(session_api_context& ctx, const settings& cfg) {
  auto request =
      std::max(to_timespan(cfg.http.request_timeout), caf::timespan{std::chrono::seconds{5}});
  ctx.request_timeout = request;
  ctx.db_timeout = storage::pg_request_timeout(storage::pg_pool_config::from(cfg.storage));
  ctx.run_timeout = to_timespan(cfg.agent.admission_wait) + std::chrono::seconds{30};
}

void add_session_routes(http::router& r, const session_api_context& ctx) {
  if (ctx.sys == nullptr || ctx.cfg == nullptr || ctx.workspace == nullptr || !ctx.registry ||
      !ctx.pg)
    throw std::invalid_argument("add_session_routes: incomplete session_api_context");
  auto api = std::make_shared<const detail::session_api>(ctx);
  detail::add_query_routes(r, api);
  detail::add_session_resource_routes(r, api);
  detail::add_event_routes(r, api);
  detail::add_control_routes(r, api);
  detail::add_ws_routes(r, api);
  detail::add_openai_chat_routes(r, api);
  detail::add_openai_response_routes(r, api);
}

}  // namespace caa::api
