// The pure rules of the egress proxy: allow-list entries, matching, the CONNECT request line.

#include "transport/sandbox/egress_rules.hpp"

#include "transport/sandbox/egress_proxy.hpp"

#include "config/errc.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace caa::sandbox {

namespace detail {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
  });
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// A decimal port 1-65535, or 0.
uint16_t parse_port(std::string_view digits) noexcept {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || digits.size() > 5 || ec != std::errc{} ||
      end != digits.data() + digits.size() || value == 0 || value > 65535)
    return 0;
  return static_cast<uint16_t>(value);
}

/// Labels of [a-z0-9_-], 1-63 bytes each, at most 253 in all (lower case already).
bool valid_name(std::string_view host) noexcept {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

/// Whether `text` is a strict IPv4 dotted quad or an IPv6 address (no zone).
bool valid_literal(const std::string& text) noexcept {
  unsigned char buf[16];
  auto family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  return inet_pton(family, text.c_str(), buf) == 1;
}

std::string_view strip_dot(std::string_view host) noexcept {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

/// `host` checked and normalized (trailing dot removed), or nothing.
std::optional<std::string> normalize_host(std::string_view raw, bool bracketed) {
  auto host = lower(bracketed ? raw : strip_dot(raw));
  if (bracketed || host.find(':') != std::string::npos)
    return host.find(':') != std::string::npos && valid_literal(host)
               ? std::optional<std::string>{host}
               : std::nullopt;
  if (!valid_name(host)) return std::nullopt;
  if (is_ip_like(host) && !valid_literal(host)) return std::nullopt;
  return host;
}

/// `authority` split as `host[:port]` or `[v6][:port]`; port 0 when absent, nullopt when bad.
std::optional<std::pair<std::string, uint16_t>> split_authority(std::string_view authority,
                                                                bool port_required) {
  std::string_view host = authority;
  std::string_view port;
  bool bracketed = !authority.empty() && authority.front() == '[';
  if (bracketed) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) return std::nullopt;
  } else if (std::count(authority.begin(), authority.end(), ':') == 1) {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  } else if (port_required) {
    return std::nullopt;  // no port, or an unbracketed IPv6 address
  }
  uint16_t number = 0;
  if (!port.empty() && (number = parse_port(port)) == 0) return std::nullopt;
  if (port_required && number == 0) return std::nullopt;
  auto normalized = normalize_host(host, bracketed);
  if (!normalized) return std::nullopt;
  return std::pair{std::move(*normalized), number};
}

}  // namespace

bool is_ip_like(std::string_view host) noexcept {
  if (host.find(':') != std::string_view::npos) return true;
  host = strip_dot(host);
  auto last = host.substr(host.rfind('.') + 1);  // npos + 1 == 0: the whole name
  if (last.empty()) return false;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
    return std::all_of(last.begin() + 2, last.end(),
                       [](unsigned char c) { return std::isxdigit(c) != 0; });
  return std::all_of(last.begin(), last.end(),
                     [](unsigned char c) { return c >= '0' && c <= '9'; });
}

std::optional<allow_entry> parse_entry(std::string_view text) {
  text = trim(text);
  allow_entry e;
  if (text.starts_with("*.")) {
    e.subdomains = true;
    text.remove_prefix(2);
  } else if (text.starts_with(".")) {
    e.subdomains = true;
    text.remove_prefix(1);
  }
  auto split = split_authority(text, false);
  if (!split) return std::nullopt;
  e.host = std::move(split->first);
  e.port = split->second;
  e.literal = is_ip_like(e.host);
  if (e.literal && e.subdomains) return std::nullopt;
  return e;
}

std::variant<connect_target, unsigned> parse_connect(std::string_view head) {
  auto line = head.substr(0, head.find("\r\n"));
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      sp1 == 0)
    return 400u;
  if (line.substr(0, sp1) != "CONNECT") return 405u;
  if (line.substr(sp2 + 1) != "HTTP/1.1") return 400u;
  auto split = split_authority(line.substr(sp1 + 1, sp2 - sp1 - 1), true);
  if (!split) return 400u;
  return connect_target{std::move(split->first), split->second};
}

}  // namespace detail

bool egress_allowed(const std::vector<std::string>& allow, std::string_view host, uint16_t port) {
  auto name = detail::lower(detail::strip_dot(host));
  if (name.empty() || port == 0) return false;
  bool literal = detail::is_ip_like(name);
  for (const auto& text : allow) {
    auto e = detail::parse_entry(text);
    if (!e || (e->port != 0 ? port != e->port : port != 443 && port != 80)) continue;
    if (literal || e->literal || !e->subdomains) {
      if (name == e->host) return true;
    } else if (name.size() > e->host.size() + 1 && name.ends_with(e->host) &&
               name[name.size() - e->host.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

caf::error validate(const egress_config& cfg) {
  for (const auto& text : cfg.allow)
    if (!detail::parse_entry(text))
      return make_error(errc::validation, "AGENT_EGRESS_ALLOW entry is invalid: " + text);
  if (cfg.idle_timeout.count() <= 0 || cfg.head_timeout.count() <= 0 ||
      cfg.connect_timeout.count() <= 0)
    return make_error(errc::validation, "egress timeouts must be positive");
  if (cfg.max_tunnels == 0) return make_error(errc::validation, "egress max_tunnels is 0");
  return {};
}

}  // namespace caa::sandbox
