#include "config/logging.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <set>
#include <string>

namespace caa::log {

namespace detail {

std::atomic<uint8_t> min_level{static_cast<uint8_t>(log_level::info)};

}  // namespace detail

namespace {

std::mutex sink_mutex;
sink_fn custom_sink;  // guarded by sink_mutex

std::mutex once_mutex;
std::set<std::string, std::less<>> once_keys;  // guarded by once_mutex

constexpr char hex_digits[] = "0123456789abcdef";

/// Writes all of `line` to stderr, retrying on EINTR and short writes.
void write_stderr(std::string_view line) noexcept {
  while (!line.empty()) {
    auto n = ::write(STDERR_FILENO, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

void append_ascii(std::string& out, char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default:
      break;
  }
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7f) {
    out += "\\u00";
    out += hex_digits[u >> 4];
    out += hex_digits[u & 0xf];
  } else {
    out += c;
  }
}

/// Length of the valid UTF-8 sequence at the start of `s` (lead byte >= 0x80), or 0.
std::size_t utf8_length(std::string_view s) noexcept {
  auto c = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  if (len == 0 || s.size() < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    auto d = static_cast<unsigned char>(s[k]);
    if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xbf)) return 0;
  }
  return len;
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  auto frac = static_cast<int>(ms % 1000);
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += 'Z';
}

void add_text(std::string& out, const char* key, const std::optional<std::string_view>& value,
              std::size_t max_bytes = max_field_bytes) {
  if (!value) return;
  out += ",\"";
  out += key;
  out += "\":\"";
  append_json_escaped(out, *value, max_bytes);
  out += '"';
}

template <class T>
void add_number(std::string& out, const char* key, const std::optional<T>& value) {
  if (!value) return;
  out += ",\"";
  out += key;
  out += "\":";
  char buf[32];
  std::to_chars_result res;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(*value)) {
      out += "null";
      return;
    }
    res = std::to_chars(buf, buf + sizeof(buf), *value, std::chars_format::fixed, 3);
  } else {
    res = std::to_chars(buf, buf + sizeof(buf), *value);
  }
  out.append(buf, res.ptr);
}

void format_line(std::string& out, log_level x, std::string_view msg, const log_fields& f) {
  out.clear();
  out += "{\"ts\":\"";
  append_timestamp(out, std::chrono::system_clock::now());
  out += "\",\"level\":\"";
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  out += names[static_cast<uint8_t>(x) & 3];
  out += "\",\"msg\":\"";
  append_json_escaped(out, msg, max_detail_bytes);
  out += '"';
  add_text(out, "component", f.component);
  add_text(out, "correlation_id", f.correlation_id);
  add_text(out, "method", f.method);
  add_text(out, "route", f.route);
  add_number(out, "status", f.status);
  add_number(out, "duration_ms", f.duration_ms);
  add_text(out, "tenant_id", f.tenant_id);
  add_text(out, "key_id", f.key_id);
  add_text(out, "session_id", f.session_id);
  add_text(out, "client_ip", f.client_ip);
  add_text(out, "error_code", f.error_code);
  add_text(out, "detail", f.detail, max_detail_bytes);
  add_number(out, "count", f.count);
  add_number(out, "bytes", f.bytes);
  add_number(out, "attempt", f.attempt);
  add_number(out, "pid", f.pid);
  add_number(out, "port", f.port);
  out += "}\n";
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text, std::size_t max_bytes) {
  bool truncated = text.size() > max_bytes;
  if (truncated) {
    auto cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      append_ascii(out, text[i++]);
      continue;
    }
    auto len = utf8_length(text.substr(i));
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    auto seq = text.substr(i, len);
    if (seq == "\xe2\x80\xa8" || seq == "\xe2\x80\xa9")  // JS line separators
      out += seq == "\xe2\x80\xa8" ? "\\u2028" : "\\u2029";
    else
      out += seq;
    i += len;
  }
  if (truncated) out += "...";
}

void set_level(log_level x) noexcept {
  detail::min_level.store(static_cast<uint8_t>(x), std::memory_order_relaxed);
}

log_level level() noexcept {
  return static_cast<log_level>(detail::min_level.load(std::memory_order_relaxed));
}

void set_sink(sink_fn sink) {
  std::lock_guard guard{sink_mutex};
  custom_sink = std::move(sink);
}

void write(log_level x, std::string_view msg, const log_fields& fields) noexcept {
  try {
    thread_local std::string line;  // reused: no allocation once warm
    format_line(line, x, msg, fields);
    std::lock_guard guard{sink_mutex};
    if (custom_sink)
      custom_sink(std::string_view{line}.substr(0, line.size() - 1));
    else
      write_stderr(line);
  } catch (...) {
    // Logging must never take the service down; the line is lost.
  }
}

bool warn_once(std::string_view key, std::string_view msg, const log_fields& fields) noexcept {
  if (!enabled(log_level::warn)) return false;
  try {
    std::lock_guard guard{once_mutex};
    if (once_keys.find(key) != once_keys.end()) return false;
    once_keys.emplace(key);
  } catch (...) {
    return false;
  }
  write(log_level::warn, msg, fields);
  return true;
}

void rearm_once(std::string_view key) noexcept {
  std::lock_guard guard{once_mutex};
  if (auto i = once_keys.find(key); i != once_keys.end()) once_keys.erase(i);
}

}  // namespace caa::log
