#include "config/logging.hpp"

#include "config/loader.hpp"
#include "config/secret.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <random>
#include <regex>
#include <thread>
#include <type_traits>

using namespace caa;

// -- allocation counter (to prove disabled levels allocate nothing) ------------------------------

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

// GCC 12 at -O2 misreads the replaced global operators as mismatched with malloc/free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

/// Captures lines at debug level; restores the defaults afterwards.
class logging : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log_level::debug);
    log::set_sink([this](std::string_view line) {
      std::lock_guard guard{mutex_};
      lines_.emplace_back(line);
    });
  }

  void TearDown() override {
    log::set_sink({});
    log::set_level(log_level::info);
  }

  std::vector<std::string> lines() {
    std::lock_guard guard{mutex_};
    return lines_;
  }

  /// The single captured line, parsed.
  rapidjson::Document only_json() {
    auto xs = lines();
    rapidjson::Document doc;
    EXPECT_EQ(xs.size(), 1u);
    if (!xs.empty()) doc.Parse(xs.back().c_str());
    EXPECT_FALSE(doc.HasParseError());
    return doc;
  }

  std::mutex mutex_;
  std::vector<std::string> lines_;
};

std::string canary() {
  std::random_device rd;
  std::string out = "CANARY_";
  for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

}  // namespace

TEST_F(logging, writes_one_json_object_with_typed_fields) {
  log::info("request", {.component = "http",
                        .correlation_id = "r1",
                        .method = "GET",
                        .route = "/v1/sessions/{id}",
                        .status = 200,
                        .duration_ms = 1.5,
                        .tenant_id = "t",
                        .count = 3});
  auto xs = lines();
  ASSERT_EQ(xs.size(), 1u);
  std::regex head{
      R"(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","msg":"request",)"};
  EXPECT_TRUE(std::regex_search(xs[0], head)) << xs[0];
  EXPECT_NE(xs[0].find(R"("route":"/v1/sessions/{id}","status":200,"duration_ms":1.500)"),
            std::string::npos)
      << xs[0];
  auto doc = only_json();
  EXPECT_STREQ(doc["method"].GetString(), "GET");
  EXPECT_EQ(doc["count"].GetUint64(), 3u);
  EXPECT_FALSE(doc.HasMember("detail"));
}

TEST_F(logging, escapes_control_characters_so_lines_cannot_be_forged) {
  std::string forged = "x\r\n{\"level\":\"error\",\"msg\":\"Authorization: Bearer t\"}\t\x01\x7f";
  log::warn(forged, {.detail = forged});
  auto xs = lines();
  ASSERT_EQ(xs.size(), 1u);
  for (char c : xs[0]) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << xs[0];
  EXPECT_NE(xs[0].find(R"(x\r\n{\"level\")"), std::string::npos) << xs[0];
  auto doc = only_json();
  EXPECT_EQ(std::string{doc["msg"].GetString()}, forged);
  EXPECT_EQ(std::string{doc["detail"].GetString()}, forged);
}

TEST_F(logging, replaces_invalid_utf8_and_keeps_valid_text) {
  log::info("\xc3\xa9t\xc3\xa9 \xff\xc0\xaf \xed\xa0\x80 \xe2\x82", {.detail = "\xe2\x80\xa8"});
  auto xs = lines();
  ASSERT_EQ(xs.size(), 1u);
  EXPECT_NE(xs[0].find("\"msg\":\"\xc3\xa9t\xc3\xa9 \\ufffd\\ufffd\\ufffd"), std::string::npos);
  EXPECT_NE(xs[0].find("\"detail\":\"\\u2028\""), std::string::npos) << xs[0];
  only_json();
}

TEST_F(logging, truncates_detail_at_a_character_boundary) {
  std::string euro;
  for (int i = 0; i < 200; ++i) euro += "\xe2\x82\xac";  // 600 bytes
  log::info("long", {.error_code = std::string(1000, 'e'), .detail = euro});
  auto doc = only_json();
  std::string detail = doc["detail"].GetString();
  EXPECT_EQ(detail, euro.substr(0, 510) + "...");
  EXPECT_EQ(std::string{doc["error_code"].GetString()}.size(), log::max_field_bytes + 3);
}

