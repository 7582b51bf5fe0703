// The error catalogue: every errc mapped, the one envelope, no internal detail in bodies.

#include "transport/http/error_catalog.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <cmath>
#include <limits>

using namespace caa;
using namespace caa::http;

namespace {

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

std::optional<std::string> header(const response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return std::nullopt;
}

struct row {
  errc x;
  unsigned status;
  const char* code;
};

// The table of API.md "Error codes", plus the edge codes.
const row expected_rows[] = {
    {errc::none, 500, "INTERNAL_ERROR"},
    {errc::validation, 422, "VALIDATION_ERROR"},
    {errc::bad_request, 400, "BAD_REQUEST"},
    {errc::unauthenticated, 401, "AUTHENTICATION_ERROR"},
    {errc::forbidden, 403, "FORBIDDEN"},
    {errc::not_found, 404, "NOT_FOUND"},
    {errc::session_not_found, 404, "SESSION_NOT_FOUND"},
    {errc::checkpoint_not_found, 404, "CHECKPOINT_NOT_FOUND"},
    {errc::method_not_allowed, 405, "METHOD_NOT_ALLOWED"},
    {errc::session_locked, 409, "SESSION_LOCKED"},
    {errc::session_idle, 409, "SESSION_IDLE"},
    {errc::conflict, 409, "CONFLICT"},
    {errc::payload_too_large, 413, "PAYLOAD_TOO_LARGE"},
    {errc::rate_limited, 429, "RATE_LIMIT_EXCEEDED"},
    {errc::capacity_exhausted, 503, "CAPACITY_EXHAUSTED"},
    {errc::unavailable, 503, "SERVICE_UNAVAILABLE"},
    {errc::timeout, 503, "SERVICE_UNAVAILABLE"},
    {errc::agent_error, 502, "AGENT_ERROR"},
    {errc::internal, 500, "INTERNAL_ERROR"},
};

// Codes added after `internal` (the enum grows at its end).
const row later_rows[] = {
    {errc::quota_exceeded, 507, "QUOTA_EXCEEDED"},
    {errc::tenant_capacity, 429, "TENANT_CAPACITY"},
    {errc::budget_exceeded, 402, "BUDGET_EXCEEDED"},
};

TEST(error_catalog, maps_every_errc) {
  ASSERT_EQ(std::size(expected_rows), static_cast<size_t>(errc::internal) + 1);
  for (const auto& r : expected_rows) {
    const auto& e = catalog_of(r.x);
    EXPECT_EQ(e.status, r.status) << to_string(r.x);
    EXPECT_EQ(e.code, r.code) << to_string(r.x);
    EXPECT_FALSE(e.message.empty());
    auto res = error_response(make_error(r.x, "internal detail"), "cid-1");
    EXPECT_EQ(res.status, r.status);
    auto d = parse(res.body);
    EXPECT_STREQ(d["error"]["code"].GetString(), r.code);
  }
}

TEST(error_catalog, maps_the_later_codes) {
  for (const auto& r : later_rows) {
    EXPECT_EQ(catalog_of(r.x).status, r.status) << to_string(r.x);
    EXPECT_EQ(catalog_of(r.x).code, r.code) << to_string(r.x);
  }
}

TEST(error_catalog, a_budget_error_names_its_cap_and_when_it_resets) {
  auto res = error_response(budget_error("monthly_usd", "2026-06-01T00:00:00.000Z"), "cid");
  EXPECT_EQ(res.status, 402u);
  EXPECT_FALSE(header(res, "Retry-After"));
  auto d = parse(res.body);
  const auto& err = d["error"];
  EXPECT_STREQ(err["code"].GetString(), "BUDGET_EXCEEDED");
  std::string message = err["message"].GetString();
  EXPECT_NE(message.find("monthly"), std::string::npos) << message;
  EXPECT_NE(message.find("2026-06-01T00:00:00.000Z"), std::string::npos) << message;
  EXPECT_STREQ(err["details"]["cap"].GetString(), "monthly_usd");
  EXPECT_STREQ(err["details"]["resets_at"].GetString(), "2026-06-01T00:00:00.000Z");
  // A plain BUDGET_EXCEEDED (no cap attached) has the catalogue's text and empty details.
  auto plain = parse(error_response(make_error(errc::budget_exceeded, "x"), "c").body);
  EXPECT_EQ(plain["error"]["details"].MemberCount(), 0u);
}

TEST(error_catalog, maps_edge_conditions) {
  EXPECT_EQ(catalog_of(edge_condition::request_timeout).status, 408u);
  EXPECT_EQ(catalog_of(edge_condition::request_timeout).code, "REQUEST_TIMEOUT");
  EXPECT_EQ(catalog_of(edge_condition::uri_too_long).status, 414u);
  EXPECT_EQ(catalog_of(edge_condition::uri_too_long).code, "URI_TOO_LONG");
  EXPECT_EQ(catalog_of(edge_condition::headers_too_large).status, 431u);
  EXPECT_EQ(catalog_of(edge_condition::headers_too_large).code, "HEADERS_TOO_LARGE");
  auto d = parse(error_response(edge_condition::uri_too_long, "c").body);
  EXPECT_STREQ(d["error"]["code"].GetString(), "URI_TOO_LONG");
}

TEST(error_catalog, envelope_has_exactly_code_message_details) {
  auto res = error_response(make_error(errc::session_not_found), "cid");
  auto d = parse(res.body);
  ASSERT_TRUE(d.IsObject());
  ASSERT_EQ(d.MemberCount(), 1u);
  const auto& err = d["error"];
  ASSERT_TRUE(err.IsObject());
  EXPECT_EQ(err.MemberCount(), 3u);
  EXPECT_TRUE(err["code"].IsString());
  EXPECT_TRUE(err["message"].IsString());
  EXPECT_TRUE(err["details"].IsObject());
  EXPECT_EQ(res.content_type, "application/json");
}

TEST(error_catalog, internal_error_carries_only_the_correlation_id) {
  auto res = error_response(make_error(errc::internal, "pqxx: SELECT * FROM keys at /srv/x.cpp"),
                            "corr-123");
  EXPECT_EQ(res.status, 500u);
  auto d = parse(res.body);
  const auto& details = d["error"]["details"];
  ASSERT_EQ(details.MemberCount(), 1u);
  EXPECT_STREQ(details["correlation_id"].GetString(), "corr-123");
  EXPECT_EQ(res.body.find("SELECT"), std::string::npos);
  EXPECT_EQ(res.body.find("pqxx"), std::string::npos);
  EXPECT_EQ(res.body.find('/'), std::string::npos);
}

TEST(error_catalog, foreign_errors_are_internal) {
  caf::error foreign{uint8_t{1}, caf::atom("system"), caf::make_message(std::string{"boom"})};
  auto res = error_response(foreign, "c");
  EXPECT_EQ(res.status, 500u);
  EXPECT_EQ(res.body.find("boom"), std::string::npos);
}

TEST(error_catalog, an_actor_gone_between_lookup_and_request_is_retryable) {
  // caf::sec::request_receiver_down: a session actor retired right after the registry named it.
  caf::error gone{uint8_t{3}, caf::atom("system"), caf::make_message(std::string{"down"})};
  EXPECT_EQ(errc_of(gone), errc::unavailable);
  auto res = error_response(gone, "c");
  EXPECT_EQ(res.status, 503u);
  EXPECT_NE(res.body.find("SERVICE_UNAVAILABLE"), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find("down"), std::string::npos);
}

TEST(error_catalog, an_empty_error_is_internal) {
  auto res = error_response(caf::error{}, "c");
  EXPECT_EQ(res.status, 500u);
  EXPECT_FALSE(with_retry_after(caf::error{}, std::chrono::seconds{3}));
  EXPECT_EQ(retry_after_of(caf::error{}), std::nullopt);
  EXPECT_TRUE(fields_of(caf::error{}).empty());
}

TEST(error_catalog, no_context_leaks_for_any_code) {
  const std::string canary = "CANARY_9f1c what(): std::runtime_error /etc/passwd";
  for (const auto& r : expected_rows) {
    auto res = error_response(make_error(r.x, canary), "c");
    EXPECT_EQ(res.body.find("CANARY"), std::string::npos) << r.code;
    EXPECT_EQ(res.body.find("what()"), std::string::npos) << r.code;
  }
}

TEST(error_catalog, validation_lists_every_field) {
  auto e = validation_error(
      {{"max_turns", "must be between 1 and 1000"}, {"prompt", "must not be empty"}});
  EXPECT_EQ(errc_of(e), errc::validation);
  auto fields = fields_of(e);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1], (field_error{"prompt", "must not be empty"}));
  auto res = error_response(e, "c");
  EXPECT_EQ(res.status, 422u);
  auto d = parse(res.body);
  const auto& errors = d["error"]["details"]["errors"];
  ASSERT_TRUE(errors.IsArray());
  ASSERT_EQ(errors.Size(), 2u);
  EXPECT_STREQ(errors[0]["field"].GetString(), "max_turns");
  EXPECT_STREQ(errors[0]["message"].GetString(), "must be between 1 and 1000");
  EXPECT_STREQ(errors[1]["field"].GetString(), "prompt");
}

