// Black-box tests of MCP servers in a query: the service binary starts the real CLI with a stdio
// MCP server (bin/test_mcp_server, the only command on MCP_STDIO_ALLOWED_COMMANDS); the init
// event reports the server's real status and tools, the scripted model calls the server's tool,
// `${NAME}` in the server's env is filled from the tenant's TENANT_VARIABLES_FILE entry (never
// from the service's environment, never stored), and commands off the allow-list or unknown
// variables are refused with 422 before anything runs. Needs DATABASE_URL, CLAUDE_CLI_PATH, the
// scripted_model and test_mcp_server binaries in CAA_BIN_DIR (skipped otherwise).

#include "tests/integration/session_flow_fixture.hpp"

#include <pqxx/pqxx>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

using namespace caa::test;

namespace {

constexpr const char* tenant_value = "tenant-config-value-7f3a";
constexpr const char* service_value = "service-environment-value-91c2";

class mcp_flow_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("CAA_BIN_DIR");
    auto dir = std::filesystem::absolute(bin ? bin : "build/bin");
    auto model_bin = (dir / "scripted_model").string();
    server_bin_ = (dir / "test_mcp_server").lexically_normal().string();
    if (!env_database_url())
      skip_reason_ = "DATABASE_URL is required";
    else if (std::getenv("CLAUDE_CLI_PATH") == nullptr)
      skip_reason_ = "CLAUDE_CLI_PATH is required";
    else if (!std::filesystem::exists(model_bin) || !std::filesystem::exists(server_bin_))
      skip_reason_ = "the scripted_model and test_mcp_server binaries are required";
    if (!skip_reason_.empty()) return;
    // The agent sandbox runs the server as the tenant's uid: a copy it can reach, wherever the
    // build directory is.
    bin_copy_dir_ =
        std::filesystem::temp_directory_path() / ("caa-mcp-bin-" + std::to_string(::getpid()));
    std::filesystem::create_directories(bin_copy_dir_);
    std::filesystem::permissions(bin_copy_dir_, std::filesystem::perms(0711));
    std::filesystem::copy_file(server_bin_, bin_copy_dir_ / "test_mcp_server",
                               std::filesystem::copy_options::overwrite_existing);
    server_bin_ = (bin_copy_dir_ / "test_mcp_server").string();
    std::filesystem::permissions(server_bin_, std::filesystem::perms(0755));
    model_ = std::make_unique<scripted_model_child>(model_bin);
    vars_file_ = std::filesystem::temp_directory_path() /
                 ("caa-mcp-vars-" + std::to_string(::getpid()) + ".json");
    std::ofstream{vars_file_} << R"({"mcp-alpha":{"GREETING":")" << tenant_value
                              << R"("},"mcp-beta":{}})";
    auto admin = random_key();
    auto env = base_service_env(admin);
    env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model_->port());
    env["ANTHROPIC_API_KEY"] = "sk-test";
    env["RATE_LIMIT_QUERY_PER_MINUTE"] = "1000";
    env["RATE_LIMIT_GENERAL_PER_MINUTE"] = "10000";
    env["MCP_STDIO_ALLOWED_COMMANDS"] = server_bin_;
    env["TENANT_VARIABLES_FILE"] = vars_file_.string();
    env["SERVICE_ONLY_SECRET"] = service_value;  // in the service's environment, not a tenant's
    service_ = std::make_unique<service_process>(env);
    auto make_key = [&](const std::string& tenant) {
      auto r = http_call(service_->port(), "POST", "/api/v1/keys", {{"X-API-Key", admin}},
                         R"({"tenant":")" + tenant + R"(","scopes":["agent"],"name":"mcp"})");
      auto d = parse_json(r.body);
      if (r.status != 201 || !d.IsObject())
        throw std::runtime_error("cannot create a key: " + r.body);
      return tenant_key{d["key"].GetString(), d["tenant_id"].GetString()};
    };
    alpha_ = make_key("mcp-alpha");
    beta_ = make_key("mcp-beta");
  }

  static void TearDownTestSuite() {
    if (service_ && std::getenv("CAA_TEST_DUMP_LOG") != nullptr)
      std::fprintf(stderr, "---- service log ----\n%s\n", service_->log().c_str());
    service_.reset();
    model_.reset();
    std::filesystem::remove(vars_file_);
    if (!bin_copy_dir_.empty()) std::filesystem::remove_all(bin_copy_dir_);
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(service_) << "the service did not start";
  }

  /// A turn body with one stdio server "echo" (the test server, `env` as given) and `extra`.
  static std::string body(const std::string& prompt, const std::string& env_json,
                          const std::string& extra) {
    return R"({"prompt":")" + prompt + R"(","mcp_servers":{"echo":{"command":")" + server_bin_ +
           R"(","env":)" + env_json + "}}," + extra + "}";
  }

  static sse_result turn(const tenant_key& who, const std::string& body) {
    return sse_call(service_->port(), "POST", "/api/v1/query", {{"X-API-Key", who.key}}, body);
  }

  /// The parsed data of the first event named `name` (null when none).
  static rapidjson::Document first(const sse_result& r, const std::string& name) {
    for (const auto& e : r.events)
      if (e.event == name) return parse_json(e.data);
    return {};
  }

  /// All event data of a stream, one text.
  static std::string all_data(const sse_result& r) {
    std::string out;
    for (const auto& e : r.events) out += e.data + "\n";
    return out;
  }

  /// Whether the 422 body `text` lists an error on exactly `field`.
  static bool names_field(const std::string& text, const std::string& field) {
    return text.find(R"("field":")" + field + "\"") != std::string::npos;
  }

  static std::string model_log() { return http_call(model_->port(), "GET", "/_log").body; }

  static inline std::unique_ptr<scripted_model_child> model_;
  static inline std::unique_ptr<service_process> service_;
  static inline std::string server_bin_;
  static inline std::filesystem::path bin_copy_dir_;
  static inline std::filesystem::path vars_file_;
  static inline tenant_key alpha_;
  static inline tenant_key beta_;
  static inline std::string skip_reason_;
};

