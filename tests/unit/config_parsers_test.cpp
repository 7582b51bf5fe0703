#include "config/parsers.hpp"

#include <gtest/gtest.h>

using namespace caa;
using namespace caa::config;

TEST(parse_uint, accepts_plain_decimals_in_range) {
  EXPECT_EQ(parse_uint("0", 0, 65535), 0u);
  EXPECT_EQ(parse_uint("65535", 0, 65535), 65535u);
  EXPECT_EQ(parse_uint("007", 0, 10), 7u);
}

TEST(parse_uint, rejects_junk_signs_blanks_and_out_of_range) {
  for (auto bad : {"", "abc", "12abc", "-1", "+1", " 1", "1 ", "1.0", "0x10", "1e3"})
    EXPECT_FALSE(parse_uint(bad, 0, 100000)) << bad;
  EXPECT_FALSE(parse_uint("65536", 0, 65535));
  EXPECT_FALSE(parse_uint("0", 1, 64));
  EXPECT_FALSE(parse_uint("99999999999999999999999", 0, UINT64_MAX));
}

TEST(parse_seconds, accepts_positive_fractions) {
  EXPECT_EQ(parse_seconds("30", 100), 30.0);
  EXPECT_EQ(parse_seconds("0.5", 100), 0.5);
  EXPECT_EQ(parse_seconds(".25", 100), 0.25);
  EXPECT_EQ(parse_seconds("5", 5), 5.0);
}

TEST(parse_seconds, rejects_non_finite_non_positive_and_junk) {
  for (auto bad : {"", "0", "0.0", "-1", "+1", "nan", "NaN", "inf", "infinity", "1e400", "1e-400",
                   "30s", " 1", "1 ", "0x1p3", "5.1"})
    EXPECT_FALSE(parse_seconds(bad, 5)) << bad;
}

TEST(parse_bool, accepts_the_six_spellings_in_any_case) {
  for (auto yes : {"true", "TRUE", "1", "yes", "Yes"}) EXPECT_EQ(parse_bool(yes), true) << yes;
  for (auto no : {"false", "False", "0", "no", "NO"}) EXPECT_EQ(parse_bool(no), false) << no;
  for (auto bad : {"", "on", "off", "y", "2", "true "}) EXPECT_FALSE(parse_bool(bad)) << bad;
}

TEST(parse_log_level, accepts_four_levels_and_nothing_else) {
  EXPECT_EQ(parse_log_level("debug"), log_level::debug);
  EXPECT_EQ(parse_log_level("INFO"), log_level::info);
  EXPECT_EQ(parse_log_level("warn"), log_level::warn);
  EXPECT_EQ(parse_log_level("error"), log_level::error);
  for (auto bad : {"", "warning", "trace", "verbose", "inf"})
    EXPECT_FALSE(parse_log_level(bad)) << bad;
}

