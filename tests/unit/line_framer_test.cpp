// The NDJSON line framer: chunk boundaries, CRLF, empty lines, huge lines, oversize.
#include "transport/claude/line_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using caa::claude::line_framer;

namespace {

struct collector {
  std::vector<std::string> lines;
  std::vector<size_t> oversized;

  line_framer::line_handler on_line() {
    return [this](std::string line) { lines.push_back(std::move(line)); };
  }
  line_framer::oversized_handler on_oversized() {
    return [this](size_t n) { oversized.push_back(n); };
  }
};

/// Feeds `input` in chunks of `chunk` bytes and finishes.
collector frame(std::string_view input, size_t chunk,
                size_t max = line_framer::default_max_line_bytes) {
  line_framer framer{max};
  collector out;
  for (size_t i = 0; i < input.size(); i += chunk)
    framer.feed(input.substr(i, chunk), out.on_line(), out.on_oversized());
  framer.finish(out.on_line());
  return out;
}

const std::string sample =
    "{\"type\":\"system\"}\n\r\n\n{\"a\":\"x\\ny\"}\r\n{\"b\":2}\n\n{\"c\":\"\xE2\x82\xAC\"}\n";
const std::vector<std::string> sample_lines = {"{\"type\":\"system\"}", "{\"a\":\"x\\ny\"}",
                                               "{\"b\":2}", "{\"c\":\"\xE2\x82\xAC\"}"};

}  // namespace

TEST(line_framer, splits_on_newlines_and_skips_empty_lines) {
  auto out = frame(sample, sample.size());
  EXPECT_EQ(out.lines, sample_lines);
  EXPECT_TRUE(out.oversized.empty());
}

TEST(line_framer, every_single_split_point_gives_the_same_lines) {
  for (size_t cut = 0; cut <= sample.size(); ++cut) {
    line_framer framer;
    collector out;
    framer.feed(std::string_view{sample}.substr(0, cut), out.on_line());
    framer.feed(std::string_view{sample}.substr(cut), out.on_line());
    framer.finish(out.on_line());
    EXPECT_EQ(out.lines, sample_lines) << "cut at " << cut;
  }
}

TEST(line_framer, byte_by_byte_and_odd_chunk_sizes) {
  for (size_t chunk : {1u, 2u, 3u, 5u, 7u, 13u, 64u})
    EXPECT_EQ(frame(sample, chunk).lines, sample_lines) << "chunk " << chunk;
}

TEST(line_framer, strips_exactly_one_carriage_return) {
  auto out = frame("a\r\r\nb\r\n\r\nc\rd\n", 1);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"a\r", "b", "c\rd"}));
}

TEST(line_framer, unterminated_last_line_is_delivered_by_finish_only) {
  line_framer framer;
  collector out;
  framer.feed("{\"x\":1}\n{\"y\":", out.on_line());
  EXPECT_EQ(out.lines.size(), 1u);
  EXPECT_EQ(framer.pending_bytes(), 5u);
  framer.feed("2}", out.on_line());
  EXPECT_EQ(out.lines.size(), 1u);
  framer.finish(out.on_line());
  EXPECT_EQ(out.lines, (std::vector<std::string>{"{\"x\":1}", "{\"y\":2}"}));
  EXPECT_EQ(framer.pending_bytes(), 0u);
}

TEST(line_framer, a_three_megabyte_line_arrives_intact) {
  std::string big = "{\"text\":\"" + std::string(3u << 20, 'z') + "\"}";
  std::string input = "{\"before\":1}\n" + big + "\n{\"after\":1}\n";
  for (size_t chunk : {size_t{4096}, size_t{65536}, size_t{1} << 20, input.size()}) {
    auto out = frame(input, chunk);
    ASSERT_EQ(out.lines.size(), 3u);
    EXPECT_EQ(out.lines[1], big);
    EXPECT_TRUE(out.oversized.empty());
  }
}

TEST(line_framer, oversized_line_is_reported_once_and_skipped) {
  // max 10: exactly 10 bytes pass, 11 do not.
  auto out = frame("0123456789\n0123456789A\nok\n", 100, 10);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"0123456789", "ok"}));
  ASSERT_EQ(out.oversized.size(), 1u);
  EXPECT_EQ(out.oversized[0], 11u);
}

TEST(line_framer, oversized_across_many_chunks_is_reported_once) {
  std::string input = std::string(1000, 'x') + "\n{\"next\":1}\n" + std::string(50, 'y') + "\n";
  for (size_t chunk : {1u, 7u, 64u}) {
    auto out = frame(input, chunk, 20);
    EXPECT_EQ(out.lines, (std::vector<std::string>{"{\"next\":1}"})) << chunk;
    EXPECT_EQ(out.oversized.size(), 2u) << chunk;  // two distinct oversized lines
  }
}

TEST(line_framer, discarding_state_and_finish_after_oversize) {
  line_framer framer{4};
  collector out;
  framer.feed("123456", out.on_line(), out.on_oversized());
  EXPECT_TRUE(framer.discarding());
  EXPECT_EQ(framer.pending_bytes(), 0u);
  framer.feed("789", out.on_line(), out.on_oversized());
  EXPECT_EQ(out.oversized.size(), 1u);
  framer.finish(out.on_line());
  EXPECT_TRUE(out.lines.empty());
  EXPECT_FALSE(framer.discarding());
  framer.feed("ab\n", out.on_line(), out.on_oversized());
  EXPECT_EQ(out.lines, (std::vector<std::string>{"ab"}));
}

TEST(line_framer, no_callbacks_is_fine) {
  line_framer framer{2};
  framer.feed("abc\nd\n", {}, {});
  framer.finish({});
  SUCCEED();
}
