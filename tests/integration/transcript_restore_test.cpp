// A session resumes from the transcript stored in PostgreSQL when the CLI's own file is gone
// (a fresh config directory, or another machine).

#include "tests/integration/session_flow_fixture.hpp"
#include "transport/json/json.hpp"

#include <filesystem>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

std::string status_of(uint16_t port, const std::string& key, const std::string& id) {
  auto r = http_call(port, "GET", "/api/v1/sessions/" + id, {{"X-API-Key", key}});
  auto d = parse_json(r.body);
  return r.status == 200 && d.IsObject() && d.HasMember("status") ? d["status"].GetString() : "";
}

/// Removes every transcript file of session `id` below `config_dir`; returns how many.
int remove_transcripts(const std::filesystem::path& config_dir, const std::string& id) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(config_dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() == id + ".jsonl") {
      std::filesystem::remove(it->path(), ec);
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST(transcript_restore, a_hibernated_session_resumes_from_postgresql_without_its_file) {
  const char* bin = std::getenv("CAA_BIN_DIR");
  auto model_bin = std::string{bin ? bin : "build/bin"} + "/scripted_model";
  if (!env_database_url() || std::getenv("CLAUDE_CLI_PATH") == nullptr
      || !std::filesystem::exists(model_bin))
    GTEST_SKIP() << "DATABASE_URL, CLAUDE_CLI_PATH and the scripted model are required";
  scripted_model_child model{model_bin};
  auto admin = random_key();
  auto env = base_service_env(admin);
  env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model.port());
  env["ANTHROPIC_API_KEY"] = "sk-test";
  env["SESSION_IDLE_TIMEOUT"] = "1";
  service_process svc{env};
  auto created = http_call(svc.port(), "POST", "/api/v1/keys", {{"X-API-Key", admin}},
                           R"({"tenant":"restore","scopes":["agent"],"name":"t"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  auto cd = parse_json(created.body);
  std::string key = cd["key"].GetString();
  std::string tenant = cd["tenant_id"].GetString();
  auto word = unique_word("remember");
  auto first = sse_call(svc.port(), "POST", "/api/v1/query", {{"X-API-Key", key}},
                        R"({"prompt":"[[echo]] )" + word + R"("})");
  ASSERT_EQ(first.status, 200u);
  std::string id;
  for (auto& e : first.events)
    if (e.event == "init")
      id = parse_json(e.data)["session_id"].GetString();
  ASSERT_FALSE(id.empty()) << first.body;
  ASSERT_TRUE(eventually([&] { return status_of(svc.port(), key, id) == "hibernated"; }, 20s));
  // The CLI's own transcript is gone, as on a fresh machine: only PostgreSQL has it.
  auto config_dir = std::filesystem::path{env["WORKSPACE_ROOT"]} / tenant / "config";
  EXPECT_EQ(remove_transcripts(config_dir, id), 1);
  auto second = sse_call(svc.port(), "POST", "/api/v1/query", {{"X-API-Key", key}},
                         R"({"prompt":"[[echo]] next","session_id":")" + id + "\"}");
  ASSERT_EQ(second.status, 200u) << second.body << svc.log().substr(svc.log().size() > 4000 ? svc.log().size() - 4000 : 0);
  std::string reason;
  for (auto& e : second.events)
    if (e.event == "done")
      reason = parse_json(e.data)["reason"].GetString();
  EXPECT_EQ(reason, "completed") << second.body;
  // The model got the first turn's word again: the context came back from PostgreSQL.
  auto log = http_call(model.port(), "GET", "/_log");
  auto d = parse_json(log.body);
  ASSERT_TRUE(d.IsArray());
  bool carried = false;
  for (auto& req : d.GetArray()) {
    auto body = caa::json::to_string(req["body"]);
    carried = carried || (body.find(word) != std::string::npos && body.find("next") != std::string::npos);
  }
  EXPECT_TRUE(carried);
}
