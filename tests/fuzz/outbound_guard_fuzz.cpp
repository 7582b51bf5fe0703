// libFuzzer target for the SSRF guard of outbound calls (transport/outbound/guard.hpp): URL
// parsing (`check_url`, `detail::split_url`) and the address check (`address_allowed`,
// `detail::parse_address`, `to_text`, `allowed`). Input: one policy byte, the text (a URL, also
// tried as an address), optionally '\n' and one more CIDR for the allow-list. Properties:
//   * check_url and split_url agree; an accepted URL has at most 2048 printable characters, the
//     scheme the policy allows, a host (lower case, no '@'), a canonical port 1..65535, a target
//     starting with '/' without fragment, and a Host header naming host and port;
//   * a host that is an IP literal is accepted only inside the allow-list and never when it is a
//     metadata address; a host text that parses as an address is always treated as a literal;
//   * widening the policy (http allowed, one more CIDR) never refuses a URL accepted before;
//   * parse_address and to_text round-trip; address_allowed is `parse_address` + `allowed`;
//     a metadata address is refused even when every address is allow-listed.
#include "transport/outbound/guard.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool lower_case(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ob = caa::outbound;
  namespace d = caa::outbound::detail;
  if (size < 1) return 0;
  std::string_view input{reinterpret_cast<const char*>(data) + 1, size - 1};
  std::string_view text = input.substr(0, input.find('\n'));
  std::string_view extra_cidr;
  if (text.size() < input.size()) extra_cidr = input.substr(text.size() + 1);

  ob::egress_policy policy;
  policy.allow_http = (data[0] & 1) != 0;
  switch ((data[0] >> 1) & 3) {
    case 0:
      break;
    case 1:
      policy.allow_cidrs = {"127.0.0.1/32"};
      break;
    case 2:
      policy.allow_cidrs = {"10.0.0.0/8", "::1/128", "fd00::/8"};
      break;
    case 3:
      policy.allow_cidrs = {"0.0.0.0/0", "::/0"};
      break;
  }

  // -- URL
  auto parts = d::split_url(text, policy);
  auto verdict = ob::check_url(text, policy);
  check(verdict.has_value() == std::holds_alternative<std::string>(parts));
  if (auto* p = std::get_if<d::url_parts>(&parts)) {
    check(text.size() <= 2048);
    check(text.find('\\') == std::string_view::npos);
    check(p->tls ? text.substr(0, 8) == "https://"
                 : policy.allow_http && text.substr(0, 7) == "http://");
    check(!p->host.empty() && lower_case(p->host) && p->host.find('@') == std::string::npos);
    check(!p->port.empty() && p->port.size() <= 5 && p->port.front() != '0');
    check(p->port.find_first_not_of("0123456789") == std::string::npos);
    auto port = std::stoul(p->port);
    check(port >= 1 && port <= 65535);
    check(!p->target.empty() && p->target.front() == '/' &&
          p->target.find('#') == std::string::npos);
    bool v6 = p->host.find(':') != std::string::npos;
    std::string host_header = v6 ? "[" + p->host + "]" : p->host;
    if (p->port != (p->tls ? "443" : "80")) host_header += ":" + p->port;
    check(p->host_header == host_header);
    if (p->literal) {
      check(!d::is_metadata(*p->literal));
      check(d::in_cidrs(*p->literal, policy.allow_cidrs));
      check(p->host == d::to_text(*p->literal));
    } else {
      check(!d::parse_address(p->host).has_value());
    }
    // Widening the policy keeps the URL accepted.
    auto wider = policy;
    wider.allow_http = true;
    if (!extra_cidr.empty()) wider.allow_cidrs.emplace_back(extra_cidr);
    check(!ob::check_url(text, wider).has_value());
  }

  // -- address
  auto addr = d::parse_address(text);
  check(ob::address_allowed(text, policy) == (addr && d::allowed(*addr, policy)));
  if (addr) {
    auto canonical = d::to_text(*addr);
    auto back = d::parse_address(canonical);
    check(back && *back == *addr);
    check(d::to_text(*back) == canonical);
    ob::egress_policy open;
    open.allow_cidrs = {"0.0.0.0/0", "::/0"};
    check(d::allowed(*addr, open) == !d::is_metadata(*addr));
    if (d::is_metadata(*addr)) check(!ob::address_allowed(text, open));
    if (!extra_cidr.empty()) {
      // One more CIDR never refuses an address allowed before.
      auto wider = policy;
      wider.allow_cidrs.emplace_back(extra_cidr);
      if (d::allowed(*addr, policy)) check(d::allowed(*addr, wider));
    }
  }
  return 0;
}
