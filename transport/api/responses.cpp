#include "transport/api/responses.hpp"

#include <charconv>

namespace caa::api {

http::response json_response(unsigned status, const rapidjson::StringBuffer& buf) {
  http::response out;
  out.status = status;
  out.body.assign(buf.GetString(), buf.GetSize());
  return out;
}

long long query_int(const http::request& req, const char* name, long long fallback, long long lo,
                    long long hi, std::vector<caa::field_error>& errors) {
  auto text = req.query_param(name);
  if (!text) return fallback;
  long long value = 0;
  auto* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc{} || ptr != end || value < lo || value > hi) {
    errors.push_back(
        {name, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi)});
    return fallback;
  }
  return value;
}

}  // namespace caa::api
