// The address half of the SSRF guard: forbidden ranges, metadata addresses, the allow-list.

#include "transport/outbound/guard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace caa::outbound::detail {

namespace {

/// An IPv4 network, host order.
struct v4_net {
  uint32_t net;
  unsigned prefix;
};

/// IPv4 ranges no outbound call may reach (RFC 6890 special-purpose and friends).
constexpr v4_net forbidden_v4[] = {
    {0x00000000, 8},   // 0.0.0.0/8 "this network"
    {0x0A000000, 8},   // 10/8 private
    {0x64400000, 10},  // 100.64/10 shared (CGNAT; Alibaba metadata)
    {0x7F000000, 8},   // 127/8 loopback
    {0xA9FE0000, 16},  // 169.254/16 link-local (cloud metadata)
    {0xAC100000, 12},  // 172.16/12 private
    {0xC0000000, 24},  // 192.0.0/24 IETF protocol assignments (Oracle metadata)
    {0xC0000200, 24},  // 192.0.2/24 TEST-NET-1
    {0xC0586300, 24},  // 192.88.99/24 6to4 relay anycast
    {0xC0A80000, 16},  // 192.168/16 private
    {0xC6120000, 15},  // 198.18/15 benchmarking
    {0xC6336400, 24},  // 198.51.100/24 TEST-NET-2
    {0xCB007100, 24},  // 203.0.113/24 TEST-NET-3
    {0xE0000000, 4},   // 224/4 multicast
    {0xF0000000, 4},   // 240/4 reserved, incl. 255.255.255.255
};

/// Cloud metadata endpoints (IPv4, host order).
constexpr uint32_t metadata_v4[] = {
    0xA9FEA9FE,  // 169.254.169.254 AWS, GCP, Azure, OpenStack, DigitalOcean
    0xA9FEAA02,  // 169.254.170.2 AWS ECS task metadata
    0xA9FEAA17,  // 169.254.170.23 AWS EKS pod identity
    0x646464C8,  // 100.100.100.200 Alibaba Cloud
    0xC00000C0,  // 192.0.0.192 Oracle Cloud
};

/// Cloud metadata endpoints (IPv6).
constexpr ip_bytes metadata_v6[] = {
    {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54},  // fd00:ec2::254 AWS
    {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x23},  // fd00:ec2::23 EKS
};

uint32_t v4_at(const ip_bytes& a, std::size_t i) noexcept {
  return uint32_t{a[i]} << 24 | uint32_t{a[i + 1]} << 16 | uint32_t{a[i + 2]} << 8 | a[i + 3];
}

bool starts_with(const ip_bytes& a, std::initializer_list<uint8_t> prefix) noexcept {
  return std::equal(prefix.begin(), prefix.end(), a.begin());
}

bool is_mapped(const ip_bytes& a) noexcept {
  return starts_with(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff});
}

/// The IPv4 address inside a mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16)
/// address.
std::optional<uint32_t> embedded_v4(const ip_bytes& a) noexcept {
  if (is_mapped(a) || starts_with(a, {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}))
    return v4_at(a, 12);
  if (starts_with(a, {0x20, 0x02})) return v4_at(a, 2);
  return std::nullopt;
}

bool forbidden_v4_address(uint32_t v4) noexcept {
  return std::any_of(std::begin(forbidden_v4), std::end(forbidden_v4), [&](const v4_net& n) {
    return (v4 >> (32 - n.prefix)) == (n.net >> (32 - n.prefix));
  });
}

/// Whether the first `prefix` bits of `a` and `b` agree.
bool same_prefix(const ip_bytes& a, const ip_bytes& b, unsigned prefix) noexcept {
  for (unsigned i = 0; i < 16 && prefix > 0; ++i, prefix = prefix >= 8 ? prefix - 8 : 0) {
    auto mask = static_cast<uint8_t>(prefix >= 8 ? 0xff : 0xff << (8 - prefix));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

std::optional<ip_bytes> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s{text};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return mapped(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
  ip_bytes out{};
  std::copy(std::begin(v6.s6_addr), std::end(v6.s6_addr), out.begin());
  return out;
}

ip_bytes mapped(uint32_t v4) noexcept {
  ip_bytes out{};
  out[10] = out[11] = 0xff;
  for (std::size_t i = 0; i < 4; ++i) out[12 + i] = static_cast<uint8_t>(v4 >> (24 - 8 * i));
  return out;
}

std::string to_text(const ip_bytes& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_mapped(addr)) {
    in_addr v4{};
    v4.s_addr = htonl(v4_at(addr, 12));
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
  } else {
    in6_addr v6{};
    std::copy(addr.begin(), addr.end(), std::begin(v6.s6_addr));
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
  }
  return buf;
}

bool is_forbidden(const ip_bytes& a) noexcept {
  if (auto v4 = embedded_v4(a)) return forbidden_v4_address(*v4);
  // Outside 2000::/3 (global unicast) everything is special: ::, ::1, ::/96 compat, 100::/64,
  // 64:ff9b:1::/48, fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8.
  if ((a[0] & 0xe0) != 0x20) return true;
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) return true;  // 2001::/23
  if (starts_with(a, {0x20, 0x01, 0x0d, 0xb8})) return true;     // 2001:db8::/32
  return a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0;     // 3fff::/20
}

bool is_metadata(const ip_bytes& a) noexcept {
  if (auto v4 = embedded_v4(a))
    return std::find(std::begin(metadata_v4), std::end(metadata_v4), *v4) != std::end(metadata_v4);
  return std::find(std::begin(metadata_v6), std::end(metadata_v6), a) != std::end(metadata_v6);
}

bool in_cidrs(const ip_bytes& addr, const std::vector<std::string>& cidrs) {
  for (std::string_view cidr : cidrs) {
    auto slash = cidr.find('/');
    auto net = parse_address(cidr.substr(0, slash));
    if (!net) continue;
    bool v4 = is_mapped(*net) && cidr.substr(0, slash).find(':') == std::string_view::npos;
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
      auto digits = cidr.substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
          prefix > max)
        continue;
    }
    if (same_prefix(addr, *net, v4 ? prefix + 96 : prefix)) return true;
  }
  return false;
}

bool allowed(const ip_bytes& addr, const egress_policy& policy) {
  if (is_metadata(addr)) return false;
  return in_cidrs(addr, policy.allow_cidrs) || !is_forbidden(addr);
}

}  // namespace caa::outbound::detail
