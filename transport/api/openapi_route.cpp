// The tables of the OpenAPI document (the core, edge and surface groups), their check
// against a router, and the route that serves the document.

#include "transport/api/openapi.hpp"

#include "config/json_parse.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <set>

namespace caa::api {

doc_problems check_route_docs(const http::router& r, const std::vector<route_doc>& docs) {
  doc_problems out;
  auto routes = r.routes();
  for (const auto& route : routes)
    if (std::none_of(docs.begin(), docs.end(), [&route](const route_doc& d) {
          return d.method == route.method && d.path_template == route.path_template;
        }))
      out.undocumented.push_back(route.method + " " + route.path_template);
  std::set<std::string> seen;
  for (const auto& d : docs) {
    auto key = d.method + " " + d.path_template;
    if (!seen.insert(key).second) out.duplicated.push_back(key);
    bool routed = std::any_of(routes.begin(), routes.end(), [&d](const http::route_info& x) {
      return x.method == d.method && x.path_template == d.path_template;
    });
    if (!routed) out.unrouted.push_back(key);
    std::vector<std::string> texts{d.request_schema};
    for (const auto& p : d.params) texts.push_back(p.schema);
    for (const auto& res : d.responses) texts.push_back(res.schema);
    rapidjson::Document parsed;
    for (const auto& t : texts)
      if (!t.empty() && json::parse_object_value(t, parsed) != json::parse_failure::none)
        out.bad_schemas.push_back(key + ": " + t.substr(0, 60));
  }
  return out;
}

const std::vector<route_doc>& route_docs() {
  static const auto docs = [] {
    auto out = detail::core_route_docs();
    auto append = [&out](std::vector<route_doc> more) {
      out.insert(out.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
    };
    append(detail::openai_route_docs());
    append(detail::usage_route_docs());
    return out;
  }();
  return docs;
}

const std::vector<component_schema>& component_schemas() {
  static const auto schemas = [] {
    auto out = detail::core_component_schemas();
    auto next = detail::surface_component_schemas();
    out.insert(out.end(), next.begin(), next.end());
    return out;
  }();
  return schemas;
}

void add_openapi_route(http::router& r) {
  auto document = std::make_shared<std::string>();
  r.add("GET", "/openapi.json", http::route_policy::public_route, http::route_class::general,
        [document](const std::shared_ptr<http::request>&,
                   const std::shared_ptr<http::responder>& res) {
          http::response out;
          out.body = *document;
          res->send(std::move(out));
        });
  *document = openapi_document(r, route_docs());  // the route itself is in it
}

}  // namespace caa::api
