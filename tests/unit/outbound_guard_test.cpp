// The SSRF guard without sockets: `check_url` (what is refused before any resolution) and
// `address_allowed` (what a resolved address may be), as tables.

#include "transport/outbound/client.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace caa::outbound;

namespace {

/// A URL the guard must refuse at validation.
struct refused_url {
  std::string_view url;
  std::string_view reason;  ///< a part of the expected reason
  std::string_view why;     ///< what the case is about (shown on failure)
};

constexpr refused_url refused_urls[] = {
    // Literal IPv4, every inet_aton form.
    {"https://127.0.0.1/hook", "allow-list", "dotted loopback"},
    {"https://127.0.0.1./hook", "allow-list", "dotted loopback, trailing dot"},
    {"https://2130706433/", "allow-list", "decimal 127.0.0.1"},
    {"https://0177.0.0.1/", "allow-list", "octal first part"},
    {"https://0x7f.1/", "allow-list", "hex + short form"},
    {"https://0x7F000001/", "allow-list", "single hex number, upper case"},
    {"https://127.1/", "allow-list", "short form"},
    {"https://127.0.1/", "allow-list", "three-part form"},
    {"https://017700000001/", "allow-list", "single octal number"},
    {"https://0/", "allow-list", "zero is 0.0.0.0"},
    {"https://0.0.0.0/", "allow-list", "unspecified"},
    {"https://10.0.0.1/", "allow-list", "private 10/8"},
    {"https://172.16.5.4/", "allow-list", "private 172.16/12"},
    {"https://192.168.1.1:8443/", "allow-list", "private 192.168/16 with a port"},
    {"https://100.64.0.1/", "allow-list", "shared address space"},
    {"https://169.254.169.254/latest/meta-data/", "metadata address", "metadata address"},
    {"https://0xa9fea9fe/", "metadata address", "metadata address in hex"},
    {"https://224.0.0.1/", "allow-list", "multicast"},
    {"https://255.255.255.255/", "allow-list", "broadcast"},
    {"https://8.8.8.8/", "allow-list", "a public IP literal is still a literal"},
    {"https://1.2.3.4.5/", "IPv4", "five parts: not an address, not a name"},
    {"https://256.0.0.1/", "IPv4", "part out of range"},
    {"https://08.0.0.1/", "IPv4", "bad octal digit"},
    // IPv6 literals.
    {"https://[::1]/", "allow-list", "IPv6 loopback"},
    {"https://[::]/", "allow-list", "IPv6 unspecified"},
    {"https://[::ffff:127.0.0.1]/", "allow-list", "IPv4-mapped loopback"},
    {"https://[::ffff:7f00:1]/", "allow-list", "IPv4-mapped loopback, hex"},
    {"https://[::127.0.0.1]/", "allow-list", "IPv4-compatible loopback"},
    {"https://[64:ff9b::7f00:1]/", "allow-list", "NAT64 of loopback"},
    {"https://[2002:7f00:1::]/", "allow-list", "6to4 of loopback"},
    {"https://[fe80::1%25eth0]/", "zone", "link-local with a zone id"},
    {"https://[fe80::1]/", "allow-list", "link-local"},
    {"https://[fc00::1]/", "allow-list", "unique-local"},
    {"https://[fd00:ec2::254]/", "metadata address", "AWS metadata IPv6"},
    {"https://[ff02::1]/", "allow-list", "multicast"},
    {"https://[2606:4700::1111]/", "allow-list", "a public IPv6 literal is still a literal"},
    {"https://[::1/", "valid name", "unclosed bracket"},
    {"https://::1/", "port", "IPv6 without brackets"},
    // Local and metadata names.
    {"https://localhost/", "local name", "localhost"},
    {"https://LOCALHOST./", "local name", "localhost, upper case with a trailing dot"},
    {"https://api.localhost/", "local name", "*.localhost"},
    {"https://ip6-localhost/", "local name", "Debian's IPv6 loopback name"},
    {"https://metadata.google.internal/computeMetadata/v1/", "metadata name", "GCP metadata name"},
    {"https://metadata/", "metadata name", "short metadata name"},
    {"https://instance-data/", "metadata name", "EC2 metadata name"},
    // Userinfo tricks and malformed URLs.
    {"https://good.com@127.0.0.1/", "user information", "userinfo hiding the real host"},
    {"https://user:pass@hooks.example.com/", "user information", "credentials"},
    {"https://hooks.example.com\\@127.0.0.1/", "printable", "backslash"},
    {"https://hooks.example.com:0/", "port", "port 0"},
    {"https://hooks.example.com:70000/", "port", "port out of range"},
    {"https://hooks.example.com:/", "port", "empty port"},
    {"https://%31%32%37.0.0.1/", "valid name", "percent-encoded host"},
    {"https:///path", "host", "no host"},
    {"https://hooks.example.com/a b", "printable", "space"},
    {"ftp://hooks.example.com/", "https", "scheme"},
    {"HTTPS://hooks.example.com/", "https", "scheme is exact"},
    {"http://hooks.example.com/", "https", "http not allowed"},
    {"//hooks.example.com/", "https", "relative"},
    {"file:///etc/passwd", "https", "file scheme"},
    {"gopher://127.0.0.1:6379/_INFO", "https", "gopher"},
};

egress_policy strict() {
  return {};
}

egress_policy loopback_allowed() {
  egress_policy p;
  p.allow_cidrs = {"127.0.0.1/32", "::1/128"};
  p.allow_http = true;
  return p;
}

}  // namespace

