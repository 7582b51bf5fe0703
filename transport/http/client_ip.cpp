#include "transport/http/client_ip.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>

namespace caa::http {

namespace {

/// `text` as a 16-byte IPv6 address (IPv4 mapped), or nothing when it is not an address.
std::optional<std::array<uint8_t, 16>> parse_mapped(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string{text}, ec);
  if (ec) return std::nullopt;
  if (addr.is_v4())
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, addr.to_v4()).to_bytes();
  return addr.to_v6().to_bytes();
}

/// The canonical text of a mapped address (IPv4 in dotted form).
std::string to_text(const std::array<uint8_t, 16>& bytes) {
  auto v6 = boost::asio::ip::address_v6{bytes};
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  return v6.to_string();
}

/// Whether the first `prefix` bits of `a` and `b` agree.
bool same_prefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b,
                 unsigned prefix) {
  for (unsigned i = 0; i < 16 && prefix > 0; ++i, prefix = prefix >= 8 ? prefix - 8 : 0) {
    auto mask = static_cast<uint8_t>(prefix >= 8 ? 0xff : 0xff << (8 - prefix));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

trusted_proxies::trusted_proxies(const std::vector<std::string>& cidrs) {
  for (const auto& cidr : cidrs) {
    auto slash = cidr.find('/');
    auto addr = parse_mapped(std::string_view{cidr}.substr(0, slash));
    if (!addr) continue;
    bool v4 = boost::asio::ip::address_v6{*addr}.is_v4_mapped();
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string::npos) {
      auto digits = cidr.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 ||
          digits.find_first_not_of("0123456789") != std::string::npos)
        continue;
      prefix = static_cast<unsigned>(std::stoul(digits));
      if (prefix > max) continue;
    }
    networks_.push_back({*addr, v4 ? prefix + 96 : prefix});
  }
}

bool trusted_proxies::contains(std::string_view ip) const {
  auto addr = parse_mapped(ip);
  if (!addr) return false;
  for (const auto& n : networks_)
    if (same_prefix(*addr, n.bytes, n.prefix)) return true;
  return false;
}

std::string trusted_proxies::client_ip(std::string_view peer,
                                       std::string_view forwarded_for) const {
  auto peer_addr = parse_mapped(peer);
  std::string current = peer_addr ? to_text(*peer_addr) : std::string{peer};
  if (!contains(current)) return current;
  // Walk X-Forwarded-For right to left while the hops are trusted proxies.
  while (!forwarded_for.empty()) {
    auto comma = forwarded_for.rfind(',');
    auto entry = comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    auto addr = parse_mapped(entry);
    if (!addr) return current;  // garbage: keep the last hop we can vouch for
    current = to_text(*addr);
    if (!contains(current)) return current;
  }
  return current;
}

}  // namespace caa::http
