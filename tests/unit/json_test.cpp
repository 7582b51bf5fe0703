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
  json::field_errors errors;
  json::field_reader r{doc, errors};
  EXPECT_FALSE(r.string("name", true));
  EXPECT_FALSE(r.integer("max_turns", false, 1, 1000));
  EXPECT_FALSE(r.boolean("ok", false));
  EXPECT_FALSE(r.uuid("id", false));
  EXPECT_FALSE(r.string_list("tags", false));
  EXPECT_FALSE(r.string("prompt", true));
  r.reject_unknown({"name", "max_turns", "ok", "id", "tags", "prompt"});
  ASSERT_EQ(errors.count(), 7u);
  EXPECT_EQ(errors.list()[0].field, "name");
  EXPECT_EQ(errors.list()[5].field, "prompt");
  EXPECT_EQ(errors.list()[6].field, "extra");
}

TEST(field_reader, reads_valid_fields) {
  rapidjson::Document doc;
  std::string why;
  ASSERT_TRUE(json::parse_object(
      R"({"name":"héllo","n":7,"b":true,"id":"123e4567-e89b-12d3-a456-426614174000","l":["a"]})",
      doc, why));
  json::field_errors errors;
  json::field_reader r{doc, errors};
  EXPECT_EQ(r.string("name", true, 1, 5).value(), "héllo");
  EXPECT_EQ(r.integer("n", true, 1, 10).value(), 7);
  EXPECT_TRUE(r.boolean("b", true).value());
  EXPECT_TRUE(r.uuid("id", true).has_value());
  EXPECT_EQ(r.string_list("l", true)->size(), 1u);
  EXPECT_TRUE(errors.ok());
}

namespace {

/// The errors of reading `body` as POST /api/v1/keys does (its decoder is local to keys.cpp).
std::vector<caa::field_error> keys_errors(const std::string& body) {
  rapidjson::Document doc;
  std::string why;
  EXPECT_TRUE(json::parse_object(body, doc, why)) << why;
  json::field_errors errors;
  json::field_reader r{doc, errors};
  r.string("tenant", false, 1, 63);
  r.string_list("scopes", true, 2, 10);
  r.string("name", true, 1, 100);
  r.reject_unknown({"tenant", "scopes", "name"});
  return errors.take();
}

const std::string name_64(64, 'n');
const std::string name_65(65, 'n');

}  // namespace

TEST(field_errors, unknown_members_are_named_only_when_plain_identifiers) {
  const std::vector<caa::field_error> body{{"body", "contains a field that is not known"}};
  auto keys = [](const std::string& extra) {
    return keys_errors(R"({"scopes":["agent"],"name":"n",")" + extra + R"(":1})");
  };
  EXPECT_EQ(keys("extra_1"), (std::vector<caa::field_error>{{"extra_1", "is not a known field"}}));
  EXPECT_EQ(keys(name_64), (std::vector<caa::field_error>{{name_64, "is not a known field"}}));
  EXPECT_EQ(keys(name_65), body);
  // JSON-escaped names: space, newline, NUL, other controls, DEL, '-', '.', non-ASCII, quotes.
  for (std::string odd : {R"(bad name)", R"(a\nb)", R"(a\u0000b)", R"(a\u001fb)", R"(a\u007fb)",
                          R"(a-b)", R"(a.b)", R"(h\u00e9)", R"(\\)", R"(\")", R"()"})
    EXPECT_EQ(keys(odd), body) << odd;
}

TEST(field_errors, nested_unknown_members_name_their_object) {
  rapidjson::Document doc;
  std::string why;
  ASSERT_TRUE(
      json::parse_object(R"({"options":{"x":1,"bad\nname":2,"known":3},"top":{"y":1}})", doc, why));
  json::field_errors errors;
  json::field_reader options{doc["options"], errors, "options"};
  options.reject_unknown({"known"});
  errors.reject_unknown(doc["top"], "options.top", {});
  errors.reject_unknown(doc, {}, {"options", "top"});
  EXPECT_EQ(errors.list(),
            (std::vector<caa::field_error>{{"options.x", "is not a known field"},
                                           {"options", "contains a field that is not known"},
                                           {"options.top.y", "is not a known field"}}));
}

TEST(field_errors, typed_readers_name_the_full_path_and_their_limits) {
  rapidjson::Document doc;
  std::string why;
  ASSERT_TRUE(
      json::parse_object(R"({"o":{"budget":0,"ratio":1.5,"n":"7","s":"ab\u0000"}})", doc, why));
  json::field_errors errors;
  json::field_reader r{doc["o"], errors, "o"};
  EXPECT_FALSE(r.number("budget", true, 0, 1000, true));
  EXPECT_FALSE(r.number("ratio", true, 0, 1));
  EXPECT_FALSE(r.integer("n", true, 1, 10));
  EXPECT_FALSE(r.string("s", true, 1, 10));
  EXPECT_FALSE(r.boolean("missing", true));
  EXPECT_EQ(errors.list(), (std::vector<caa::field_error>{
                               {"o.budget", "must be a number greater than 0 and at most 1000"},
                               {"o.ratio", "must be a number between 0 and 1"},
                               {"o.n", "must be an integer between 1 and 10"},
                               {"o.s", "must not contain NUL characters"},
                               {"o.missing", "is required"}}));
}

TEST(json_uuid, canonical_form_only) {
  EXPECT_TRUE(caa::is_uuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(caa::is_uuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(caa::is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(caa::is_uuid("{123e4567-e89b-12d3-a456-426614174000}"));
}
