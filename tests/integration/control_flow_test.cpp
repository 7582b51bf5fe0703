// Black-box tests of interactive control (issue: permission prompts, questions, live mode and
// model changes, hooks as webhooks, checkpoints and rewind): the service binary drives the real
// CLI against the scripted model; a webhook receiver listens on loopback.

#include "tests/integration/session_flow_fixture.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace caa::test;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;

/// A loopback HTTP server that records each request body and answers with a fixed status and
/// JSON body. Runs on its own thread; stops with the object.
class webhook_receiver {
 public:
  webhook_receiver(unsigned status, std::string body)
      : status_{status}, body_{std::move(body)},
        acceptor_{io_, asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}} {
    thread_ = std::thread{[this] { serve(); }};
  }
  ~webhook_receiver() {
    stop_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with a connection of our own.
    asio::ip::tcp::socket s{io_};
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> bodies() const {
    std::lock_guard lock{mutex_};
    return bodies_;
  }
  std::vector<std::string> heads() const {
    std::lock_guard lock{mutex_};
    return heads_;
  }

 private:
  void serve() {
    while (!stop_) {
      asio::ip::tcp::socket s{io_};
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      std::string data;
      char buf[4096];
      std::size_t head_end = std::string::npos;
      std::size_t length = 0;
      while (true) {
        auto n = s.read_some(asio::buffer(buf), ec);
        if (ec) break;
        data.append(buf, n);
        if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
          auto lower = data.substr(0, head_end);
          for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          auto p = lower.find("content-length:");
          if (p != std::string::npos) length = std::stoul(lower.substr(p + 15));
        }
        if (head_end != std::string::npos && data.size() >= head_end + 4 + length) break;
      }
      if (head_end == std::string::npos) continue;
      {
        std::lock_guard lock{mutex_};
        heads_.push_back(data.substr(0, head_end));
        bodies_.push_back(data.substr(head_end + 4, length));
      }
      auto reply = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Type: application/json\r\n"
                   "Content-Length: " + std::to_string(body_.size()) +
                   "\r\nConnection: close\r\n\r\n" + body_;
      asio::write(s, asio::buffer(reply), ec);
    }
  }

  unsigned status_;
  std::string body_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
  std::vector<std::string> heads_;
};

/// Events of `r` named `name`.
std::vector<sse_event> named(const sse_result& r, const std::string& name) {
  std::vector<sse_event> out;
  for (auto& e : r.events)
    if (e.event == name) out.push_back(e);
  return out;
}

/// The text of every tool_result of the stream, joined.
std::string tool_results(const sse_result& r) {
  std::string out;
  for (auto& e : r.events)
    if (e.event == "message" && e.data.find("\"tool_result\"") != std::string::npos) out += e.data;
  return out;
}

}  // namespace

namespace caa::test {

class control_flow_test : public session_flow_test {
 protected:
  static void SetUpTestSuite() {
    start_suite({{"PERMISSION_TIMEOUT", "4"},
                 {"EGRESS_ALLOW_CIDRS", "127.0.0.1/32"},
                 {"WEBHOOK_ALLOW_HTTP", "true"},
                 {"SESSION_IDLE_TIMEOUT", "6"}});
  }

  /// Runs a turn in the background; `poll` sees the session's stored events until it returns
  /// true (the turn is then still running), and the finished stream is returned.
  static sse_result turn_with(const std::string& session, const std::string& body,
                              const std::function<bool(const std::string& events)>& poll) {
    auto fut = std::async(std::launch::async, [session, body] {
      return turn(alpha_, body, "/api/v1/sessions/" + session + "/resume");
    });
    bool seen = eventually(
        [&] {
          auto r = http_call(port(), "GET", "/api/v1/sessions/" + session + "/events?limit=500",
                             auth(alpha_));
          return r.status == 200 && poll(r.body);
        },
        60s);
    EXPECT_TRUE(seen) << "the awaited event never came";
    return fut.get();
  }