TEST_F(mcp_flow_test, a_stdio_server_connects_and_the_model_calls_its_tool) {
  auto r = turn(alpha_, body(R"([[tool mcp__echo__echo {\"text\":\"hi\"}]])", "{}",
                             R"("allowed_tools":["mcp__echo__echo"])"));
  ASSERT_EQ(r.status, 200u) << r.body;
  auto init = first(r, "init");
  ASSERT_TRUE(init.IsObject()) << r.body;
  ASSERT_TRUE(init["mcp_servers"].IsArray()) << r.body;
  ASSERT_EQ(init["mcp_servers"].Size(), 1u) << r.body;
  EXPECT_STREQ(init["mcp_servers"][0]["name"].GetString(), "echo");
  EXPECT_STREQ(init["mcp_servers"][0]["status"].GetString(), "connected");
  bool listed = false;
  for (auto& t : init["tools"].GetArray())
    listed = listed || std::string_view{t.GetString()} == "mcp__echo__echo";
  EXPECT_TRUE(listed) << r.events.front().data;
  // The server's answer comes back as the tool result, and the model's final text quotes it.
  auto result = first(r, "result");
  ASSERT_TRUE(result.IsObject()) << all_data(r);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  result.Accept(w);
  EXPECT_NE(std::string(buf.GetString()).find(R"(mcp__echo__echo result:\necho: hi)"),
            std::string::npos)
      << all_data(r);
  EXPECT_NE(all_data(r).find("echo: hi"), std::string::npos);
}

TEST_F(mcp_flow_test, a_tenant_variable_reaches_the_server_and_is_not_stored) {
  auto r = turn(alpha_, body(R"([[tool mcp__echo__env {\"name\":\"GREETING\"}]])",
                             R"({"GREETING":"${GREETING}","OTHER":"${NOT_SET:-fallback}"})",
                             R"("allowed_tools":["mcp__echo__env"])"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(all_data(r).find(std::string{"GREETING="} + tenant_value), std::string::npos)
      << all_data(r);
  auto init = first(r, "init");
  ASSERT_TRUE(init.IsObject() && init.HasMember("session_id")) << r.body;
  std::string id = init["session_id"].GetString();
  // The session's stored options keep the reference, not the value.
  pqxx::connection db{shared_scratch_database()->url()};
  pqxx::work tx{db};
  auto row = tx.exec_params1("SELECT options::text FROM sessions WHERE id = $1", id);
  auto stored = row[0].as<std::string>();
  EXPECT_NE(stored.find("${GREETING}"), std::string::npos) << stored;
  EXPECT_EQ(stored.find(tenant_value), std::string::npos) << stored;
}

TEST_F(mcp_flow_test, a_command_outside_the_allow_list_is_refused_and_never_runs) {
  auto marker =
      std::filesystem::temp_directory_path() / ("caa-mcp-never-" + std::to_string(::getpid()));
  std::filesystem::remove(marker);
  auto word = unique_word("refused-command");
  auto r = turn(alpha_, R"({"prompt":")" + word +
                            R"(","mcp_servers":{"x":{"command":"/usr/bin/touch","args":[")" +
                            marker.string() + R"("]}}})");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_TRUE(names_field(r.body, "mcp_servers.x.command")) << r.body;
  EXPECT_TRUE(r.events.empty());
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(model_log().find(word), std::string::npos) << "no CLI may have started";
}

TEST_F(mcp_flow_test, unknown_variables_are_refused_without_echoing_anything) {
  // Another tenant's variable, and a variable of the service's own environment.
  auto other = turn(beta_, body("hello", R"({"GREETING":"${GREETING}"})", R"("max_turns":1)"));
  EXPECT_EQ(other.status, 422u) << other.body;
  EXPECT_TRUE(names_field(other.body, "mcp_servers.echo.env.GREETING")) << other.body;
  auto service =
      turn(alpha_, body("hello", R"({"S":"${SERVICE_ONLY_SECRET}"})", R"("max_turns":1)"));
  EXPECT_EQ(service.status, 422u) << service.body;
  EXPECT_TRUE(names_field(service.body, "mcp_servers.echo.env.S")) << service.body;
  EXPECT_EQ(service.body.find(service_value), std::string::npos);
  // Outside env and headers the CLI itself would expand the reference: refused too.
  auto args = turn(alpha_, R"({"prompt":"hello","mcp_servers":{"echo":{"command":")" + server_bin_ +
                               R"(","args":["${ANTHROPIC_API_KEY}"]}}})");
  EXPECT_EQ(args.status, 422u) << args.body;
  EXPECT_TRUE(names_field(args.body, "mcp_servers.echo.args[0]")) << args.body;
}

}  // namespace
