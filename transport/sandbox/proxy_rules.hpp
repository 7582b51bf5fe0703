#pragma once

// The pure rules of the model proxy: which requests pass, which key was presented, which
// headers cross in either direction, and the shape of its own error answers. Internal to
// transport/sandbox: include only from .cpp files (it pulls in Beast).

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace caa::sandbox::detail {

namespace bhttp = boost::beast::http;

/// The upstream, split from `upstream_config::base_url`.
struct upstream_target {
  bool tls = true;          ///< https
  std::string host;         ///< name or address (no brackets): resolution, SNI, verification
  std::string port;         ///< decimal, defaulted from the scheme
  std::string host_header;  ///< value of the Host header, "host[:port]"
  std::string prefix;       ///< path prefix without a trailing '/', empty for none
};

/// `base_url` split, or why it is refused (the reason names no part of it).
std::variant<upstream_target, std::string> split_upstream(std::string_view base_url);

/// The verdict on a request line.
enum class route_verdict : uint8_t { ok, not_found, method_not_allowed };

/// `ok` for POST to `/v1/messages` or `/v1/messages/count_tokens` (any query string),
/// `method_not_allowed` for another method there, `not_found` for every other target.
route_verdict check_route(bhttp::verb method, std::string_view target) noexcept;

/// The key the client presented: `x-api-key` when present, else the token of
/// `Authorization: Bearer <token>`; empty when there is none.
std::string_view presented_key(const bhttp::fields& fields) noexcept;

/// Whether `name` is a hop-by-hop header (connection, keep-alive, proxy-*, te, trailer,
/// transfer-encoding, upgrade), case-insensitive.
bool is_hop_by_hop(std::string_view name) noexcept;

/// The request to send upstream: POST to `to.prefix` + the client's target, the client's
/// end-to-end headers minus its credentials, Host, framing, Expect and Accept-Encoding, then
/// `Host`, `x-api-key: key`, `Accept-Encoding: identity` (usage must stay readable),
/// `Connection: close` and the body with its Content-Length.
bhttp::request<bhttp::string_body> make_upstream_request(bhttp::request<bhttp::string_body>&& in,
                                                         const upstream_target& to,
                                                         const std::string& key);

/// Copies the end-to-end fields of an upstream response (not hop-by-hop, not Content-Length,
/// not those its Connection header names).
void copy_response_fields(const bhttp::fields& from, bhttp::fields& to);

/// An Anthropic-shaped error body: `{"type":"error","error":{"type":...,"message":...}}`;
/// `type` and `message` must be plain ASCII without quotes or backslashes.
std::string error_body(std::string_view type, std::string_view message);

}  // namespace caa::sandbox::detail
