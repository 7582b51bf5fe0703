#pragma once

// The fixture of the interactive-control tests (control_flow_test.cpp: prompts, questions, live
// changes; control_hooks_test.cpp: webhooks, checkpoints and rewind): the session-flow suite
// with a short PERMISSION_TIMEOUT and webhooks allowed to loopback, and a webhook receiver.

#include "tests/integration/session_flow_fixture.hpp"

#include <boost/asio.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

namespace caa::test {

using namespace std::chrono_literals;

namespace asio = boost::asio;

/// A loopback HTTP server that records each request body and answers with a fixed status and
/// JSON body. Runs on its own thread; stops with the object.
class webhook_receiver {
 public:
  webhook_receiver(unsigned status, std::string body)
      : status_{status},
        body_{std::move(body)},
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
        if (head_end == std::string::npos &&
            (head_end = data.find("\r\n\r\n")) != std::string::npos) {
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
      auto reply = "HTTP/1.1 " + std::to_string(status_) +
                   " X\r\nContent-Type: application/json\r\n"
                   "Content-Length: " +
                   std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
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
inline std::vector<sse_event> named(const sse_result& r, const std::string& name) {
  std::vector<sse_event> out;
  for (auto& e : r.events)
    if (e.event == name) out.push_back(e);
  return out;
}

/// The text of every tool_result of the stream, joined.
inline std::string tool_results(const sse_result& r) {
  std::string out;
  for (auto& e : r.events)
    if (e.event == "message" && e.data.find("\"tool_result\"") != std::string::npos) out += e.data;
  return out;
}

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
        if (inner.IsObject() && inner.HasMember("request_id")) id = inner["request_id"].GetString();
      }
    }
    return id;
  }

  static http_result answer(const std::string& session, const std::string& body) {
    return http_call(port(), "POST", "/api/v1/sessions/" + session + "/answer", auth(alpha_), body);
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

}  // namespace caa::test
