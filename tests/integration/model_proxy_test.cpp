// Integration tests of the model proxy: a client on a unix socket in a temp dir, the proxy on two
// I/O threads, a fake upstream on 127.0.0.1. Key swap, refusals, streaming without buffering,
// usage, keep-alive, endpoint teardown, socket file permissions, upstream failures, limits.

#include "model_proxy_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace caa::sandbox::testing {
namespace {

constexpr std::string_view plain_body =
    R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view stream_body =
    R"({"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view json_message =
    R"({"id":"msg_2","type":"message","role":"assistant","content":[{"type":"text","text":"x"}],)"
    R"("usage":{"input_tokens":10,"cache_read_input_tokens":4,"output_tokens":20}})";

/// Answers like the Messages API: SSE for `"stream":true`, JSON otherwise, count_tokens apart.
net::awaitable<void> messages_api(fake_upstream&, beast::tcp_stream& s,
                                  const http::request<http::string_body>& req) {
  if (req.target().find("count_tokens") != std::string_view::npos) {
    co_await fake_upstream::reply(s, 200, "application/json", R"({"input_tokens":12})");
  } else if (req.body().find(R"("stream":true)") != std::string::npos) {
    co_await fake_upstream::begin_chunked(s, "text/event-stream; charset=utf-8");
    for (const auto& e : sse_events()) co_await fake_upstream::chunk(s, e);
    co_await fake_upstream::end_chunked(s);
  } else {
    co_await fake_upstream::reply(s, 200, "application/json", std::string{json_message});
  }
}

/// Sends the first SSE event, then holds the rest until the test releases it (or 10 s pass,
/// and then says so in the stream).
net::awaitable<void> gated_stream(fake_upstream& up, beast::tcp_stream& s,
                                  const http::request<http::string_body>&) {
  auto events = sse_events();
  co_await fake_upstream::begin_chunked(s, "text/event-stream");
  co_await fake_upstream::chunk(s, events[0]);
  if (!co_await up.wait_release(10s))
    co_await fake_upstream::chunk(s, "event: error\ndata: {\"never_released\":true}\n\n");
  for (std::size_t i = 1; i < events.size(); ++i) co_await fake_upstream::chunk(s, events[i]);
  co_await fake_upstream::end_chunked(s);
}

http::response<http::string_body> exchange(unix_client& c, http::request<http::string_body> req) {
  http::response<http::string_body> res;
  EXPECT_FALSE(c.send(std::move(req)));
  EXPECT_FALSE(c.receive(res));
  return res;
}

std::string error_type(const http::response<http::string_body>& res) {
  auto at = res.body().find(R"("error":{"type":")");
  if (at == std::string::npos) return {};
  at += 17;
  return res.body().substr(at, res.body().find('"', at) - at);
}

using ModelProxy = proxy_fixture;

TEST_F(ModelProxy, ForwardsWithTheRealKeyAndNeverThePlaceholder) {
  fake_upstream up{messages_api};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  ASSERT_TRUE(c.connected());
  auto res =
      exchange(c, messages_request("/v1/messages?beta=true", placeholder, std::string{plain_body}));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), json_message);
  auto bearer = messages_request("/v1/messages/count_tokens?beta=true", "", "{}");
  bearer.set(http::field::authorization, "Bearer " + placeholder);
  EXPECT_EQ(exchange(c, std::move(bearer)).result_int(), 200u);
  auto seen = up.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/messages?beta=true");
  EXPECT_EQ(seen[1].target, "/v1/messages/count_tokens?beta=true");
  EXPECT_EQ(seen[0].body, plain_body);
  auto host = up.base_url().substr(7);
  for (const auto& r : seen) {
    EXPECT_EQ(r.headers.at("x-api-key"), real_key);
    EXPECT_EQ(r.headers.count("authorization"), 0u);
    EXPECT_EQ(r.headers.at("host"), host);
    EXPECT_EQ(r.headers.at("anthropic-version"), "2023-06-01");
    EXPECT_EQ(r.headers.at("anthropic-beta"), "claude-code-20250219");
    EXPECT_EQ(r.headers.at("user-agent"), "claude-cli/test");
    EXPECT_EQ(r.headers.at("accept-encoding"), "identity");
    for (const auto& [name, value] : r.headers)
      EXPECT_EQ(value.find(placeholder), std::string::npos) << name;
  }
}

TEST_F(ModelProxy, WrongOrMissingKeyGets401AndNothingIsForwarded) {
  fake_upstream up{messages_api};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto other = make_placeholder_key();
  auto a = open("a.sock", placeholder);
  auto b = open("b.sock", other, "tenant-b");
  unix_client c{socket("a.sock")};
  auto wrong_same_length = placeholder;
  wrong_same_length.back() = wrong_same_length.back() == 'x' ? 'y' : 'x';
  for (const auto& key : {std::string{}, std::string{"sk-ant-wrong"}, wrong_same_length, other,
                          std::string{real_key}}) {
    auto res = exchange(c, messages_request("/v1/messages", key, std::string{plain_body}));
    EXPECT_EQ(res.result_int(), 401u) << key;
    EXPECT_EQ(error_type(res), "authentication_error");
    EXPECT_EQ(res[http::field::content_type], "application/json");
  }
  auto bearer = messages_request("/v1/messages", "", std::string{plain_body});
  bearer.set(http::field::authorization, "Bearer " + other);
  EXPECT_EQ(exchange(c, std::move(bearer)).result_int(), 401u);
  EXPECT_TRUE(up.requests().empty());
  EXPECT_TRUE(records().empty());
}