TEST_F(logging, filters_by_level) {
  log::set_level(log_level::warn);
  EXPECT_FALSE(log::enabled(log_level::info));
  EXPECT_TRUE(log::enabled(log_level::error));
  EXPECT_EQ(log::level(), log_level::warn);
  log::debug("no");
  log::info("no");
  log::warn("yes");
  log::error("yes");
  auto xs = lines();
  ASSERT_EQ(xs.size(), 2u);
  EXPECT_NE(xs[0].find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(xs[1].find("\"level\":\"error\""), std::string::npos);
}

TEST_F(logging, disabled_levels_do_not_allocate) {
  log::set_level(log_level::error);
  std::string detail(100, 'd');
  auto before = allocations.load();
  log::debug("quiet", {.component = "test", .detail = detail, .count = 1});
  log::info("quiet", {.route = "/x", .status = 200});
  EXPECT_EQ(allocations.load(), before);
  EXPECT_TRUE(lines().empty());
}

TEST_F(logging, warn_once_logs_a_key_once_until_rearmed) {
  EXPECT_TRUE(log::warn_once("redis-down", "Redis down, using local rate limits"));
  EXPECT_FALSE(log::warn_once("redis-down", "Redis down, using local rate limits"));
  EXPECT_TRUE(log::warn_once("other", "other"));
  log::rearm_once("redis-down");
  EXPECT_TRUE(log::warn_once("redis-down", "again", {.component = "redis"}));
  EXPECT_EQ(lines().size(), 3u);
  log::set_level(log_level::error);
  EXPECT_FALSE(log::warn_once("quiet-key", "x"));
  log::set_level(log_level::warn);
  EXPECT_TRUE(log::warn_once("quiet-key", "x"));
  log::rearm_once("redis-down");
  log::rearm_once("other");
  log::rearm_once("quiet-key");
}

TEST_F(logging, concurrent_lines_stay_whole) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (uint64_t i = 0; i < 250; ++i)
        log::info("tick", {.detail = std::string(100, static_cast<char>('a' + t)), .count = i});
    });
  for (auto& t : threads) t.join();
  auto xs = lines();
  ASSERT_EQ(xs.size(), 1000u);
  for (const auto& x : xs) {
    rapidjson::Document doc;
    doc.Parse(x.c_str());
    ASSERT_FALSE(doc.HasParseError()) << x;
  }
}

TEST(logging_default_sink, writes_lines_to_stderr) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  log::error("to stderr", {.component = "test"});
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  char buf[512] = {};
  auto n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string line{buf, static_cast<std::size_t>(n)};
  EXPECT_TRUE(line.ends_with("\"component\":\"test\"}\n")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

// Secrets cannot reach the logger: no conversion to any text type it takes.
static_assert(!std::is_convertible_v<const secret&, std::string_view>);
static_assert(!std::is_assignable_v<std::optional<std::string_view>&, const secret&>);
static_assert(
    !std::is_invocable_v<decltype(&log::write), log_level, const secret&, const log::log_fields&>);
static_assert(!std::is_invocable_v<decltype(&log::info), const secret&, const log::log_fields&>);

TEST_F(logging, canaries_in_settings_never_reach_the_log) {
  auto c = canary();
  std::map<std::string, std::string> env{
      {"API_KEY", c},
      {"METRICS_TOKEN", c},
      {"ANTHROPIC_API_KEY", c},
      {"DATABASE_URL", "postgresql://app:" + c + "@db:5432/x?password=" + c},
      {"REDIS_URL", "redis://user:" + c + "@cache:6379/0"}};
  const char* argv[] = {"caa"};
  auto r = load_settings(1, argv, env);
  ASSERT_TRUE(r.value);
  log_settings(*r.value);
  log::info("settings", {.detail = describe(*r.value)});
  // Invalid values carrying the canary: the errors must not repeat it.
  env = {{"API_KEY", c + "!"},
         {"METRICS_TOKEN", c + " "},
         {"ANTHROPIC_API_KEY", c + "\n"},
         {"DATABASE_URL", "mysql://app:" + c + "@db"},
         {"REDIS_URL", "redis://:" + c + "@h:x"}};
  auto arg1 = "--api-kye=" + c;
  auto arg2 = "--metrics-token=" + c + "\t";
  const char* bad_argv[] = {"caa", arg1.c_str(), arg2.c_str(), c.c_str()};
  r = load_settings(4, bad_argv, env);
  EXPECT_EQ(r.errors.size(), 7u);
  for (const auto& e : r.errors)
    log::error("configuration error", {.component = "config", .detail = e});
  auto xs = lines();
  EXPECT_GT(xs.size(), 40u);
  for (const auto& x : xs) EXPECT_EQ(x.find(c), std::string::npos) << x;
  EXPECT_EQ(usage().find(c), std::string::npos);
}
