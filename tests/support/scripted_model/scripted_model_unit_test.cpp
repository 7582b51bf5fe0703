// Unit tests of the pure parts: directives, conversation analysis and the scenario steps.

#include "conversation.hpp"
#include "directive.hpp"
#include "json.hpp"
#include "scenarios.hpp"

#include <gtest/gtest.h>

namespace scripted_model {
namespace {

conversation analyse_text(const std::string& body) {
  rapidjson::Document doc;
  EXPECT_TRUE(json::parse(body, doc)) << body;
  auto c = analyse(doc);
  EXPECT_TRUE(c.has_value());
  return c.value_or(conversation{});
}

/// A request body with tools, a working directory in the system prompt and `messages`.
std::string request(const std::string& messages, const std::string& system =
                                                     "Primary working "
                                                     "directory: /w") {
  return R"({"model":"claude-test","stream":true,"max_tokens":32000,"tools":[{"name":"Bash"},)"
         R"({"name":"Write"},{"name":"Read"},{"name":"Agent"}],"system":[{"type":"text","text":)" +
         json::quote(system) + R"(}],"messages":)" + messages + "}";
}

std::string user_text(const std::string& text) {
  return R"({"role":"user","content":[{"type":"text",)"
         R"("text":"<system-reminder>\nctx\n</system-reminder>"},)"
         R"({"type":"text","text":)" +
         json::quote(text) + "}]}";
}

std::string assistant_tool(const std::string& id) {
  return R"({"role":"assistant","content":[{"type":"tool_use","id":")" + id +
         R"(","name":"Bash","input":{}}]})";
}

std::string tool_result(const std::string& id, const std::string& content) {
  return R"({"role":"user","content":[{"type":"tool_result","tool_use_id":")" + id +
         R"(","content":)" + json::quote(content) + "}]}";
}

const content_block& only_block(const reply& r) {
  EXPECT_EQ(r.blocks.size(), 1u);
  return r.blocks.front();
}

TEST(Directive, ParsesNameAndArgs) {
  const auto d = find_directive("please [[bash echo hi  ]] now");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, "bash");
  EXPECT_EQ(d->args, "echo hi");
  EXPECT_EQ(strip_directive("please [[bash echo hi  ]] now", *d), "please  now");
}

TEST(Directive, AcceptsScenarioPrefixAndUpperCase) {
  const auto d = find_directive("[[scenario:ECHO]] x");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, "echo");
  EXPECT_EQ(d->args, "");
}

TEST(Directive, BracketsNest) {
  const auto d = find_directive("[[bash [[ -f x ]] && echo yes]] tail ]]");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->args, "[[ -f x ]] && echo yes");
}

TEST(Directive, NoneWithoutClosingOrName) {
  EXPECT_FALSE(find_directive("plain text"));
  EXPECT_FALSE(find_directive("[[bash echo"));
  EXPECT_FALSE(find_directive("[[   ]]"));
}

TEST(Directive, HelpersSplitAndCount) {
  EXPECT_EQ(split_first_word("  a.txt  hello world "),
            (std::pair<std::string, std::string>{"a.txt", "hello world"}));
  EXPECT_EQ(split_words(" 3  250 "), (std::vector<std::string>{"3", "250"}));
  EXPECT_EQ(parse_count("529"), 529ul);
  EXPECT_FALSE(parse_count("12x"));
  EXPECT_FALSE(parse_count(""));
}

TEST(Conversation, LatestPromptSkipsRemindersAndToolResults) {
  const auto c =
      analyse_text(request("[" + user_text("old [[echo]]") + "," + assistant_tool("t0") + "," +
                           tool_result("t0", "r0") + "," + user_text("new [[bash ls]]") + "," +
                           assistant_tool("t1") + "," + tool_result("t1", "out1") + "]"));
  EXPECT_EQ(c.prompt, "new [[bash ls]]");
  EXPECT_EQ(c.step, 1u);
  ASSERT_EQ(c.results.size(), 1u);
  EXPECT_EQ(c.results[0].content, "out1");
  EXPECT_EQ(c.latest_results(), "out1");
  EXPECT_EQ(c.model, "claude-test");
  EXPECT_TRUE(c.stream);
  EXPECT_EQ(c.cwd, "/w");
  EXPECT_TRUE(c.offers("Agent"));
  EXPECT_FALSE(is_side_request(c));
}

