#include "transport/json/json.hpp"
#include "config/uuid.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace caa;

namespace {

bool parses(const std::string& body) {
  rapidjson::Document doc;
  std::string why;
  return json::parse_object(body, doc, why);
}

}  // namespace

TEST(json_parse, accepts_plain_objects) {
  EXPECT_TRUE(parses(R"({"a":1,"b":[1,2,{"c":"d"}]})"));
  EXPECT_TRUE(parses("  {}  \n"));
}

TEST(json_parse, rejects_non_objects_and_garbage) {
  EXPECT_FALSE(parses("[]"));
  EXPECT_FALSE(parses("42"));
  EXPECT_FALSE(parses(""));
  EXPECT_FALSE(parses("{} trailing"));
  EXPECT_FALSE(parses("{\"a\":NaN}"));
  EXPECT_FALSE(parses("{\"a\":1e400}"));
  EXPECT_FALSE(parses("\xEF\xBB\xBF{}"));        // BOM
  EXPECT_FALSE(parses("{\"a\":\"\xC0\xAF\"}"));  // overlong UTF-8
  EXPECT_FALSE(parses("{\"a\":\"\xFF\"}"));      // invalid UTF-8
}

TEST(json_parse, rejects_duplicate_keys) {
  EXPECT_FALSE(parses(R"({"a":1,"a":2})"));
}

TEST(json_parse, rejects_deep_nesting_quickly) {
  std::string deep(10'000, '[');
  deep = "{\"a\":" + deep + std::string(10'000, ']') + "}";
  EXPECT_FALSE(parses(deep));
  std::string ok = "{\"a\":" + std::string(60, '[') + std::string(60, ']') + "}";
  EXPECT_TRUE(parses(ok));
}

TEST(json_parse, depth_ignores_brackets_in_strings) {
  EXPECT_EQ(json::nesting_depth(R"({"a":"[[[[{{{{\"]]"})", 100), 1u);
}

TEST(field_reader, collects_every_error) {
  rapidjson::Document doc;
  std::string why;
  ASSERT_TRUE(json::parse_object(
      R"({"name":5,"max_turns":0,"ok":"yes","id":"nope","extra":1,"tags":[1]})", doc, why));
  json::field_reader r{doc};
  EXPECT_FALSE(r.string("name", true));
  EXPECT_FALSE(r.integer("max_turns", false, 1, 1000));
  EXPECT_FALSE(r.boolean("ok", false));
  EXPECT_FALSE(r.uuid("id", false));
  EXPECT_FALSE(r.string_list("tags", false));
  EXPECT_FALSE(r.string("prompt", true));
  r.reject_unknown({"name", "max_turns", "ok", "id", "tags", "prompt"});
  ASSERT_EQ(r.errors().size(), 7u);
  EXPECT_EQ(r.errors()[0].field, "name");
  EXPECT_EQ(r.errors()[5].field, "prompt");
  EXPECT_EQ(r.errors()[6].field, "extra");
}

TEST(field_reader, reads_valid_fields) {
  rapidjson::Document doc;
  std::string why;
  ASSERT_TRUE(json::parse_object(
      R"({"name":"héllo","n":7,"b":true,"id":"123e4567-e89b-12d3-a456-426614174000","l":["a"]})",
      doc, why));
  json::field_reader r{doc};
  EXPECT_EQ(r.string("name", true, 1, 5).value(), "héllo");
  EXPECT_EQ(r.integer("n", true, 1, 10).value(), 7);
  EXPECT_TRUE(r.boolean("b", true).value());
  EXPECT_TRUE(r.uuid("id", true).has_value());
  EXPECT_EQ(r.string_list("l", true)->size(), 1u);
  EXPECT_TRUE(r.ok());
}

TEST(json_uuid, canonical_form_only) {
  EXPECT_TRUE(caa::is_uuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(caa::is_uuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(caa::is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(caa::is_uuid("{123e4567-e89b-12d3-a456-426614174000}"));
}
