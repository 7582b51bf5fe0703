#pragma once

// The one outbound HTTP(S) client of the service (webhooks, MCP URLs), with its SSRF guard: only
// https (http when the operator allows it), every resolved address checked against the forbidden
// ranges unless it is inside the operator's allow-list, the connection made to the checked
// address (no second resolution), no redirects, response size and total time capped. Header
// values are secrets: this module never logs or echoes them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace caa {
struct settings;
}  // namespace caa

namespace caa::outbound {

/// What outbound calls may reach.
struct egress_policy {
  std::vector<std::string> allow_cidrs;         ///< EGRESS_ALLOW_CIDRS, e.g. "127.0.0.1/32"
  bool allow_http = false;                      ///< WEBHOOK_ALLOW_HTTP
  std::size_t max_response_bytes = 256u << 10;  ///< body limit of a response
};

/// The policy of `cfg.egress`.
egress_policy make_egress_policy(const caa::settings& cfg);

/// Why `url` is refused before any resolution, or nullopt when it may be tried: scheme (https,
/// or http when allowed), absolute with a host, no userinfo, at most 2048 printable ASCII
/// characters without backslash; a host that is an IP literal in any form (dotted, decimal,
/// octal, hex, short, bracketed IPv6 incl. mapped/compat; zone ids always), a local name
/// (`localhost`, `*.localhost`, ...) or a cloud metadata name is refused unless its address is
/// inside `allow_cidrs` (metadata names and addresses never). The reason names no part of `url`.
std::optional<std::string> check_url(std::string_view url, const egress_policy& policy);

/// Whether `addr` (textual IPv4/IPv6, as a resolver answers it) may be connected to: inside
/// `allow_cidrs`, or outside every forbidden range; a cloud metadata address never.
bool address_allowed(std::string_view addr, const egress_policy& policy);

/// Whether a configured header may not be sent: the client sets it itself, or it would change
/// the framing, the encoding or a proxy's view (case-insensitive). Webhook configurations
/// naming one are refused at validation; the client never sends one.
bool is_reserved_header(std::string_view name);

/// One POST.
struct post_request {
  std::string url;                                           ///< checked with `check_url`
  std::vector<std::pair<std::string, std::string>> headers;  ///< values are secrets
  std::string body;                                          ///< sent as application/json
  std::chrono::milliseconds timeout{30000};                  ///< resolve+connect+TLS+I/O
};

/// Why a POST produced no response.
enum class failure : uint8_t { none, refused, resolve, connect, tls, timeout, too_large, protocol };

/// "none", "refused", "resolve", "connect", "tls", "timeout", "too_large" or "protocol".
std::string_view to_string(failure f) noexcept;

/// The outcome of a POST.
struct post_result {
  failure error = failure::none;  ///< none when a response came
  unsigned status = 0;            ///< HTTP status when a response came
  std::string body;               ///< at most max_response_bytes
  std::string content_type;       ///< the response's Content-Type
  /// Whether a 2xx response came.
  bool ok() const noexcept { return error == failure::none && status >= 200 && status < 300; }
};

/// Resolution hook for tests: gets (host, port), answers the textual addresses (or an error).
using resolver_fn = std::function<void(const std::string& host, const std::string& port,
                                       std::function<void(bool ok, std::vector<std::string>)>)>;

/// The outbound client. Thread-safe; every POST runs on its own strand of the io_context.
class client {
 public:
  /// A client on `io`. `resolver` empty: the system resolver. TLS verifies the peer against
  /// the system CA store and the host name (SNI set).
  static std::shared_ptr<client> make(boost::asio::io_context& io, egress_policy policy,
                                      resolver_fn resolver = {});

  /// POSTs `req`; `done` is called exactly once, on a thread running the io_context. Never
  /// follows a redirect. Connects only when every resolved address passes `address_allowed`
  /// (else `refused`), to those addresses directly.
  void post(post_request req, std::function<void(post_result)> done);

  /// The connections this client opened so far.
  uint64_t connections_opened() const noexcept;

  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Shared state of the client and its running exchanges.
  struct core;

 private:
  explicit client(std::shared_ptr<core> c);
  std::shared_ptr<core> core_;
};

}  // namespace caa::outbound
