// The one entry point for JSON from outside the process (config/json_parse.hpp): nesting bombs
// are refused before the parser sees them, and nothing it accepts is deeper than the limit.

#include "config/json_parse.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <gtest/gtest.h>

#include <string>

using namespace caa;

namespace {

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(std::size_t depth) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

}  // namespace

TEST(json_input, a_webhook_sized_bomb_of_open_brackets_is_refused_as_too_deep) {
  rapidjson::Document doc;
  EXPECT_EQ(json::parse_value(std::string(250'000, '['), doc), json::parse_failure::too_deep);
  EXPECT_TRUE(doc.IsNull());
  EXPECT_EQ(json::parse_value(nested_arrays(250'000), doc), json::parse_failure::too_deep);
  EXPECT_EQ(json::parse_value(nested_objects(100'000), doc), json::parse_failure::too_deep);
  std::string in_object = "{\"x\":" + std::string(250'000, '[');
  EXPECT_FALSE(json::parse_untrusted_object(in_object, doc));
}

TEST(json_input, the_limit_is_inclusive_and_a_caller_may_ask_for_less) {
  rapidjson::Document doc;
  EXPECT_EQ(json::parse_value(nested_arrays(json::input_max_depth), doc),
            json::parse_failure::none);
  EXPECT_EQ(json::parse_value(nested_arrays(json::input_max_depth + 1), doc),
            json::parse_failure::too_deep);
  EXPECT_EQ(json::parse_value(nested_objects(json::input_max_depth), doc),
            json::parse_failure::none);
  // The accepted document can be walked recursively (a writer) without trouble.
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  EXPECT_TRUE(doc.Accept(w));
  EXPECT_EQ(json::parse_value(nested_arrays(5), doc, 4), json::parse_failure::too_deep);
  EXPECT_EQ(json::parse_value(nested_arrays(4), doc, 4), json::parse_failure::none);
}

TEST(json_input, brackets_inside_strings_do_not_count) {
  rapidjson::Document doc;
  std::string s =
      "{\"a\":\"" + std::string(10'000, '[') + "\\\"" + std::string(10'000, '{') + "\"}";
  EXPECT_EQ(json::parse_object_value(s, doc), json::parse_failure::none);
  EXPECT_EQ(json::nesting_depth(s, 1'000), 1u);
  // An unterminated string hides the brackets from the count and the parser refuses it.
  EXPECT_EQ(json::parse_value("\"" + std::string(250'000, '['), doc), json::parse_failure::syntax);
}

TEST(json_input, syntax_errors_and_shapes_are_told_apart) {
  rapidjson::Document doc;
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  EXPECT_EQ(json::parse_value("{} trailing", doc, json::input_max_depth, false, &code),
            json::parse_failure::syntax);
  EXPECT_NE(code, rapidjson::kParseErrorNone);
  EXPECT_EQ(json::parse_value("", doc), json::parse_failure::syntax);
  EXPECT_EQ(json::parse_object_value("[1,2]", doc), json::parse_failure::not_object);
  EXPECT_EQ(json::parse_object_value(R"({"a":[1,{"b":null}]})", doc), json::parse_failure::none);
  EXPECT_EQ(doc["a"][1].MemberCount(), 1u);
  // Invalid UTF-8 is kept as bytes by default and refused when the caller asks.
  EXPECT_EQ(json::parse_value("\"\xFF\"", doc), json::parse_failure::none);
  EXPECT_EQ(json::parse_value("\"\xFF\"", doc, json::input_max_depth, true),
            json::parse_failure::syntax);
}

TEST(json_input, a_nul_byte_never_cuts_the_text_short) {
  // RapidJSON stops at a NUL: the text after it would be ignored, a second meaning smuggled in.
  rapidjson::Document doc;
  std::string smuggled{"{\"prompt\":\"a\"}\0{\"permission_mode\":\"bypassPermissions\"}", 54};
  ASSERT_EQ(smuggled.size(), 54u);
  EXPECT_EQ(json::parse_value(smuggled, doc), json::parse_failure::syntax);
  EXPECT_EQ(json::parse_value(std::string{"{}\0", 3}, doc), json::parse_failure::syntax);
  EXPECT_EQ(json::parse_value(std::string{"\"a\0b\"", 5}, doc), json::parse_failure::syntax);
}
