// The HTTP edge over real sockets: limits, malformed requests, auth, routing, CORS, pipelining.

#include "http_edge_fixture.hpp"

namespace {

using namespace edge_fixture;

// -- limits -------------------------------------------------------------------------------------

TEST_F(edge_test, request_target_over_8_kib_is_414) {
  auto c = connect();
  c->send(get("/" + std::string(8192, 'a')));  // an 8193-byte target
  expect_closing_error(*c, 414, "long target");
  expect_server_alive();
}

TEST_F(edge_test, header_line_over_8_kib_is_431) {
  auto c = connect();
  c->send(get("/health", "X-Long: " + std::string(8185, 'a') + "\r\n"));  // an 8193-byte line
  expect_closing_error(*c, 431, "long line");
  expect_server_alive();
}

TEST_F(edge_test, header_block_over_8_kib_is_431) {
  std::string block;
  for (int i = 0; i < 3; ++i)
    block += "X-Part" + std::to_string(i) + ": " + std::string(2740, 'b') + "\r\n";
  auto c = connect();
  c->send(get("/health", block));
  expect_closing_error(*c, 431, "large block");
}

TEST_F(edge_test, more_than_100_headers_is_431) {
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";  // 101 with Host
  auto c = connect();
  c->send(get("/health", many));
  expect_closing_error(*c, 431, "101 headers");
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "X-H" + std::to_string(i) + ": v\r\n";
  auto ok = roundtrip(get("/health", hundred));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result_int(), 200u);
}

TEST_F(edge_test, content_length_over_the_limit_is_413_before_the_body) {
  auto c = connect();
  c->send(
      "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\n"
      "Content-Length: 1025\r\n\r\n");  // the body is never sent
  expect_closing_error(*c, 413, "content-length");
  EXPECT_EQ(auth.calls.load(), 0);  // decided before authentication
}

