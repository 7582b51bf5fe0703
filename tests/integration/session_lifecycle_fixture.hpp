#pragma once

// The fixture of the session lifecycle tests (session_lifecycle_test.cpp: hibernation, restarts,
// kill -9, interrupts, the child's environment; session_limits_test.cpp: admission, TURN_TIMEOUT,
// SIGTERM): stream helpers, a turn running in the background, and a fixture that starts its OWN
// service per test (these tests stop, kill and restart it) beside one scripted model.

#include "tests/integration/session_flow_fixture.hpp"
#include "tests/support/proc_scan.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace caa::test {

using namespace std::chrono_literals;

// -- streams ------------------------------------------------------------------------------------

/// The `session_id` of an `init` event's data ("" when none).
inline std::string session_in(const std::string& data) {
  auto d = parse_json(data);
  if (d.IsObject() && d.HasMember("session_id") && d["session_id"].IsString())
    return d["session_id"].GetString();
  return {};
}

/// The `session_id` of the stream's `init` event ("" when none).
inline std::string session_of(const sse_result& r) {
  for (auto& e : r.events)
    if (e.event == "init") return session_in(e.data);
  return {};
}

/// The `reason` of the stream's last `done` event ("" when none).
inline std::string done_reason(const sse_result& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it)
    if (it->event == "done") {
      auto d = parse_json(it->data);
      return d.IsObject() && d.HasMember("reason") && d["reason"].IsString()
                 ? d["reason"].GetString()
                 : "";
    }
  return {};
}

/// The event names of a stream, for failure messages.
inline std::string names_of(const sse_result& r) {
  std::string out;
  for (auto& e : r.events) out += e.id + ":" + e.event + " ";
  return out;
}

