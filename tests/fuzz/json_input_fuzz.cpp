// libFuzzer target for the single entry point of JSON from outside the process
// (config/json_parse.hpp). Properties, for a depth limit chosen by the first byte:
//   * `nesting_depth(text, L)` is `min(depth, L)` for L >= 1 (it only stops early);
//   * an accepted text contains no NUL byte (valid JSON never does: RapidJSON reads a NUL as the
//     end of the input, so "{}\0anything" must not be accepted as one JSON value);
//   * an accepted document nests at most `limit` deep, and exactly as deep as the text counts;
//     serialised again it is accepted again with the same depth;
//   * a text refused as too deep counts deeper than `limit`; every refusal leaves a null document;
//   * `parse_object_value` agrees with `parse_value` plus "is an object";
//   * 250,000 '[' (and other deep texts) are refused without recursion, whatever the bytes.
#include "config/json_parse.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

/// Depth of `v` (a scalar 0, `[]` 1, `[[]]` 2), walked with an explicit stack.
std::size_t depth_of(const rapidjson::Value& v) {
  std::size_t deepest = 0;
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [x, d] = todo.back();
    todo.pop_back();
    if (x->IsArray()) {
      deepest = std::max(deepest, d + 1);
      for (const auto& e : x->GetArray()) todo.emplace_back(&e, d + 1);
    } else if (x->IsObject()) {
      deepest = std::max(deepest, d + 1);
      for (const auto& m : x->GetObject()) todo.emplace_back(&m.value, d + 1);
    }
  }
  return deepest;
}

void deep_inputs_once() {
  static bool done = false;
  if (done) return;
  done = true;
  for (std::string text : {std::string(250'000, '['), std::string(250'000, '{'),
                           std::string(100'000, '[') + std::string(100'000, ']')}) {
    rapidjson::Document doc;
    check(caa::json::parse_value(text, doc) == caa::json::parse_failure::too_deep);
    check(doc.IsNull());
    check(caa::json::nesting_depth(text, caa::json::input_max_depth + 1) ==
          caa::json::input_max_depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using caa::json::parse_failure;
  deep_inputs_once();
  if (size < 1) return 0;
  // First byte: the depth limit (0..47, or the default 128) and whether UTF-8 is validated.
  std::size_t limit = (data[0] & 0x3f) < 48 ? (data[0] & 0x3f) : caa::json::input_max_depth;
  bool strict = (data[0] & 0x40) != 0;
  std::string_view text{reinterpret_cast<const char*>(data) + 1, size - 1};

  auto full = caa::json::nesting_depth(text, std::numeric_limits<std::size_t>::max());
  for (std::size_t l : {std::size_t{1}, limit + 1, limit + 2, std::size_t{129}})
    check(caa::json::nesting_depth(text, l) == std::min(full, l));

  rapidjson::Document doc;
  rapidjson::ParseErrorCode why = rapidjson::kParseErrorNone;
  auto r = caa::json::parse_value(text, doc, limit, strict, &why);
  switch (r) {
    case parse_failure::none: {
      check(text.find('\0') == std::string_view::npos);
      auto d = depth_of(doc);
      check(d <= limit);
      check(d == full);  // valid JSON: every counted bracket is a container
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      check(doc.Accept(w));
      std::string_view again{buf.GetString(), buf.GetSize()};
      rapidjson::Document doc2;
      check(caa::json::parse_value(again, doc2, limit, false) == parse_failure::none);
      check(depth_of(doc2) == d);
      check(caa::json::nesting_depth(again, std::numeric_limits<std::size_t>::max()) == d);
      break;
    }
    case parse_failure::too_deep:
      check(full > limit);
      check(doc.IsNull());
      break;
    case parse_failure::syntax:
      check(doc.IsNull());
      check(why != rapidjson::kParseErrorNone);
      break;
    case parse_failure::not_object:
      check(false);  // only parse_object_value says that
      break;
  }

  // parse_object_value == non-strict parse_value + "is an object".
  rapidjson::Document plain;
  auto p = caa::json::parse_value(text, plain, limit, false);
  rapidjson::Document obj;
  auto o = caa::json::parse_object_value(text, obj, limit);
  if (p == parse_failure::none)
    check(o == (plain.IsObject() ? parse_failure::none : parse_failure::not_object));
  else
    check(o == p);
  check(caa::json::parse_untrusted_object(text, obj, limit) == (o == parse_failure::none));
  // Strict parsing accepts a subset of what the lenient one accepts.
  if (strict && r == parse_failure::none) check(p == parse_failure::none);
  return 0;
}
