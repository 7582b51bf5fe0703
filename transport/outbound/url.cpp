// The URL half of the SSRF guard: what may be tried before any resolution. A host that ends in
// a number is an IPv4 literal in the WHATWG sense (inet_aton forms: decimal, octal, hex, short),
// because that is how resolvers and browsers read it.

#include "transport/outbound/guard.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace caa::outbound::detail {

namespace {

constexpr std::size_t max_url_chars = 2048;

/// Names that are this machine whatever the resolver says.
constexpr std::string_view local_names[] = {"localhost",     "localhost.localdomain",
                                            "ip6-localhost", "ip6-loopback",
                                            "localhost6",    "localhost6.localdomain6"};

/// Well-known names of cloud metadata services.
constexpr std::string_view metadata_names[] = {"metadata",
                                               "metadata.google.internal",
                                               "metadata.goog",
                                               "instance-data",
                                               "instance-data.ec2.internal",
                                               "metadata.azure.internal",
                                               "metadata.tencentyun.com",
                                               "metadata.platformequinix.com"};

/// One part of an inet_aton address: "0x.." hex, "0.." octal, else decimal; nothing when it is
/// not a number or exceeds 32 bits.
std::optional<uint64_t> aton_part(std::string_view part) {
  int base = 10;
  if (part.size() >= 2 && part[0] == '0' && part[1] == 'x') {
    base = 16;
    part.remove_prefix(2);
    if (part.empty()) return 0;
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  if (part.empty()) return std::nullopt;
  while (part.size() > 1 && part[0] == '0') part.remove_prefix(1);  // leading zeros are harmless
  if (part.size() > 11) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, base);
  if (ec != std::errc{} || end != part.data() + part.size() || value > 0xffffffffu)
    return std::nullopt;
  return value;
}

/// Whether the last label of `host` is a number, which makes the host an IPv4 literal.
bool ends_in_number(std::string_view host) {
  auto last = host.substr(host.rfind('.') == std::string_view::npos ? 0 : host.rfind('.') + 1);
  if (!last.empty() && std::all_of(last.begin(), last.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      }))
    return true;
  return aton_part(last).has_value();
}

/// `host` (lower-case, no trailing dot) as an inet_aton IPv4 address, or nothing.
std::optional<ip_bytes> parse_aton(std::string_view host) {
  std::vector<uint64_t> parts;
  for (std::size_t pos = 0; pos <= host.size();) {
    auto dot = std::min(host.find('.', pos), host.size());
    auto part = aton_part(host.substr(pos, dot - pos));
    if (!part || parts.size() == 4) return std::nullopt;
    parts.push_back(*part);
    pos = dot + 1;
  }
  uint64_t value = 0;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] > 255) return std::nullopt;
    value |= parts[i] << (8 * (3 - i));
  }
  if (parts.back() >= (uint64_t{1} << (8 * (5 - parts.size())))) return std::nullopt;
  return mapped(static_cast<uint32_t>(value | parts.back()));
}

/// Whether `host` is a syntactically valid DNS name (letters, digits, '-', '_', labels of 1..63).
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (std::size_t pos = 0; pos <= host.size();) {
    auto dot = std::min(host.find('.', pos), host.size());
    auto label = host.substr(pos, dot - pos);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
        }))
      return false;
    pos = dot + 1;
  }
  return true;
}

bool is_local_name(std::string_view host) {
  constexpr std::string_view suffix = ".localhost";
  return std::find(std::begin(local_names), std::end(local_names), host) != std::end(local_names) ||
         (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix);
}

/// The verdict on an IP-literal host.
std::optional<std::string> literal_verdict(const ip_bytes& addr, const egress_policy& policy) {
  if (is_metadata(addr)) return "the host is a cloud metadata address";
  if (!in_cidrs(addr, policy.allow_cidrs))
    return "the host is an IP address outside the egress allow-list";
  return std::nullopt;
}

