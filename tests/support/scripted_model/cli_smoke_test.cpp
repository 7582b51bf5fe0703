// Integration test: the real Claude Code CLI runs agent turns against the scripted model.
// Skips unless CLAUDE_CLI_PATH names the CLI binary.

#include "json.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace scripted_model {
namespace {

using namespace std::chrono_literals;
using testing::child_process;
using testing::temp_dir;

constexpr auto turn_timeout = 60s;  // hang guard only

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The stdout lines of one CLI turn, parsed.
struct turn_output {
  std::vector<std::string> lines;
  std::vector<rapidjson::Document> messages;

  /// The messages with `type` (and `subtype`, if given).
  std::vector<const rapidjson::Document*> of(std::string_view type,
                                             std::string_view subtype = {}) const {
    std::vector<const rapidjson::Document*> out;
    for (const auto& m : messages)
      if (json::get_string(m, "type") == type &&
          (subtype.empty() || json::get_string(m, "subtype") == subtype))
        out.push_back(&m);
    return out;
  }
  /// All raw lines joined, for substring checks and failure messages.
  std::string all() const {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

class CliSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* cli = std::getenv("CLAUDE_CLI_PATH");
    if (cli == nullptr || *cli == '\0' || !std::filesystem::exists(cli))
      GTEST_SKIP() << "CLAUDE_CLI_PATH is not set or does not exist";
    cli_ = cli;
    model_.emplace();
  }

  /// Runs the CLI in streaming-input mode for one prompt and returns its output up to the
  /// result. Fails (and kills the CLI) if the turn does not finish within the hang guard.
  turn_output run_turn(const std::string& prompt, std::vector<std::string> extra_args = {}) {
    testing::process_spec spec;
    spec.argv = {cli_,          "--output-format", "stream-json",    "--verbose", "--input-format",
                 "stream-json", "--allowedTools",  "Bash,Write,Read"};
    spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
    const char* path = std::getenv("PATH");
    spec.env = {std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
                "HOME=" + home_.path().string(),
                "ANTHROPIC_BASE_URL=" + model_->base_url(),
                "ANTHROPIC_API_KEY=sk-test",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                "DISABLE_AUTOUPDATER=1",
                "CLAUDE_CONFIG_DIR=" + config_.path().string()};
    spec.cwd = cwd_.path().string();
    spec.stderr_path = (home_.path() / "cli.stderr").string();
    child_process cli{spec};
    const std::string line = R"({"type":"user","message":{"role":"user","content":)" +
                             json::quote(prompt) +
                             R"(},"parent_tool_use_id":null,"session_id":""})" + "\n";
    EXPECT_TRUE(cli.write(line));
    turn_output out;
    const auto deadline = std::chrono::steady_clock::now() + turn_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto l = cli.read_line(left);
      if (!l) break;
      out.lines.push_back(*l);
      rapidjson::Document doc;
      if (json::parse(*l, doc) && doc.IsObject()) {
        const bool is_result = json::get_string(doc, "type") == "result";
        out.messages.push_back(std::move(doc));
        if (is_result) break;
      }
    }
    cli.close_stdin();
    const auto code = cli.wait(turn_timeout);
    if (!code) cli.kill(SIGKILL);
    EXPECT_TRUE(code.has_value()) << "CLI did not exit after stdin EOF";
    EXPECT_EQ(out.of("result").size(), 1u) << "no result line; output:\n"
                                           << out.all() << "stderr:\n"
                                           << read_file(spec.stderr_path);
    return out;
  }

  /// The `result` text of a turn ("" if missing).
  static std::string result_text(const turn_output& out) {
    const auto results = out.of("result");
    return results.empty() ? std::string{} : std::string(json::get_string(*results[0], "result"));
  }

  static bool result_is_error(const turn_output& out) {
    const auto results = out.of("result");
    const auto* is_error = results.empty() ? nullptr : json::find(*results[0], "is_error");
    return is_error == nullptr || !is_error->IsFalse();
  }

  /// The texts of all assistant text blocks (of the main agent and of subagents).
  static std::vector<std::string> assistant_texts(const turn_output& out) {
    std::vector<std::string> texts;
    for (const auto* a : out.of("assistant")) {
      const auto* content = json::find(*json::find(*a, "message"), "content");
      if (content == nullptr || !content->IsArray()) continue;
      for (const auto& block : content->GetArray())
        if (json::get_string(block, "type") == "text")
          texts.emplace_back(json::get_string(block, "text"));
    }
    return texts;
  }