TEST(error_catalog, validation_without_fields_has_an_empty_list_and_no_context) {
  auto res = error_response(make_error(errc::validation, "secret context"), "c");
  auto d = parse(res.body);
  EXPECT_EQ(d["error"]["details"]["errors"].Size(), 0u);
  EXPECT_EQ(res.body.find("secret"), std::string::npos);
}

TEST(error_catalog, field_text_is_json_escaped) {
  auto res = error_response(validation_error({{"a\"b", "line\nbreak"}}), "c");
  auto d = parse(res.body);
  EXPECT_STREQ(d["error"]["details"]["errors"][0]["field"].GetString(), "a\"b");
}

TEST(error_catalog, retry_after_is_set_where_required) {
  auto hdr = [](const caf::error& e) { return header(error_response(e, "c"), "Retry-After"); };
  EXPECT_EQ(hdr(make_error(errc::rate_limited)), "1");
  EXPECT_EQ(hdr(make_error(errc::capacity_exhausted)), "1");
  EXPECT_EQ(hdr(make_error(errc::unavailable)), "1");
  EXPECT_EQ(hdr(make_error(errc::timeout)), "1");
  EXPECT_EQ(hdr(make_error(errc::session_locked)), "1");
  EXPECT_EQ(hdr(make_error(errc::session_not_found)), std::nullopt);
  EXPECT_EQ(hdr(make_error(errc::internal)), std::nullopt);
  using secs = std::chrono::duration<double>;
  EXPECT_EQ(hdr(with_retry_after(make_error(errc::rate_limited), secs{2.3})), "3");
  EXPECT_EQ(hdr(with_retry_after(make_error(errc::capacity_exhausted, "ctx"), secs{7})), "7");
  auto locked = with_retry_after(make_error(errc::session_locked, "turn 3"), secs{0.2});
  EXPECT_EQ(retry_after_of(locked), 1u);
  EXPECT_EQ(errc_of(locked), errc::session_locked);
  EXPECT_EQ(render_errc(locked.code(), locked.context()), "session_locked: turn 3");
}

TEST(error_catalog, retry_after_seconds_rounds_up_and_clamps) {
  EXPECT_EQ(retry_after_seconds(0), 1u);
  EXPECT_EQ(retry_after_seconds(-5), 1u);
  EXPECT_EQ(retry_after_seconds(0.01), 1u);
  EXPECT_EQ(retry_after_seconds(1.0), 1u);
  EXPECT_EQ(retry_after_seconds(1.01), 2u);
  EXPECT_EQ(retry_after_seconds(59.5), 60u);
  EXPECT_EQ(retry_after_seconds(std::nan("")), 1u);
  EXPECT_EQ(retry_after_seconds(std::numeric_limits<double>::infinity()), 86400u);
}

}  // namespace