  /// The `request_id` of the last event named `name` in a JSON page of events.
  static std::string request_id_in(const std::string& page, const std::string& name) {
    auto d = parse_json(page);
    std::string id;
    if (!d.IsObject() || !d.HasMember("events")) return id;
    for (auto& e : d["events"].GetArray()) {
      if (!e.HasMember("event") || e["event"].GetString() != name) continue;
      auto& data = e["data"];
      if (data.IsObject() && data.HasMember("request_id")) id = data["request_id"].GetString();
      if (data.IsString()) {
        auto inner = parse_json(data.GetString());
        if (inner.IsObject() && inner.HasMember("request_id"))
          id = inner["request_id"].GetString();
      }
    }
    return id;
  }

  static http_result answer(const std::string& session, const std::string& body) {
    return http_call(port(), "POST", "/api/v1/sessions/" + session + "/answer", auth(alpha_),
                     body);
  }

  /// A prompt turn that asks for a permission, answered with `answer_body` (`%ID%` replaced).
  static sse_result asked_and_answered(const std::string& session, const std::string& prompt,
                                       const std::string& answer_body,
                                       const std::string& event = "permission_request") {
    std::string rid;
    auto r = turn_with(session, R"({"prompt":")" + prompt + "\"}", [&](const std::string& page) {
      auto id = request_id_in(page, event);
      if (id.empty() || id == last_answered_) return false;
      rid = id;
      auto body = answer_body;
      body.replace(body.find("%ID%"), 4, id);
      auto a = answer(session, body);
      EXPECT_EQ(a.status, 200u) << a.body;
      return true;
    });
    last_answered_ = rid;
    return r;
  }

  static std::string work_file(const std::string& name) {
    return env_.at("WORKSPACE_ROOT") + "/" + alpha_.tenant_id + "/work/" + name;
  }

  /// A checkpointed session whose two turns wrote v2, then v3 into `file`; its id and its
  /// checkpoint ids (turn 1, turn 2).
  static std::pair<std::string, std::vector<std::string>> two_checkpoints(const std::string& file) {
    auto first = turn(alpha_, R"({"prompt":"[[write )" + file +
                                  R"( v2]]","permission_mode":"acceptEdits",)"
                                  R"("enable_file_checkpointing":true})");
    EXPECT_EQ(done_reason(first), "completed") << first.body;
    auto s = session_of(first);
    auto second = turn(alpha_, R"({"prompt":"[[write )" + file + R"( v3]]"})",
                       "/api/v1/sessions/" + s + "/resume");
    EXPECT_EQ(done_reason(second), "completed") << second.body;
    auto list = http_call(port(), "GET", "/api/v1/sessions/" + s + "/checkpoints", auth(alpha_));
    EXPECT_EQ(list.status, 200u) << list.body;
    std::vector<std::string> ids;
    auto d = parse_json(list.body);
    if (d.IsObject() && d.HasMember("checkpoints"))
      for (auto& c : d["checkpoints"].GetArray()) ids.push_back(c["id"].GetString());
    EXPECT_NE(list.body.find("\"files_modified\":[\"" + file + "\"]"), std::string::npos)
        << list.body;
    return {s, ids};
  }

