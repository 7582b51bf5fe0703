// Black-box tests of agent sessions: the service binary drives the real Claude Code CLI against
// the scripted model. Turns stream in order, tools change the tenant's workspace, sessions
// resume with their context and fork, concurrent turns are refused, interrupts end a turn, and
// the event history replays exactly. Needs DATABASE_URL, CLAUDE_CLI_PATH and the scripted_model
// binary in CAA_BIN_DIR (skipped otherwise).

#include "tests/integration/session_flow_fixture.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

/// Whether one request of the model's log mentions every word of `words`.
bool one_request_mentions(const std::string& log, std::initializer_list<std::string> words) {
  auto d = parse_json(log);
  if (!d.IsArray()) return false;
  for (auto& entry : d.GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("body")) continue;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    entry["body"].Accept(w);
    std::string body{buf.GetString(), buf.GetSize()};
    bool all = true;
    for (auto& word : words) all = all && body.find(word) != std::string::npos;
    if (all) return true;
  }
  return false;
}

TEST_F(session_flow_test, a_turn_streams_init_messages_result_done_in_order) {
  auto r = turn(alpha_, R"({"prompt":"[[echo]] ordering check"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_EQ(r.header("x-accel-buffering"), "no");
  EXPECT_TRUE(r.ended) << "a turn's stream ends after its done event";
  ASSERT_GE(r.events.size(), 4u) << r.body;
  EXPECT_EQ(r.events.front().event, "init");
  EXPECT_EQ(r.events[r.events.size() - 2].event, "result");
  EXPECT_EQ(r.events.back().event, "done");
  EXPECT_EQ(done_reason(r), "completed");
  auto messages = std::count_if(r.events.begin(), r.events.end(),
                                [](const sse_event& e) { return e.event == "message"; });
  EXPECT_GE(messages, 1);
  for (std::size_t i = 1; i < r.events.size(); ++i)
    EXPECT_LT(std::stoull(r.events[i - 1].id), std::stoull(r.events[i].id));
  EXPECT_EQ(session_of(r).size(), 36u);
}

TEST_F(session_flow_test, a_bash_tool_changes_the_tenant_workspace) {
  auto r = turn(alpha_, R"({"prompt":"[[bash echo hi > marker.txt]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto marker =
      std::filesystem::path{env_["WORKSPACE_ROOT"]} / alpha_.tenant_id / "work" / "marker.txt";
  std::ifstream in{marker};
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "hi") << marker;
  auto other =
      std::filesystem::path{env_["WORKSPACE_ROOT"]} / beta_.tenant_id / "work" / "marker.txt";
  EXPECT_FALSE(std::filesystem::exists(other));
}

TEST_F(session_flow_test, a_second_turn_resumes_the_context) {
  auto first = unique_word("first");
  auto second = unique_word("second");
  auto id = new_session(alpha_, "[[echo]] " + first);
  auto r = turn(alpha_, R"({"prompt":"[[echo]] )" + second + R"(","session_id":")" + id + "\"}");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(session_of(r), id);
  EXPECT_EQ(done_reason(r), "completed");
  EXPECT_TRUE(one_request_mentions(model_log(), {first, second}))
      << "the second turn's request carries the first prompt";
  auto resumed =
      turn(alpha_, R"({"prompt":"[[echo]] third"})", "/api/v1/sessions/" + id + "/resume");
  EXPECT_EQ(resumed.status, 200u) << resumed.body;
  EXPECT_EQ(session_of(resumed), id);
}

TEST_F(session_flow_test, a_concurrent_turn_is_locked) {
  auto id = new_session(alpha_, "[[echo]] warm up");
  std::atomic<bool> started{false};
  sse_result slow;
  std::thread runner{[&] {
    slow = sse_call(port(), "POST", "/api/v1/query", auth(alpha_),
                    R"({"prompt":"[[slow 20 200]]","session_id":")" + id + "\"}",
                    [&](const sse_event& e) {
                      started = started || e.event == "init";
                      return false;
                    });
  }};
  ASSERT_TRUE(eventually([&] { return started.load(); }, 30s));
  auto second = http_call(port(), "POST", "/api/v1/query", auth(alpha_),
                          R"({"prompt":"again","session_id":")" + id + "\"}");
  EXPECT_EQ(second.status, 409u) << second.body;
  EXPECT_NE(second.body.find("SESSION_LOCKED"), std::string::npos);
  EXPECT_FALSE(second.header("retry-after").empty());
  runner.join();
  EXPECT_EQ(done_reason(slow), "completed") << slow.body;
}