TEST(outbound_check_url, refuses_the_ssrf_table) {
  static_assert(std::size(refused_urls) >= 40);
  for (const auto& c : refused_urls) {
    auto why = check_url(c.url, strict());
    ASSERT_TRUE(why.has_value()) << c.url << " (" << c.why << ") was accepted";
    EXPECT_NE(why->find(c.reason), std::string::npos) << c.url << " (" << c.why << "): " << *why;
  }
}

TEST(outbound_check_url, accepts_names_that_only_look_local) {
  // Names go to resolution, where every answer is checked: not literals.
  for (auto url : {"https://hooks.example.com/x?y=1#frag", "https://127.0.0.1.nip.io/",
                   "https://localhost.example.com/", "https://0x7f.example.com/",
                   "https://metadata.example.com/", "https://HOOKS.Example.COM:8443",
                   "https://a-b_c.example./"})
    EXPECT_EQ(check_url(url, strict()), std::nullopt) << url;
}

TEST(outbound_check_url, reasons_do_not_echo_the_url) {
  auto why = check_url("https://secret-token@127.0.0.1/", strict());
  ASSERT_TRUE(why);
  EXPECT_EQ(why->find("secret-token"), std::string::npos);
  EXPECT_EQ(why->find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(*check_url("https://10.0.0.1/", strict()),
            "the host is an IP address outside the egress allow-list");
  EXPECT_EQ(*check_url("http://hooks.example.com/", strict()), "must be an https URL");
}

TEST(outbound_check_url, allow_list_overrides_literals_and_localhost) {
  auto p = loopback_allowed();
  for (auto url : {"http://127.0.0.1:8080/hook", "https://2130706433/", "https://0x7f.1/",
                   "https://[::1]:9000/", "https://[::ffff:127.0.0.1]/", "https://localhost/",
                   "http://hooks.example.com/"})
    EXPECT_EQ(check_url(url, p), std::nullopt) << url;
  for (auto url : {"https://127.0.0.2/", "https://10.0.0.1/", "https://[::2]/",
                   "https://[::127.0.0.1]/", "https://[64:ff9b::7f00:1]/",
                   "https://[fe80::1%25lo]/", "https://metadata.google.internal/"})
    EXPECT_TRUE(check_url(url, p).has_value()) << url;
}

TEST(outbound_check_url, metadata_is_never_allowed) {
  egress_policy p;
  p.allow_cidrs = {"169.254.0.0/16", "fd00::/8", "0.0.0.0/0", "::/0"};
  EXPECT_TRUE(check_url("https://169.254.169.254/", p));
  EXPECT_TRUE(check_url("https://[fd00:ec2::254]/", p));
  EXPECT_TRUE(check_url("https://[::ffff:169.254.169.254]/", p));
  EXPECT_TRUE(check_url("https://metadata.google.internal/", p));
  EXPECT_FALSE(address_allowed("169.254.169.254", p));
  EXPECT_FALSE(address_allowed("100.100.100.200", p));
  EXPECT_FALSE(address_allowed("192.0.0.192", p));
  EXPECT_FALSE(address_allowed("64:ff9b::a9fe:a9fe", p));
  EXPECT_TRUE(address_allowed("169.254.1.1", p));  // the rest of the allowed network
}

TEST(outbound_check_url, limits) {
  std::string url = "https://hooks.example.com/";
  EXPECT_EQ(check_url(url + std::string(2048 - url.size(), 'a'), strict()), std::nullopt);
  EXPECT_TRUE(check_url(url + std::string(2049 - url.size(), 'a'), strict()));
  EXPECT_TRUE(check_url("https://hooks.example.com/\x7f", strict()));
  EXPECT_TRUE(check_url("https://" + std::string(64, 'a') + ".example.com/", strict()));
}

TEST(outbound_address_allowed, forbidden_ranges) {
  for (auto a : {"0.0.0.0",
                 "0.1.2.3",
                 "10.1.2.3",
                 "100.64.0.1",
                 "100.127.255.255",
                 "127.0.0.1",
                 "127.255.255.254",
                 "169.254.169.254",
                 "172.16.0.1",
                 "172.31.255.255",
                 "192.0.0.8",
                 "192.0.2.1",
                 "192.88.99.1",
                 "192.168.0.1",
                 "198.18.0.1",
                 "198.19.255.255",
                 "198.51.100.7",
                 "203.0.113.9",
                 "224.0.0.251",
                 "239.1.1.1",
                 "240.0.0.1",
                 "255.255.255.255",
                 "::",
                 "::1",
                 "::ffff:127.0.0.1",
                 "::ffff:10.0.0.1",
                 "::127.0.0.1",
                 "::8.8.8.8",
                 "64:ff9b::a00:1",
                 "64:ff9b:1::1",
                 "100::1",
                 "2001:db8::1",
                 "2001::1",
                 "2001:1ff::1",
                 "2002:a00:1::",
                 "2002:c0a8:101::1",
                 "fc00::1",
                 "fd12:3456::1",
                 "fe80::1",
                 "febf::1",
                 "fec0::1",
                 "ff02::1",
                 "fd00:ec2::254",
                 "3fff::1",
                 "fe80::1%eth0",
                 "127.1",
                 "0x7f.0.0.1",
                 "2130706433",
                 "[::1]",
                 "",
                 "not an address"})
    EXPECT_FALSE(address_allowed(a, strict())) << a;
}

TEST(outbound_address_allowed, public_addresses) {
  for (auto a : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1",
                 "172.15.255.255", "172.32.0.1", "192.0.1.1", "198.17.255.255", "223.255.255.254",
                 "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111",
                 "2001:200::1", "2a00:1450:4001:81b::200e"})
    EXPECT_TRUE(address_allowed(a, strict())) << a;
}