/// Whether one request of the model's log mentions every word of `words`.
inline bool one_request_mentions(const std::string& log, std::initializer_list<std::string> words) {
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

/// The tool_result blocks of the stream's `user` messages, as JSON text.
inline std::string tool_results_of(const sse_result& r) {
  std::string out;
  for (auto& e : r.events) {
    if (e.event != "message") continue;
    auto d = parse_json(e.data);
    if (!d.IsObject() || !d.HasMember("content") || !d["content"].IsArray()) continue;
    for (auto& block : d["content"].GetArray()) {
      if (!block.IsObject() || !block.HasMember("type") || !block["type"].IsString() ||
          std::string{block["type"].GetString()} != "tool_result")
        continue;
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      block.Accept(w);
      out.append(buf.GetString(), buf.GetSize());
      out += '\n';
    }
  }
  return out;
}

/// A turn streamed on a thread of its own; remembers when `init` and `done` arrived.
class background_turn {
 public:
  background_turn(uint16_t port, std::map<std::string, std::string> headers, std::string body,
                  std::chrono::seconds guard = 120s) {
    thread_ =
        std::thread{[this, port, headers = std::move(headers), body = std::move(body), guard] {
          auto r = sse_call(
              port, "POST", "/api/v1/query", headers, body,
              [this](const sse_event& e) {
                std::lock_guard<std::mutex> g{mtx_};
                if (e.event == "init" && session_.empty()) {
                  session_ = session_in(e.data);
                  started_ = true;
                }
                if (e.event == "done") done_at_ = std::chrono::steady_clock::now();
                return false;
              },
              guard);
          std::lock_guard<std::mutex> g{mtx_};
          result_ = std::move(r);
          finished_ = true;
        }};
  }
  ~background_turn() { join(); }
  background_turn(const background_turn&) = delete;
  background_turn& operator=(const background_turn&) = delete;

  /// Waits until `init` arrived (false when the stream ended first or `limit` passed).
  bool wait_started(std::chrono::milliseconds limit = 60s) {
    eventually([&] { return started_.load() || finished_.load(); }, limit);
    return started_.load();
  }
  /// The session id of `init` ("" before it).
  std::string session() {
    std::lock_guard<std::mutex> g{mtx_};
    return session_;
  }
  /// Waits for the end of the stream and returns it.
  const sse_result& join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  /// When `done` arrived (nullopt: never).
  std::optional<std::chrono::steady_clock::time_point> done_at() {
    std::lock_guard<std::mutex> g{mtx_};
    return done_at_;
  }

 private:
  std::thread thread_;
  std::mutex mtx_;
  std::string session_;
  std::atomic<bool> started_{false};
  std::atomic<bool> finished_{false};
  std::optional<std::chrono::steady_clock::time_point> done_at_;
  sse_result result_;
};

/// A number for unique command lines (`sleep 300.<n>`).
inline std::string random_digits() {
  static std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(100000 + rng() % 900000);
}

// -- fixture ------------------------------------------------------------------------------------

/// One scripted model per suite; one service per test, started by the test with its settings.
class session_lifecycle_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("CAA_BIN_DIR");
    auto model_bin = std::string{bin ? bin : "build/bin"} + "/scripted_model";
    if (!env_database_url())
      skip_reason_ = "DATABASE_URL is required";
    else if (std::getenv("CLAUDE_CLI_PATH") == nullptr)
      skip_reason_ = "CLAUDE_CLI_PATH is required";
    else if (!std::filesystem::exists(model_bin))
      skip_reason_ = "the scripted_model binary is required";
    if (skip_reason_.empty())
      model_ = std::make_unique<scripted_model_child>(model_bin);  // main thread: PDEATHSIG
  }
  static void TearDownTestSuite() { model_.reset(); }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(model_) << "the scripted model did not start";
    admin_ = random_key();
    env_ = base_service_env(admin_);
    env_["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(model_->port());
    env_["ANTHROPIC_API_KEY"] = "sk-test";
  }

  void TearDown() override {
    if (HasFailure() || std::getenv("CAA_TEST_DUMP_LOG") != nullptr) {
      auto tail = [](std::string log) {
        return log.size() > 12000 ? "...\n" + log.substr(log.size() - 12000) : log;
      };
      if (!previous_log_.empty())
        std::fprintf(stderr, "---- log of the service before the restart (tail) ----\n%s\n",
                     tail(previous_log_).c_str());
      if (service_)
        std::fprintf(stderr, "---- service log (tail) ----\n%s\n", tail(service_->log()).c_str());
    }
    service_.reset();
    if (auto it = env_.find("WORKSPACE_ROOT"); it != env_.end() && !it->second.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(it->second, ec);
    }
  }

  /// Starts the service with `settings` added to the environment (on the test's main thread:
  /// the service gets PR_SET_PDEATHSIG of the thread that starts it), and an agent key.
  void start(const std::map<std::string, std::string>& settings) {
    for (auto& [k, v] : settings) env_[k] = v;
    service_ = std::make_unique<service_process>(env_);
    auto r = http_call(port(), "POST", "/api/v1/keys", {{"X-API-Key", admin_}},
                       R"({"tenant":"lifecycle","scopes":["agent"],"name":"lifecycle"})");
    auto d = parse_json(r.body);
    if (r.status != 201 || !d.IsObject())
      throw std::runtime_error("cannot create a key: " + r.body);
    key_ = d["key"].GetString();
  }

  /// Starts a new service on the same database, workspace root and settings (the previous one
  /// must have ended).
  void restart() {
    previous_log_ = service_ ? service_->log() : std::string{};
    service_.reset();
    service_ = std::make_unique<service_process>(env_);
  }

  uint16_t port() const { return service_->port(); }
  std::map<std::string, std::string> auth() const { return {{"X-API-Key", key_}}; }

  /// POSTs a turn and reads its whole stream.
  sse_result turn(const std::string& body, sse_stop stop = {}, std::chrono::seconds guard = 120s) {
    return sse_call(port(), "POST", "/api/v1/query", auth(), body, std::move(stop), guard);
  }
  /// The status of session `id` ("" when not 200).
  std::string status_of(const std::string& id) {
    auto r = http_call(port(), "GET", "/api/v1/sessions/" + id, auth());
    auto d = parse_json(r.body);
    return r.status == 200 && d.IsObject() && d.HasMember("status") && d["status"].IsString()
               ? d["status"].GetString()
               : "";
  }
  /// The bodies of the requests the model received, as one JSON text.
  static std::string model_log() { return http_call(model_->port(), "GET", "/_log").body; }

  static inline std::unique_ptr<scripted_model_child> model_;
  static inline std::string skip_reason_;
  std::unique_ptr<service_process> service_;
  std::map<std::string, std::string> env_;
  std::string admin_;
  std::string key_;
  std::string previous_log_;  ///< the log of the service `restart` replaced
};

}  // namespace caa::test
