#pragma once

// The egress proxy of the agent sandbox. A sandboxed process has no network; when the operator
// lists domains in `AGENT_EGRESS_ALLOW`, its tools may reach those (and only those) through an
// HTTP CONNECT tunnel: `caa-sandbox-relay` inside the sandbox forwards its loopback proxy port
// to a per-process unix socket, and this proxy listens on that socket. Per connection it reads
// one request head, accepts only `CONNECT host:port HTTP/1.1` for a host on the allow-list,
// resolves the name, refuses when any address is loopback, private, link-local, CGNAT,
// multicast, unspecified or a cloud metadata address (the outbound SSRF guard), connects to a
// checked address and splices bytes both ways. TLS stays end to end: the proxy sees host:port
// only.

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace caa::sandbox {

namespace detail {
struct egress_core;
}  // namespace detail

/// What the egress proxy lets through.
struct egress_config {
  /// `AGENT_EGRESS_ALLOW`: `example.com` (that name), `.example.com` or `*.example.com` (its
  /// subdomains), each optionally `:port` (else 443 and 80); an IP literal only as written.
  std::vector<std::string> allow;
  std::chrono::seconds idle_timeout{300};    ///< no byte either way for this long ends a tunnel
  std::chrono::seconds head_timeout{10};     ///< to read the request head
  std::chrono::seconds connect_timeout{10};  ///< resolve + connect
  std::size_t max_tunnels = 64;              ///< open connections per endpoint
  /// Whether a resolved address (textual) may be connected to. Empty: the outbound guard
  /// (`outbound::address_allowed` without allowed CIDRs). Tests replace it to reach loopback.
  std::function<bool(std::string_view addr)> address_check;
};

/// Why `cfg` cannot be used (an `errc::validation` error naming the entry), or an empty error:
/// every entry must be a host name, a wildcard (`.name`, `*.name`) or an IP literal, with an
/// optional port 1-65535; timeouts and `max_tunnels` must be positive.
caf::error validate(const egress_config& cfg);

/// The egress proxy. Thread-safe; all I/O runs on the given io_context, one strand per
/// connection.
class egress_proxy : public std::enable_shared_from_this<egress_proxy> {
 public:
  /// A proxy running its I/O on `io` (handlers may run on several threads).
  static std::shared_ptr<egress_proxy> make(boost::asio::io_context& io, egress_config cfg);

  /// Listens on a new unix socket at `socket_path` (removed first if it exists; mode 0600,
  /// chown'ed to `owner_uid`/`owner_gid` when not -1) for one sandboxed process of `tenant_id`;
  /// the handle closes it, removes the file and ends its tunnels when destroyed. Thread-safe.
  caf::expected<std::shared_ptr<void>> open_endpoint(std::string socket_path, std::string tenant_id,
                                                     int owner_uid = -1, int owner_gid = -1);

  ~egress_proxy();
  egress_proxy(const egress_proxy&) = delete;
  egress_proxy& operator=(const egress_proxy&) = delete;

 private:
  explicit egress_proxy(std::shared_ptr<detail::egress_core> core);
  std::shared_ptr<detail::egress_core> core_;
};

/// Whether `host` (lower-cased, no port, IPv6 without brackets) and `port` are allowed by
/// `allow` (pure; see `egress_config::allow`).
bool egress_allowed(const std::vector<std::string>& allow, std::string_view host, uint16_t port);

}  // namespace caa::sandbox