TEST(outbound_address_allowed, allow_list_overrides) {
  egress_policy p;
  p.allow_cidrs = {"127.0.0.1/32", "10.20.0.0/16", "fd00:1234::/32", "192.168.7.7"};
  for (auto a : {"127.0.0.1", "::ffff:127.0.0.1", "10.20.3.4", "fd00:1234:5::1", "192.168.7.7"})
    EXPECT_TRUE(address_allowed(a, p)) << a;
  for (auto a : {"127.0.0.2", "::1", "10.21.0.1", "fd00:1235::1", "192.168.7.8", "::127.0.0.1",
                 "64:ff9b::7f00:1"})
    EXPECT_FALSE(address_allowed(a, p)) << a;
  p.allow_cidrs = {"not a cidr", "127.0.0.1/33", "127.0.0.1/x"};  // invalid entries are ignored
  EXPECT_FALSE(address_allowed("127.0.0.1", p));
}

TEST(outbound_failure, names) {
  EXPECT_EQ(to_string(failure::refused), "refused");
  EXPECT_EQ(to_string(failure::too_large), "too_large");
  EXPECT_EQ(to_string(failure::timeout), "timeout");
  post_result r;
  r.status = 204;
  EXPECT_TRUE(r.ok());
  r.status = 302;
  EXPECT_FALSE(r.ok());
  r = {failure::timeout, 200, {}, {}};
  EXPECT_FALSE(r.ok());
}
