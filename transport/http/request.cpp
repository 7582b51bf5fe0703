#include "transport/http/types.hpp"
#include "transport/http/uri.hpp"

#include <algorithm>
#include <cctype>

namespace caa::http {

std::optional<std::string> request::query_param(const std::string& name) const {
  return find_query_param(query, name);
}

std::optional<std::string> request::header(const std::string& name) const {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (auto i = headers.find(key); i != headers.end()) return i->second;
  return std::nullopt;
}

}  // namespace caa::http
