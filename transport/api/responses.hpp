#pragma once

#include "transport/http/error_catalog.hpp"
#include "transport/http/types.hpp"

#include <rapidjson/stringbuffer.h>

#include <string>
#include <vector>

namespace caa::api {

/// A JSON response with `status` and the contents of `buf`.
http::response json_response(unsigned status, const rapidjson::StringBuffer& buf);

/// Query parameter `name` of `req` as an integer in [lo, hi], `fallback` when absent; a bad value
/// adds a field error and returns `fallback`.
long long query_int(const http::request& req, const char* name, long long fallback, long long lo,
                    long long hi, std::vector<caa::field_error>& errors);

}  // namespace caa::api
