#include "options.hpp"

#include "directive.hpp"

#include <string_view>

namespace scripted_model {

namespace {

bool parse_number(std::string_view s, unsigned long max, unsigned long& out) {
  const auto v = parse_count(s);
  if (!v || *v > max) return false;
  out = *v;
  return true;
}

/// Applies one `--flag value` pair; false with `error` set if it is invalid.
bool apply(options& o, std::string_view flag, const std::string& value, std::string& error) {
  unsigned long n = 0;
  if (flag == "--host") {
    o.host = value;
  } else if (flag == "--port" && parse_number(value, 65535, n)) {
    o.port = static_cast<unsigned short>(n);
  } else if (flag == "--port-file") {
    o.port_file = value;
  } else if (flag == "--log") {
    o.log_file = value;
  } else if (flag == "--delay-ms" && parse_number(value, 3600000, n)) {
    o.delay = std::chrono::milliseconds(n);
  } else if (flag == "--threads" && parse_number(value, 64, n) && n > 0) {
    o.threads = static_cast<unsigned>(n);
  } else {
    error = "invalid option or value: " + std::string(flag) + " " + value;
    return false;
  }
  return true;
}

}  // namespace

const char* usage() {
  return "usage: scripted_model [--host 127.0.0.1] [--port 0] [--port-file PATH] [--log PATH]\n"
         "                      [--delay-ms N] [--threads N]\n";
}

std::optional<options> parse_options(int argc, const char* const* argv, std::string& error) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      error = usage();
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      error = "missing value for " + std::string(flag);
      return std::nullopt;
    }
    if (!apply(o, flag, argv[++i], error)) return std::nullopt;
  }
  return o;
}

}  // namespace scripted_model
