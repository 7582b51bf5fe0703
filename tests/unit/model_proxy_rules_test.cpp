// Unit tests of the model proxy's pure rules: routes, the presented key, header filtering in both
// directions, the upstream URL, the placeholder format, config validation. No sockets.

#include "transport/sandbox/model_proxy.hpp"
#include "transport/sandbox/proxy_rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace caa::sandbox::detail {
namespace {

TEST(model_proxy_rules, routes) {
  using bhttp::verb;
  EXPECT_EQ(check_route(verb::post, "/v1/messages"), route_verdict::ok);
  EXPECT_EQ(check_route(verb::post, "/v1/messages?beta=true"), route_verdict::ok);
  EXPECT_EQ(check_route(verb::post, "/v1/messages/count_tokens?beta=true"), route_verdict::ok);
  EXPECT_EQ(check_route(verb::get, "/v1/messages"), route_verdict::method_not_allowed);
  EXPECT_EQ(check_route(verb::head, "/v1/messages/count_tokens"),
            route_verdict::method_not_allowed);
  for (auto target : {"/", "/v1/models", "/v1/messages/", "/v1/messagesx", "/v1/messages/batches",
                      "/v1/messages/../v1/messages", "http://x/v1/messages", "//v1/messages",
                      "/V1/messages", "/v1/messages#x"})
    EXPECT_EQ(check_route(verb::post, target), route_verdict::not_found) << target;
}

TEST(model_proxy_rules, presented_key) {
  bhttp::fields f;
  EXPECT_EQ(presented_key(f), "");
  f.set(bhttp::field::authorization, "Bearer  tok-1 ");
  EXPECT_EQ(presented_key(f), "tok-1");
  f.set(bhttp::field::authorization, "bearer tok-2");
  EXPECT_EQ(presented_key(f), "tok-2");
  f.set(bhttp::field::authorization, "Basic dXNlcg==");
  EXPECT_EQ(presented_key(f), "");
  f.set(bhttp::field::authorization, "Bearer");
  EXPECT_EQ(presented_key(f), "");
  f.set("X-Api-Key", "key-3");
  EXPECT_EQ(presented_key(f), "key-3");  // x-api-key wins
}

TEST(model_proxy_rules, hop_by_hop) {
  for (auto name : {"Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
                    "Proxy-Authorization", "proxy-connection"})
    EXPECT_TRUE(is_hop_by_hop(name)) << name;
  for (auto name : {"content-type", "anthropic-version", "x-api-key", "proxy"})
    EXPECT_FALSE(is_hop_by_hop(name)) << name;
}

TEST(model_proxy_rules, upstream_request_swaps_the_key_and_drops_hop_by_hop) {
  bhttp::request<bhttp::string_body> in{bhttp::verb::post, "/v1/messages?beta=true", 11};
  in.set(bhttp::field::host, "localhost");
  in.set("x-api-key", "sk-ant-sandbox-placeholder");
  in.set(bhttp::field::authorization, "Bearer sk-ant-sandbox-placeholder");
  in.set(bhttp::field::connection, "keep-alive, X-Drop-Me");
  in.set("X-Drop-Me", "1");
  in.set(bhttp::field::keep_alive, "timeout=5");
  in.set(bhttp::field::proxy_authorization, "Basic x");
  in.set(bhttp::field::te, "trailers");
  in.set(bhttp::field::expect, "100-continue");
  in.set(bhttp::field::accept_encoding, "gzip, br");
  in.set("anthropic-version", "2023-06-01");
  in.set("anthropic-beta", "a,b");
  in.set(bhttp::field::content_type, "application/json");
  in.set(bhttp::field::user_agent, "cli/1");
  in.body() = R"({"stream":true})";
  in.prepare_payload();
  upstream_target to{true, "api.example.com", "443", "api.example.com", "/base"};
  auto out = make_upstream_request(std::move(in), to, "sk-real");
  EXPECT_EQ(out.target(), "/base/v1/messages?beta=true");
  EXPECT_EQ(out["x-api-key"], "sk-real");
  EXPECT_EQ(out[bhttp::field::host], "api.example.com");
  EXPECT_EQ(out[bhttp::field::accept_encoding], "identity");
  EXPECT_EQ(out[bhttp::field::connection], "close");
  EXPECT_EQ(out[bhttp::field::content_length], "15");
  EXPECT_EQ(out["anthropic-version"], "2023-06-01");
  EXPECT_EQ(out["anthropic-beta"], "a,b");
  EXPECT_EQ(out[bhttp::field::content_type], "application/json");
  EXPECT_EQ(out[bhttp::field::user_agent], "cli/1");
  EXPECT_EQ(out.body(), R"({"stream":true})");
  for (auto gone :
       {"authorization", "x-drop-me", "keep-alive", "proxy-authorization", "te", "expect"})
    EXPECT_EQ(out.count(gone), 0u) << gone;
  for (const auto& f : out) EXPECT_EQ(f.value().find("placeholder"), std::string::npos);
}

TEST(model_proxy_rules, response_fields) {
  bhttp::fields from;
  from.set(bhttp::field::content_type, "text/event-stream");
  from.set("request-id", "req_1");
  from.set(bhttp::field::transfer_encoding, "chunked");
  from.set(bhttp::field::content_length, "10");
  from.set(bhttp::field::connection, "close, X-Hop");
  from.set("X-Hop", "1");
  from.set(bhttp::field::keep_alive, "timeout=5");
  bhttp::fields to;
  copy_response_fields(from, to);
  EXPECT_EQ(to[bhttp::field::content_type], "text/event-stream");
  EXPECT_EQ(to["request-id"], "req_1");
  EXPECT_EQ(std::distance(to.begin(), to.end()), 2);
}

TEST(model_proxy_rules, upstream_urls) {
  auto ok = [](std::string_view url) { return std::get<upstream_target>(split_upstream(url)); };
  auto a = ok("https://api.anthropic.com");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.host, "api.anthropic.com");
  EXPECT_EQ(a.port, "443");
  EXPECT_EQ(a.host_header, "api.anthropic.com");
  EXPECT_EQ(a.prefix, "");
  auto b = ok("http://127.0.0.1:4567/base/");
  EXPECT_FALSE(b.tls);
  EXPECT_EQ(b.host_header, "127.0.0.1:4567");
  EXPECT_EQ(b.prefix, "/base");
  auto c = ok("http://[::1]:80");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.host_header, "[::1]");
  EXPECT_EQ(ok("http://localhost:9").host, "localhost");
  for (auto bad : {"", "ftp://x", "https://user@x", "https://x/?q=1", "https://x/#f", "x"})
    EXPECT_TRUE(std::holds_alternative<std::string>(split_upstream(bad))) << bad;
}

TEST(model_proxy_rules, error_body_shape) {
  EXPECT_EQ(error_body("not_found_error", "nope"),
            R"({"type":"error","error":{"type":"not_found_error","message":"nope"}})");
}

TEST(model_proxy_rules, placeholder_keys) {
  auto a = make_placeholder_key();
  auto b = make_placeholder_key();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 15u + 32u);
  EXPECT_EQ(a.substr(0, 15), "sk-ant-sandbox-");
  EXPECT_TRUE(std::all_of(a.begin() + 15, a.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_';
  }));
}

TEST(model_proxy_rules, validate_config) {
  upstream_config cfg{"https://api.anthropic.com", "sk-real"};
  EXPECT_FALSE(validate(cfg));
  cfg.api_key.clear();
  EXPECT_TRUE(validate(cfg));
  cfg = {"ftp://x", "sk-real"};
  EXPECT_TRUE(validate(cfg));
  cfg = {"http://127.0.0.1:1", "sk-real"};
  cfg.max_connections = 0;
  EXPECT_TRUE(validate(cfg));
}

}  // namespace
}  // namespace caa::sandbox::detail