TEST(Conversation, StepCountsOnlyAssistantMessagesAfterPrompt) {
  const auto c = analyse_text(
      request("[" + user_text("[[chain 3]]") + "," + R"({"role":"system","content":"note"},)" +
              assistant_tool("a") + "," + tool_result("a", "step-0") + "," + assistant_tool("b") +
              "," + tool_result("b", "step-1") + "]"));
  EXPECT_EQ(c.step, 2u);
  EXPECT_EQ(c.latest_results(), "step-1");
  EXPECT_EQ(play(c).blocks.front().input_json,
            R"({"command":"echo step-2","description":"Print a chain step"})");
}

TEST(Conversation, StringContentAndArrayToolResultContent) {
  const auto c = analyse_text(
      request(R"([{"role":"user","content":"[[bash x]]"},)" + assistant_tool("t") +
              R"(,{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[)"
              R"({"type":"text","text":"a"},{"type":"text","text":"b"}],"is_error":true}]}])"));
  EXPECT_EQ(c.prompt, "[[bash x]]");
  ASSERT_EQ(c.results.size(), 1u);
  EXPECT_EQ(c.results[0].content, "a\nb");
  EXPECT_TRUE(c.results[0].is_error);
}

TEST(Conversation, SideRequestsAndMissingMessages) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({"model":"m"})", doc));
  EXPECT_FALSE(analyse(doc));
  const auto c = analyse_text(R"({"model":"m","max_tokens":1,"messages":[)" +
                              user_text("[[error 500]]") + "]}");
  EXPECT_TRUE(is_side_request(c));
  EXPECT_EQ(only_block(play(c)).text(), side_text);
  EXPECT_TRUE(is_side_request(analyse_text(R"({"messages":[]})")));
  const auto no_tools =
      analyse_text(R"({"tools":[],"messages":[)" + user_text("[[echo]] x") + "]}");
  EXPECT_FALSE(is_side_request(no_tools));
  EXPECT_EQ(only_block(play(no_tools)).text(), "x");
  EXPECT_EQ(find_working_directory("x\nWorking directory: /a/b\n"), "/a/b");
  EXPECT_FALSE(find_working_directory("Working directory persists"));
}

TEST(Scenario, DefaultEchoAndUnknown) {
  EXPECT_EQ(only_block(play(analyse_text(request("[" + user_text("hi") + "]")))).text(),
            default_text);
  EXPECT_EQ(
      only_block(play(analyse_text(request("[" + user_text("[[echo]] say  this") + "]")))).text(),
      "say  this");
  const auto unknown = play(analyse_text(request("[" + user_text("[[nope 1]]") + "]")));
  EXPECT_EQ(only_block(unknown).text(), "Unknown scenario: nope");
  EXPECT_EQ(unknown.stop_reason, "end_turn");
}

TEST(Scenario, BashCallsToolThenReportsResult) {
  const auto first = play(analyse_text(request("[" + user_text("[[bash echo hi]]") + "]")));
  EXPECT_EQ(first.stop_reason, "tool_use");
  EXPECT_EQ(only_block(first).tool_name, "Bash");
  EXPECT_EQ(only_block(first).input_json,
            R"({"command":"echo hi","description":"Run a scripted command"})");
  const auto second =
      play(analyse_text(request("[" + user_text("[[bash echo hi]]") + "," + assistant_tool("t") +
                                "," + tool_result("t", "hi") + "]")));
  EXPECT_EQ(second.stop_reason, "end_turn");
  EXPECT_EQ(only_block(second).text(), "Bash result:\nhi");
}