TEST_F(session_flow_test, interrupt_ends_a_slow_turn) {
  auto id = new_session(alpha_, "[[echo]] before interrupt");
  std::atomic<bool> started{false};
  std::atomic<int64_t> done_at{0};
  sse_result slow;
  std::thread runner{[&] {
    slow = sse_call(port(), "POST", "/api/v1/query", auth(alpha_),
                    R"({"prompt":"[[slow 50 200]]","session_id":")" + id + "\"}",
                    [&](const sse_event& e) {
                      started = started || e.event == "init";
                      if (e.event == "done")
                        done_at = std::chrono::steady_clock::now().time_since_epoch().count();
                      return false;
                    });
  }};
  ASSERT_TRUE(eventually([&] { return started.load(); }, 30s));
  std::this_thread::sleep_for(500ms);
  auto asked = std::chrono::steady_clock::now();
  auto r = http_call(port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth(alpha_));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, R"({"status":"interrupted","session_id":")" + id + "\"}");
  runner.join();
  EXPECT_TRUE(slow.ended);
  EXPECT_EQ(done_reason(slow), "interrupted") << slow.body;
  auto took = std::chrono::steady_clock::duration{done_at.load()} - asked.time_since_epoch();
  EXPECT_LT(took, 2s) << "done{interrupted} arrives promptly";
  auto idle = http_call(port(), "POST", "/api/v1/sessions/" + id + "/interrupt", auth(alpha_));
  EXPECT_EQ(idle.status, 409u);
  EXPECT_NE(idle.body.find("SESSION_IDLE"), std::string::npos);
}

TEST_F(session_flow_test, query_single_answers_one_document) {
  auto word = unique_word("single");
  auto r = http_call(port(), "POST", "/api/v1/query/single", auth(alpha_),
                     R"({"prompt":"[[echo]] )" + word + "\"}");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = parse_json(r.body);
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_EQ(std::string{d["session_id"].GetString()}.size(), 36u);
  ASSERT_TRUE(d["result"].IsString());
  EXPECT_NE(std::string{d["result"].GetString()}.find(word), std::string::npos);
  EXPECT_GE(d["content"].Size(), 1u);
  EXPECT_FALSE(d["is_error"].GetBool());
  EXPECT_STREQ(d["done_reason"].GetString(), "completed");
  EXPECT_TRUE(d["usage"].IsObject());
}

TEST_F(session_flow_test, a_fork_inherits_the_context_and_leaves_the_parent_alone) {
  auto word = unique_word("parent");
  auto child_word = unique_word("child");
  auto parent = new_session(alpha_, "[[echo]] " + word);
  auto r = turn(alpha_, R"({"prompt":"[[echo]] )" + child_word + "\"}",
                "/api/v1/sessions/" + parent + "/fork");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto child = session_of(r);
  EXPECT_EQ(child.size(), 36u);
  EXPECT_NE(child, parent);
  EXPECT_EQ(done_reason(r), "completed");
  EXPECT_TRUE(one_request_mentions(model_log(), {word, child_word}));
  auto c = parse_json(http_call(port(), "GET", "/api/v1/sessions/" + child, auth(alpha_)).body);
  ASSERT_TRUE(c.IsObject());
  EXPECT_STREQ(c["parent_session_id"].GetString(), parent.c_str());
  auto p = parse_json(http_call(port(), "GET", "/api/v1/sessions/" + parent, auth(alpha_)).body);
  ASSERT_TRUE(p.IsObject());
  EXPECT_EQ(p["total_turns"].GetInt(), 1);
}

}  // namespace

TEST_F(session_flow_test, capabilities_come_from_the_engine) {
  auto r = http_call(port(), "GET", "/api/v1/capabilities", auth(alpha_));
  ASSERT_EQ(r.status, 200u) << r.body;
  auto d = parse_json(r.body);
  ASSERT_TRUE(d.IsObject() && d.HasMember("engine") && d["engine"].IsObject()) << r.body;
  auto& engine = d["engine"];
  ASSERT_TRUE(engine["tools"].IsArray()) << r.body;
  bool bash = false;
  for (auto& t : engine["tools"].GetArray())
    bash = bash || std::string_view{t.GetString()} == "Bash";
  EXPECT_TRUE(bash) << r.body;
  EXPECT_TRUE(engine["models"].IsArray()) << r.body;
  EXPECT_TRUE(engine["commands"].IsArray()) << r.body;
  EXPECT_STREQ(engine["claude_code_version"].GetString(), "2.1.197");
  // A second call is served from the cache (same answer).
  EXPECT_EQ(http_call(port(), "GET", "/api/v1/capabilities", auth(alpha_)).body, r.body);
}

TEST_F(session_flow_test, the_agent_cannot_reach_another_tenant_or_write_outside_its_tree) {
  auto secret = unique_word("beta-secret");
  auto wrote = turn(beta_, R"({"prompt":"[[bash echo )" + secret +
                               R"( > secret.txt]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(done_reason(wrote), "completed") << wrote.body;
  auto beta_file =
      std::filesystem::path{env_["WORKSPACE_ROOT"]} / beta_.tenant_id / "work" / "secret.txt";
  ASSERT_TRUE(std::filesystem::exists(beta_file)) << "the Bash tool really wrote the file";
  auto escape = "/usr/local/caa-escape-" + unique_word("x");
  auto probe = turn(alpha_, R"({"prompt":"[[bash cat )" + beta_file.string() + "; touch " + escape +
                                R"(; echo probe-done]]","allowed_tools":["Bash"]})");
  ASSERT_EQ(done_reason(probe), "completed") << probe.body;
  EXPECT_NE(probe.body.find("probe-done"), std::string::npos) << probe.body;
  EXPECT_EQ(probe.body.find(secret), std::string::npos) << "another tenant's file was readable";
  EXPECT_FALSE(std::filesystem::exists(escape)) << "the agent wrote outside its tenant's tree";
  std::filesystem::remove(escape);
}
