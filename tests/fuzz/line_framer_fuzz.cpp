// libFuzzer target for the NDJSON line framer. Property (differential against a trivial model):
// the input is split into chunks at fuzzer-chosen points; without oversize, the delivered lines
// joined with '\n' equal the input split on '\n', each piece minus one trailing '\r', empty
// pieces removed. With a small maximum, no delivered line is longer than the maximum.
#include "transport/claude/line_framer.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string model(std::string_view input) {
  std::string out;
  while (true) {
    auto nl = input.find('\n');
    auto piece = input.substr(0, nl);
    if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
    if (!piece.empty()) {
      if (!out.empty()) out += '\n';
      out += piece;
    }
    if (nl == std::string_view::npos) return out;
    input.remove_prefix(nl + 1);
  }
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: chunk size seed; second: small maximum for the oversize run.
  size_t chunk = 1 + data[0] % 64;
  size_t small_max = 1 + data[1] % 32;
  std::string_view input{reinterpret_cast<const char*>(data) + 2, size - 2};

  caa::claude::line_framer framer;
  std::string joined;
  auto on_line = [&](std::string line) {
    check(!line.empty());
    if (!joined.empty()) joined += '\n';
    joined += line;
  };
  for (size_t i = 0; i < input.size(); i += chunk) framer.feed(input.substr(i, chunk), on_line);
  framer.finish(on_line);
  check(joined == model(input));

  caa::claude::line_framer small{small_max};
  size_t oversized = 0;
  for (size_t i = 0; i < input.size(); i += chunk)
    small.feed(
        input.substr(i, chunk), [&](std::string line) { check(line.size() <= small_max); },
        [&](size_t) { ++oversized; });
  small.finish([&](std::string line) { check(line.size() <= small_max); });
  check(oversized <= input.size() / (small_max + 1) + 1);
  return 0;
}
