#include "config/parsers.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace caa::config {

namespace {

constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view x, std::string_view y) noexcept {
  return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(),
                                            [](char a, char b) { return lower(a) == lower(b); });
}

bool starts_with_icase(std::string_view x, std::string_view prefix) noexcept {
  return x.size() >= prefix.size() && iequals(x.substr(0, prefix.size()), prefix);
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

constexpr bool is_alnum(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool has_blank_or_control(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

std::string_view trim(std::string_view text) noexcept {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

/// Parses `inet_pton` input from a view (needs a NUL-terminated copy).
bool is_ip(int family, std::string_view text) noexcept {
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  unsigned char out[16];
  return inet_pton(family, buf, out) == 1;
}

bool is_hostname(std::string_view text) noexcept {
  if (text.empty() || text.size() > 253) return false;
  if (text.back() == '.') text.remove_suffix(1);
  // An all-numeric last label is a malformed IPv4 address, not a name ("1.2.3.999").
  auto tld = text.substr(text.rfind('.') + 1);
  if (std::all_of(tld.begin(), tld.end(), is_digit)) return false;
  while (true) {
    auto label = text.substr(0, text.find('.'));
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; }))
      return false;
    if (label.size() == text.size()) return true;
    text.remove_prefix(label.size() + 1);
  }
}

/// Checks `host[:port]` where host may be a bracketed IPv6 address; the port is 1..65535.
bool is_host_port(std::string_view text) noexcept {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(0, close + 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return false;
    port = rest.empty() ? rest : rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return false;
  }
  return is_host(host, true) && (port.empty() || parse_uint(port, 1, 65535));
}

}  // namespace

std::optional<uint64_t> parse_uint(std::string_view text, uint64_t lo, uint64_t hi) noexcept {
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < lo || value > hi)
    return std::nullopt;
  return value;
}

std::optional<double> parse_seconds(std::string_view text, double max) noexcept {
  // Only plain decimals: rejects "nan", "inf", signs, hex and blanks before from_chars sees them.
  if (text.empty() || !(is_digit(text.front()) || text.front() == '.')) return std::nullopt;
  double value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(value) ||
      value <= 0 || value > max)
    return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) noexcept {
  for (auto yes : {"true", "1", "yes"})
    if (iequals(text, yes)) return true;
  for (auto no : {"false", "0", "no"})
    if (iequals(text, no)) return false;
  return std::nullopt;
}

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  for (auto x : {log_level::debug, log_level::info, log_level::warn, log_level::error})
    if (iequals(text, to_string(x))) return x;
  return std::nullopt;
}

std::string_view to_string(log_level x) noexcept {
  switch (x) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "error";
}

std::optional<std::vector<std::string>> split_list(std::string_view text) {
  std::vector<std::string> out;
  if (trim(text).empty()) return out;
  while (true) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    if (item.empty()) return std::nullopt;
    out.emplace_back(item);
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

bool is_host(std::string_view text, bool bracketed_v6) noexcept {
  if (bracketed_v6 && text.size() > 2 && text.front() == '[' && text.back() == ']')
    return is_ip(AF_INET6, text.substr(1, text.size() - 2));
  if (!bracketed_v6 && is_ip(AF_INET6, text)) return true;
  return is_ip(AF_INET, text) || is_hostname(text);
}

bool is_cidr(std::string_view text) noexcept {
  auto slash = text.find('/');
  auto addr = text.substr(0, slash);
  bool v4 = is_ip(AF_INET, addr);
  if (!v4 && !is_ip(AF_INET6, addr)) return false;
  if (slash == std::string_view::npos) return true;
  return parse_uint(text.substr(slash + 1), 0, v4 ? 32 : 128).has_value();
}

std::optional<std::string> parse_origin(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(), lower);
  std::string_view view = out;
  auto sep = view.find("://");
  if (sep == std::string_view::npos || has_blank_or_control(view)) return std::nullopt;
  auto scheme = view.substr(0, sep);
  auto authority = view.substr(sep + 3);
  if ((scheme != "http" && scheme != "https") ||
      authority.find_first_of("/?#@") != authority.npos || !is_host_port(authority))
    return std::nullopt;
  return out;
}

bool is_absolute_path(std::string_view text) noexcept {
  if (text.size() < 2 || text.front() != '/' || text.back() == '/' || has_blank_or_control(text))
    return false;
  for (std::size_t pos = 1; pos <= text.size();) {
    auto end = std::min(text.find('/', pos), text.size());
    auto segment = text.substr(pos, end - pos);
    if (segment == "." || segment == "..") return false;
    pos = end + 1;
  }
  return true;
}

bool is_http_url(std::string_view text) noexcept {
  std::string_view rest;
  if (starts_with_icase(text, "http://"))
    rest = text.substr(7);
  else if (starts_with_icase(text, "https://"))
    rest = text.substr(8);
  else
    return false;
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  return !has_blank_or_control(text) && authority.find('@') == authority.npos &&
         is_host_port(authority);
}

bool is_postgres_url(std::string_view text) noexcept {
  bool prefix = starts_with_icase(text, "postgresql://") || starts_with_icase(text, "postgres://");
  return prefix && !has_blank_or_control(text);
}

bool is_redis_url(std::string_view text) noexcept {
  if (!starts_with_icase(text, "redis://") || has_blank_or_control(text)) return false;
  auto rest = text.substr(8);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  auto slash = rest.find('/');
  if (slash != std::string_view::npos && !parse_uint(rest.substr(slash + 1), 0, 1'000'000))
    return false;
  return is_host_port(rest.substr(0, slash));
}

bool is_key_text(std::string_view text, std::size_t min_len) noexcept {
  return text.size() >= min_len && std::all_of(text.begin(), text.end(), [](char c) {
           return is_alnum(c) || c == '_' || c == '-';
         });
}

bool is_printable_token(std::string_view text) noexcept {
  return !text.empty() && !has_blank_or_control(text) &&
         std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string mask_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return "***";
  std::string out{url.substr(0, sep + 3)};
  auto rest = url.substr(sep + 3);
  // The last '@' ends the user info even when an unencoded password holds '/', '?' or '@'.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto user = rest.substr(0, at);
    auto colon = user.find(':');
    out.append(user.substr(0, colon));
    if (colon != std::string_view::npos) out.append(":***");
    out.push_back('@');
    rest.remove_prefix(at + 1);
  }
  auto query = rest.find_first_of("?#");
  out.append(rest.substr(0, query));
  if (query != std::string_view::npos) out.append("?***");
  return out;
}

std::string quote(std::string_view text) {
  constexpr std::size_t max_len = 64;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text.substr(0, max_len)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      out.append("\\x").push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.append(text.size() > max_len ? "\"..." : "\"");
  return out;
}

}  // namespace caa::config
