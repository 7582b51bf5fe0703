// libFuzzer target for the cursor parameters of `GET /api/v1/sessions/{id}/events`: `after` and
// `limit` (api::query_int over http::request::query_param, find_query_param, percent_decode) and
// the `Last-Event-ID` header as the request exposes it (http::request::header). The parser of
// Last-Event-ID itself (`last_event_id` in event_routes.cpp) is file-local and reachable only
// through a route with a session store: it is not called here. The WebSocket `subscribe`
// frame's `after` is covered by api_decode_fuzz. Input: the raw query string, '\n', the
// Last-Event-ID value. Properties (differential against a small model written here):
//   * query_int returns the parameter's value when it is a base-10 integer without sign '+',
//     spaces or overflow inside [lo, hi], else the fallback and exactly one field error naming
//     the parameter; an absent parameter gives the fallback and no error;
//   * find_query_param returns the value of the first pair whose decoded key matches;
//   * percent_decode never yields NUL, never grows its input, refuses an encoded '/' in a path
//     segment, and inverts percent-encoding.
#include "transport/api/responses.hpp"
#include "transport/http/types.hpp"
#include "transport/http/uri.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace caa;

void check(bool ok) {
  if (!ok) std::abort();
}

/// The model of query_int's number syntax: an optional '-', then 1..n digits, in long long.
std::optional<long long> model_integer(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  unsigned long long magnitude = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    unsigned digit = static_cast<unsigned>(c - '0');
    if (magnitude > (std::numeric_limits<unsigned long long>::max() - digit) / 10)
      return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  constexpr auto max = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (!negative)
    return magnitude <= max ? std::optional<long long>{static_cast<long long>(magnitude)}
                            : std::nullopt;
  if (magnitude <= max) return -static_cast<long long>(magnitude);
  if (magnitude == max + 1) return std::numeric_limits<long long>::min();
  return std::nullopt;
}

void check_query_int(const http::request& req, const char* name, long long fallback, long long lo,
                     long long hi) {
  std::vector<caa::field_error> errors;
  auto value = api::query_int(req, name, fallback, lo, hi, errors);
  auto text = req.query_param(name);
  if (!text) {
    check(value == fallback && errors.empty());
    return;
  }
  auto expected = model_integer(*text);
  if (expected && *expected >= lo && *expected <= hi) {
    check(value == *expected && errors.empty());
  } else {
    check(value == fallback && errors.size() == 1 && errors.front().field == name);
  }
}

std::string percent_encode_all(std::string_view s, bool keep_slash) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (keep_slash && c == '/') {
      out += '/';
      continue;
    }
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

void check_decode(std::string_view in) {
  for (auto mode : {http::decode_mode::path_segment, http::decode_mode::query_component}) {
    auto d = http::percent_decode(in, mode);
    if (!d) continue;
    check(d->find('\0') == std::string::npos);
    check(d->size() <= in.size());
    if (mode == http::decode_mode::path_segment && in.find('%') == std::string_view::npos)
      check(*d == in);
    bool path = mode == http::decode_mode::path_segment;
    auto again = http::percent_decode(percent_encode_all(*d, path), mode);
    check(again && *again == *d);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  auto nl = input.find('\n');
  std::string_view query = input.substr(0, nl);
  std::string_view last_event_id =
      nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);

  http::request req;
  req.method = "GET";
  req.path = "/api/v1/sessions/6a0f6a7e-2f55-4c1e-9d7e-2b0d8f3c1a11/events";
  req.query = std::string{query};
  req.headers.emplace("accept", "text/event-stream");
  if (nl != std::string_view::npos)
    req.headers.emplace("last-event-id", std::string{last_event_id});

  // The bounds of event_routes.cpp: after in [0, INT64_MAX], limit in [1, 1000].
  check_query_int(req, "after", 0, 0, std::numeric_limits<int64_t>::max());
  check_query_int(req, "limit", 100, 1, 1000);

  auto header = req.header("Last-Event-ID");
  check(header.has_value() == (nl != std::string_view::npos));
  if (header) check(*header == last_event_id);

  // find_query_param against a direct reading of the first matching pair.
  for (std::string name : {"after", "limit", ""}) {
    std::optional<std::string> expected;
    std::string_view rest = query;
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      auto eq = pair.find('=');
      auto key = http::percent_decode(pair.substr(0, eq), http::decode_mode::query_component);
      if (!key || *key != name) continue;
      expected =
          eq == std::string_view::npos
              ? std::optional<std::string>{std::string{}}
              : http::percent_decode(pair.substr(eq + 1), http::decode_mode::query_component);
      break;
    }
    check(http::find_query_param(query, name) == expected);
  }

  check_decode(query);
  check_decode(last_event_id);
  return 0;
}
