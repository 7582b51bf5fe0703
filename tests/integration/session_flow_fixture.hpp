#pragma once

// The fixture of the session-flow tests: one scripted model and one service binary per test
// suite (the real CLI talks to the model through ANTHROPIC_BASE_URL), agent keys of two tenants,
// and small helpers for turns, sessions and the model's request log.

#include "tests/support/pg_fixture.hpp"
#include "tests/support/service_fixture.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

namespace caa::test {

/// `$CAA_BIN_DIR/scripted_model --port 0 --port-file F` as a child process of the test.
class scripted_model_child {
 public:
  /// Starts the model and waits for its port (throws std::runtime_error when it does not start).
  explicit scripted_model_child(const std::string& binary) {
    port_file_ =
        std::filesystem::temp_directory_path() / ("caa-model-port-" + std::to_string(::getpid()));
    std::filesystem::remove(port_file_);
    auto file = port_file_.string();
    std::vector<std::string> args{binary, "--port", "0", "--port-file", file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    bool up = eventually([&] {
      std::ifstream in{port_file_};
      int p = 0;
      if (in >> p && p > 0) port_ = static_cast<uint16_t>(p);
      return port_ != 0;
    });
    if (!up) throw std::runtime_error("scripted_model did not start");
  }
  ~scripted_model_child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove(port_file_);
  }
  scripted_model_child(const scripted_model_child&) = delete;
  scripted_model_child& operator=(const scripted_model_child&) = delete;

  /// Its port on 127.0.0.1.
  uint16_t port() const noexcept { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::filesystem::path port_file_;
};

/// An agent key of one tenant.
struct tenant_key {
  std::string key;        ///< the plaintext key
  std::string tenant_id;  ///< the tenant's uuid
};

/// Parses `text` as JSON.
inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  return d;
}

/// A unique word for prompts (so the shared model log can be searched).
inline std::string unique_word(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + "-" + std::to_string(rng() % 1'000'000'000);
}

/// The suite-wide model, service and keys; a test skips when the environment lacks them.
class session_flow_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { start_suite({}); }
  static void TearDownTestSuite();
  /// Starts the model, the service (base environment plus `extra_env`) and the keys; a suite
  /// of a derived fixture calls it from its own SetUpTestSuite.
  static void start_suite(const std::map<std::string, std::string>& extra_env);
  void SetUp() override;

  /// The port of the service.
  static uint16_t port() { return service_->port(); }
  /// The headers of `who`'s key.
  static std::map<std::string, std::string> auth(const tenant_key& who) {
    return {{"X-API-Key", who.key}};
  }
  /// POSTs a turn and reads its whole stream.
  static sse_result turn(const tenant_key& who, const std::string& body,
                         const std::string& target = "/api/v1/query") {
    return sse_call(port(), "POST", target, auth(who), body);
  }
  /// The `session_id` of the stream's `init` event ("" when none).
  static std::string session_of(const sse_result& r);
  /// The `reason` of the stream's last `done` event ("" when none).
  static std::string done_reason(const sse_result& r);
  /// A completed one-turn session of `who` (asserts on the way).
  static std::string new_session(const tenant_key& who, const std::string& prompt);
  /// The bodies of the requests the model received, as one JSON text.
  static std::string model_log();
  /// The status of session `id` as seen by `who` ("" when not 200).
  static std::string status_of(const tenant_key& who, const std::string& id);

  static inline std::unique_ptr<scripted_model_child> model_;
  static inline std::unique_ptr<service_process> service_;
  static inline std::map<std::string, std::string> env_;
  static inline tenant_key alpha_;
  static inline tenant_key beta_;
  static inline std::string skip_reason_;
};

}  // namespace caa::test
