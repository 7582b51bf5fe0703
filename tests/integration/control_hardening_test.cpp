// Hostile inputs through the control paths (issue: hardening): a webhook that answers with a
// nesting bomb inside the response cap must neither crash the service nor run the tool.

#include "tests/integration/control_flow_fixture.hpp"

#include <sys/wait.h>

using namespace caa::test;
using namespace std::chrono_literals;

namespace caa::test {

TEST_F(control_flow_test, a_webhook_answering_a_nesting_bomb_fails_closed_and_the_service_lives) {
  auto word = unique_word("bomb");
  // 250,000 `[`: inside the 256 KiB answer cap; the recursive parser overflowed the stack on it.
  webhook_receiver hook{200, std::string(250'000, '[')};
  auto url = "http://127.0.0.1:" + std::to_string(hook.port()) + "/hook";
  auto r = turn(alpha_, R"({"prompt":"[[bash touch )" + word +
                            R"(.txt]]","allowed_tools":["Bash"],)"
                            R"("hooks":{"PreToolUse":[{"url":")" +
                            url +
                            R"("}],)"
                            R"("Stop":[{"url":")" +
                            url + R"("}]}})");
  EXPECT_EQ(done_reason(r), "completed") << r.body;
  EXPECT_GE(hook.bodies().size(), 2u) << "both hooks were called";
  EXPECT_FALSE(std::filesystem::exists(work_file(word + ".txt"))) << "an unreadable answer denies";
  std::string failures;
  for (auto& m : named(r, "message"))
    if (m.data.find("hook_failed") != std::string::npos) failures += m.data;
  EXPECT_NE(failures.find("PreToolUse"), std::string::npos) << r.body;
  // Still alive: the process did not exit and the next turn is served.
  int status = 0;
  EXPECT_EQ(::waitpid(service_->pid(), &status, WNOHANG), 0) << "the service exited";
  auto next = turn(alpha_, R"({"prompt":"still here"})");
  EXPECT_EQ(done_reason(next), "completed") << next.body;
}

}  // namespace caa::test
