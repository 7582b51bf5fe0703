#pragma once

// Internals of the SSRF guard shared by `check_url`, `address_allowed` and the client: addresses
// as 16 bytes (IPv4 mapped into ::ffff:0:0/96), the forbidden ranges, the allow-list, and the
// URL split into what the client needs.

#include "transport/outbound/client.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace caa::outbound::detail {

/// An address as IPv6 bytes; IPv4 is mapped (::ffff:a.b.c.d).
using ip_bytes = std::array<uint8_t, 16>;

/// `text` in strict textual form (dotted quad or RFC 4291 IPv6, no zone id), or nothing.
std::optional<ip_bytes> parse_address(std::string_view text);

/// `v4` (host order) as mapped bytes.
ip_bytes mapped(uint32_t v4) noexcept;

/// The canonical text of `addr` (IPv4 dotted for mapped addresses).
std::string to_text(const ip_bytes& addr);

/// Whether `addr` lies in a forbidden range (loopback, private, link-local, ..., or an IPv4
/// embedded in a mapped, NAT64 or 6to4 address that is).
bool is_forbidden(const ip_bytes& addr) noexcept;

/// Whether `addr` is a cloud metadata address (also embedded in mapped, NAT64 or 6to4 form).
bool is_metadata(const ip_bytes& addr) noexcept;

/// Whether `addr` lies in one of `cidrs` (invalid entries are ignored).
bool in_cidrs(const ip_bytes& addr, const std::vector<std::string>& cidrs);

/// The verdict on `addr` under `policy`.
bool allowed(const ip_bytes& addr, const egress_policy& policy);

/// An accepted URL, split.
struct url_parts {
  bool tls = true;                  ///< https
  std::string host;                 ///< lower-case name, or the literal's canonical text
  std::string port;                 ///< decimal, defaulted from the scheme
  std::string target;               ///< path and query ("/" when empty), no fragment
  std::string host_header;          ///< value of the Host header
  std::optional<ip_bytes> literal;  ///< the address when the host is an IP literal
};

/// `url` split, or the reason it is refused (see `check_url`).
std::variant<url_parts, std::string> split_url(std::string_view url, const egress_policy& policy);

}  // namespace caa::outbound::detail
