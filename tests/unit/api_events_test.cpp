// The events of the API stream the service builds itself (transport/json/api_events.hpp).

#include "transport/json/api_events.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <chrono>
#include <string>
#include <vector>

using namespace caa;

namespace {

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

}  // namespace

TEST(api_events, system_message_has_subtype_extras_and_one_text_block) {
  auto ev = system_message("permission_timeout", "No answer came.",
                           {{"request_id", "r1"}, {"tool_name", "Bash"}});
  EXPECT_EQ(ev.name, "message");
  EXPECT_EQ(ev.data,
            R"({"type":"system","subtype":"permission_timeout","request_id":"r1","tool_name":)"
            R"("Bash","content":[{"type":"text","text":"No answer came."}]})");
}

TEST(api_events, permission_request_shows_no_server_path) {
  auto req = parse(
      R"({"tool_name":"Bash","input":{"command":"ls"},"tool_use_id":"tu1",)"
      R"("permission_suggestions":[{"type":"addDirectories","directories":["/srv/t/work/a"]},)"
      R"({"type":"addDirectories","directories":["/etc"]}]})");
  auto ev = permission_event("r1", req, "2024-01-01T00:00:00.000Z", "/srv/t/work");
  EXPECT_EQ(ev.name, "permission_request");
  EXPECT_EQ(ev.data,
            R"({"request_id":"r1","tool_name":"Bash","input":{"command":"ls"},"tool_use_id":)"
            R"("tu1","suggestions":[{"type":"addDirectories","directories":["a"]}],)"
            R"("expires_at":"2024-01-01T00:00:00.000Z"})");
}

TEST(api_events, question_lists_the_questions_and_collects_their_texts) {
  auto input =
      parse(R"({"questions":[{"question":"Pick?","header":"H","options":)"
            R"([{"label":"A","description":"a"}],"multiSelect":true},{"question":"Q2"}]})");
  std::vector<std::string> texts;
  auto ev = question_event("r2", input, "tu2", "x", texts);
  EXPECT_EQ(ev.name, "question");
  EXPECT_EQ(ev.data,
            R"({"request_id":"r2","questions":[{"question":"Pick?","header":"H","options":)"
            R"([{"label":"A","description":"a"}],"multi_select":true},{"question":"Q2",)"
            R"("header":"","options":[],"multi_select":false}],"tool_use_id":"tu2",)"
            R"("expires_at":"x"})");
  EXPECT_EQ(texts, (std::vector<std::string>{"Pick?", "Q2"}));
}

TEST(api_events, rfc3339_is_utc_with_milliseconds) {
  std::chrono::system_clock::time_point t{std::chrono::milliseconds{1'700'000'000'123}};
  EXPECT_EQ(rfc3339(t), "2023-11-14T22:13:20.123Z");
}