  /// The text of `file` in the tenant's workspace ("" when missing).
  static std::string read_work_file(const std::string& file) {
    std::ifstream in{work_file(file)};
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  static inline std::string last_answered_;
};

TEST_F(control_flow_test, allow_runs_the_tool_and_a_second_answer_is_refused) {
  auto s = new_session(alpha_, "[[echo]] permission suite");
  auto word = unique_word("allowed");
  // `echo` alone is read-only and auto-allowed by the CLI: `touch` needs a permission.
  auto r = asked_and_answered(s, "[[bash touch " + word + ".txt && echo " + word + "]]",
                              R"({"request_id":"%ID%","behavior":"allow"})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto asks = named(r, "permission_request");
  ASSERT_EQ(asks.size(), 1u) << r.body;
  auto ask = parse_json(asks[0].data);
  EXPECT_STREQ(ask["tool_name"].GetString(), "Bash");
  EXPECT_NE(std::string{ask["input"]["command"].GetString()}.find(word), std::string::npos);
  EXPECT_TRUE(ask.HasMember("expires_at") && ask.HasMember("tool_use_id"));
  EXPECT_EQ(asks[0].data.find(env_.at("WORKSPACE_ROOT")), std::string::npos)
      << "no server path reaches the client";
  EXPECT_NE(tool_results(r).find(word), std::string::npos) << r.body;
  EXPECT_TRUE(std::filesystem::exists(work_file(word + ".txt")));
  auto again = answer(s, R"({"request_id":")" + last_answered_ + R"(","behavior":"allow"})");
  EXPECT_EQ(again.status, 409u);
  EXPECT_NE(again.body.find("SESSION_IDLE"), std::string::npos);
}

TEST_F(control_flow_test, deny_does_not_run_the_tool) {
  auto s = new_session(alpha_, "[[echo]] deny suite");
  auto word = unique_word("denied");
  auto r = asked_and_answered(
      s, "[[bash touch " + word + ".txt]]",
      R"({"request_id":"%ID%","behavior":"deny","message":"not today )" + word + "\"}");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_NE(tool_results(r).find("not today " + word), std::string::npos) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
  auto results = named(r, "result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].data.find("permission_denials"), std::string::npos);
}

TEST_F(control_flow_test, modified_input_runs_the_modified_command) {
  auto s = new_session(alpha_, "[[echo]] modify suite");
  auto original = unique_word("original");
  auto modified = unique_word("modified");
  auto r = asked_and_answered(s, "[[bash touch " + original + ".txt && echo " + original + "]]",
                              R"({"request_id":"%ID%","behavior":"allow","updated_input":)"
                              R"({"command":"echo )" + modified + R"("}})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto results = tool_results(r);
  EXPECT_NE(results.find(modified), std::string::npos) << r.body;
  EXPECT_EQ(results.find(original), std::string::npos) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(original + ".txt")));
}

TEST_F(control_flow_test, no_answer_within_the_timeout_denies_and_says_so) {
  auto s = new_session(alpha_, "[[echo]] timeout suite");
  auto word = unique_word("late");
  auto r = turn(alpha_, R"({"prompt":"[[bash touch )" + word + R"(.txt]]"})",
                "/api/v1/sessions/" + s + "/resume");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_EQ(named(r, "permission_request").size(), 1u);
  bool said = false;
  for (auto& m : named(r, "message")) said |= m.data.find("permission_timeout") != std::string::npos;
  EXPECT_TRUE(said) << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
}

TEST_F(control_flow_test, a_question_is_answered_and_the_answer_reaches_the_model) {
  auto s = new_session(alpha_, "[[echo]] question suite");
  auto r = asked_and_answered(s, "[[ask]]", R"({"request_id":"%ID%","answers":{"Which color?":"Blue"}})",
                              "question");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto qs = named(r, "question");
  ASSERT_EQ(qs.size(), 1u) << r.body;
  auto q = parse_json(qs[0].data);
  ASSERT_TRUE(q["questions"].IsArray());
  EXPECT_STREQ(q["questions"][0]["question"].GetString(), "Which color?");
  EXPECT_EQ(q["questions"][0]["options"].Size(), 2u);
  EXPECT_FALSE(q["questions"][0]["multi_select"].GetBool());
  EXPECT_NE(model_log().find(R"(\"Which color?\"=\"Blue\")"), std::string::npos);
}

TEST_F(control_flow_test, the_single_pending_question_takes_a_plain_answer) {
  auto s = new_session(alpha_, "[[echo]] plain answer suite");
  auto r = asked_and_answered(s, "[[ask]]", R"({"answer":"Red","request_id":"%ID%"})", "question");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_NE(model_log().find(R"(\"Which color?\"=\"Red\")"), std::string::npos);
}

TEST_F(control_flow_test, mode_and_model_changes_take_effect_on_the_next_turn) {
  auto s = new_session(alpha_, "[[echo]] control suite");
  auto mode = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                        R"({"type":"permission_mode_change","permission_mode":"acceptEdits"})");
  ASSERT_EQ(mode.status, 200u) << mode.body;
  EXPECT_NE(mode.body.find("\"applied\""), std::string::npos) << mode.body;
  auto model_id = "claude-control-" + std::to_string(std::rand() % 100000);
  auto model = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                         R"({"type":"model_change","model":")" + model_id + "\"}");
  ASSERT_EQ(model.status, 200u) << model.body;
  auto word = unique_word("after-control");
  auto r = turn(alpha_, R"({"prompt":"[[echo]] )" + word + "\"}", "/api/v1/sessions/" + s + "/resume");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  auto init = named(r, "init");
  ASSERT_EQ(init.size(), 1u);
  EXPECT_STREQ(parse_json(init[0].data)["permission_mode"].GetString(), "acceptEdits");
  auto log = model_log();
  EXPECT_NE(log.find("\"model\":\"" + model_id + "\""), std::string::npos);
  auto rec = http_call(port(), "GET", "/api/v1/sessions/" + s, auth(alpha_));
  EXPECT_NE(rec.body.find("acceptEdits"), std::string::npos) << rec.body;
  // The CLI accepts any mode string; the service does not.
  auto bad = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                       R"({"type":"permission_mode_change","permission_mode":"nonsense"})");
  EXPECT_EQ(bad.status, 422u);
  auto bypass = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(alpha_),
                          R"({"type":"permission_mode_change","permission_mode":"bypassPermissions"})");
  EXPECT_EQ(bypass.status, 422u) << "bypass is not allowed for this tenant";
  auto other = http_call(port(), "POST", "/api/v1/sessions/" + s + "/control", auth(beta_),
                         R"({"type":"model_change","model":"haiku"})");
  EXPECT_EQ(other.status, 404u);
}

