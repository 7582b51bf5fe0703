// The test MCP stdio server's protocol handling (what the CLI sends: initialize, the initialized
// notification, tools/list, tools/call).
#include "tests/support/mcp_server/mcp_server.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

using namespace mcp_test;

namespace {

std::optional<std::string> env(const std::string& name) {
  if (name == "GREETING") return "hello";
  return std::nullopt;
}

rapidjson::Document answer(std::string_view line) {
  rapidjson::Document d;
  auto r = handle_line(line, env);
  EXPECT_TRUE(r) << line;
  d.Parse(r.value_or("null").c_str());
  return d;
}

std::string tool_text(std::string_view call) {
  auto d = answer(call);
  if (!d.IsObject() || !d.HasMember("result")) return "<no result>";
  return d["result"]["content"][0]["text"].GetString();
}

}  // namespace

TEST(test_mcp_server, initialize_echoes_the_protocol_version) {
  auto d = answer(
      R"({"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}},)"
      R"("jsonrpc":"2.0","id":0})");
  EXPECT_EQ(d["id"].GetInt(), 0);
  EXPECT_STREQ(d["result"]["protocolVersion"].GetString(), "2025-11-25");
  EXPECT_TRUE(d["result"]["capabilities"]["tools"].IsObject());
  EXPECT_STREQ(d["result"]["serverInfo"]["name"].GetString(), "caa-test-mcp");
}

TEST(test_mcp_server, notifications_and_blank_lines_get_no_answer) {
  EXPECT_FALSE(handle_line(R"({"method":"notifications/initialized","jsonrpc":"2.0"})", env));
  EXPECT_FALSE(handle_line("", env));
}

TEST(test_mcp_server, lists_and_calls_its_tools) {
  auto list = answer(R"({"method":"tools/list","jsonrpc":"2.0","id":1})");
  ASSERT_EQ(list["result"]["tools"].Size(), 2u);
  EXPECT_STREQ(list["result"]["tools"][0]["name"].GetString(), "echo");
  EXPECT_STREQ(list["result"]["tools"][1]["name"].GetString(), "env");
  EXPECT_EQ(tool_text(R"({"method":"tools/call","jsonrpc":"2.0","id":2,)"
                      R"("params":{"name":"echo","arguments":{"text":"hi"}}})"),
            "echo: hi");
  EXPECT_EQ(tool_text(R"({"method":"tools/call","jsonrpc":"2.0","id":"3",)"
                      R"("params":{"name":"env","arguments":{"name":"GREETING"}}})"),
            "GREETING=hello");
  EXPECT_EQ(tool_text(R"({"method":"tools/call","jsonrpc":"2.0","id":4,)"
                      R"("params":{"name":"env","arguments":{"name":"NOPE"}}})"),
            "NOPE is not set");
}

TEST(test_mcp_server, errors) {
  EXPECT_EQ(answer("not json")["error"]["code"].GetInt(), -32700);
  EXPECT_EQ(
      answer(R"({"method":"resources/list","jsonrpc":"2.0","id":5})")["error"]["code"].GetInt(),
      -32601);
  auto bad = answer(R"({"method":"tools/call","jsonrpc":"2.0","id":6,"params":{"name":"echo"}})");
  EXPECT_TRUE(bad["result"]["isError"].GetBool());
}
