#include "transport/http/cors.hpp"

#include <algorithm>

namespace caa::http {

cors_policy::cors_policy(std::vector<std::string> origins) {
  for (auto& o : origins) {
    if (o == "*")
      any_ = true;
    else if (!o.empty())
      origins_.push_back(std::move(o));
  }
}

std::optional<std::string> cors_policy::allow_origin(std::string_view origin) const {
  if (origin.empty()) return std::nullopt;
  if (any_) return std::string{"*"};
  if (std::find(origins_.begin(), origins_.end(), origin) != origins_.end())
    return std::string{origin};
  return std::nullopt;
}

void cors_policy::decorate(std::string_view origin, header_list& out) const {
  if (!enabled()) return;
  if (!any_) out.emplace_back("Vary", "Origin");
  auto allowed = allow_origin(origin);
  if (!allowed) return;
  out.emplace_back("Access-Control-Allow-Origin", std::move(*allowed));
  out.emplace_back("Access-Control-Expose-Headers", std::string{cors_exposed_headers});
}

response cors_policy::preflight(std::string_view origin, std::string_view allow) const {
  response r;
  r.status = 204;
  r.content_type.clear();
  r.headers.emplace_back("Allow", std::string{allow});
  r.headers.emplace_back("Vary", "Origin");
  if (auto allowed = allow_origin(origin)) {
    r.headers.emplace_back("Access-Control-Allow-Origin", std::move(*allowed));
    r.headers.emplace_back("Access-Control-Allow-Methods", std::string{allow});
    r.headers.emplace_back("Access-Control-Allow-Headers", std::string{cors_allowed_headers});
    r.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  return r;
}

}  // namespace caa::http
