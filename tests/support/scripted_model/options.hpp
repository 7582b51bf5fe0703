#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace scripted_model {

/// Command-line settings of the scripted model server.
struct options {
  /// Address to listen on; loopback unless explicitly given.
  std::string host = "127.0.0.1";
  /// Port; 0 picks a free one.
  unsigned short port = 0;
  /// File to write the bound port to (empty: none).
  std::string port_file;
  /// File to append every request to as JSON lines (empty: none).
  std::string log_file;
  /// Pause before every model response.
  std::chrono::milliseconds delay{0};
  /// I/O threads.
  unsigned threads = 2;
};

/// The usage text.
const char* usage();

/// Parses argv; on failure returns nullopt and sets `error`.
std::optional<options> parse_options(int argc, const char* const* argv, std::string& error);

}  // namespace scripted_model
