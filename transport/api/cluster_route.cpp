#include "transport/api/cluster_route.hpp"

#include "storage/bridge.hpp"
#include "transport/api/responses.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_member(writer& w, const cluster_member& m) {
  w.StartObject();
  w.Key("id");
  w.String(m.node_id);
  w.Key("address");
  m.address.empty() ? w.Null() : w.String(m.address);
  w.Key("state");
  w.String(m.state);
  w.Key("sessions");
  w.Uint64(m.sessions);
  w.Key("processes");
  w.Uint64(m.processes);
  w.Key("last_heartbeat_age_ms");
  w.Int64(m.heartbeat_age_ms);
  w.Key("link");
  w.String(m.link);
  w.EndObject();
}

http::response render(const cluster_view& v) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("self");
  w.String(v.self_id);
  w.Key("membership");
  w.String(v.source);
  w.Key("nodes");
  w.StartArray();
  for (const auto& m : v.members) write_member(w, m);
  w.EndArray();
  w.EndObject();
  return json_response(200, buf);
}

}  // namespace

void add_cluster_route(http::router& r, caf::actor_system& sys, const cluster_actor& cluster,
                       caf::timespan timeout) {
  r.add("GET", "/api/v1/cluster", http::route_policy::requires_admin, http::route_class::general,
        [&sys, cluster, timeout](auto, auto res) {
          caa::async_request<cluster_view>(
              sys, cluster, timeout,
              std::function<void(cluster_view)>{
                  [res](const cluster_view& v) { res->send(render(v)); }},
              std::function<void(caf::error)>{[res](caf::error e) { res->fail(std::move(e)); }},
              atom::members_v);
        });
}

}  // namespace caa::api
