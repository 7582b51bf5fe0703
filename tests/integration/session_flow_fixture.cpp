// The suite-wide part of the session-flow fixture: the scripted model, the service (with the
// caller's extra environment) and the keys of two tenants.

#include "tests/integration/session_flow_fixture.hpp"

namespace caa::test {

void session_flow_test::start_suite(const std::map<std::string, std::string>& extra_env) {
  const char* bin = std::getenv("CAA_BIN_DIR");
  auto model_bin = std::string{bin ? bin : "build/bin"} + "/scripted_model";
  if (!env_database_url())
    skip_reason_ = "DATABASE_URL is required";
  else if (std::getenv("CLAUDE_CLI_PATH") == nullptr)
    skip_reason_ = "CLAUDE_CLI_PATH is required";
  else if (!std::filesystem::exists(model_bin))
    skip_reason_ = "the scripted_model binary is required";
  if (!skip_reason_.empty()) return;
  model_ = std::make_unique<scripted_model_child>(model_bin);
  auto admin = random_key();
  env_ = base_service_env(admin);
  env_["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model_->port());
  env_["ANTHROPIC_API_KEY"] = "sk-test";
  // The whole suite shares one service and keys: the default 10 turns a minute would throttle it.
  env_["RATE_LIMIT_QUERY_PER_MINUTE"] = "1000";
  env_["RATE_LIMIT_GENERAL_PER_MINUTE"] = "10000";
  for (auto& [name, value] : extra_env) env_[name] = value;
  service_ = std::make_unique<service_process>(env_);
  auto make_key = [&](const std::string& tenant) {
    auto r = http_call(service_->port(), "POST", "/api/v1/keys", {{"X-API-Key", admin}},
                       R"({"tenant":")" + tenant + R"(","scopes":["agent"],"name":"flow"})");
    auto d = parse_json(r.body);
    if (r.status != 201 || !d.IsObject())
      throw std::runtime_error("cannot create a key: " + r.body);
    return tenant_key{d["key"].GetString(), d["tenant_id"].GetString()};
  };
  alpha_ = make_key("alpha");
  beta_ = make_key("beta");
}

void session_flow_test::TearDownTestSuite() {
  if (service_ && std::getenv("CAA_TEST_DUMP_LOG") != nullptr)
    std::fprintf(stderr, "---- service log ----\n%s\n", service_->log().c_str());
  service_.reset();
  model_.reset();
}

void session_flow_test::SetUp() {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  ASSERT_TRUE(service_) << "the service did not start";
}

std::string session_flow_test::session_of(const sse_result& r) {
  for (auto& e : r.events)
    if (e.event == "init") {
      auto d = parse_json(e.data);
      if (d.IsObject() && d.HasMember("session_id") && d["session_id"].IsString())
        return d["session_id"].GetString();
    }
  return {};
}

std::string session_flow_test::done_reason(const sse_result& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it)
    if (it->event == "done") {
      auto d = parse_json(it->data);
      return d.IsObject() && d.HasMember("reason") ? d["reason"].GetString() : "";
    }
  return {};
}

std::string session_flow_test::new_session(const tenant_key& who, const std::string& prompt) {
  auto r = turn(who, R"({"prompt":")" + prompt + "\"}");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto id = session_of(r);
  EXPECT_EQ(id.size(), 36u) << r.body;
  return id;
}

std::string session_flow_test::model_log() {
  return http_call(model_->port(), "GET", "/_log").body;
}

std::string session_flow_test::status_of(const tenant_key& who, const std::string& id) {
  auto r = http_call(port(), "GET", "/api/v1/sessions/" + id, auth(who));
  auto d = parse_json(r.body);
  return r.status == 200 && d.IsObject() ? d["status"].GetString() : "";
}

}  // namespace caa::test
