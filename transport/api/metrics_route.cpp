#include "transport/api/metrics_route.hpp"

#include "config/errc.hpp"
#include "config/metrics_catalog.hpp"

namespace caa::api {

bool metrics_allowed(const std::optional<secret>& token, const std::optional<secret>& bearer) {
  if (!token) return true;
  // A missing bearer is compared too (as an empty one): the work done is the same either way.
  return ct_equal(*token, bearer ? std::string_view{bearer->reveal()} : std::string_view{}) &&
         bearer.has_value();
}

void add_metrics_route(http::router& r, std::optional<secret> token) {
  r.add("GET", "/metrics", http::route_policy::public_route, http::route_class::general,
        [token = std::move(token)](const std::shared_ptr<http::request>& req,
                                   const std::shared_ptr<http::responder>& res) {
          if (!metrics_allowed(token, req->bearer)) {
            res->fail(make_error(errc::unauthenticated, "metrics token"));
            return;
          }
          http::response out;
          out.content_type = std::string{metrics_content_type};
          out.body = metrics::render(metrics::service());
          res->send(std::move(out));
        });
}

}  // namespace caa::api
