#include "transport/api/routes.hpp"

#include "transport/api/cluster_route.hpp"
#include "transport/api/keys.hpp"
#include "transport/api/metrics_route.hpp"
#include "transport/api/openapi.hpp"
#include "transport/api/sessions.hpp"
#include "transport/api/usage_routes.hpp"

namespace caa::api {

http::router make_router(const api_context& ctx) {
  http::router r;
  add_health_routes(r, *ctx.health);
  add_metrics_route(r, ctx.cfg ? ctx.cfg->auth.metrics_token : std::nullopt);
  add_key_routes(r, ctx.keys, ctx.authenticator);
  if (ctx.sys && ctx.pg) {
    usage_api_context usage;
    usage.sys = ctx.sys;
    usage.pg = ctx.pg;
    usage.limits_changed = ctx.limits_changed;
    add_usage_routes(r, std::move(usage));
  }
  if (ctx.cluster && ctx.sys)
    add_cluster_route(r, *ctx.sys, ctx.cluster,
                      std::chrono::duration_cast<caf::timespan>(ctx.cfg->http.request_timeout));
  if (ctx.registry) {
    session_api_context sessions;
    sessions.sys = ctx.sys;
    sessions.cfg = ctx.cfg;
    sessions.registry = ctx.registry;
    sessions.capabilities = ctx.capabilities;
    sessions.pg = ctx.pg;
    sessions.workspace = ctx.workspace;
    if (auto a = ctx.authenticator)
      sessions.watch_connection = [a](const std::string& key_id, std::weak_ptr<void> owner,
                                      std::function<void()> close) {
        a->watch(key_id, std::move(owner), std::move(close));
      };
    set_session_timeouts(sessions, *ctx.cfg);
    add_session_routes(r, sessions);
  }
  add_openapi_route(r);  // last: it documents every route added above
  return r;
}

auth::revoked_lookup make_revoked_lookup(const std::shared_ptr<storage::key_repository>& keys) {
  return [keys](const std::vector<std::string>& ids,
                const std::function<void(std::vector<std::string>, caf::error)>& done) {
    keys->revoked_among(
        ids, [done](std::vector<std::string> revoked) { done(std::move(revoked), {}); },
        [done](caf::error e) { done({}, std::move(e)); });
  };
}

auth::key_lookup make_key_lookup(const std::shared_ptr<storage::key_repository>& keys) {
  return [keys](const auth::digest& hash,
                const std::function<void(std::optional<auth::key_row>, caf::error)>& done) {
    keys->find_by_hash(
        hash,
        [keys, hash, done](std::optional<storage::key_record> rec) {
          if (!rec) {
            done(std::nullopt, caf::error{});
            return;
          }
          auth::key_row row;
          row.key_id = rec->id;
          row.tenant_id = rec->tenant_id;
          row.tenant_name = rec->tenant_name;
          row.agent_slot = rec->agent_slot;
          row.key_hash = hash;  // the row was found by this digest
          row.agent = rec->has_scope("agent");
          row.admin = rec->has_scope("admin");
          row.revoked = rec->revoked();
          if (!row.revoked)
            keys->touch_last_used(
                rec->id, [](bool) {}, [](const caf::error&) {});
          done(std::move(row), caf::error{});
        },
        [done](caf::error e) { done(std::nullopt, std::move(e)); });
  };
}

}  // namespace caa::api
