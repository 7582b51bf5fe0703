// GET /openapi.json of the real service: the document passes the pinned OpenAPI validator, and
// real responses of several routes (successes and error envelopes) match the schemas the served
// document gives their route and status (ajv under node). Needs what the session-flow suite
// needs, plus node (found by CMake); skipped otherwise.

#include "tests/integration/session_flow_fixture.hpp"
#include "transport/api/openapi.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace caa::test;

namespace {

/// The output and exit status of a command.
struct run_result {
  int status = -1;
  std::string output;
};

run_result run(const std::string& command) {
  run_result out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.output.append(buf, n);
  int raw = ::pclose(pipe);
  out.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";  // the paths come from the build tree and the test's temp dir
}

/// A file of the test's temp dir holding `text`; removed with the object.
class temp_file {
 public:
  temp_file(const std::string& name, const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("caa-openapi-" + std::to_string(::getpid()) + "-" + name)) {
    std::ofstream{path_} << text;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  /// The path.
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// One response to check: the route as the document names it, the status, the body.
struct response_case {
  std::string method;  ///< lower case, as in the document
  std::string path;    ///< e.g. "/api/v1/sessions/{id}"
  unsigned status;
  std::string body;  ///< the JSON body as received
};

class openapi_service_test : public session_flow_test {
 protected:
  void SetUp() override {
    session_flow_test::SetUp();
    if (IsSkipped()) return;
    if (std::string{CAA_NODE_EXECUTABLE}.empty()) GTEST_SKIP() << "node is required";
  }

  /// Runs `script` of tests/openapi with `args` under node.
  static run_result node(const std::string& script, const std::vector<std::string>& args) {
    auto cmd =
        quoted(CAA_NODE_EXECUTABLE) + " " + quoted(std::string{CAA_OPENAPI_SCRIPTS} + "/" + script);
    for (const auto& a : args) cmd += " " + quoted(a);
    return run(cmd);
  }

  static std::string served_document() {
    auto r = http_call(port(), "GET", "/openapi.json");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("content-type"), "application/json");
    return r.body;
  }

  static std::map<std::string, std::string> admin() { return {{"X-API-Key", env_["API_KEY"]}}; }
};

}  // namespace

TEST_F(openapi_service_test, the_served_document_is_valid_openapi_3_1) {
  temp_file doc{"served.json", served_document()};
  auto r = node("validate.mjs", {doc.path()});
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(openapi_service_test, real_responses_match_their_schemas) {
  auto p = port();
  auto agent = auth(alpha_);
  std::vector<response_case> cases;
  auto add = [&cases](std::string method, std::string path, const http_result& r) {
    cases.push_back({std::move(method), std::move(path), r.status, r.body});
  };
  add("get", "/health", http_call(p, "GET", "/health"));
  ASSERT_TRUE(eventually([&] { return http_call(p, "GET", "/health/ready").status == 200; }));
  add("get", "/health/ready", http_call(p, "GET", "/health/ready"));
  auto single = http_call(p, "POST", "/api/v1/query/single", agent, R"({"prompt":"say hi"})");
  ASSERT_EQ(single.status, 200u) << single.body;
  add("post", "/api/v1/query/single", single);
  auto id = std::string{parse_json(single.body)["session_id"].GetString()};
  add("get", "/api/v1/sessions", http_call(p, "GET", "/api/v1/sessions", agent));
  add("get", "/api/v1/sessions/{id}", http_call(p, "GET", "/api/v1/sessions/" + id, agent));
  add("get", "/api/v1/sessions/{id}/events",
      http_call(p, "GET", "/api/v1/sessions/" + id + "/events", agent));
  add("get", "/api/v1/sessions/{id}/checkpoints",
      http_call(p, "GET", "/api/v1/sessions/" + id + "/checkpoints", agent));
  add("get", "/api/v1/capabilities", http_call(p, "GET", "/api/v1/capabilities", agent));
  add("post", "/api/v1/ws/ticket", http_call(p, "POST", "/api/v1/ws/ticket", agent));
  add("post", "/api/v1/keys",
      http_call(p, "POST", "/api/v1/keys", admin(),
                R"({"tenant":"gamma","scopes":["agent"],"name":"doc"})"));
  add("get", "/api/v1/keys", http_call(p, "GET", "/api/v1/keys", admin()));
  // Error envelopes: 404, 422 (path and body), 401, 403, 409.
  add("get", "/api/v1/sessions/{id}",
      http_call(p, "GET", "/api/v1/sessions/00000000-0000-4000-8000-000000000000", agent));
  add("get", "/api/v1/sessions/{id}", http_call(p, "GET", "/api/v1/sessions/not-a-uuid", agent));
  add("post", "/api/v1/query",
      http_call(p, "POST", "/api/v1/query", agent, R"({"prompt":"","max_turns":0})"));
  add("get", "/api/v1/keys", http_call(p, "GET", "/api/v1/keys"));
  add("get", "/api/v1/keys", http_call(p, "GET", "/api/v1/keys", agent));
  add("post", "/api/v1/sessions/{id}/interrupt",
      http_call(p, "POST", "/api/v1/sessions/" + id + "/interrupt", agent));
  // The OpenAI-compatible routes, answers and errors in OpenAI's shape.
  add("get", "/v1/models", http_call(p, "GET", "/v1/models", agent));
  add("post", "/v1/chat/completions",
      http_call(p, "POST", "/v1/chat/completions", agent,
                R"({"model":"sonnet","messages":[{"role":"user","content":"[[echo]] hi"}]})"));
  auto resp =
      http_call(p, "POST", "/v1/responses", agent, R"({"model":"sonnet","input":"[[echo]] hi"})");
  ASSERT_EQ(resp.status, 200u) << resp.body;
  add("post", "/v1/responses", resp);
  auto rid = std::string{parse_json(resp.body)["id"].GetString()};
  add("get", "/v1/responses/{id}", http_call(p, "GET", "/v1/responses/" + rid, agent));
  add("post", "/v1/responses/{id}/cancel",
      http_call(p, "POST", "/v1/responses/" + rid + "/cancel", agent));
  add("post", "/v1/chat/completions",
      http_call(p, "POST", "/v1/chat/completions", agent,
                R"({"model":"sonnet","n":2,"messages":[{"role":"user","content":"x"}]})"));
  add("get", "/v1/models", http_call(p, "GET", "/v1/models"));
  add("get", "/v1/responses/{id}", http_call(p, "GET", "/v1/responses/resp_unknown", agent));
  // Usage and tenant limits.
  add("get", "/api/v1/usage", http_call(p, "GET", "/api/v1/usage?group_by=session", agent));
  auto limits = "/api/v1/tenants/" + alpha_.tenant_id + "/limits";
  add("put", "/api/v1/tenants/{tenant}/limits",
      http_call(p, "PUT", limits, admin(), R"({"monthly_usd":1000,"max_agent_processes":4})"));
  add("get", "/api/v1/tenants/{tenant}/limits", http_call(p, "GET", limits, admin()));
  add("put", "/api/v1/tenants/{tenant}/limits",
      http_call(p, "PUT", limits, admin(), R"({"daily_usd":-1})"));
  std::vector<unsigned> statuses;
  std::string list = "[";
  for (const auto& c : cases) {
    statuses.push_back(c.status);
    list += (list.size() > 1 ? "," : "") + std::string{R"({"method":")"} + c.method +
            R"(","path":")" + c.path + R"(","status":)" + std::to_string(c.status) + R"(,"body":)" +
            c.body + "}";
  }
  list += "]";
  EXPECT_EQ(statuses, (std::vector<unsigned>{200, 200, 200, 200, 200, 200, 200, 200, 201, 201,
                                             200, 404, 422, 422, 401, 403, 409, 200, 200, 200,
                                             200, 200, 400, 401, 404, 200, 200, 200, 422}));
  temp_file doc{"served.json", served_document()};
  temp_file cases_file{"cases.json", list};
  auto r = node("check_responses.mjs", {doc.path(), cases_file.path()});
  EXPECT_EQ(r.status, 0) << r.output;
}
