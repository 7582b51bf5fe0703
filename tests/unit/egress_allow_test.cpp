// The egress proxy's pure rules without sockets: allow-list matching (`egress_allowed`), entry
// validation, and the one request line it accepts (`parse_connect`), as tables.

#include "transport/sandbox/egress_proxy.hpp"
#include "transport/sandbox/egress_rules.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace caa::sandbox;

namespace {

/// One verdict of `egress_allowed`.
struct allow_case {
  std::vector<std::string> allow;
  std::string_view host;
  uint16_t port;
  bool allowed;
  std::string_view why;  ///< what the case is about (shown on failure)
};

const allow_case allow_cases[] = {
    {{}, "example.com", 443, false, "empty list: no egress"},
    {{"example.com"}, "example.com", 443, true, "exact name, https"},
    {{"example.com"}, "example.com", 80, true, "exact name, http"},
    {{"example.com"}, "example.com", 8443, false, "other ports need an entry with a port"},
    {{"example.com"}, "api.example.com", 443, false, "an exact entry has no subdomains"},
    {{"example.com"}, "badexample.com", 443, false, "suffix without a dot"},
    {{"example.com"}, "example.com.evil.net", 443, false, "prefix of another name"},
    {{"Example.COM"}, "example.com", 443, true, "entries are case-insensitive"},
    {{"example.com"}, "EXAMPLE.com", 443, true, "hosts are case-insensitive"},
    {{"example.com."}, "example.com", 443, true, "trailing dot in the entry"},
    {{"example.com"}, "example.com.", 443, true, "trailing dot in the host"},
    {{" example.com "}, "example.com", 443, true, "blanks around an entry"},
    {{".example.com"}, "api.example.com", 443, true, "dot wildcard: a subdomain"},
    {{".example.com"}, "a.b.example.com", 80, true, "dot wildcard: a deeper subdomain"},
    {{".example.com"}, "example.com", 443, false, "dot wildcard: not the name itself"},
    {{"*.example.com"}, "api.example.com", 443, true, "star wildcard: a subdomain"},
    {{"*.example.com"}, "example.com", 443, false, "star wildcard: not the name itself"},
    {{"*.example.com"}, "apiexample.com", 443, false, "star wildcard: label boundary"},
    {{"*.example.com"}, "api.example.com", 22, false, "star wildcard: default ports only"},
    {{"example.com:8443"}, "example.com", 8443, true, "entry with a port"},
    {{"example.com:8443"}, "example.com", 443, false, "entry with a port: that port only"},
    {{"*.example.com:8443"}, "a.example.com", 8443, true, "wildcard with a port"},
    {{"a.com", "b.com:22"}, "b.com", 22, true, "second entry"},
    {{"93.184.215.14"}, "93.184.215.14", 443, true, "IP literal written exactly"},
    {{"93.184.215.14:8080"}, "93.184.215.14", 8080, true, "IP literal with a port"},
    {{"*.215.14"}, "93.184.215.14", 443, false, "no wildcard over addresses"},
    {{".com"}, "0x7f.1", 443, false, "a number is no subdomain"},
    {{"localhost"}, "2130706433", 443, false, "a decimal address matches no name"},
    {{"[2001:db8::1]"}, "2001:db8::1", 443, true, "bracketed IPv6 entry"},
    {{"2001:db8::1"}, "2001:db8::1", 443, true, "bare IPv6 entry"},
    {{"[2001:db8::1]:8443"}, "2001:db8::1", 8443, true, "bracketed IPv6 entry with a port"},
    {{"[2001:db8::1]:8443"}, "2001:db8::1", 443, false, "IPv6 entry with a port: that port only"},
    {{"*"}, "example.com", 443, false, "no catch-all"},
    {{"exa mple.com", "example.com:0", "*.", ""}, "example.com", 443, false, "invalid entries"},
    {{"example.com"}, "", 443, false, "empty host"},
    {{"example.com"}, "example.com", 0, false, "port 0"},
};

TEST(EgressAllowed, Table) {
  for (const auto& c : allow_cases)
    EXPECT_EQ(egress_allowed(c.allow, c.host, c.port), c.allowed) << c.why;
}

/// A config with `allow` and the defaults.
egress_config with_allow(std::vector<std::string> allow) {
  egress_config cfg;
  cfg.allow = std::move(allow);
  return cfg;
}

TEST(EgressConfig, ValidateNamesTheBadEntry) {
  EXPECT_FALSE(validate(egress_config{}));
  EXPECT_FALSE(validate(with_allow(
      {"example.com", ".example.org", "*.example.net:8443", "1.2.3.4", "[2001:db8::1]"})));
  for (std::string bad : {"", "*", "*.", "exa mple.com", "example.com:0", "example.com:65536",
                          "example.com:", "a..b", "*.1.2.3.4", "256.1.1.1", "127.1", "[::1",
                          "[1.2.3.4]", "example.com/path", "user@example.com", "https://x.com"}) {
    auto err = validate(with_allow({bad}));
    EXPECT_TRUE(err) << "'" << bad << "'";
    EXPECT_NE(to_string(err).find(bad), std::string::npos) << to_string(err);
  }
  egress_config no_idle;
  no_idle.idle_timeout = std::chrono::seconds{0};
  EXPECT_TRUE(validate(no_idle));
  egress_config no_tunnels;
  no_tunnels.max_tunnels = 0;
  EXPECT_TRUE(validate(no_tunnels));
}

TEST(EgressRules, IpLike) {
  for (std::string_view h : {"1.2.3.4", "2130706433", "0x7f.1", "127.1", "0x", "10.0.0.1.", "::1"})
    EXPECT_TRUE(detail::is_ip_like(h)) << h;
  for (std::string_view h : {"example.com", "1.2.3.com", "localhost", "x1", "0xg.com"})
    EXPECT_FALSE(detail::is_ip_like(h)) << h;
}

/// One request head and what `parse_connect` makes of it.
struct connect_case {
  std::string_view line;  ///< the request line (fields and the empty line are added)
  std::string_view host;  ///< empty: refused
  uint16_t port;          ///< or the refusal status
};

constexpr connect_case connect_cases[] = {
    {"CONNECT example.com:443 HTTP/1.1", "example.com", 443},
    {"CONNECT API.Example.com:8443 HTTP/1.1", "api.example.com", 8443},
    {"CONNECT example.com.:443 HTTP/1.1", "example.com", 443},
    {"CONNECT 93.184.215.14:443 HTTP/1.1", "93.184.215.14", 443},
    {"CONNECT [2001:DB8::1]:443 HTTP/1.1", "2001:db8::1", 443},
    {"GET http://example.com/ HTTP/1.1", "", 405},
    {"POST / HTTP/1.1", "", 405},
    {"connect example.com:443 HTTP/1.1", "", 405},
    {"CONNECT example.com HTTP/1.1", "", 400},
    {"CONNECT example.com: HTTP/1.1", "", 400},
    {"CONNECT example.com:0 HTTP/1.1", "", 400},
    {"CONNECT example.com:65536 HTTP/1.1", "", 400},
    {"CONNECT example.com:443 HTTP/1.0", "", 400},
    {"CONNECT example.com:443", "", 400},
    {"CONNECT  example.com:443 HTTP/1.1", "", 400},
    {"CONNECT example.com:443 HTTP/1.1 x", "", 400},
    {"CONNECT ::1:443 HTTP/1.1", "", 400},
    {"CONNECT [1.2.3.4]:443 HTTP/1.1", "", 400},
    {"CONNECT 127.1:443 HTTP/1.1", "", 400},
    {"CONNECT user@example.com:443 HTTP/1.1", "", 400},
    {"CONNECT exa%6dple.com:443 HTTP/1.1", "", 400},
    {"CONNECT http://example.com:443 HTTP/1.1", "", 400},
    {"", "", 400},
    {"\x16\x03\x01\x02", "", 400},
};

TEST(EgressRules, ParseConnect) {
  for (const auto& c : connect_cases) {
    auto head = std::string{c.line} + "\r\nHost: example.com:443\r\n\r\n";
    auto parsed = detail::parse_connect(head);
    if (c.host.empty()) {
      ASSERT_TRUE(std::holds_alternative<unsigned>(parsed)) << c.line;
      EXPECT_EQ(std::get<unsigned>(parsed), c.port) << c.line;
    } else {
      ASSERT_TRUE(std::holds_alternative<detail::connect_target>(parsed)) << c.line;
      EXPECT_EQ(std::get<detail::connect_target>(parsed).host, c.host) << c.line;
      EXPECT_EQ(std::get<detail::connect_target>(parsed).port, c.port) << c.line;
    }
  }
}

}  // namespace
