// The model proxy in front of the scripted model (skipped unless its binary is found: env
// SCRIPTED_MODEL_PATH, or next to this test), and the real CLI through it (skipped unless
// CLAUDE_CLI_PATH names the CLI too): the model only ever sees the real key.

#include "model_proxy_support.hpp"
#include "tests/support/scripted_model/test_support.hpp"

#include <rapidjson/document.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace caa::sandbox::testing {
namespace {

namespace sm = scripted_model::testing;

class ModelProxyScripted : public proxy_fixture {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(sm::scripted_model_path()))
      GTEST_SKIP() << "the scripted_model binary was not found";
    model_.emplace();
  }

  /// The model's request log, parsed; checks every Messages API call carried the real key and
  /// that `placeholder` appears nowhere in it. Returns the number of such calls.
  std::size_t check_model_log(const std::string& placeholder) {
    auto log = sm::http_request(model_->port(), "GET", "/_log");
    EXPECT_EQ(log.status, 200u);
    EXPECT_EQ(log.body.find(placeholder), std::string::npos);
    rapidjson::Document doc;
    doc.Parse(log.body.c_str());
    if (!doc.IsArray()) return 0;
    std::size_t calls = 0;
    for (const auto& entry : doc.GetArray()) {
      if (!entry.IsObject() || !entry.HasMember("path") || !entry["path"].IsString()) continue;
      std::string path = entry["path"].GetString();
      if (path.rfind("/v1/messages", 0) != 0) continue;
      ++calls;
      const auto& headers = entry["headers"];
      EXPECT_TRUE(headers.IsObject() && headers.HasMember("x-api-key") &&
                  headers["x-api-key"].IsString() && headers["x-api-key"].GetString() == real_key);
      EXPECT_FALSE(headers.IsObject() && headers.HasMember("authorization"));
    }
    return calls;
  }

  std::optional<sm::scripted_model_process> model_;
};

TEST_F(ModelProxyScripted, ModelSeesOnlyTheRealKeyAndUsageIsCounted) {
  start(model_->base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("m.sock", placeholder);
  unix_client c{socket("m.sock")};
  std::string body = R"({"model":"claude-test","max_tokens":64,"tools":[],"stream":true,)"
                     R"("messages":[{"role":"user","content":"Say hi"}]})";
  http::response<http::string_body> res;
  ASSERT_FALSE(c.send(messages_request("/v1/messages?beta=true", placeholder, body)));
  ASSERT_FALSE(c.receive(res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("message_stop"), std::string::npos);
  auto json_body = body;
  json_body.replace(json_body.find(R"("stream":true)"), 13, R"("stream":false)");
  ASSERT_FALSE(c.send(messages_request("/v1/messages", placeholder, json_body)));
  ASSERT_FALSE(c.receive(res));
  EXPECT_EQ(res.result_int(), 200u);
  ASSERT_TRUE(await_records(2));
  for (const auto& r : records()) {
    EXPECT_GT(r.input_tokens, 0u);
    EXPECT_GT(r.output_tokens, 0u);
  }
  EXPECT_EQ(check_model_log(placeholder), 2u);
}

TEST_F(ModelProxyScripted, RealCliAnswersThroughTheProxy) {
  const char* cli = std::getenv("CLAUDE_CLI_PATH");
  if (cli == nullptr || *cli == '\0' || !std::filesystem::exists(cli))
    GTEST_SKIP() << "CLAUDE_CLI_PATH is not set";
  start(model_->base_url());
  auto placeholder = make_placeholder_key();
  auto handle = open("cli.sock", placeholder, "tenant-cli", "session-cli");
  sm::temp_dir home{"mproxy-home-"};
  sm::temp_dir config{"mproxy-config-"};
  sm::process_spec spec;
  spec.argv = {cli, "-p", "hi", "--output-format", "json"};
  const char* path = std::getenv("PATH");
  spec.env = {std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
              "HOME=" + home.path().string(),
              "CLAUDE_CONFIG_DIR=" + config.path().string(),
              "ANTHROPIC_UNIX_SOCKET=" + socket("cli.sock"),
              "ANTHROPIC_BASE_URL=http://localhost",
              "ANTHROPIC_API_KEY=" + placeholder,
              "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
              "DISABLE_AUTOUPDATER=1"};
  spec.cwd = home.path().string();
  spec.stderr_path = (home.path() / "cli.stderr").string();
  sm::child_process child{spec};
  child.close_stdin();
  std::string out;
  while (auto line = child.read_line(std::chrono::seconds(90))) out += *line + "\n";
  auto code = child.wait(std::chrono::seconds(30));
  if (!code) child.kill(SIGKILL);
  std::ifstream err_file{spec.stderr_path};
  std::stringstream err;
  err << err_file.rdbuf();
  ASSERT_TRUE(code && *code == 0) << out << err.str();
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_TRUE(doc.IsObject()) << out;
  EXPECT_TRUE(doc.HasMember("is_error") && doc["is_error"].IsFalse()) << out;
  ASSERT_TRUE(doc.HasMember("result") && doc["result"].IsString()) << out;
  EXPECT_EQ(std::string{doc["result"].GetString()}, "Hello from the scripted model.");
  EXPECT_GE(check_model_log(placeholder), 1u);
  ASSERT_TRUE(await_records(1));
  auto totals = proxy_->totals();
  ASSERT_EQ(totals.count("tenant-cli"), 1u);
  EXPECT_GE(totals.at("tenant-cli").requests, 1u);
  EXPECT_GT(totals.at("tenant-cli").output_tokens, 0u);
}

}  // namespace
}  // namespace caa::sandbox::testing
