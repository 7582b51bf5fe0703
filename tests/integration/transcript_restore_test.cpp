// A session resumes from the transcript stored in PostgreSQL when the CLI's own file is gone
// (a fresh config directory, or another machine).

#include "tests/integration/session_flow_fixture.hpp"
#include "transport/json/json.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>

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

/// A service and a model, one tenant, and one hibernated session whose first turn said `word`.
class transcript_restore : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("CAA_BIN_DIR");
    auto model_bin = std::string{bin ? bin : "build/bin"} + "/scripted_model";
    if (!env_database_url() || std::getenv("CLAUDE_CLI_PATH") == nullptr ||
        !std::filesystem::exists(model_bin))
      GTEST_SKIP() << "DATABASE_URL, CLAUDE_CLI_PATH and the scripted model are required";
    model = std::make_unique<scripted_model_child>(model_bin);
    auto admin = random_key();
    env = base_service_env(admin);
    env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model->port());
    env["ANTHROPIC_API_KEY"] = "sk-test";
    env["SESSION_IDLE_TIMEOUT"] = "1";
    svc = std::make_unique<service_process>(env);
    auto created = http_call(svc->port(), "POST", "/api/v1/keys", {{"X-API-Key", admin}},
                             R"({"tenant":"restore","scopes":["agent"],"name":"t"})");
    ASSERT_EQ(created.status, 201u) << created.body;
    auto cd = parse_json(created.body);
    key = cd["key"].GetString();
    tenant = cd["tenant_id"].GetString();
    word = unique_word("remember");
    auto first = sse_call(svc->port(), "POST", "/api/v1/query", {{"X-API-Key", key}},
                          R"({"prompt":"[[echo]] )" + word + R"("})");
    ASSERT_EQ(first.status, 200u);
    for (auto& e : first.events)
      if (e.event == "init") id = parse_json(e.data)["session_id"].GetString();
    ASSERT_FALSE(id.empty()) << first.body;
    ASSERT_TRUE(eventually([&] { return status_of(svc->port(), key, id) == "hibernated"; }, 20s));
    config_dir = std::filesystem::path{env["WORKSPACE_ROOT"]} / tenant / "config";
  }

  std::unique_ptr<scripted_model_child> model;
  std::map<std::string, std::string> env;
  std::unique_ptr<service_process> svc;
  std::string key, tenant, word, id;
  std::filesystem::path config_dir;
};

TEST_F(transcript_restore, a_planted_symlink_never_redirects_the_restore) {
  // The agent (its uid owns config/) swaps its project directory for a symlink to a directory
  // of the host; the service's restore must not write through it.
  auto outside = std::filesystem::temp_directory_path() / ("caa-outside-" + unique_word("d"));
  std::filesystem::create_directories(outside);
  std::filesystem::path project;
  for (auto& e : std::filesystem::recursive_directory_iterator(config_dir / "projects"))
    if (e.path().filename() == id + ".jsonl") project = e.path().parent_path();
  ASSERT_FALSE(project.empty());
  std::filesystem::remove_all(project);
  std::filesystem::create_directory_symlink(outside, project);
  auto second = sse_call(svc->port(), "POST", "/api/v1/query", {{"X-API-Key", key}},
                         R"({"prompt":"[[echo]] next","session_id":")" + id + "\"}");
  EXPECT_EQ(second.status, 200u) << second.body;
  EXPECT_TRUE(std::filesystem::is_empty(outside)) << "the restore wrote outside the tenant tree";
  EXPECT_EQ(http_call(svc->port(), "GET", "/health").status, 200u);
  std::filesystem::remove_all(outside);
}

TEST_F(transcript_restore, a_hibernated_session_resumes_from_postgresql_without_its_file) {
  auto& svc = *this->svc;
  auto& model = *this->model;
  // The CLI's own transcript is gone, as on a fresh machine: only PostgreSQL has it.
  EXPECT_EQ(remove_transcripts(config_dir, id), 1);
  auto second = sse_call(svc.port(), "POST", "/api/v1/query", {{"X-API-Key", key}},
                         R"({"prompt":"[[echo]] next","session_id":")" + id + "\"}");
  ASSERT_EQ(second.status, 200u) << second.body
                                 << svc.log().substr(
                                        svc.log().size() > 4000 ? svc.log().size() - 4000 : 0);
  std::string reason;
  for (auto& e : second.events)
    if (e.event == "done") reason = parse_json(e.data)["reason"].GetString();
  EXPECT_EQ(reason, "completed") << second.body;
  // The model got the first turn's word again: the context came back from PostgreSQL.
  auto log = http_call(model.port(), "GET", "/_log");
  auto d = parse_json(log.body);
  ASSERT_TRUE(d.IsArray());
  bool carried = false;
  for (auto& req : d.GetArray()) {
    auto body = caa::json::to_string(req["body"]);
    carried =
        carried || (body.find(word) != std::string::npos && body.find("next") != std::string::npos);
  }
  EXPECT_TRUE(carried);
  // The restored file belongs to the tenant's sandbox uid, so its CLI can go on appending.
  for (auto& e : std::filesystem::recursive_directory_iterator(config_dir / "projects")) {
    if (e.path().filename() != id + ".jsonl") continue;
    struct stat st {};
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    if (::geteuid() == 0) {
      EXPECT_NE(st.st_uid, 0u) << e.path();
    }
  }
}
