#include "transport/api/usage_routes.hpp"

#include "storage/bridge.hpp"
#include "storage/postgres/usage_queries.hpp"
#include "transport/api/responses.hpp"
#include "transport/api/usage_request.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;
using ctx_ptr = std::shared_ptr<const usage_api_context>;
using responder_ptr = std::shared_ptr<http::responder>;

/// Our errors pass through; CAF's (timeout, pool down) mean PostgreSQL is unavailable.
caf::error normalize(caf::error e) {
  if (e.category() == errc_category) return e;
  return make_error(errc::unavailable, "postgres request failed");
}

/// Runs `q` and hands the parsed reply to `ok`; any error fails `res`.
template <class T, class Parse>
void query_pg(const usage_api_context& ctx, storage::db_query q, Parse parse,
              std::function<void(T)> ok, const responder_ptr& res) {
  async_request<storage::db_result>(
      *ctx.sys, ctx.pg, ctx.db_timeout,
      std::function<void(storage::db_result)>{
          [parse = std::move(parse), ok = std::move(ok), res](storage::db_result r) {
            auto v = parse(r);
            if (v)
              ok(std::move(*v));
            else
              res->fail(std::move(v.error()));
          }},
      std::function<void(caf::error)>{[res](caf::error e) { res->fail(normalize(std::move(e))); }},
      std::move(q));
}

void write_sums(writer& w, const storage::usage_sums& s) {
  w.Key("turns");
  w.Int64(s.turns);
  w.Key("input_tokens");
  w.Int64(s.input_tokens);
  w.Key("output_tokens");
  w.Int64(s.output_tokens);
  w.Key("cache_creation_input_tokens");
  w.Int64(s.cache_creation_input_tokens);
  w.Key("cache_read_input_tokens");
  w.Int64(s.cache_read_input_tokens);
  w.Key("cost_usd");
  w.Double(s.cost_usd);
  w.Key("model_requests");
  w.Int64(s.model_requests);
}

std::string usage_json(const usage_query& q, const storage::usage_report& rep) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("tenant_id");
  w.String(q.tenant_id);
  w.Key("from");
  w.String(format_utc(q.from));
  w.Key("to");
  w.String(format_utc(q.to));
  w.Key("group_by");
  w.String(std::string{storage::to_string(q.group_by)});
  w.Key("total");
  w.StartObject();
  write_sums(w, rep.total);
  w.EndObject();
  w.Key("groups");
  w.StartArray();
  for (const auto& g : rep.groups) {
    w.StartObject();
    w.Key("key");
    w.String(g.key);
    write_sums(w, g.sums);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void optional_number(writer& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  v ? w.Double(*v) : w.Null();
}

http::response limits_response(const std::string& tenant_id,
                               const std::optional<storage::tenant_limits>& l) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("tenant_id");
  w.String(tenant_id);
  optional_number(w, "monthly_usd", l ? l->monthly_usd : std::nullopt);
  optional_number(w, "daily_usd", l ? l->daily_usd : std::nullopt);
  w.Key("max_agent_processes");
  l && l->max_agent_processes ? w.Int64(*l->max_agent_processes) : w.Null();
  w.Key("hard");
  w.Bool(l && l->hard);
  w.Key("updated_at");
  l ? w.String(l->updated_at) : w.Null();
  w.EndObject();
  return json_response(200, buf);
}

void get_usage(const ctx_ptr& ctx, const std::shared_ptr<http::request>& req,
               const responder_ptr& res) {
  auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto q = decode_usage_query(*req, now);
  if (!q) {
    res->fail(std::move(q.error()));
    return;
  }
  auto query = storage::make_usage_report_query(q->tenant_id, format_utc(q->from),
                                                format_utc(q->to), q->group_by);
  query_pg<storage::usage_report>(
      *ctx, std::move(query), storage::parse_usage_report,
      [res, q = *q](const storage::usage_report& rep) {
        http::response out;
        out.status = 200;
        out.headers.emplace_back("Content-Type", "application/json");
        out.body = usage_json(q, rep);
        res->send(std::move(out));
      },
      res);
}

void put_limits(const ctx_ptr& ctx, const std::shared_ptr<http::request>& req,
                const responder_ptr& res) {
  const auto& tenant = req->params.at("tenant");
  auto limits = decode_limits(req->body, tenant);
  if (!limits) {
    res->fail(std::move(limits.error()));
    return;
  }
  query_pg<std::optional<storage::tenant_limits>>(
      *ctx, storage::make_limits_put_query(*limits), storage::parse_limits,
      [ctx, res, tenant](const std::optional<storage::tenant_limits>& stored) {
        if (!stored) {
          res->fail(make_error(errc::not_found, "no such tenant"));
          return;
        }
        if (ctx->limits_changed) {
          std::optional<uint32_t> share;
          if (stored->max_agent_processes)
            share = static_cast<uint32_t>(*stored->max_agent_processes);
          ctx->limits_changed(tenant, share);
        }
        res->send(limits_response(tenant, stored));
      },
      res);
}

void get_limits(const ctx_ptr& ctx, const std::shared_ptr<http::request>& req,
                const responder_ptr& res) {
  const auto& tenant = req->params.at("tenant");
  query_pg<std::optional<storage::tenant_limits>>(
      *ctx, storage::make_limits_get_query(tenant), storage::parse_limits,
      [res, tenant](const std::optional<storage::tenant_limits>& stored) {
        res->send(limits_response(tenant, stored));
      },
      res);
}

}  // namespace

void add_usage_routes(http::router& r, usage_api_context ctx) {
  using http::route_class;
  using http::route_policy;
  auto c = std::make_shared<const usage_api_context>(std::move(ctx));
  r.add("GET", "/api/v1/usage", route_policy::requires_agent, route_class::general,
        [c](auto req, auto res) { get_usage(c, req, res); });
  r.add("PUT", "/api/v1/tenants/{tenant:uuid}/limits", route_policy::requires_admin,
        route_class::general, [c](auto req, auto res) { put_limits(c, req, res); });
  r.add("GET", "/api/v1/tenants/{tenant:uuid}/limits", route_policy::requires_admin,
        route_class::general, [c](auto req, auto res) { get_limits(c, req, res); });
}

}  // namespace caa::api
