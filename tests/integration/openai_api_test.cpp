// The OpenAI-compatible API (`/v1/...`) through the official `openai` npm client, pinned in
// package.json: each test runs one check of tests/openai/client_test.mjs against the service,
// the real CLI and the scripted model. A check fails with the client's own assertion message.

#include "tests/integration/session_flow_fixture.hpp"

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace caa::test {
namespace {

class openai_api_test : public session_flow_test {
 protected:
  /// Runs `node client_test.mjs <check>`: its exit status and its output.
  static std::pair<int, std::string> run_check(const std::string& check) {
    std::string root = CAA_TEST_SOURCE_DIR;
    std::string cmd = "OPENAI_BASE_URL=http://127.0.0.1:" + std::to_string(port()) +
                      "/v1 OPENAI_API_KEY=" + alpha_.key +
                      " MODEL_LOG_URL=http://127.0.0.1:" + std::to_string(model_->port()) +
                      "/_log CAA_NODE_MODULES=" + root + "/node_modules node " + root +
                      "/tests/openai/client_test.mjs " + check + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return {-1, "popen failed"};
    std::array<char, 4096> buf{};
    while (auto n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }

  void check(const std::string& name) {
    auto [status, out] = run_check(name);
    EXPECT_EQ(status, 0) << out;
  }
};

TEST_F(openai_api_test, lists_the_engines_models) {
  check("models");
}
TEST_F(openai_api_test, answers_a_chat_completion) {
  check("completion");
}
TEST_F(openai_api_test, streams_a_chat_completion_whose_deltas_reassemble) {
  check("streamed_completion");
}
TEST_F(openai_api_test, shows_tool_uses_as_text_or_as_a_side_channel) {
  check("agent_tool_use");
}
TEST_F(openai_api_test, reuses_a_session_for_a_continued_conversation) {
  check("chat_session_reuse");
}
TEST_F(openai_api_test, chains_responses_in_one_session) {
  check("responses_chain");
}
TEST_F(openai_api_test, polls_a_background_response_to_completion) {
  check("background");
}
TEST_F(openai_api_test, resumes_a_response_stream_after_a_sequence_number) {
  check("resumed_stream");
}
TEST_F(openai_api_test, cancels_a_running_response_idempotently) {
  check("cancel");
}
TEST_F(openai_api_test, answers_errors_in_openais_shape) {
  check("errors");
}

}  // namespace
}  // namespace caa::test