TEST_F(control_flow_test, a_pre_tool_use_webhook_sees_the_input_and_its_deny_blocks_the_tool) {
  auto word = unique_word("hooked");
  webhook_receiver hook{200, R"({"decision":"deny","reason":"vetoed )" + word + "\"}"};
  auto body = R"({"prompt":"[[bash touch )" + word + R"(.txt]]","allowed_tools":["Bash"],)"
              R"("hooks":{"PreToolUse":[{"url":"http://127.0.0.1:)" +
              std::to_string(hook.port()) +
              R"(/hook","matcher":"Bash","headers":{"X-Hook-Secret":"s3cret"}}]}})";
  auto r = turn(alpha_, body);
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt")));
  EXPECT_NE(tool_results(r).find("vetoed " + word), std::string::npos) << r.body;
  auto bodies = hook.bodies();
  ASSERT_GE(bodies.size(), 1u);
  auto call = parse_json(bodies[0]);
  EXPECT_STREQ(call["hook_event"].GetString(), "PreToolUse");
  EXPECT_STREQ(call["tool_name"].GetString(), "Bash");
  EXPECT_NE(std::string{call["tool_input"]["command"].GetString()}.find(word), std::string::npos);
  EXPECT_EQ(call["session_id"].GetString(), session_of(r));
  EXPECT_FALSE(call.HasMember("transcript_path")) << "no server paths go out";
  EXPECT_NE(hook.heads()[0].find("s3cret"), std::string::npos) << "configured headers are sent";
  EXPECT_EQ(service_->log().find("s3cret"), std::string::npos) << "header values are never logged";
}

TEST_F(control_flow_test, a_pre_tool_use_webhook_allow_lets_the_tool_run_without_a_prompt) {
  auto word = unique_word("hook-allowed");
  webhook_receiver hook{200, R"({"decision":"allow"})"};
  auto body = R"({"prompt":"[[bash echo )" + word + R"(]]",)"
              R"("hooks":{"PreToolUse":[{"url":"http://127.0.0.1:)" +
              std::to_string(hook.port()) + R"(/hook"}]}})";
  auto r = turn(alpha_, body);
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_TRUE(named(r, "permission_request").empty()) << "the webhook decided";
  EXPECT_NE(tool_results(r).find(word), std::string::npos) << r.body;
  EXPECT_GE(hook.bodies().size(), 1u);
}