TEST(split_list, trims_items_and_rejects_empty_ones) {
  EXPECT_EQ(split_list("")->size(), 0u);
  EXPECT_EQ(split_list("  ")->size(), 0u);
  EXPECT_EQ(*split_list(" a , b,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(split_list("a,,b"));
  EXPECT_FALSE(split_list("a,"));
  EXPECT_FALSE(split_list(",a"));
}

TEST(is_cidr, accepts_addresses_and_prefixes_in_range) {
  for (auto ok : {"10.0.0.0/8", "127.0.0.1", "0.0.0.0/0", "192.168.1.1/32", "::1", "fd00::/8",
                  "2001:db8::/128"})
    EXPECT_TRUE(is_cidr(ok)) << ok;
  for (auto bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1",
                   "10.0.0.0/8x", "localhost", "256.0.0.1", "01.2.3.4", "[::1]"})
    EXPECT_FALSE(is_cidr(bad)) << bad;
}

TEST(parse_origin, accepts_scheme_host_port_and_lower_cases) {
  EXPECT_EQ(parse_origin("https://App.Example.com"), "https://app.example.com");
  EXPECT_EQ(parse_origin("http://localhost:3000"), "http://localhost:3000");
  EXPECT_EQ(parse_origin("http://[::1]:8080"), "http://[::1]:8080");
  EXPECT_EQ(parse_origin("http://127.0.0.1"), "http://127.0.0.1");
  for (auto bad :
       {"", "*", "example.com", "ftp://example.com", "https://example.com/",
        "https://example.com/path", "https://", "https://a:0", "https://a:65536",
        "https://a:", "https://u@a", "https://a b", "https://-a.com", "https://1.2.3.999"})
    EXPECT_FALSE(parse_origin(bad)) << bad;
}

TEST(is_absolute_path, requires_clean_absolute_paths) {
  EXPECT_TRUE(is_absolute_path("/usr/bin/npx"));
  EXPECT_TRUE(is_absolute_path("/opt/mcp/server.py"));
  for (auto bad : {"", "/", "npx", "./npx", "/usr/bin/", "/usr/../bin/sh", "/usr/./bin",
                   "/usr/bin/a b", "/usr/bin/a\nb"})
    EXPECT_FALSE(is_absolute_path(bad)) << bad;
}

TEST(is_http_url, requires_http_or_https_and_a_host) {
  for (auto ok : {"https://api.anthropic.com", "http://127.0.0.1:8080/v1", "HTTPS://a.b/c?d=1"})
    EXPECT_TRUE(is_http_url(ok)) << ok;
  for (auto bad : {"", "api.anthropic.com", "ftp://a.b", "https://", "https://:80",
                   "https://u:p@a.b", "https://a b", "https://a.b:99999"})
    EXPECT_FALSE(is_http_url(bad)) << bad;
}

TEST(storage_urls, check_scheme_and_shape) {
  EXPECT_TRUE(is_postgres_url("postgresql://u:p@db:5432/app"));
  EXPECT_TRUE(is_postgres_url("postgres://db/app?sslmode=require"));
  EXPECT_FALSE(is_postgres_url("mysql://db/app"));
  EXPECT_FALSE(is_postgres_url("postgresql://db/a pp"));
  EXPECT_TRUE(is_redis_url("redis://127.0.0.1:6379/0"));
  EXPECT_TRUE(is_redis_url("redis://:p@ss@cache"));
  EXPECT_TRUE(is_redis_url("redis://user:pw@[::1]:6380/2"));
  for (auto bad : {"", "rediss://h", "http://h", "redis://", "redis://h:0", "redis://h:x",
                   "redis://h/", "redis://h/db", "redis://h:6379/0/1"})
    EXPECT_FALSE(is_redis_url(bad)) << bad;
}

TEST(is_key_text, requires_length_and_alphabet) {
  EXPECT_TRUE(is_key_text(std::string(32, 'a'), 32));
  EXPECT_TRUE(is_key_text("abcdefghijklmnopqrstuvwxyz_-0123", 32));
  EXPECT_FALSE(is_key_text(std::string(31, 'a'), 32));
  EXPECT_FALSE(is_key_text(std::string(31, 'a') + "!", 32));
}

TEST(mask_url, hides_passwords_and_queries) {
  EXPECT_EQ(mask_url("postgresql://app:hunter2@db:5432/x"), "postgresql://app:***@db:5432/x");
  EXPECT_EQ(mask_url("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
  EXPECT_EQ(mask_url("postgres://db/x?password=hunter2"), "postgres://db/x?***");
  EXPECT_EQ(mask_url("postgres://u:a/b?c@d@db/x"), "postgres://u:***@db/x");
  EXPECT_EQ(mask_url("redis://h:1/0"), "redis://h:1/0");
  EXPECT_EQ(mask_url("garbage:hunter2"), "***");
}

TEST(quote, escapes_and_truncates) {
  EXPECT_EQ(quote("abc"), "\"abc\"");
  EXPECT_EQ(quote("a\"b\\\n"), "\"a\\\"b\\\\\\x0a\"");
  EXPECT_EQ(quote(std::string(100, 'x')), "\"" + std::string(64, 'x') + "\"...");
}
