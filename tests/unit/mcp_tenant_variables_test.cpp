// TENANT_VARIABLES_FILE: read and validated at start-up; values are secrets (never echoed).
#include "config/loader.hpp"
#include "config/tenant_variables.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace caa;
namespace fs = std::filesystem;

namespace {

std::string parse_error(std::string_view json) {
  std::map<std::string, config::tenant_variable_map> out;
  return config::parse_tenant_variables(json, out);
}

class tenant_variables_file : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove(path_); }

  load_result load_with(std::string_view content) {
    std::ofstream{path_} << content;
    const char* argv[] = {"claude-agent-api"};
    return load_settings(1, argv, {{"TENANT_VARIABLES_FILE", path_.string()}});
  }

  fs::path path_ =
      fs::temp_directory_path() / ("caa-tenant-vars-" + std::to_string(::getpid()) + ".json");
};

}  // namespace

TEST_F(tenant_variables_file, is_read_at_start_up_by_tenant_name) {
  auto r = load_with(R"({"acme":{"GITHUB_TOKEN":"ghp_value","EMPTY":""},"beta":{}})");
  ASSERT_TRUE(r.value) << (r.errors.empty() ? "" : r.errors[0]);
  const auto& vars = r.value->egress.tenant_variables;
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars.at("acme").at("GITHUB_TOKEN").reveal(), "ghp_value");
  EXPECT_EQ(vars.at("acme").at("EMPTY").reveal(), "");
  EXPECT_TRUE(vars.at("beta").empty());
  auto shown = describe(*r.value);
  EXPECT_NE(shown.find("TENANT_VARIABLES_FILE=" + path_.string()), std::string::npos);
  EXPECT_EQ(shown.find("ghp_value"), std::string::npos);
}

TEST_F(tenant_variables_file, a_bad_file_stops_the_start_without_showing_values) {
  auto r = load_with(R"({"acme":{"TOKEN":"line1\nline2-secret"}})");
  EXPECT_FALSE(r.value);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("TENANT_VARIABLES_FILE: ", 0), 0u) << r.errors[0];
  EXPECT_EQ(r.errors[0].find("secret"), std::string::npos) << r.errors[0];
  const char* argv[] = {"claude-agent-api"};
  auto missing = load_settings(1, argv, {{"TENANT_VARIABLES_FILE", "/nonexistent/vars.json"}});
  EXPECT_FALSE(missing.value);
  auto unset = load_settings(1, argv, {{"TENANT_VARIABLES_FILE", ""}});
  ASSERT_TRUE(unset.value);
  EXPECT_TRUE(unset.value->egress.tenant_variables.empty());
}

TEST(tenant_variables, shape_rules) {
  EXPECT_EQ(parse_error(R"({"acme":{"A_1":"x","_B":"y\tz"}})"), "");
  for (auto bad : {R"([])", R"({"acme":[]})", R"({"acme":{"lower":"x"}})", R"({"acme":{"1A":"x"}})",
                   R"({"acme":{"A":1}})", R"({"acme":{"A":"${B}"}})",
                   R"({"acme":{"A":"a\u0000b"}})", R"({"acme":{"A":"x","A":"y"}})",
                   R"({"acme":{},"acme":{}})", R"({"two words":{}})", R"({"acme":{"A":"x")"})
    EXPECT_NE(parse_error(bad), "") << bad;
  EXPECT_NE(parse_error(R"({"acme":{"A":")" + std::string(4097, 'v') + R"("}})"), "");
  auto err = parse_error(R"({"acme":{"TOKEN":"hunter2${X}"}})");
  EXPECT_NE(err.find("TOKEN"), std::string::npos);
  EXPECT_EQ(err.find("hunter2"), std::string::npos);
}
