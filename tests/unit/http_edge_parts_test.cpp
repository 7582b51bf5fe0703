// The pure parts of the edge: header pre-scan, CORS, client address, correlation ids, wire format.

#include "transport/http/client_ip.hpp"
#include "transport/http/correlation.hpp"
#include "transport/http/cors.hpp"
#include "transport/http/header_scan.hpp"
#include "transport/http/wire.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace caa::http;

namespace {

scan_status scan(const std::string& raw) {
  header_scanner s;
  return s.scan(raw);
}

std::string request_with(const std::string& fields) {
  return "GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n";
}

TEST(header_scan, finds_the_end_of_a_clean_header) {
  header_scanner s;
  std::string raw = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Y: z\r\n\r\nNEXT";
  EXPECT_EQ(s.scan(raw), scan_status::complete);
  EXPECT_EQ(s.header_size(), raw.size() - 4);
}

TEST(header_scan, resumes_across_reads) {
  std::string raw = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  header_scanner s;
  for (size_t i = 1; i < raw.size(); ++i)
    ASSERT_EQ(s.scan(std::string_view{raw}.substr(0, i)), scan_status::incomplete) << i;
  EXPECT_EQ(s.scan(raw), scan_status::complete);
  EXPECT_EQ(s.header_size(), raw.size());
}

TEST(header_scan, classifies_long_targets_as_414) {
  EXPECT_EQ(scan("GET /" + std::string(8191, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"),
            scan_status::complete);
  EXPECT_EQ(scan("GET /" + std::string(8192, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"),
            scan_status::uri_too_long);
  EXPECT_EQ(scan("GET /" + std::string(20000, 'a')), scan_status::uri_too_long);  // still arriving
}

TEST(header_scan, classifies_large_headers_as_431) {
  EXPECT_EQ(scan(request_with("X-Long: " + std::string(8185, 'a') + "\r\n")),
            scan_status::headers_too_large);  // one 8193-byte line
  std::string block;
  for (int i = 0; i < 3; ++i)
    block += "X-Part" + std::to_string(i) + ": " + std::string(3000, 'b') + "\r\n";
  EXPECT_EQ(scan(request_with(block)), scan_status::headers_too_large);
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(scan(request_with(many)), scan_status::headers_too_large);  // 101 with Host
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(scan(request_with(hundred)), scan_status::complete);
  EXPECT_EQ(scan("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a')),
            scan_status::headers_too_large);  // still arriving
}

TEST(header_scan, rejects_malformed_lines) {
  for (std::string raw : {
           request_with("X-A: a\r\n b\r\n"),                // obs-fold
           request_with("X-A: a\r\n\tb\r\n"),               // obs-fold with a tab
           request_with(std::string("X-A: a\0b\r\n", 10)),  // NUL in a value
           request_with("X-A: a\rb\r\n"),                   // bare CR
           request_with("X-A: a\nX-B: b\r\n"),              // bare LF
           request_with("X A: a\r\n"),                      // space in a name
           request_with("X_A: a\r\n"),                      // underscore in a name
           request_with("X(A): a\r\n"),                     // non-token name
           request_with(": a\r\n"),                         // empty name
           request_with("NoColon\r\n"),                     // no colon
           request_with("X-A: \x01\r\n"),                   // control character
           std::string("GET /\r\n\r\n"),                    // HTTP/0.9
           std::string("GET\r\n\r\n"),                      // no target
           std::string("GET /\0 HTTP/1.1\r\n\r\n", 19),     // NUL in the request line
           std::string(40, 'A'),                            // endless method
       })
    EXPECT_EQ(scan(raw), scan_status::bad_request) << raw;
}

TEST(cors, exact_origins_only) {
  cors_policy p{{"https://app.example", "http://localhost:3000"}};
  EXPECT_EQ(p.allow_origin("https://app.example"), "https://app.example");
  EXPECT_EQ(p.allow_origin("https://app.example.evil"), std::nullopt);
  EXPECT_EQ(p.allow_origin("http://app.example"), std::nullopt);
  EXPECT_EQ(p.allow_origin("null"), std::nullopt);
  EXPECT_EQ(p.allow_origin(""), std::nullopt);
  header_list h;
  p.decorate("https://evil.example", h);
  for (const auto& [n, v] : h) EXPECT_NE(n, "Access-Control-Allow-Origin");
  auto pre = p.preflight("https://app.example", "GET, POST");
  EXPECT_EQ(pre.status, 204u);
  bool acao = false, vary = false;
  for (const auto& [n, v] : pre.headers) {
    acao |= n == "Access-Control-Allow-Origin" && v == "https://app.example";
    vary |= n == "Vary" && v == "Origin";
  }
  EXPECT_TRUE(acao);
  EXPECT_TRUE(vary);
}

TEST(cors, wildcard_only_when_listed) {
  EXPECT_EQ(cors_policy{{}}.allow_origin("https://a.example"), std::nullopt);
  EXPECT_EQ(cors_policy{{"*"}}.allow_origin("https://a.example"), "*");
}

TEST(client_ip, peer_unless_trusted_proxy) {
  trusted_proxies p{{"10.0.0.0/8", "::1/128", "192.168.1.7", "bogus", "10.0.0.0/99"}};
  EXPECT_TRUE(p.contains("10.1.2.3"));
  EXPECT_TRUE(p.contains("::ffff:10.1.2.3"));
  EXPECT_TRUE(p.contains("::1"));
  EXPECT_TRUE(p.contains("192.168.1.7"));
  EXPECT_FALSE(p.contains("192.168.1.8"));
  EXPECT_FALSE(p.contains("11.0.0.1"));
  EXPECT_EQ(p.client_ip("203.0.113.5", "1.2.3.4"), "203.0.113.5");  // untrusted peer: ignore XFF
  EXPECT_EQ(p.client_ip("10.0.0.1", "1.2.3.4, 198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(p.client_ip("10.0.0.1", "1.2.3.4, 198.51.100.7, 10.9.9.9"), "198.51.100.7");
  EXPECT_EQ(p.client_ip("::ffff:10.0.0.1", "2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(p.client_ip("10.0.0.1", "garbage"), "10.0.0.1");
  EXPECT_EQ(p.client_ip("10.0.0.1", ""), "10.0.0.1");
  EXPECT_EQ(p.client_ip("10.0.0.1", "10.0.0.2"), "10.0.0.2");  // all trusted: left-most
}

TEST(correlation, sane_tokens_are_echoed) {
  EXPECT_EQ(correlation_id_for("abc-DEF_1.2"), "abc-DEF_1.2");
  EXPECT_TRUE(is_sane_correlation_id(std::string(64, 'a')));
  EXPECT_FALSE(is_sane_correlation_id(std::string(65, 'a')));
  EXPECT_FALSE(is_sane_correlation_id(""));
  EXPECT_FALSE(is_sane_correlation_id("a b"));
  EXPECT_FALSE(is_sane_correlation_id("a\r\nSet-Cookie: x"));
  EXPECT_NE(correlation_id_for("a\nb"), "a\nb");
}

TEST(correlation, new_ids_are_uuid_v4_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_correlation_id();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string{"89ab"}.find(id[19]), std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(wire, refuses_response_splitting) {
  EXPECT_TRUE(is_sendable_header("Location", "/a"));
  EXPECT_FALSE(is_sendable_header("X-A", "a\r\nSet-Cookie: x"));
  EXPECT_FALSE(is_sendable_header("X-A", std::string("a\0b", 3)));
  EXPECT_FALSE(is_sendable_header("X A", "a"));
  EXPECT_FALSE(is_sendable_header("Content-Length", "5"));
  EXPECT_FALSE(is_sendable_header("transfer-encoding", "chunked"));
}

TEST(wire, serialises_responses_and_chunks) {
  EXPECT_EQ(serialize_response(404, {{"X-A", "b"}}, "{}"),
            "HTTP/1.1 404 Not Found\r\nX-A: b\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(serialize_response(204, {}, ""), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(serialize_response(200, {}, "abc", true),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(frame_chunk(std::string(26, 'z')), "1a\r\n" + std::string(26, 'z') + "\r\n");
}

}  // namespace
