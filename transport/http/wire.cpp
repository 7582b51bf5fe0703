#include "transport/http/wire.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <cstdio>

namespace caa::http {

namespace {

/// Whether `c` is an RFC 9110 tchar.
bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(static_cast<char>(c)) != std::string_view::npos;
}

/// Whether the edge sets `name` itself.
bool is_managed(std::string_view name) {
  static constexpr std::array<std::string_view, 7> managed{
      "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "trailer",
      "te"};
  for (auto m : managed)
    if (boost::beast::iequals(name, m)) return true;
  return false;
}

/// Whether a status never carries content.
bool is_bodiless(unsigned status) {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace

bool is_sendable_header(std::string_view name, std::string_view value) noexcept {
  if (name.empty() || is_managed(name)) return false;
  for (unsigned char c : name)
    if (!is_tchar(c)) return false;
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

std::string status_line(unsigned status) {
  namespace http = boost::beast::http;
  auto reason = http::obsolete_reason(http::int_to_status(status));
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason.data(), reason.size());
  out += "\r\n";
  return out;
}

std::string serialize_head(unsigned status, const header_list& headers) {
  std::string out = status_line(status);
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string serialize_response(unsigned status, const header_list& headers, std::string_view body,
                               bool head_only) {
  if (is_bodiless(status)) return serialize_head(status, headers);
  header_list all = headers;
  all.emplace_back("Content-Length", std::to_string(body.size()));
  std::string out = serialize_head(status, all);
  if (!head_only) out.append(body.data(), body.size());
  return out;
}

std::string frame_chunk(std::string_view data) {
  std::array<char, 24> size{};
  int n = std::snprintf(size.data(), size.size(), "%zx\r\n", data.size());
  std::string out;
  out.reserve(data.size() + static_cast<size_t>(n) + 2);
  out.append(size.data(), static_cast<size_t>(n));
  out.append(data.data(), data.size());
  out += "\r\n";
  return out;
}

}  // namespace caa::http
