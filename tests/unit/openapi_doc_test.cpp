// The OpenAPI document against the router that `make_router` builds (every part of it on: the
// session routes, the cluster route): every route is documented with its method, no documented
// path lacks a route, and the turn request's schema is the decoder's own field table.

#include "tests/unit/actor_test_support.hpp"
#include "transport/api/openapi.hpp"
#include "transport/api/query_request.hpp"
#include "transport/api/routes.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>

using namespace caa;
using namespace caa::api;

namespace {

/// Captures what a handler answers.
class capture_responder : public http::responder {
 public:
  void send(http::response r) override { sent = std::move(r); }
  void fail(caf::error) override { failed = true; }
  std::shared_ptr<http::stream_sink> stream(
      unsigned, std::string, std::vector<std::pair<std::string, std::string>>) override {
    return nullptr;
  }
  http::response sent;
  bool failed = false;
};

/// A handler for stand-in routes (never called).
const http::handler no_op = [](const std::shared_ptr<http::request>&,
                               const std::shared_ptr<http::responder>&) {};

/// The OpenAPI path of a router template.
std::string openapi_path(std::string t) {
  for (auto pos = t.find(":uuid}"); pos != std::string::npos; pos = t.find(":uuid}"))
    t.erase(pos, 5);
  return t;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class openapi_doc_test : public ::testing::Test {
 protected:
  openapi_doc_test() : router_(build()) {}

  /// `make_router` with every optional part present (handles of an inert actor).
  http::router build() {
    sys_.await_actors_before_shutdown(false);  // the inert actor never runs (test coordinator)
    inert_ = sys_.spawn([](caf::event_based_actor*, int) { return caf::behavior{[](int) {}}; }, 0);
    api_context ctx;
    ctx.sys = &sys_;
    ctx.cfg = &settings_;
    ctx.health = &health_;
    ctx.workspace = &workspace_;
    ctx.pg = caf::actor_cast<storage::pg_actor>(inert_);
    ctx.redis = caf::actor_cast<storage::redis_actor>(inert_);
    ctx.registry = caf::actor_cast<registry_actor>(inert_);
    ctx.capabilities = caf::actor_cast<capabilities_actor>(inert_);
    ctx.cluster = caf::actor_cast<cluster_actor>(inert_);
    return make_router(ctx);
  }

  rapidjson::Document document(const http::router& r, const std::vector<route_doc>& docs) {
    rapidjson::Document d;
    d.Parse(openapi_document(r, docs).c_str());
    EXPECT_FALSE(d.HasParseError());
    return d;
  }

  test_support::coordinator_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::actor inert_;
  settings settings_;
  health_board health_;
  tenant_workspace workspace_{::testing::TempDir()};
  http::router router_;
};

std::string joined(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += "\n  " + x;
  return out;
}

}  // namespace

TEST_F(openapi_doc_test, every_route_is_documented_and_every_doc_entry_has_a_route) {
  auto problems = check_route_docs(router_, route_docs());
  EXPECT_TRUE(problems.undocumented.empty())
      << "routes without a doc entry:" << joined(problems.undocumented);
  EXPECT_TRUE(problems.unrouted.empty())
      << "doc entries without a route:" << joined(problems.unrouted);
  EXPECT_TRUE(problems.duplicated.empty()) << joined(problems.duplicated);
  EXPECT_TRUE(problems.bad_schemas.empty()) << joined(problems.bad_schemas);
}

TEST_F(openapi_doc_test, the_check_refuses_a_missing_doc_and_a_doc_without_a_route) {
  http::router r;
  r.add("GET", "/health", http::route_policy::public_route, http::route_class::general, no_op);
  r.add("GET", "/nowhere", http::route_policy::public_route, http::route_class::general, no_op);
  auto problems = check_route_docs(r, route_docs());
  EXPECT_EQ(problems.undocumented, std::vector<std::string>{"GET /nowhere"});
  EXPECT_FALSE(problems.unrouted.empty());  // every other documented route
  // The generator still emits the undocumented route, so the service serves a valid document.
  auto d = document(r, route_docs());
  EXPECT_TRUE(d["paths"].HasMember("/nowhere"));
}

TEST_F(openapi_doc_test, every_route_appears_with_its_method_and_no_path_lacks_a_route) {
  auto d = document(router_, route_docs());
  ASSERT_EQ(std::string{d["openapi"].GetString()}, "3.1.0");
  auto routes = router_.routes();
  std::map<std::string, std::size_t> per_path;
  for (const auto& r : routes) {
    auto path = openapi_path(r.path_template);
    ++per_path[path];
    ASSERT_TRUE(d["paths"].HasMember(path.c_str())) << path;
    EXPECT_TRUE(d["paths"][path.c_str()].HasMember(lower(r.method).c_str()))
        << r.method << " " << path;
  }
  EXPECT_EQ(d["paths"].MemberCount(), per_path.size());
  for (auto& p : d["paths"].GetObject()) {
    auto it = per_path.find(p.name.GetString());
    ASSERT_NE(it, per_path.end()) << "documented path without a route: " << p.name.GetString();
    EXPECT_EQ(p.value.MemberCount(), it->second) << p.name.GetString();
  }
  EXPECT_TRUE(d["paths"].HasMember("/openapi.json"));
}

TEST_F(openapi_doc_test, parameters_security_and_errors_follow_the_route_table) {
  auto d = document(router_, route_docs());
  auto& get = d["paths"]["/api/v1/sessions/{id}"]["get"];
  auto& id = get["parameters"][0];
  EXPECT_EQ(std::string{id["name"].GetString()}, "id");
  EXPECT_EQ(std::string{id["in"].GetString()}, "path");
  EXPECT_EQ(std::string{id["schema"]["format"].GetString()}, "uuid");
  EXPECT_EQ(get["security"].Size(), 2u);
  EXPECT_TRUE(get["responses"].HasMember("404"));
  EXPECT_TRUE(get["responses"].HasMember("422"));
  EXPECT_EQ(
      std::string{
          get["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].GetString()},
      "#/components/schemas/Error");
  auto& health = d["paths"]["/health"]["get"];
  EXPECT_EQ(health["security"].Size(), 0u);
  EXPECT_FALSE(health["responses"].HasMember("401"));
  auto& keys = d["paths"]["/api/v1/keys"]["get"];
  EXPECT_TRUE(keys["responses"].HasMember("403"));
  EXPECT_NE(std::string{keys["description"].GetString()}.find("admin"), std::string::npos);
  auto& query = d["paths"]["/api/v1/query"]["post"];
  EXPECT_TRUE(query["responses"]["200"]["content"].HasMember("text/event-stream"));
  // Every error status of the API envelope is one the catalogue has a code for.
  for (auto& p : d["paths"].GetObject())
    for (auto& op : p.value.GetObject())
      for (auto& res : op.value["responses"].GetObject())
        EXPECT_NE(std::string{res.value["description"].GetString()}, "An error.")
            << p.name.GetString() << " " << op.name.GetString() << " " << res.name.GetString();
  auto& schemes = d["components"]["securitySchemes"];
  EXPECT_EQ(std::string{schemes["ApiKeyHeader"]["name"].GetString()}, "X-API-Key");
  EXPECT_EQ(std::string{schemes["BearerAuth"]["scheme"].GetString()}, "bearer");
}

TEST_F(openapi_doc_test, the_error_envelope_lists_the_catalogue_codes) {
  auto d = document(router_, route_docs());
  auto& codes = d["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"];
  std::vector<std::string> listed;
  for (auto& c : codes["enum"].GetArray()) listed.emplace_back(c.GetString());
  for (const char* code :
       {"AUTHENTICATION_ERROR", "FORBIDDEN", "VALIDATION_ERROR", "SESSION_NOT_FOUND",
        "SESSION_LOCKED", "SESSION_IDLE", "CHECKPOINT_NOT_FOUND", "PAYLOAD_TOO_LARGE",
        "RATE_LIMIT_EXCEEDED", "CAPACITY_EXHAUSTED", "SERVICE_UNAVAILABLE", "AGENT_ERROR",
        "TENANT_CAPACITY", "QUOTA_EXCEEDED", "INTERNAL_ERROR"})
    EXPECT_NE(std::find(listed.begin(), listed.end(), code), listed.end()) << code;
}

TEST_F(openapi_doc_test, the_turn_request_schema_is_the_decoders_field_table) {
  rapidjson::Document schema;
  schema.Parse(turn_request_schema().c_str());
  ASSERT_TRUE(schema.IsObject());
  EXPECT_FALSE(schema["additionalProperties"].GetBool());
  ASSERT_GE(schema["properties"].MemberCount(), 20u);
  // Each documented field is one the decoder knows (null counts as absent: no error at all).
  for (auto& m : schema["properties"].GetObject()) {
    std::string name = m.name.GetString();
    std::string body =
        name == "prompt" ? R"({"prompt":"hi"})" : R"({"prompt":"hi",")" + name + R"(":null})";
    EXPECT_TRUE(static_cast<bool>(decode_turn_request(body, {}))) << name;
  }
  // And a field outside the table is refused.
  EXPECT_FALSE(static_cast<bool>(decode_turn_request(R"({"prompt":"hi","not_a_field":1})", {})));
  auto d = document(router_, route_docs());
  auto& turn = d["components"]["schemas"]["TurnRequest"]["properties"];
  EXPECT_EQ(turn.MemberCount(), schema["properties"].MemberCount());
  EXPECT_TRUE(d["components"]["schemas"]["ForkRequest"]["properties"].HasMember("at_message_id"));
}

TEST_F(openapi_doc_test, the_served_document_is_the_generated_one) {
  auto m = router_.match("GET", "/openapi.json");
  ASSERT_EQ(m.status, http::match_status::matched);
  EXPECT_EQ(m.route->policy, http::route_policy::public_route);
  auto res = std::make_shared<capture_responder>();
  (*m.target)(std::make_shared<http::request>(), res);
  EXPECT_EQ(res->sent.status, 200u);
  EXPECT_EQ(res->sent.content_type, "application/json");
  EXPECT_EQ(res->sent.body, openapi_document(router_, route_docs()));
}