TEST_F(edge_test, query_routes_have_their_own_limit) {
  auto c = connect();
  std::string body(3000, 'q');
  c->send("POST /api/v1/query HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "3000");
}

TEST_F(edge_test, chunked_body_over_the_limit_is_413_and_close) {
  auto c = connect();
  std::string chunk(512, 'c');
  std::string raw =
      "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) raw += "200\r\n" + chunk + "\r\n";
  raw += "0\r\n\r\n";
  c->send(raw);
  expect_closing_error(*c, 413, "chunked");
  expect_server_alive();
}

TEST_F(edge_test, chunked_body_within_the_limit_is_read) {
  auto c = connect();
  c->send(
      "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "11");
}

TEST_F(edge_test, expect_100_continue_gets_an_interim_response) {
  auto c = connect();
  c->send(
      "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\n"
      "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  auto interim = c->read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result_int(), 100u);
  c->send("abcd");
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "4");
}

// -- malformed requests: always 400 (never 5xx), then close; the server stays up
// -------------------

TEST_F(edge_test, malformed_requests_are_400_and_close) {
  const std::string key = "X-API-Key: agent-key\r\n";
  const std::pair<const char*, std::string> cases[] = {
      {"garbage request line", "GARBAGE\r\n\r\n"},
      {"bad method token", "G@T /health HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"lower-case method", "get /health HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"unknown method", "BREW /health HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"CONNECT", "CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"HTTP/1.2", "GET /health HTTP/1.2\r\nHost: t\r\n\r\n"},
      {"HTTP/2.0", "GET /health HTTP/2.0\r\nHost: t\r\n\r\n"},
      {"HTTP/0.9", "GET /health\r\n\r\n"},
      {"absolute form", "GET http://t/health HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"asterisk form", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"missing Host", "GET /health HTTP/1.1\r\n\r\n"},
      {"two Hosts", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"CL plus TE", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                         "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE plus CL", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                         "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n0\r\n\r\n"},
      {"differing CLs", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                            "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
      {"equal CLs", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                        "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab"},
      {"CL list",
       "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key + "Content-Length: 2, 2\r\n\r\nab"},
      {"negative CL", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"},
      {"huge CL",
       "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n"},
      {"TE gzip",
       "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key + "Transfer-Encoding: gzip\r\n\r\n"},
      {"TE on HTTP/1.0",
       "POST /api/v1/echo HTTP/1.0\r\n" + key + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"chunk size overflow", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                                  "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nx\r\n"},
      {"bad chunk size", "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
                             "Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n"},
      {"trailer with Content-Length",
       "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + key +
           "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nContent-Length: 5\r\n\r\n"},
      {"NUL in a header", std::string("GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n", 43)},
      {"obs-fold", "GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"},
      {"bare CR", "GET /health HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n"},
      {"bare LF", "GET /health HTTP/1.1\nHost: t\n\n"},
      {"space in a name", "GET /health HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n"},
      {"space before colon", "GET /health HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n"},
      {"underscore in a name", "GET /health HTTP/1.1\r\nHost: t\r\nX_API_Key: b\r\n\r\n"},
      {"encoded slash", "GET /api/v1/sessions/a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"encoded NUL", "GET /health%00 HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"dot segment", "GET /api/v1/../health HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"fragment", "GET /health#x HTTP/1.1\r\nHost: t\r\n\r\n"},
  };
  for (const auto& [what, raw] : cases) {
    auto c = connect();
    c->send(raw);
    expect_closing_error(*c, 400, what);
  }
  expect_server_alive();
}

TEST_F(edge_test, huge_chunk_extensions_are_refused) {
  auto c = connect();
  c->send(
      "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nX-API-Key: agent-key\r\n"
      "Transfer-Encoding: chunked\r\n\r\n1;ext=" +
      std::string(10 * 1024, 'e') + "\r\nx\r\n0\r\n\r\n");
  expect_closing_error(*c, 400, "10 KiB chunk extension");
  expect_server_alive();
}

TEST_F(edge_test, half_close_after_the_header_still_gets_an_answer) {
  auto c = connect();
  c->send(get("/health"));
  c->shutdown_send();
  auto r = c->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_TRUE(c->wait_closed());
}

TEST_F(edge_test, leading_empty_lines_are_ignored) {
  auto r = roundtrip("\r\n\r\n" + get("/health"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

// -- routing ------------------------------------------------------------------------------------

TEST_F(edge_test, unknown_path_is_404_and_wrong_method_405_with_allow) {
  auto r = roundtrip(get("/nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404u);
  EXPECT_EQ(code_of(*r), "NOT_FOUND");
  r = roundtrip(get("/health/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404u);
  r = roundtrip("PUT /api/v1/sessions/" + std::string{uuid} +
                " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 405u);
  EXPECT_EQ(code_of(*r), "METHOD_NOT_ALLOWED");
  EXPECT_EQ((*r)[bhttp::field::allow], "GET, DELETE");
}

TEST_F(edge_test, malformed_uuid_is_422_after_authentication) {
  auto r = roundtrip(get("/api/v1/sessions/not-a-uuid", "X-API-Key: agent-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 422u);
  rapidjson::Document d;
  d.Parse(r->body().c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["error"]["code"].GetString(), "VALIDATION_ERROR");
  const auto& errors = d["error"]["details"]["errors"];
  ASSERT_EQ(errors.Size(), 1u);
  EXPECT_STREQ(errors[0]["field"].GetString(), "id");
  r = roundtrip(get("/api/v1/sessions/not-a-uuid"));  // anonymous: 401 first
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 401u);
  r = roundtrip(get("/api/v1/sessions/" + std::string{uuid}, "X-API-Key: agent-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "{\"id\":\"" + std::string{uuid} + "\"}");
}

// -- authentication and rate limits ---------------------------------------------------------------

TEST_F(edge_test, missing_or_unknown_key_is_401) {
  for (const auto& extra : {std::string{}, std::string{"X-API-Key: wrong\r\n"},
                            std::string{"Authorization: Basic x\r\n"},
                            std::string{"X-API-Key: agent-key\r\nX-API-Key: agent-key\r\n"}}) {
    auto r = roundtrip(get("/api/v1/keys", extra));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 401u) << extra;
    EXPECT_EQ(code_of(*r), "AUTHENTICATION_ERROR");
  }
}

TEST_F(edge_test, bearer_and_header_keys_work_and_scopes_are_enforced) {
  auto r = roundtrip(get("/api/v1/keys", "Authorization: Bearer agent-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 403u);
  EXPECT_EQ(code_of(*r), "FORBIDDEN");
  r = roundtrip(get("/api/v1/keys", "Authorization: bearer admin-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
  r = roundtrip(get("/api/v1/keys", "X-API-Key: admin-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200u);
}

TEST_F(edge_test, auth_store_down_is_503_without_detail) {
  auto r = roundtrip(get("/api/v1/keys", "X-API-Key: down-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503u);
  EXPECT_EQ((*r)[bhttp::field::retry_after], "1");
  EXPECT_EQ(r->body().find("10.0.0.5"), std::string::npos);
}

TEST_F(edge_test, rate_limited_is_429_with_retry_after) {
  auto r = roundtrip(get("/api/v1/inspect", "X-API-Key: limited-key\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 429u);
  EXPECT_EQ(code_of(*r), "RATE_LIMIT_EXCEEDED");
  EXPECT_EQ((*r)[bhttp::field::retry_after], "3");  // ceil(2.5)
}

TEST_F(edge_test, handlers_see_no_credentials_and_the_forwarded_client) {
  auto r = roundtrip(get("/api/v1/inspect?x=1",
                         "Authorization: Bearer agent-key\r\nX-Forwarded-For: 203.0.113.9, "
                         "127.0.0.5\r\nX-Custom: a\r\nX-Custom: b\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->result_int(), 200u);
  std::lock_guard<std::mutex> g{mtx};
  ASSERT_TRUE(last_request);
  EXPECT_EQ(last_request->headers.count("authorization"), 0u);
  EXPECT_EQ(last_request->headers.count("x-api-key"), 0u);
  EXPECT_EQ(last_request->header("x-custom"), "a, b");
  EXPECT_EQ(last_request->client_ip, "203.0.113.9");
  EXPECT_EQ(last_request->query_param("x"), "1");
  EXPECT_EQ(last_request->path, "/api/v1/inspect");
  EXPECT_EQ(last_request->route_template, "/api/v1/inspect");
  ASSERT_TRUE(last_request->caller);
  EXPECT_EQ(last_request->caller->tenant_id(), "tenant-a");
}

// -- correlation ids and CORS
// -----------------------------------------------------------------------

TEST_F(edge_test, correlation_id_is_echoed_or_generated) {
  auto r = roundtrip(get("/health", "X-Correlation-ID: abc-123.x_y\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["X-Correlation-ID"], "abc-123.x_y");
  r = roundtrip(get("/health", "X-Correlation-ID: bad id!\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["X-Correlation-ID"].size(), 36u);
  r = roundtrip(get("/nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["X-Correlation-ID"].size(), 36u);
}

TEST_F(edge_test, cors_allows_listed_origins_only) {
  auto r = roundtrip(get("/health", "Origin: https://app.example\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[bhttp::field::access_control_allow_origin], "https://app.example");
  EXPECT_EQ((*r)[bhttp::field::vary], "Origin");
  r = roundtrip(get("/health", "Origin: https://evil.example\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count(bhttp::field::access_control_allow_origin), 0u);
  const std::string preflight =
      "OPTIONS /api/v1/echo HTTP/1.1\r\nHost: t\r\n"
      "Access-Control-Request-Method: POST\r\n";
  r = roundtrip(preflight + "Origin: https://app.example\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 204u);
  EXPECT_EQ((*r)[bhttp::field::access_control_allow_origin], "https://app.example");
  EXPECT_EQ((*r)[bhttp::field::access_control_allow_methods], "POST");
  EXPECT_NE((*r)[bhttp::field::access_control_allow_headers].find("X-API-Key"), std::string::npos);
  EXPECT_EQ((*r)[bhttp::field::vary], "Origin");
  EXPECT_EQ(auth.calls.load(), 0);  // preflights are never authenticated
  r = roundtrip(preflight + "Origin: https://evil.example\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 204u);
  EXPECT_EQ(r->count(bhttp::field::access_control_allow_origin), 0u);
  EXPECT_EQ(r->count(bhttp::field::access_control_allow_methods), 0u);
}

// -- keep-alive and pipelining
// ----------------------------------------------------------------------

TEST_F(edge_test, pipelined_requests_are_answered_in_order) {
  std::string raw;
  for (int i = 0; i < 100; ++i)
    raw += get("/health", "X-Correlation-ID: req-" + std::to_string(i) + "\r\n");
  auto c = connect();
  c->send(raw);
  for (int i = 0; i < 100; ++i) {
    auto r = c->read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ((*r)["X-Correlation-ID"], "req-" + std::to_string(i));
  }
}

TEST_F(edge_test, errors_before_the_body_keep_bodyless_connections_alive) {
  auto c = connect();
  c->send(get("/nope") + get("/api/v1/keys") + get("/health"));
  for (unsigned status : {404u, 401u, 200u}) {
    auto r = c->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), status);
  }
}

}  // namespace
