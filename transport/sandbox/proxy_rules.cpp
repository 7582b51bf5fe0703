#include "transport/sandbox/proxy_rules.hpp"

#include "transport/outbound/guard.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace caa::sandbox::detail {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The header names listed in a Connection header value.
std::vector<std::string_view> connection_tokens(std::string_view value) {
  std::vector<std::string_view> out;
  while (!value.empty()) {
    auto comma = value.find(',');
    if (auto token = trim(value.substr(0, comma)); !token.empty()) out.push_back(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool listed(const std::vector<std::string_view>& tokens, std::string_view name) noexcept {
  return std::any_of(tokens.begin(), tokens.end(),
                     [name](std::string_view t) { return iequals(t, name); });
}

/// Request headers the proxy never passes on besides the hop-by-hop ones.
bool is_replaced_request_header(std::string_view name) noexcept {
  constexpr std::string_view names[] = {"x-api-key",      "authorization", "host",
                                        "content-length", "expect",        "accept-encoding"};
  return std::any_of(std::begin(names), std::end(names),
                     [name](std::string_view n) { return iequals(n, name); });
}

}  // namespace

std::variant<upstream_target, std::string> split_upstream(std::string_view base_url) {
  outbound::egress_policy trusted;  // operator-configured: no SSRF guard, any address
  trusted.allow_http = true;
  trusted.allow_cidrs = {"0.0.0.0/0", "::/0"};
  auto parts = outbound::detail::split_url(base_url, trusted);
  if (auto* why = std::get_if<std::string>(&parts)) return "base_url " + *why;
  auto& url = std::get<outbound::detail::url_parts>(parts);
  if (url.target.find_first_of("?#") != std::string::npos ||
      base_url.find('#') != std::string_view::npos)
    return std::string{"base_url must not have a query or fragment"};
  upstream_target out;
  out.tls = url.tls;
  out.host = url.host;
  out.port = url.port;
  out.host_header = url.host_header;
  out.prefix = url.target;
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

route_verdict check_route(bhttp::verb method, std::string_view target) noexcept {
  auto path = target.substr(0, target.find('?'));
  if (path != "/v1/messages" && path != "/v1/messages/count_tokens")
    return route_verdict::not_found;
  return method == bhttp::verb::post ? route_verdict::ok : route_verdict::method_not_allowed;
}

std::string_view presented_key(const bhttp::fields& fields) noexcept {
  if (auto it = fields.find("x-api-key"); it != fields.end()) return trim(it->value());
  auto auth = trim(fields[bhttp::field::authorization]);
  constexpr std::string_view scheme = "bearer ";
  if (auth.size() <= scheme.size() || !iequals(auth.substr(0, scheme.size()), scheme)) return {};
  return trim(auth.substr(scheme.size()));
}

bool is_hop_by_hop(std::string_view name) noexcept {
  constexpr std::string_view names[] = {"connection", "keep-alive",        "te",
                                        "trailer",    "transfer-encoding", "upgrade"};
  if (name.size() >= 6 && iequals(name.substr(0, 6), "proxy-")) return true;
  return std::any_of(std::begin(names), std::end(names),
                     [name](std::string_view n) { return iequals(n, name); });
}

bhttp::request<bhttp::string_body> make_upstream_request(bhttp::request<bhttp::string_body>&& in,
                                                         const upstream_target& to,
                                                         const std::string& key) {
  bhttp::request<bhttp::string_body> out{bhttp::verb::post, to.prefix + std::string{in.target()},
                                         11};
  auto tokens = connection_tokens(in[bhttp::field::connection]);
  for (const auto& f : in) {
    auto name = f.name_string();
    if (is_hop_by_hop(name) || is_replaced_request_header(name) || listed(tokens, name)) continue;
    out.insert(name, f.value());
  }
  out.set(bhttp::field::host, to.host_header);
  out.set("x-api-key", key);
  out.set(bhttp::field::accept_encoding, "identity");
  out.keep_alive(false);
  out.body() = std::move(in.body());
  out.prepare_payload();
  return out;
}

void copy_response_fields(const bhttp::fields& from, bhttp::fields& to) {
  auto tokens = connection_tokens(from[bhttp::field::connection]);
  for (const auto& f : from) {
    auto name = f.name_string();
    if (is_hop_by_hop(name) || iequals(name, "content-length") || listed(tokens, name)) continue;
    to.insert(name, f.value());
  }
}

std::string error_body(std::string_view type, std::string_view message) {
  std::string out = R"({"type":"error","error":{"type":")";
  out.append(type).append(R"(","message":")").append(message).append("\"}}");
  return out;
}

}  // namespace caa::sandbox::detail
