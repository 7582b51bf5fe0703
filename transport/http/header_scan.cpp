#include "transport/http/header_scan.hpp"

namespace caa::http {

namespace {

/// Whether `c` is an RFC 9110 tchar; '_' is refused on purpose (Envoy's REJECT_REQUEST: a proxy
/// may map `X_API_Key` to `X-API-Key`, so such names are ambiguous).
bool is_name_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-.^`|~"}.find(static_cast<char>(c)) != std::string_view::npos;
}

/// Whether `c` may appear in a field value or the request line: VCHAR, SP, HTAB, obs-text.
bool is_value_char(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

}  // namespace

scan_status header_scanner::scan(std::string_view buf) {
  for (; pos_ < buf.size(); ++pos_) {
    unsigned char c = static_cast<unsigned char>(buf[pos_]);
    if (c == '\n') return scan_status::bad_request;  // bare LF (CRLF is consumed below)
    if (c != '\r') continue;
    if (pos_ + 1 >= buf.size()) return check_partial(buf);       // wait for the byte after CR
    if (buf[pos_ + 1] != '\n') return scan_status::bad_request;  // bare CR
    auto line = buf.substr(line_start_, pos_ - line_start_);
    ++pos_;
    line_start_ = pos_ + 1;
    if (auto st = on_line_end(line); st != scan_status::incomplete) {
      ++pos_;
      return st;
    }
  }
  return check_partial(buf);
}

scan_status header_scanner::on_line_end(std::string_view line) {
  ++lines_;
  if (lines_ == 1) return check_request_line(line);
  if (line.empty()) {
    header_size_ = line_start_;
    return scan_status::complete;
  }
  block_bytes_ += line.size() + 2;
  if (lines_ - 1 > limits_.max_fields || block_bytes_ > limits_.max_field_block)
    return scan_status::headers_too_large;
  return check_field_line(line);
}

scan_status header_scanner::check_request_line(std::string_view line) const {
  for (unsigned char c : line)
    if (!is_value_char(c) || c == '\t') return scan_status::bad_request;
  auto first = line.find(' ');
  auto last = line.rfind(' ');
  if (first == std::string_view::npos || first == last)
    return scan_status::bad_request;  // HTTP/0.9 style or garbage; Beast checks the rest
  if (last - first - 1 > limits_.max_target) return scan_status::uri_too_long;
  return scan_status::incomplete;
}

scan_status header_scanner::check_field_line(std::string_view line) const {
  if (line.size() > limits_.max_field_line) return scan_status::headers_too_large;
  if (line.front() == ' ' || line.front() == '\t') return scan_status::bad_request;  // obs-fold
  auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return scan_status::bad_request;
  for (unsigned char c : line.substr(0, colon))
    if (!is_name_char(c)) return scan_status::bad_request;
  for (unsigned char c : line.substr(colon + 1))
    if (!is_value_char(c)) return scan_status::bad_request;
  return scan_status::incomplete;
}

scan_status header_scanner::check_partial(std::string_view buf) const {
  auto partial = buf.size() - line_start_;
  if (lines_ == 0) {
    auto line = buf.substr(line_start_);
    auto first = line.find(' ');
    if (first == std::string_view::npos)
      return partial > 32 ? scan_status::bad_request : scan_status::incomplete;  // no method
    if (line.size() - first - 1 > limits_.max_target + 16) return scan_status::uri_too_long;
    return scan_status::incomplete;
  }
  if (partial > limits_.max_field_line + 1 || block_bytes_ + partial > limits_.max_field_block + 1)
    return scan_status::headers_too_large;
  return scan_status::incomplete;
}

}  // namespace caa::http