TEST(Scenario, ToolCallsTheNamedToolWithItsInputThenReportsResult) {
  const auto prompt = user_text(R"([[tool mcp__echo__echo {"text": "hi"}]])");
  const auto first = play(analyse_text(request("[" + prompt + "]")));
  EXPECT_EQ(first.stop_reason, "tool_use");
  EXPECT_EQ(only_block(first).tool_name, "mcp__echo__echo");
  EXPECT_EQ(only_block(first).input_json, R"({"text":"hi"})");
  const auto second = play(analyse_text(request("[" + prompt + "," + assistant_tool("t") + "," +
                                                tool_result("t", "echo: hi") + "]")));
  EXPECT_EQ(second.stop_reason, "end_turn");
  EXPECT_EQ(only_block(second).text(), "mcp__echo__echo result:\necho: hi");
  const auto bare = play(analyse_text(request("[" + user_text("[[tool Foo]]") + "]")));
  EXPECT_EQ(only_block(bare).input_json, "{}");
}

TEST(Scenario, WriteResolvesRelativePathAgainstStatedCwd) {
  const auto r = play(analyse_text(request("[" + user_text("[[write a/b.txt x\\ny]]") + "]")));
  EXPECT_EQ(only_block(r).tool_name, "Write");
  EXPECT_EQ(only_block(r).input_json, R"({"file_path":"/w/a/b.txt","content":"x\ny"})");
}

TEST(Scenario, WriteAsksPwdWhenCwdUnknown) {
  const auto prompt = user_text("[[write b.txt hi]]");
  const auto step0 = play(analyse_text(request("[" + prompt + "]", "no cwd here")));
  EXPECT_EQ(only_block(step0).input_json,
            R"({"command":"pwd","description":"Print the working directory"})");
  const auto step1 = play(analyse_text(request(
      "[" + prompt + "," + assistant_tool("p") + "," + tool_result("p", "/tmp/x\n") + "]", "")));
  EXPECT_EQ(only_block(step1).input_json, R"({"file_path":"/tmp/x/b.txt","content":"hi"})");
  const auto step2 = play(analyse_text(
      request("[" + prompt + "," + assistant_tool("p") + "," + tool_result("p", "/tmp/x") + "," +
                  assistant_tool("w") + "," + tool_result("w", "created") + "]",
              "")));
  EXPECT_EQ(only_block(step2).text(), "Write result:\ncreated");
}

TEST(Scenario, ArgumentErrorsAnswerWithText) {
  for (const char* bad : {"[[slow 3]]", "[[error 200]]", "[[large x]]", "[[chain many]]",
                          "[[write]]", "[[structured [1]]]", "[[tool]]", "[[tool X [1]]]"}) {
    const auto r = play(analyse_text(request("[" + user_text(bad) + "]")));
    EXPECT_EQ(r.http_status, 200u) << bad;
    EXPECT_NE(only_block(r).text().find("needs"), std::string::npos) << bad;
  }
}

TEST(Scenario, SlowErrorLargeStructuredTask) {
  const auto slow = play(analyse_text(request("[" + user_text("[[slow 3 25]]") + "]")));
  EXPECT_EQ(only_block(slow).deltas, (std::vector<std::string>{"chunk0 ", "chunk1 ", "chunk2 "}));
  EXPECT_EQ(slow.delta_delay.count(), 25);
  EXPECT_EQ(play(analyse_text(request("[" + user_text("[[error 529]]") + "]"))).http_status, 529u);
  EXPECT_EQ(only_block(play(analyse_text(request("[" + user_text("[[large 1000]]") + "]"))))
                .text()
                .size(),
            1000u);
  EXPECT_EQ(
      only_block(play(analyse_text(request("[" + user_text("[[structured]]") + "]")))).input_json,
      R"({"answer":42})");
  const auto task = play(analyse_text(request("[" + user_text("[[task [[echo sub]]]]") + "]")));
  EXPECT_EQ(only_block(task).tool_name, "Agent");
  EXPECT_NE(only_block(task).input_json.find(R"("prompt":"[[echo sub]]")"), std::string::npos);
}

}  // namespace
}  // namespace scripted_model