TEST_F(ModelProxy, OtherPathsAndMethodsAreRefusedAndNothingIsForwarded) {
  fake_upstream up{messages_api};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  struct probe {
    http::verb method;
    std::string target;
    unsigned status;
  };
  for (const auto& p :
       {probe{http::verb::get, "/v1/messages", 405},
        probe{http::verb::delete_, "/v1/messages/count_tokens", 405},
        probe{http::verb::post, "/v1/models", 404},
        probe{http::verb::post, "/v1/messages/batches", 404},
        probe{http::verb::post, "/v1/messages/../messages", 404}, probe{http::verb::get, "/", 404},
        probe{http::verb::post, "/v1/complete", 404}}) {
    auto req = messages_request(p.target, placeholder, std::string{plain_body});
    req.method(p.method);
    auto res = exchange(c, std::move(req));
    EXPECT_EQ(res.result_int(), p.status) << p.target;
    EXPECT_EQ(error_type(res), p.status == 404 ? "not_found_error" : "invalid_request_error");
    if (p.status == 405) {
      EXPECT_EQ(res[http::field::allow], "POST");
    }
  }
  // A HEAD probe gets no body, so the next request on the connection still parses.
  http::request<http::string_body> probe{http::verb::head, "/", 11};
  probe.set(http::field::host, "localhost");
  http::response<http::string_body> res;
  ASSERT_FALSE(c.send(std::move(probe)));
  ASSERT_FALSE(c.receive(res, true));
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_TRUE(up.requests().empty());
  auto ok = exchange(c, messages_request("/v1/messages", placeholder, std::string{plain_body}));
  EXPECT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(ok.body(), json_message);
}

TEST_F(ModelProxy, StreamArrivesUnbuffered) {
  fake_upstream up{gated_stream};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder, "tenant-a", "session-7");
  unix_client c{socket("a.sock")};
  ASSERT_FALSE(c.send(messages_request("/v1/messages", placeholder, std::string{stream_body})));
  ASSERT_FALSE(c.receive_until("message_start"));
  EXPECT_NE(c.partial_body().find("message_start"), std::string::npos);
  EXPECT_EQ(c.partial_body().find("message_stop"), std::string::npos);
  up.release();
  http::response<http::string_body> res;
  ASSERT_FALSE(c.receive_rest(res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[http::field::content_type], "text/event-stream");
  EXPECT_NE(res.body().find("message_stop"), std::string::npos);
  EXPECT_EQ(res.body().find("never_released"), std::string::npos);
  ASSERT_TRUE(await_records(1));
  auto r = records().front();
  EXPECT_EQ(r.tenant_id, "tenant-a");
  EXPECT_EQ(r.session_id, "session-7");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.requests, 1u);
  EXPECT_EQ(r.input_tokens, 25u);
  EXPECT_EQ(r.output_tokens, 42u);
  EXPECT_EQ(r.cache_creation_input_tokens, 7u);
  EXPECT_EQ(r.cache_read_input_tokens, 3u);
}

TEST_F(ModelProxy, UsageIsCountedPerTenantForStreamedAndJsonResponses) {
  fake_upstream up{messages_api};
  auto& proxy = start(up.base_url());
  auto key_a = make_placeholder_key();
  auto key_b = make_placeholder_key();
  auto a = open("a.sock", key_a, "tenant-a", "s1");
  auto b = open("b.sock", key_b, "tenant-b", "s2");
  unix_client ca{socket("a.sock")};
  unix_client cb{socket("b.sock")};
  auto streamed = exchange(ca, messages_request("/v1/messages", key_a, std::string{stream_body}));
  EXPECT_NE(streamed.body().find("message_stop"), std::string::npos);
  auto json = exchange(ca, messages_request("/v1/messages", key_a, std::string{plain_body}));
  EXPECT_FALSE(json.chunked());
  EXPECT_EQ(json[http::field::content_length], std::to_string(json_message.size()));
  EXPECT_EQ(json["request-id"], "req_fake");
  exchange(ca, messages_request("/v1/messages/count_tokens", key_a, std::string{plain_body}));
  exchange(cb, messages_request("/v1/messages", key_b, std::string{plain_body}));
  ASSERT_TRUE(await_records(4));
  auto totals = proxy.totals();
  ASSERT_EQ(totals.size(), 2u);
  const auto& ta = totals.at("tenant-a");
  EXPECT_EQ(ta.requests, 3u);
  EXPECT_EQ(ta.input_tokens, 35u);
  EXPECT_EQ(ta.output_tokens, 62u);
  EXPECT_EQ(ta.cache_creation_input_tokens, 7u);
  EXPECT_EQ(ta.cache_read_input_tokens, 7u);
  const auto& tb = totals.at("tenant-b");
  EXPECT_EQ(tb.requests, 1u);
  EXPECT_EQ(tb.input_tokens, 10u);
  EXPECT_EQ(tb.output_tokens, 20u);
  for (const auto& r : records()) {
    if (r.input_tokens == 0) {
      EXPECT_EQ(r.output_tokens, 0u);  // count_tokens: no tokens
    }
  }
}

TEST_F(ModelProxy, TwoRequestsOnOneKeepAliveConnection) {
  fake_upstream up{messages_api};
  start(up.base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("a.sock", placeholder);
  unix_client c{socket("a.sock")};
  auto first = exchange(c, messages_request("/v1/messages", placeholder, std::string{stream_body}));
  auto second = exchange(c, messages_request("/v1/messages", placeholder, std::string{plain_body}));
  EXPECT_EQ(first.result_int(), 200u);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.result_int(), 200u);
  EXPECT_EQ(second.body(), json_message);
  EXPECT_EQ(up.requests().size(), 2u);
  ASSERT_TRUE(await_records(2));
}

}  // namespace
}  // namespace caa::sandbox::testing
