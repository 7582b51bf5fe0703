#pragma once

// The client address used in logs: the peer, or, when the peer is a trusted proxy, the right-most
// address of `X-Forwarded-For` that is not itself a trusted proxy.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace caa::http {

/// The `TRUSTED_PROXIES` CIDR list (IPv4 and IPv6; invalid entries are ignored).
class trusted_proxies {
 public:
  /// Parses `cidrs` such as "10.0.0.0/8", "::1/128" or "192.168.1.7" (a single host).
  explicit trusted_proxies(const std::vector<std::string>& cidrs);

  /// Whether the address `ip` (text) lies in one of the networks.
  bool contains(std::string_view ip) const;

  /// The client address for a connection from `peer` with the joined `X-Forwarded-For` values
  /// `forwarded_for` (empty when absent).
  std::string client_ip(std::string_view peer, std::string_view forwarded_for) const;

 private:
  /// A network as an IPv6 prefix (IPv4 is mapped into ::ffff:0:0/96).
  struct network {
    std::array<uint8_t, 16> bytes;
    unsigned prefix;
  };
  std::vector<network> networks_;
};

}  // namespace caa::http