TEST_F(control_flow_test, an_unreachable_webhook_blocks_pre_tool_use_but_not_stop) {
  // A port that was free a moment ago: nothing listens there.
  uint16_t dead = 0;
  {
    webhook_receiver probe{200, "{}"};
    dead = probe.port();
  }
  auto word = unique_word("unreachable");
  auto url = "http://127.0.0.1:" + std::to_string(dead) + "/hook";
  auto r = turn(alpha_, R"({"prompt":"[[bash touch )" + word + R"(.txt]]","allowed_tools":["Bash"],)"
                        R"("hooks":{"PreToolUse":[{"url":")" + url + R"(","timeout":3}],)"
                        R"("Stop":[{"url":")" + url + R"(","timeout":3}]}})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt"))) << "PreToolUse fails closed";
  std::string failures;
  for (auto& m : named(r, "message"))
    if (m.data.find("hook_failed") != std::string::npos) failures += m.data;
  EXPECT_NE(failures.find("PreToolUse"), std::string::npos) << r.body;
  EXPECT_NE(failures.find("Stop"), std::string::npos) << r.body;
  EXPECT_EQ(named(r, "result").size(), 1u) << "Stop's failure lets the turn end normally";
}

TEST_F(control_flow_test, a_hook_url_on_a_forbidden_address_is_refused_at_validation) {
  auto r = http_call(port(), "POST", "/api/v1/query", auth(alpha_),
                     R"({"prompt":"x","hooks":{"Stop":[{"url":"http://169.254.169.254/latest"}]}})");
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_NE(r.body.find("hooks.Stop[0].url"), std::string::npos) << r.body;
}

TEST_F(control_flow_test, rewind_restores_each_checkpoint_also_after_hibernation) {
  auto file = unique_word("ckpt") + ".txt";
  auto [s, ids] = two_checkpoints(file);
  ASSERT_EQ(ids.size(), 2u);
  auto c1 = ids[0], c2 = ids[1];
  auto read = [&] { return read_work_file(file); };
  ASSERT_NE(read().find("v3"), std::string::npos);

  auto rewind = [&](const std::string& id, bool dry) {
    return http_call(port(), "POST", "/api/v1/sessions/" + s + "/rewind", auth(alpha_),
                     R"({"checkpoint_id":")" + id + R"(","dry_run":)" + (dry ? "true" : "false") + "}");
  };
  auto dry = rewind(c2, true);
  ASSERT_EQ(dry.status, 200u) << dry.body;
  EXPECT_NE(dry.body.find(file), std::string::npos) << dry.body;
  EXPECT_NE(read().find("v3"), std::string::npos) << "a dry run changes nothing";
  auto to2 = rewind(c2, false);
  ASSERT_EQ(to2.status, 200u) << to2.body;
  EXPECT_NE(read().find("v2"), std::string::npos);

  // Hibernated (idle timeout): the rewind resumes a process to do it.
  ASSERT_TRUE(eventually([&] { return status_of(alpha_, s) == "hibernated"; }, 30s));
  auto to1 = rewind(c1, false);
  ASSERT_EQ(to1.status, 200u) << to1.body;
  EXPECT_FALSE(std::filesystem::exists(work_file(file))) << "the file did not exist before turn 1";

  auto unknown = rewind("00000000-0000-4000-8000-000000000000", false);
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_NE(unknown.body.find("CHECKPOINT_NOT_FOUND"), std::string::npos);
  auto other = http_call(port(), "GET", "/api/v1/sessions/" + s + "/checkpoints", auth(beta_));
  EXPECT_EQ(other.status, 404u);
}

TEST_F(control_flow_test, a_rewind_that_restores_nothing_is_not_reported_as_success) {
  auto file = unique_word("lost") + ".txt";
  auto [s, ids] = two_checkpoints(file);
  ASSERT_EQ(ids.size(), 2u);
  auto c2 = ids[1];
  // The CLI's backups of this session are gone (a lost disk, a careless clean-up).
  auto history = env_.at("WORKSPACE_ROOT") + "/" + alpha_.tenant_id + "/config/file-history/" + s;
  ASSERT_TRUE(std::filesystem::exists(history)) << history;
  std::filesystem::remove_all(history);
  auto r = http_call(port(), "POST", "/api/v1/sessions/" + s + "/rewind", auth(alpha_),
                     R"({"checkpoint_id":")" + c2 + R"("})");
  EXPECT_NE(r.status, 200u) << r.body;
  EXPECT_NE(read_work_file(file).find("v3"), std::string::npos) << "nothing was restored";
}

}  // namespace caa::test