  std::string cli_;
  std::optional<testing::scripted_model_process> model_;
  temp_dir home_{"sm-home-"};
  temp_dir config_{"sm-config-"};
  temp_dir cwd_{"sm-cwd-"};
};

TEST_F(CliSmoke, PlainTurnGetsScriptedText) {
  const auto out = run_turn("Say hello.");
  EXPECT_EQ(out.of("system", "init").size(), 1u) << out.all();
  EXPECT_EQ(assistant_texts(out), std::vector<std::string>{"Hello from the scripted model."})
      << out.all();
  EXPECT_FALSE(result_is_error(out)) << out.all();
  EXPECT_EQ(result_text(out), "Hello from the scripted model.");
}

TEST_F(CliSmoke, BashToolReallyRuns) {
  const auto out = run_turn("[[bash echo marker-$((40+2)) | tee out.txt]]");
  EXPECT_FALSE(result_is_error(out)) << out.all();
  bool tool_result_seen = false;
  for (const auto* u : out.of("user"))
    tool_result_seen |= contains(json::to_string(*u), "marker-42");
  EXPECT_TRUE(tool_result_seen) << out.all();
  EXPECT_EQ(result_text(out), "Bash result:\nmarker-42");
  EXPECT_EQ(read_file(cwd_.path() / "out.txt"), "marker-42\n");
}

TEST_F(CliSmoke, WriteCreatesFileFromRelativePath) {
  const auto out = run_turn("[[write hello.txt first line\\nsecond line]]");
  EXPECT_FALSE(result_is_error(out)) << out.all();
  EXPECT_EQ(read_file(cwd_.path() / "hello.txt"), "first line\nsecond line");
}

TEST_F(CliSmoke, WriteWithoutCwdInSystemPromptAsksPwdFirst) {
  const auto out = run_turn("[[write sub.txt via pwd]]", {"--system-prompt", ""});
  EXPECT_FALSE(result_is_error(out)) << out.all();
  EXPECT_EQ(read_file(cwd_.path() / "sub.txt"), "via pwd");
}

TEST_F(CliSmoke, RequestLogShowsThePrompt) {
  const auto out = run_turn("[[echo]] log me please");
  EXPECT_EQ(result_text(out), "log me please");
  const auto log = testing::http_request(model_->port(), "GET", "/_log");
  ASSERT_EQ(log.status, 200u);
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(log.body, doc));
  ASSERT_TRUE(doc.IsArray());
  std::size_t model_calls = 0;
  bool prompt_seen = false;
  for (const auto& entry : doc.GetArray()) {
    if (json::get_string(entry, "method") != "POST" ||
        json::get_string(entry, "path") != "/v1/messages")
      continue;
    ++model_calls;
    const auto* body = json::find(entry, "body");
    ASSERT_NE(body, nullptr);
    const auto* stream = json::find(*body, "stream");
    EXPECT_TRUE(stream != nullptr && stream->IsTrue());
    prompt_seen |= contains(json::to_string(*body), "[[echo]] log me please");
  }
  EXPECT_GE(model_calls, 1u);
  EXPECT_TRUE(prompt_seen) << log.body.substr(0, 2000);
  EXPECT_EQ(testing::http_request(model_->port(), "DELETE", "/_log").status, 200u);
  EXPECT_EQ(testing::http_request(model_->port(), "GET", "/_log").body, "[]");
}

TEST_F(CliSmoke, SubagentGetsItsOwnRequest) {
  const auto out = run_turn("[[task [[echo]] sub says hi]]");
  EXPECT_FALSE(result_is_error(out)) << out.all();
  // The subagent's own model call answered its prompt; its reply came back as the tool_result.
  EXPECT_TRUE(contains(result_text(out), "Agent result:\nsub says hi")) << out.all();
  EXPECT_TRUE(contains(testing::http_request(model_->port(), "GET", "/_log").body,
                       R"("text":"[[echo]] sub says hi")"));
}

}  // namespace
}  // namespace scripted_model