/// Splits the authority into `out.host`/`out.port`/`out.literal`, or says why it is refused.
std::optional<std::string> split_authority(std::string_view authority, const egress_policy& policy,
                                           url_parts& out) {
  if (authority.empty()) return "must have a host";
  if (authority.find('@') != std::string_view::npos) return "must not contain user information";
  std::string_view host = authority;
  std::string_view port;
  bool bracketed = authority.front() == '[';
  if (bracketed) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "the host is not a valid name";
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "the host is not a valid name";
    if (!rest.empty()) port = rest.size() > 1 ? rest.substr(1) : std::string_view{"-"};
  } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) port = "-";
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535 ||
        port.size() > 5)
      return "the port is not valid";
    out.port = std::to_string(value);
  } else {
    out.port = out.tls ? "443" : "80";
  }
  std::string lower{host};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (bracketed) {
    if (lower.find('%') != std::string::npos) return "IPv6 zone ids are not allowed";
    auto addr = lower.find(':') == std::string::npos ? std::nullopt : parse_address(lower);
    if (!addr) return "the host is not a valid IPv6 address";
    out.literal = addr;
  } else {
    if (!lower.empty() && lower.back() == '.') lower.pop_back();  // "localhost." is localhost
    if (lower.empty() || !is_dns_name(lower)) return "the host is not a valid name";
    if (ends_in_number(lower)) {
      out.literal = parse_aton(lower);
      if (!out.literal) return "the host is not a valid IPv4 address";
    } else if (is_local_name(lower)) {
      out.literal = mapped(0x7F000001);  // allowed only when 127.0.0.1 is
      if (!in_cidrs(*out.literal, policy.allow_cidrs)) return "the host is a local name";
      out.literal.reset();
    } else if (std::find(std::begin(metadata_names), std::end(metadata_names), lower) !=
               std::end(metadata_names)) {
      return "the host is a cloud metadata name";
    }
  }
  if (out.literal) {
    if (auto why = literal_verdict(*out.literal, policy)) return why;
    lower = to_text(*out.literal);
  }
  out.host = lower;
  bool v6 = lower.find(':') != std::string::npos;
  out.host_header = v6 ? "[" + lower + "]" : lower;
  if (out.port != (out.tls ? "443" : "80")) out.host_header += ":" + out.port;
  return std::nullopt;
}

}  // namespace

std::variant<url_parts, std::string> split_url(std::string_view url, const egress_policy& policy) {
  if (url.size() > max_url_chars) return std::string{"is longer than 2048 characters"};
  if (!std::all_of(url.begin(), url.end(),
                   [](char c) { return c > 0x20 && c < 0x7F && c != '\\'; }))
    return std::string{"must be printable ASCII without spaces or backslashes"};
  url_parts out;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else if (policy.allow_http && url.substr(0, 7) == "http://") {
    out.tls = false;
    rest = url.substr(7);
  } else {
    return std::string{policy.allow_http ? "must be an http(s) URL" : "must be an https URL"};
  }
  auto end = rest.find_first_of("/?#");
  if (auto why = split_authority(rest.substr(0, end), policy, out)) return *why;
  auto target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  target = target.substr(0, target.find('#'));
  out.target =
      target.empty() || target.front() != '/' ? "/" + std::string{target} : std::string{target};
  return out;
}

}  // namespace caa::outbound::detail

namespace caa::outbound {

std::optional<std::string> check_url(std::string_view url, const egress_policy& policy) {
  auto parts = detail::split_url(url, policy);
  if (auto* why = std::get_if<std::string>(&parts)) return std::move(*why);
  return std::nullopt;
}

bool address_allowed(std::string_view addr, const egress_policy& policy) {
  auto parsed = detail::parse_address(addr);
  return parsed && detail::allowed(*parsed, policy);
}

bool is_reserved_header(std::string_view name) {
  constexpr std::string_view reserved[] = {"host",
                                           "content-length",
                                           "transfer-encoding",
                                           "connection",
                                           "keep-alive",
                                           "upgrade",
                                           "te",
                                           "trailer",
                                           "expect",
                                           "proxy-authorization",
                                           "proxy-authenticate",
                                           "proxy-connection",
                                           "content-type",
                                           "content-encoding",
                                           "idempotency-key"};
  std::string lower{name};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(reserved), std::end(reserved), lower) != std::end(reserved);
}

}  // namespace caa::outbound
