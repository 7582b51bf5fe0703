#include "transport/api/health.hpp"

#include "config/version.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace caa::api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_dependency(writer& w, const char* name, const dependency_status& d, bool required) {
  w.Key(name);
  w.StartObject();
  w.Key("status");
  w.String(!d.checked ? "unknown" : d.ok ? "ok" : "down");
  w.Key("required");
  w.Bool(required);
  if (d.checked) {
    w.Key("latency_ms");
    w.Double(static_cast<double>(static_cast<long long>(d.latency_ms * 100)) / 100);
  }
  w.EndObject();
}

http::response readiness(const health_board& board) {
  auto s = board.snapshot();
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("status");
  w.String(s.draining ? "draining" : s.ready() ? "ready" : "not_ready");
  w.Key("version");
  w.String(version().data(), static_cast<rapidjson::SizeType>(version().size()));
  w.Key("checks");
  w.StartObject();
  write_dependency(w, "postgres", s.postgres, true);
  write_dependency(w, "redis", s.redis, false);
  write_dependency(w, "cli", s.cli, true);
  w.EndObject();
  w.EndObject();
  http::response res;
  res.status = s.ready() ? 200 : 503;
  res.body.assign(buf.GetString(), buf.GetSize());
  if (!s.ready()) res.headers.emplace_back("Retry-After", "5");
  return res;
}

}  // namespace

void add_health_routes(http::router& r, const health_board& board) {
  r.add("GET", "/health", http::route_policy::public_route, http::route_class::general,
        [](const std::shared_ptr<http::request>&, const std::shared_ptr<http::responder>& res) {
          http::response out;
          out.body = std::string{R"({"status":"ok","version":")"} + std::string{version()} + "\"}";
          res->send(std::move(out));
        });
  auto ready = [&board](const std::shared_ptr<http::request>&,
                        const std::shared_ptr<http::responder>& res) {
    res->send(readiness(board));
  };
  r.add("GET", "/health/ready", http::route_policy::public_route, http::route_class::general,
        ready);
  r.add("GET", "/api/v1/health", http::route_policy::public_route, http::route_class::general,
        ready);
}

}  // namespace caa::api
