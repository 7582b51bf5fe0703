#pragma once

#include <cstddef>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace scripted_model {

/// One request as received.
struct recorded_request {
  /// HTTP method, e.g. `POST`.
  std::string method;
  /// The path without the query string, e.g. `/v1/messages`.
  std::string path;
  /// The query string without `?` (may be empty), e.g. `beta=true`.
  std::string query;
  /// Request headers in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The raw body.
  std::string body;
};

/// Every request the scripted model received, in memory and optionally as JSON lines in a file.
/// Thread-safe.
class request_log {
 public:
  /// A log that also appends to `file_path` unless it is empty.
  explicit request_log(const std::string& file_path = {});

  /// Records `r` (and appends it to the file).
  void record(recorded_request r);

  /// The JSON array of all records: `[{"method","path","query","headers","body"}, ...]`, where
  /// `body` is the parsed JSON body (null if empty, a string if it is not JSON).
  std::string to_json() const;

  /// Forgets all records; returns how many there were. The file is not truncated.
  std::size_t clear();

  /// How many records there are.
  std::size_t size() const;

  /// One record as a JSON object.
  static std::string encode(const recorded_request& r);

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> entries_;  // encoded records
  std::ofstream file_;
};

}  // namespace scripted_model
