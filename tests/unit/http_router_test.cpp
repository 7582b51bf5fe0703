// Router: matching, typed parameters, 404 vs 405, path decoding rules, the route listing.

#include "config/uuid.hpp"
#include "transport/http/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace caa::http;

namespace {

constexpr const char* uuid = "0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5e";

handler noop() {
  return [](std::shared_ptr<request>, std::shared_ptr<responder>) {};
}

/// The policy argument is mandatory: a route without one does not compile.
template <class R>
concept can_add_without_policy = requires(R r, handler h) {
  r.add("GET", "/x", route_class::general, h);
};
static_assert(!can_add_without_policy<router>);

struct router_test : ::testing::Test {
  router r;
  void SetUp() override {
    r.add("GET", "/health", route_policy::public_route, route_class::general, noop());
    r.add("GET", "/api/v1/sessions", route_policy::requires_agent, route_class::general, noop());
    r.add("GET", "/api/v1/sessions/{id:uuid}", route_policy::requires_agent, route_class::general,
          noop());
    r.add("DELETE", "/api/v1/sessions/{id:uuid}", route_policy::requires_agent,
          route_class::general, noop());
    r.add("GET", "/api/v1/sessions/{id:uuid}/events", route_policy::requires_agent,
          route_class::general, noop());
    r.add("POST", "/api/v1/query", route_policy::requires_agent, route_class::query, noop());
    r.add("POST", "/api/v1/query/single", route_policy::requires_agent, route_class::query, noop());
    r.add("GET", "/api/v1/things/{name}", route_policy::requires_agent, route_class::general,
          noop());
    r.add("GET", "/api/v1/things/special", route_policy::requires_admin, route_class::general,
          noop());
  }
};

TEST_F(router_test, matches_literal_routes) {
  auto m = r.match("GET", "/health");
  ASSERT_EQ(m.status, match_status::matched);
  EXPECT_EQ(m.route->path_template, "/health");
  EXPECT_EQ(m.route->policy, route_policy::public_route);
  EXPECT_NE(m.target, nullptr);
  EXPECT_TRUE(m.params.empty());
}

TEST_F(router_test, extracts_uuid_params_in_lower_case) {
  auto m = r.match("GET", "/api/v1/sessions/0B6F1E0C-6C1D-4A56-9F3E-2F1F2B3C4D5E/events");
  ASSERT_EQ(m.status, match_status::matched);
  EXPECT_EQ(m.route->path_template, "/api/v1/sessions/{id:uuid}/events");
  EXPECT_EQ(m.params.at("id"), uuid);
}

TEST_F(router_test, malformed_uuid_is_a_field_error_not_a_match) {
  for (const char* bad :
       {"not-a-uuid", "0b6f1e0c6c1d4a569f3e2f1f2b3c4d5e", "0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5",
        "0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5g", "{0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5e}",
        "1%27%20OR%201%3D1"}) {
    auto m = r.match("GET", std::string{"/api/v1/sessions/"} + bad);
    ASSERT_EQ(m.status, match_status::invalid_params) << bad;
    EXPECT_EQ(m.target, nullptr) << bad;
    ASSERT_EQ(m.errors.size(), 1u);
    EXPECT_EQ(m.errors[0].field, "id");
    EXPECT_FALSE(m.errors[0].message.empty());
    EXPECT_TRUE(m.params.empty());
  }
}

TEST_F(router_test, plain_params_take_one_decoded_segment) {
  auto m = r.match("GET", "/api/v1/things/a%20b");
  ASSERT_EQ(m.status, match_status::matched);
  EXPECT_EQ(m.params.at("name"), "a b");
}

TEST_F(router_test, literal_beats_parameter) {
  auto m = r.match("GET", "/api/v1/things/special");
  ASSERT_EQ(m.status, match_status::matched);
  EXPECT_EQ(m.route->path_template, "/api/v1/things/special");
  EXPECT_EQ(m.route->policy, route_policy::requires_admin);
}

TEST_F(router_test, unknown_path_is_not_found) {
  for (const char* p :
       {"/", "/api", "/api/v1", "/api/v1/sessionsx", "/healthz", "/api/v1/query/x",
        "/api/v1/sessions/" /* trailing slash */, "/health/", "//health", "/api/v1//sessions"})
    EXPECT_EQ(r.match("GET", p).status, match_status::not_found) << p;
}

TEST_F(router_test, known_path_with_other_method_lists_allow) {
  auto m = r.match("PUT", std::string{"/api/v1/sessions/"} + uuid);
  EXPECT_EQ(m.status, match_status::method_not_allowed);
  EXPECT_EQ(m.allow, "GET, DELETE");
  EXPECT_EQ(r.match("GET", "/api/v1/query").status, match_status::method_not_allowed);
  EXPECT_EQ(r.match("get", "/health").status, match_status::method_not_allowed);
}

TEST_F(router_test, unusable_paths_are_bad) {
  for (const char* p : {"", "health", "/api/v1/things/a%2Fb", "/api/v1/things/a%2fb",
                        "/api/v1/things/a%00", "/api/v1/things/%zz", "/api/v1/things/%4",
                        "/api/v1/things/..", "/api/v1/things/%2e%2e", "/api/v1/./sessions"})
    EXPECT_EQ(r.match("GET", p).status, match_status::bad_path) << p;
}

TEST_F(router_test, percent_encoded_literals_match) {
  EXPECT_EQ(r.match("GET", "/%68ealth").status, match_status::matched);
}

TEST_F(router_test, lists_every_route_with_its_policy) {
  auto all = r.routes();
  ASSERT_EQ(all.size(), 9u);
  int public_routes = 0;
  for (const auto& info : all) {
    if (info.policy == route_policy::public_route) ++public_routes;
    EXPECT_EQ(r.match(info.method, info.path_template).status == match_status::not_found, false);
  }
  EXPECT_EQ(public_routes, 1);
  auto q = std::find_if(all.begin(), all.end(),
                        [](const route_info& i) { return i.path_template == "/api/v1/query"; });
  ASSERT_NE(q, all.end());
  EXPECT_EQ(q->cls, route_class::query);
}

TEST(router, rejects_bad_templates_and_duplicates) {
  router r;
  auto add = [&](const char* m, const char* t) {
    r.add(m, t, route_policy::requires_agent, route_class::general, noop());
  };
  add("GET", "/a/{id:uuid}");
  EXPECT_THROW(add("GET", "/a/{id:uuid}"), std::invalid_argument);  // duplicate
  EXPECT_THROW(add("GET", "/a/{other}"), std::invalid_argument);    // same shape
  EXPECT_THROW(add("GET", "a"), std::invalid_argument);             // relative
  EXPECT_THROW(add("GET", "/a//b"), std::invalid_argument);         // empty segment
  EXPECT_THROW(add("GET", "/a/"), std::invalid_argument);           // trailing slash
  EXPECT_THROW(add("GET", "/b/{id:int}"), std::invalid_argument);   // unknown kind
  EXPECT_THROW(add("GET", "/b/{}"), std::invalid_argument);         // no name
  EXPECT_THROW(add("GET", "/b/{x}/{x}"), std::invalid_argument);    // duplicate name
  EXPECT_THROW(add("GET", "/b/a b"), std::invalid_argument);        // bad literal
  EXPECT_THROW(add("get", "/c"), std::invalid_argument);            // method case
  EXPECT_THROW(r.add("GET", "/d", route_policy::public_route, route_class::general, handler{}),
               std::invalid_argument);  // no handler
  add("DELETE", "/a/{id:uuid}");
  EXPECT_EQ(r.routes().size(), 2u);
}

TEST(uuid, canonical_form_only) {
  EXPECT_TRUE(caa::is_uuid(uuid));
  EXPECT_TRUE(caa::is_uuid("0B6F1E0C-6C1D-4A56-9F3E-2F1F2B3C4D5E"));
  EXPECT_FALSE(caa::is_uuid(""));
  EXPECT_FALSE(caa::is_uuid("0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5e0"));
  EXPECT_FALSE(caa::is_uuid("0b6f1e0c_6c1d-4a56-9f3e-2f1f2b3c4d5e"));
  EXPECT_FALSE(caa::is_uuid("0b6f1e0c-6c1d-4a56-9f3e-2f1f2b3c4d5 "));
}

TEST(request, query_params_are_decoded) {
  request req;
  req.query = "page=2&status=idle%20now&q=a+b&flag&bad=%zz&page=3";
  EXPECT_EQ(req.query_param("page"), "2");
  EXPECT_EQ(req.query_param("status"), "idle now");
  EXPECT_EQ(req.query_param("q"), "a b");
  EXPECT_EQ(req.query_param("flag"), "");
  EXPECT_EQ(req.query_param("bad"), std::nullopt);
  EXPECT_EQ(req.query_param("missing"), std::nullopt);
  req.headers["last-event-id"] = "42";
  EXPECT_EQ(req.header("Last-Event-ID"), "42");
  EXPECT_EQ(req.header("x-nope"), std::nullopt);
}

}  // namespace
